//! Copying files out of and into containers as tar streams. Unpacking is defensive: entries
//! with absolute paths, `..`, or links pointing outside the target are refused, files and
//! directories land through [`crate::durable`] (atomic, and synced so a copied result survives
//! a crash), and nothing outside the target is ever written.
//!
//! The whole archive is checked before the first byte is written, so a refused archive
//! leaves the target as it was.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::TryStreamExt;

use super::{Docker, DockerError, Result, api, status_of, within};

/// Result files are small; this bounds a copy from a wedged engine, not a slow disk.
const COPY_DEADLINE: Duration = Duration::from_secs(600);

impl Docker {
    /// Copy `path` (file or directory) out of `container` into `dest_dir` on the host.
    /// Returns the host paths written. A directory's contents land directly in `dest_dir`
    /// (`/root/bench_results/production/x.json` → `dest_dir/production/x.json`); a file
    /// lands as `dest_dir/<its name>`.
    pub async fn copy_out(
        &self,
        container: &str,
        path: &str,
        dest_dir: &Path,
    ) -> Result<Vec<PathBuf>> {
        let origin = format!("{container}:{path}");
        let tar = self
            .download(container, path)
            .await?
            .ok_or_else(|| DockerError::NotFound {
                what: format!("{path} in container {container}"),
            })?;
        crate::durable::create_dir_all(dest_dir).map_err(|source| DockerError::Io {
            op: format!("create {}", dest_dir.display()),
            source,
        })?;
        let dest = dest_dir.to_path_buf();
        tokio::task::spawn_blocking(move || safe_unpack(&tar, &dest, &origin))
            .await
            .map_err(|e| {
                DockerError::Other(format!("unpacking {container}:{path} panicked: {e}"))
            })?
    }

    /// The bytes of one regular file in the container; `None` when absent.
    pub async fn read_file(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let Some(tar) = self.download(container, path).await? else {
            return Ok(None);
        };
        let bad = |why: String| DockerError::Other(format!("reading {container}:{path}: {why}"));
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entries = archive.entries().map_err(|e| bad(e.to_string()))?;
        let mut entry = match entries.next() {
            Some(e) => e.map_err(|e| bad(e.to_string()))?,
            None => return Err(bad("the engine sent an empty archive".into())),
        };
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            return Err(bad(format!(
                "not a regular file ({:?})",
                entry.header().entry_type()
            )));
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| bad(e.to_string()))?;
        Ok(Some(data))
    }

    /// Write files (name, bytes, mode) into the existing directory `dest_dir` of `container`.
    pub async fn copy_in(
        &self,
        container: &str,
        dest_dir: &str,
        files: &[(String, Vec<u8>, u32)],
    ) -> Result<()> {
        let op = format!("copy {} file(s) into {container}:{dest_dir}", files.len());
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in files {
            let rel = Path::new(name);
            if name.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
                return Err(DockerError::Other(format!(
                    "{op}: refusing file name {name:?} (must be relative, no ..)"
                )));
            }
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_mtime(0);
            b.append_data(&mut h, rel, data.as_slice())
                .map_err(|source| DockerError::Io {
                    op: format!("{op}: pack {name}"),
                    source,
                })?;
        }
        let tar = b.into_inner().map_err(|source| DockerError::Io {
            op: op.clone(),
            source,
        })?;
        let opts = UploadToContainerOptionsBuilder::new()
            .path(dest_dir)
            .build();
        within(&op, COPY_DEADLINE, async {
            match self
                .inner
                .upload_to_container(container, Some(opts), bollard::body_full(tar.into()))
                .await
            {
                Ok(()) => Ok(()),
                Err(e) if status_of(&e) == Some(404) => Err(DockerError::NotFound {
                    what: format!("container {container} or its directory {dest_dir}"),
                }),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }

    /// The archive of `path` in `container`; `None` when the path (or container) is absent.
    async fn download(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let op = format!("copy {path} out of container {container}");
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(path)
            .build();
        within(&op, COPY_DEADLINE, async {
            let stream = self.inner.download_from_container(container, Some(opts));
            let collected = stream
                .try_fold(Vec::new(), |mut acc, chunk| async move {
                    acc.extend_from_slice(&chunk);
                    Ok(acc)
                })
                .await;
            match collected {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if status_of(&e) == Some(404) => Ok(None),
                Err(e) => Err(api(op.clone())(e)),
            }
        })
        .await
    }
}

/// One entry, checked, with the path relative to `dest` it will be written at.
enum Planned {
    Dir(PathBuf),
    File {
        rel: PathBuf,
        index: usize,
        mode: u32,
    },
    Symlink {
        rel: PathBuf,
        target: PathBuf,
    },
    /// A hard link is written as a copy of the (earlier) file it names.
    Copy {
        rel: PathBuf,
        from: PathBuf,
    },
}

/// Unpack an uncompressed tar safely under `dest` (see module doc). `origin` names the source
/// in errors. Returns the paths written.
pub fn safe_unpack(tar: &[u8], dest: &Path, origin: &str) -> Result<Vec<PathBuf>> {
    let refuse = |entry: &str, why: &str| DockerError::UnsafeArchive {
        origin: origin.to_string(),
        entry: entry.to_string(),
        why: why.to_string(),
    };
    let bad_tar = |e: std::io::Error| DockerError::Io {
        op: format!("read the archive from {origin}"),
        source: e,
    };

    // Pass 1: check every entry; nothing is written yet.
    let mut plan = Vec::new();
    let mut links: std::collections::HashSet<PathBuf> = Default::default();
    let mut archive = tar::Archive::new(tar);
    for (index, entry) in archive.entries().map_err(bad_tar)?.enumerate() {
        let entry = entry.map_err(bad_tar)?;
        let raw = entry.path().map_err(bad_tar)?.into_owned();
        let shown = raw.display().to_string();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let parts = normal_parts(&raw).map_err(|why| refuse(&shown, why))?;
        // Docker prefixes every entry with the basename of the requested path.
        let rel: PathBuf = if parts.len() == 1 && !kind.is_dir() {
            parts.iter().collect() // a single file copied out: keep its name
        } else {
            parts.iter().skip(1).collect()
        };
        // Never write through a link the archive itself made (the classic escape: a symlink,
        // then a file "inside" it).
        if rel.ancestors().skip(1).any(|a| links.contains(a)) {
            return Err(refuse(
                &shown,
                "written through a link from the same archive",
            ));
        }
        match kind {
            tar::EntryType::Directory => {
                if !rel.as_os_str().is_empty() {
                    plan.push(Planned::Dir(rel));
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                plan.push(Planned::File { rel, index, mode });
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| refuse(&shown, "symlink without target"))?;
                if target.is_absolute() {
                    return Err(refuse(&shown, "symlink to an absolute path"));
                }
                // Resolve lexically from the link's directory; it must stay inside the target.
                let base = rel.parent().unwrap_or(Path::new(""));
                if inside(&base.join(&target)).is_none() {
                    return Err(refuse(
                        &shown,
                        "symlink pointing outside the target directory",
                    ));
                }
                links.insert(rel.clone());
                plan.push(Planned::Symlink {
                    rel,
                    target: target.into_owned(),
                });
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad_tar)?
                    .ok_or_else(|| refuse(&shown, "hard link without target"))?;
                let parts = normal_parts(&target)
                    .map_err(|_| refuse(&shown, "hard link pointing outside the target"))?;
                let from: PathBuf = parts.iter().skip(1).collect();
                if from.as_os_str().is_empty() {
                    return Err(refuse(&shown, "hard link pointing outside the target"));
                }
                plan.push(Planned::Copy { rel, from });
            }
            other => {
                return Err(refuse(
                    &shown,
                    &format!("{other:?} entries (devices, fifos) are not unpacked"),
                ));
            }
        }
    }

    // Pass 2: write. Every parent is checked not to be a symlink, so no write goes through one.
    let io = |op: String| move |source: std::io::Error| DockerError::Io { op, source };
    let mut written = Vec::new();
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(bad_tar)?.enumerate();
    for step in plan {
        match step {
            Planned::Dir(rel) => {
                let path = dest.join(&rel);
                no_symlink_on_the_way(dest, &rel)
                    .map_err(|why| refuse(&rel.display().to_string(), why))?;
                crate::durable::create_dir_all(&path)
                    .map_err(io(format!("create {}", path.display())))?;
            }
            Planned::File { rel, index, mode } => {
                let mut entry = loop {
                    match entries.next() {
                        Some((i, e)) if i == index => break e.map_err(bad_tar)?,
                        Some(_) => continue,
                        None => {
                            return Err(refuse(
                                &rel.display().to_string(),
                                "entry vanished between passes",
                            ));
                        }
                    }
                };
                let path = write_file(dest, &rel, mode, &mut entry).map_err(|e| match e {
                    WriteError::Unsafe(why) => refuse(&rel.display().to_string(), why),
                    WriteError::Io(op, source) => DockerError::Io { op, source },
                })?;
                written.push(path);
            }
            Planned::Symlink { rel, target } => {
                no_symlink_on_the_way(dest, &rel)
                    .map_err(|why| refuse(&rel.display().to_string(), why))?;
                let path = dest.join(&rel);
                if let Some(parent) = path.parent() {
                    crate::durable::create_dir_all(parent)
                        .map_err(io(format!("create {}", parent.display())))?;
                }
                let _ = std::fs::remove_file(&path);
                std::os::unix::fs::symlink(&target, &path)
                    .map_err(io(format!("create symlink {}", path.display())))?;
                written.push(path);
            }
            Planned::Copy { rel, from } => {
                no_symlink_on_the_way(dest, &from)
                    .map_err(|why| refuse(&rel.display().to_string(), why))?;
                let src = dest.join(&from);
                let meta = std::fs::symlink_metadata(&src).map_err(|_| {
                    refuse(
                        &rel.display().to_string(),
                        "hard link to a file not in the archive",
                    )
                })?;
                if !meta.is_file() {
                    return Err(refuse(
                        &rel.display().to_string(),
                        "hard link to something other than a file",
                    ));
                }
                let data = std::fs::read(&src).map_err(io(format!("read {}", src.display())))?;
                let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
                let path =
                    write_file(dest, &rel, mode, &mut data.as_slice()).map_err(|e| match e {
                        WriteError::Unsafe(why) => refuse(&rel.display().to_string(), why),
                        WriteError::Io(op, source) => DockerError::Io { op, source },
                    })?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

/// The path's components, refusing absolute paths and `..` (`.` is dropped).
fn normal_parts(p: &Path) -> std::result::Result<Vec<&std::ffi::OsStr>, &'static str> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    Ok(out)
}

/// Lexically normalise a relative path; `None` if it climbs above its start.
fn inside(p: &Path) -> Option<PathBuf> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out.iter().collect())
}

/// No existing component between `dest` and `dest/rel` (exclusive of the last) may be a
/// symlink: writing through one could land anywhere.
fn no_symlink_on_the_way(dest: &Path, rel: &Path) -> std::result::Result<(), &'static str> {
    let mut at = dest.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Err("a parent directory is a symlink"),
            Ok(m) if !m.is_dir() => return Err("a parent is not a directory"),
            _ => {}
        }
    }
    Ok(())
}

enum WriteError {
    Unsafe(&'static str),
    Io(String, std::io::Error),
}

/// Write `dest/rel` durably with permissions `mode`, replacing a file already there (never a
/// symlink or directory).
fn write_file(
    dest: &Path,
    rel: &Path,
    mode: u32,
    data: &mut dyn std::io::Read,
) -> Result<PathBuf, WriteError> {
    no_symlink_on_the_way(dest, rel).map_err(WriteError::Unsafe)?;
    let path = dest.join(rel);
    if std::fs::symlink_metadata(&path)
        .map(|m| m.file_type().is_symlink() || m.is_dir())
        .unwrap_or(false)
    {
        return Err(WriteError::Unsafe("would replace a symlink or directory"));
    }
    crate::durable::write_replace_with(&path, |f| {
        std::io::copy(data, f)?;
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
    })
    .map_err(|e| WriteError::Io(format!("write {}", path.display()), e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, type, data, link target)
    type Entry<'a> = (&'a str, tar::EntryType, &'a [u8], Option<&'a str>);

    fn tar_of(entries: &[Entry]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Write the raw name: `tar::Builder` itself refuses `..` and absolute paths.
            let name = h.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            if let Some(l) = link {
                h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
            }
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).expect("read_dir") {
                let e = e.expect("entry");
                let p = e.path();
                out.push(p.strip_prefix(base).expect("prefix").display().to_string());
                if e.file_type().expect("type").is_dir() {
                    walk(base, &p, out);
                }
            }
        }
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    #[test]
    fn directory_download_strips_the_prefix() {
        use tar::EntryType::*;
        let t = tar_of(&[
            ("results/", Directory, b"", None),
            ("results/production/", Directory, b"", None),
            ("results/production/a.json", Regular, b"{}", None),
            ("results/b.json", Regular, b"[1]", None),
            ("results/same.json", Link, b"", Some("results/b.json")),
        ]);
        let dir = tempfile::tempdir().expect("tempdir");
        let written = safe_unpack(&t, dir.path(), "test").expect("unpack");
        assert_eq!(written.len(), 3);
        assert_eq!(
            listing(dir.path()),
            vec!["b.json", "production", "production/a.json", "same.json"]
        );
        assert_eq!(
            std::fs::read(dir.path().join("same.json")).expect("read"),
            b"[1]"
        );
    }

    #[test]
    fn modes_are_kept_replacing_leaves_no_temp() {
        let mut b = tar::Builder::new(Vec::new());
        for (name, mode) in [("r/run.sh", 0o750), ("r/secret.json", 0o600)] {
            let mut h = tar::Header::new_gnu();
            h.set_size(2);
            h.set_mode(mode);
            b.append_data(&mut h, name, &b"{}"[..]).expect("append");
        }
        let t = b.into_inner().expect("tar");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("run.sh"), "old").expect("seed");
        safe_unpack(&t, dir.path(), "test").expect("unpack");
        let mode = |n: &str| {
            let m = std::fs::metadata(dir.path().join(n)).expect("stat");
            std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777
        };
        assert_eq!(mode("run.sh"), 0o750);
        assert_eq!(mode("secret.json"), 0o600);
        assert_eq!(
            std::fs::read(dir.path().join("run.sh")).expect("read"),
            b"{}",
            "an existing file is replaced"
        );
        assert_eq!(listing(dir.path()), vec!["run.sh", "secret.json"]);
    }

    #[test]
    fn single_file_keeps_its_name() {
        let t = tar_of(&[("r.json", tar::EntryType::Regular, b"{\"x\":1}", None)]);
        let dir = tempfile::tempdir().expect("tempdir");
        safe_unpack(&t, dir.path(), "test").expect("unpack");
        assert_eq!(
            std::fs::read(dir.path().join("r.json")).expect("read"),
            b"{\"x\":1}"
        );
    }

    #[test]
    fn hostile_entries_are_refused_before_anything_is_written() {
        use tar::EntryType::*;
        let cases: Vec<Vec<Entry>> = vec![
            vec![
                ("r/ok", Regular, b"1", None),
                ("r/../../escape", Regular, b"x", None),
            ],
            vec![
                ("r/ok", Regular, b"1", None),
                ("/etc/evil", Regular, b"x", None),
            ],
            vec![
                ("r/ok", Regular, b"1", None),
                ("r/link", Symlink, b"", Some("../../outside")),
            ],
            vec![
                ("r/ok", Regular, b"1", None),
                ("r/abs", Symlink, b"", Some("/etc")),
            ],
            vec![
                ("r/ok", Regular, b"1", None),
                ("r/hard", Link, b"", Some("../../etc/passwd")),
            ],
            vec![("r/ok", Regular, b"1", None), ("r/dev", Char, b"", None)],
            vec![("r/ok", Regular, b"1", None), ("r/fifo", Fifo, b"", None)],
        ];
        for case in cases {
            let parent = tempfile::tempdir().expect("tempdir");
            let dest = parent.path().join("dest");
            std::fs::create_dir(&dest).expect("mkdir");
            let err = safe_unpack(&tar_of(&case), &dest, "test").expect_err("must refuse");
            assert!(matches!(err, DockerError::UnsafeArchive { .. }), "{err:?}");
            assert_eq!(
                listing(parent.path()),
                vec!["dest"],
                "nothing written for {:?}",
                case[1].0
            );
        }
    }

    #[test]
    fn inside_pointing_symlink_is_kept_but_nothing_is_written_through_it() {
        use tar::EntryType::*;
        let t = tar_of(&[
            ("r/", Directory, b"", None),
            ("r/sub/", Directory, b"", None),
            ("r/alias", Symlink, b"", Some("sub")),
            ("r/alias/f", Regular, b"x", None),
        ]);
        let dir = tempfile::tempdir().expect("tempdir");
        let err = safe_unpack(&t, dir.path(), "test").expect_err("no writing through a symlink");
        assert!(matches!(err, DockerError::UnsafeArchive { .. }), "{err:?}");
        assert!(
            listing(dir.path()).is_empty(),
            "refused before writing: {err:?} {:?}",
            listing(dir.path())
        );

        let ok = tar_of(&[
            ("r/", Directory, b"", None),
            ("r/f", Regular, b"x", None),
            ("r/alias", Symlink, b"", Some("f")),
        ]);
        let written = safe_unpack(&ok, dir.path(), "test").expect("unpack");
        assert_eq!(written.len(), 2);
        assert_eq!(
            std::fs::read(dir.path().join("alias")).expect("read through the link"),
            b"x"
        );
    }
}

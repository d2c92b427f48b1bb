//! Copying files out of and into containers as tar streams. Unpacking is defensive: entries
//! with absolute paths, `..`, or links pointing outside the target are refused, files and
//! directories land through [`crate::durable`] (atomic, and synced so a copied result survives
//! a crash), and nothing outside the target is ever written.
//!
//! The whole archive is checked before the first byte is written — each entry against the
//! ones before it and against what the target already holds — so a refused archive leaves the
//! target as it was. Every error names the archive and the entry.

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
        first_file(&tar, &format!("{container}:{path}")).map(Some)
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

/// How errors name an entry: its name in the archive, or its position when it has none.
fn entry_name(index: usize, shown: &str) -> String {
    if shown.is_empty() {
        format!("entry {} (no name)", index + 1)
    } else {
        shown.to_string()
    }
}

/// The bytes of the first entry of `tar`, which must be a regular file (what the engine sends
/// for one file; `Docker::read_file`). `origin` names the archive in errors.
pub fn first_file(tar: &[u8], origin: &str) -> Result<Vec<u8>> {
    let bad = |why: String| DockerError::Other(format!("reading {origin}: {why}"));
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    let mut entry = match entries.next() {
        Some(e) => e.map_err(|e| bad(format!("entry 1: {e}")))?,
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
    // The declared size is untrusted (a header can claim 2^63 bytes, and reserving that
    // aborts the process): reserve no more than the archive holds.
    let mut data = Vec::with_capacity(entry.size().min(tar.len() as u64) as usize);
    std::io::Read::read_to_end(&mut entry, &mut data).map_err(|e| bad(format!("entry 1: {e}")))?;
    if (data.len() as u64) < entry.size() {
        return Err(bad(format!(
            "entry 1: truncated: the archive holds {} of its {} bytes",
            data.len(),
            entry.size()
        )));
    }
    Ok(data)
}

/// Unpack an uncompressed tar safely under `dest` (see module doc). `origin` names the source
/// in errors, and every error names the entry (by name, or by position when it has none).
/// Returns the paths written.
pub fn safe_unpack(tar: &[u8], dest: &Path, origin: &str) -> Result<Vec<PathBuf>> {
    let refuse = |index: usize, shown: &str, why: &str| DockerError::UnsafeArchive {
        origin: origin.to_string(),
        entry: entry_name(index, shown),
        why: why.to_string(),
    };
    // An error of the archive's framing at entry `index` (0-based), after the entry `prev`.
    let bad_tar = |index: usize, prev: Option<&str>| {
        let after = prev.map(|p| format!(" (after {p:?})")).unwrap_or_default();
        let op = format!(
            "read entry {} of the archive from {origin}{after}",
            index + 1
        );
        move |source: std::io::Error| DockerError::Io { op, source }
    };
    let bad_link = |index: usize, shown: &str| {
        let op = format!(
            "read the link target of entry {:?} of the archive from {origin}",
            entry_name(index, shown)
        );
        move |source: std::io::Error| DockerError::Io { op, source }
    };

    // Pass 1: check every entry; nothing is written yet.
    let mut plan: Vec<(usize, String, Planned)> = Vec::new();
    let mut layout = Layout {
        dest,
        planned: Default::default(),
    };
    let mut archive = tar::Archive::new(tar);
    let mut prev: Option<String> = None;
    for (index, entry) in archive.entries().map_err(bad_tar(0, None))?.enumerate() {
        let entry = entry.map_err(bad_tar(index, prev.as_deref()))?;
        let raw = entry
            .path()
            .map_err(bad_tar(index, prev.as_deref()))?
            .into_owned();
        let shown = raw.display().to_string();
        prev = Some(entry_name(index, &shown));
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let parts = normal_parts(&raw).map_err(|why| refuse(index, &shown, why))?;
        // Docker prefixes every entry with the basename of the requested path.
        let rel: PathBuf = if parts.len() == 1 && !kind.is_dir() {
            parts.iter().collect() // a single file copied out: keep its name
        } else {
            parts.iter().skip(1).collect()
        };
        // Never write through a link (the classic escape: a symlink, then a file "inside" it),
        // nor below a file: checked against the entries planned so far and the target's
        // contents, so that pass 2 meets no surprise half-way.
        layout
            .parents_ok(&rel)
            .map_err(|why| refuse(index, &shown, why))?;
        let existing = layout.at(&rel);
        let step = match kind {
            tar::EntryType::Directory => {
                if rel.as_os_str().is_empty() {
                    continue;
                }
                if matches!(existing, Some(Node::File | Node::Link | Node::Other)) {
                    return Err(refuse(
                        index,
                        &shown,
                        "a directory would replace a file or symlink",
                    ));
                }
                layout.plan(&rel, Node::Dir);
                Planned::Dir(rel)
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if matches!(existing, Some(Node::Dir | Node::Link)) {
                    return Err(refuse(
                        index,
                        &shown,
                        "would replace a symlink or directory",
                    ));
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                layout.plan(&rel, Node::File);
                Planned::File { rel, mode }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(bad_link(index, &shown))?
                    .ok_or_else(|| refuse(index, &shown, "symlink without target"))?;
                let base = rel.parent().unwrap_or(Path::new(""));
                link_stays_inside(base, &target).map_err(|why| refuse(index, &shown, why))?;
                if existing == Some(Node::Dir) {
                    return Err(refuse(index, &shown, "a symlink would replace a directory"));
                }
                layout.plan(&rel, Node::Link);
                Planned::Symlink {
                    rel,
                    target: target.into_owned(),
                }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(bad_link(index, &shown))?
                    .ok_or_else(|| refuse(index, &shown, "hard link without target"))?;
                let parts = normal_parts(&target)
                    .map_err(|_| refuse(index, &shown, "hard link pointing outside the target"))?;
                let from: PathBuf = parts.iter().skip(1).collect();
                if from.as_os_str().is_empty() {
                    return Err(refuse(
                        index,
                        &shown,
                        "hard link pointing outside the target",
                    ));
                }
                layout
                    .parents_ok(&from)
                    .map_err(|why| refuse(index, &shown, why))?;
                match layout.at(&from) {
                    Some(Node::File) => {}
                    None => {
                        return Err(refuse(
                            index,
                            &shown,
                            "hard link to a file not in the archive",
                        ));
                    }
                    Some(_) => {
                        return Err(refuse(
                            index,
                            &shown,
                            "hard link to something other than a file",
                        ));
                    }
                }
                if matches!(existing, Some(Node::Dir | Node::Link)) {
                    return Err(refuse(
                        index,
                        &shown,
                        "would replace a symlink or directory",
                    ));
                }
                layout.plan(&rel, Node::File);
                Planned::Copy { rel, from }
            }
            other => {
                return Err(refuse(
                    index,
                    &shown,
                    &format!(
                        "{} entries are not unpacked (only files, directories and links)",
                        kind_name(other)
                    ),
                ));
            }
        };
        plan.push((index, shown, step));
    }

    // Pass 2: write. Every parent is checked not to be a symlink, so no write goes through one.
    let mut written = Vec::new();
    let mut archive = tar::Archive::new(tar);
    let mut entries = archive.entries().map_err(bad_tar(0, None))?.enumerate();
    for (index, shown, step) in plan {
        let name = entry_name(index, &shown);
        let io = |op: String| {
            let op = format!("{op} (entry {name:?} of the archive from {origin})");
            move |source: std::io::Error| DockerError::Io { op, source }
        };
        let unsafe_ = |why: &str| refuse(index, &shown, why);
        match step {
            Planned::Dir(rel) => {
                let path = dest.join(&rel);
                no_symlink_on_the_way(dest, &rel).map_err(unsafe_)?;
                crate::durable::create_dir_all(&path)
                    .map_err(io(format!("create {}", path.display())))?;
            }
            Planned::File { rel, mode } => {
                let mut entry = loop {
                    match entries.next() {
                        Some((i, e)) if i == index => break e.map_err(bad_tar(index, None))?,
                        Some(_) => continue,
                        None => return Err(unsafe_("entry vanished between passes")),
                    }
                };
                let path = write_file(dest, &rel, mode, &mut entry).map_err(|e| match e {
                    WriteError::Unsafe(why) => unsafe_(why),
                    WriteError::Io(op, source) => io(op)(source),
                })?;
                written.push(path);
            }
            Planned::Symlink { rel, target } => {
                no_symlink_on_the_way(dest, &rel).map_err(unsafe_)?;
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
                no_symlink_on_the_way(dest, &from).map_err(unsafe_)?;
                let src = dest.join(&from);
                let meta = std::fs::symlink_metadata(&src)
                    .map_err(|_| unsafe_("hard link to a file not in the archive"))?;
                if !meta.is_file() {
                    return Err(unsafe_("hard link to something other than a file"));
                }
                let data = std::fs::read(&src).map_err(io(format!("read {}", src.display())))?;
                let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
                let path =
                    write_file(dest, &rel, mode, &mut data.as_slice()).map_err(|e| match e {
                        WriteError::Unsafe(why) => unsafe_(why),
                        WriteError::Io(op, source) => io(op)(source),
                    })?;
                written.push(path);
            }
        }
    }
    Ok(written)
}

/// What is at a path under the target once the entries planned so far are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Dir,
    File,
    Link,
    /// Something else already in the target (a fifo, a socket, a device).
    Other,
}

/// The target as pass 1 plans it: the entries planned so far over what is on disk.
struct Layout<'a> {
    dest: &'a Path,
    planned: std::collections::HashMap<PathBuf, Node>,
}

impl Layout<'_> {
    fn at(&self, rel: &Path) -> Option<Node> {
        if let Some(n) = self.planned.get(rel) {
            return Some(*n);
        }
        let m = std::fs::symlink_metadata(self.dest.join(rel)).ok()?;
        Some(if m.file_type().is_symlink() {
            Node::Link
        } else if m.is_dir() {
            Node::Dir
        } else if m.is_file() {
            Node::File
        } else {
            Node::Other
        })
    }

    /// Every directory above `rel` is, or will be, a real directory.
    fn parents_ok(&self, rel: &Path) -> std::result::Result<(), &'static str> {
        for a in rel.ancestors().skip(1) {
            if a.as_os_str().is_empty() {
                break;
            }
            match self.at(a) {
                None | Some(Node::Dir) => {}
                Some(Node::Link) if self.planned.contains_key(a) => {
                    return Err("written through a link from the same archive");
                }
                Some(Node::Link) => return Err("a parent directory is a symlink"),
                Some(Node::File | Node::Other) => return Err("a parent is not a directory"),
            }
        }
        Ok(())
    }

    /// Record `rel` as `node`, and the directories pass 2 creates above it.
    fn plan(&mut self, rel: &Path, node: Node) {
        for a in rel.ancestors().skip(1) {
            if a.as_os_str().is_empty() {
                break;
            }
            self.planned.entry(a.to_path_buf()).or_insert(Node::Dir);
        }
        self.planned.insert(rel.to_path_buf(), node);
    }
}

/// An entry type in words, for refusals.
fn kind_name(t: tar::EntryType) -> String {
    match t {
        tar::EntryType::Char => "character device".into(),
        tar::EntryType::Block => "block device".into(),
        tar::EntryType::Fifo => "fifo".into(),
        tar::EntryType::GNUSparse => "sparse file".into(),
        other => match other.as_byte() {
            b if b.is_ascii_graphic() => format!("type '{}'", b as char),
            b => format!("type byte {b:#04x}"),
        },
    }
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

/// Whether a symlink in directory `base` (relative to the target, made of real directories)
/// pointing at `target` resolves inside the target, whatever links it passes: the target must
/// be relative, climb (`..`) only at its start and not above the target directory, then only
/// descend. A `..` after a name (`l2/..`) is refused: if that name is a link (`l2 -> .`), the
/// system resolves the `..` from where the link points, not lexically.
fn link_stays_inside(base: &Path, target: &Path) -> std::result::Result<(), &'static str> {
    let (mut ups, mut descended) = (0, false);
    for c in target.components() {
        match c {
            Component::ParentDir if descended => {
                return Err("symlink target climbs back out of a name (`x/..`)");
            }
            Component::ParentDir => ups += 1,
            Component::Normal(_) => descended = true,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("symlink to an absolute path");
            }
        }
    }
    if ups > base.components().count() {
        return Err("symlink pointing outside the target directory");
    }
    Ok(())
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
            ("r/sub/up", Symlink, b"", Some("../f")),
        ]);
        let written = safe_unpack(&ok, dir.path(), "test").expect("unpack");
        assert_eq!(written.len(), 3);
        assert_eq!(
            std::fs::read(dir.path().join("alias")).expect("read through the link"),
            b"x"
        );
    }

    #[test]
    fn a_symlink_through_another_symlink_is_refused() {
        // Found by tests/fuzz_unpack.rs: `l1 -> l2/..` is lexically the target itself, but
        // with `l2 -> .` the system resolves it to the target's parent: an escape.
        use tar::EntryType::*;
        for pair in [
            [("r/l1", "l2/.."), ("r/l2", ".")],
            [("r/l2", "."), ("r/l1", "l2/..")],
        ] {
            let parent = tempfile::tempdir().expect("tempdir");
            let dest = parent.path().join("dest");
            std::fs::create_dir(&dest).expect("mkdir");
            let t = tar_of(&[
                (pair[0].0, Symlink, b"", Some(pair[0].1)),
                (pair[1].0, Symlink, b"", Some(pair[1].1)),
            ]);
            match safe_unpack(&t, &dest, "test") {
                Err(DockerError::UnsafeArchive { entry, .. }) => assert_eq!(entry, "r/l1"),
                other => panic!("expected a refusal, got {other:?}"),
            }
            assert!(listing(&dest).is_empty(), "{:?}", listing(&dest));
        }
    }

    #[test]
    fn conflicts_found_only_while_writing_are_now_refused_before() {
        // Found by tests/fuzz_unpack.rs: these were refused half-way through writing, leaving
        // the earlier entries behind.
        use tar::EntryType::*;
        let cases: Vec<Vec<Entry>> = vec![
            // a file, then a file below it
            vec![("r/a", Regular, b"1", None), ("r/a/b", Regular, b"2", None)],
            // a file, then a directory of the same name
            vec![("r/a", Regular, b"1", None), ("r/a/", Directory, b"", None)],
            // a file below a directory, then a file replacing the directory
            vec![("r/d/f", Regular, b"1", None), ("r/d", Regular, b"2", None)],
            // a file, then a hard link to a file that is not there
            vec![
                ("r/a", Regular, b"1", None),
                ("r/h", Link, b"", Some("r/gone")),
            ],
            // a file, then a symlink replacing a directory
            vec![
                ("r/d/f", Regular, b"1", None),
                ("r/d", Symlink, b"", Some("f")),
            ],
        ];
        for case in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            std::fs::write(dir.path().join("keep"), "k").expect("seed");
            let err = safe_unpack(&tar_of(&case), dir.path(), "c:/r").expect_err("refused");
            assert!(
                matches!(&err, DockerError::UnsafeArchive { entry, .. } if entry == case[1].0),
                "{err:?}"
            );
            assert_eq!(listing(dir.path()), vec!["keep"], "{:?}", case[1]);
        }
    }

    #[test]
    fn every_error_names_the_archive_and_the_entry() {
        use tar::EntryType::*;
        let t = tar_of(&[("r/a", Regular, b"1", None), ("r/b", Regular, b"2", None)]);
        // A corrupt second header: named by position, after the first entry.
        let mut bad = t.clone();
        bad[1024 + 100] ^= 0x40;
        let e = safe_unpack(&bad, tempfile::tempdir().expect("tmp").path(), "c:/r")
            .expect_err("checksum");
        let s = e.to_string();
        assert!(
            s.contains("entry 2 of the archive from c:/r (after \"r/a\")"),
            "{s}"
        );
        // An entry without a name: named by position.
        let e = safe_unpack(
            &tar_of(&[("", Symlink, b"", Some("x"))]),
            tempfile::tempdir().expect("tmp").path(),
            "c:/r",
        )
        .expect_err("no name");
        assert!(
            matches!(&e, DockerError::UnsafeArchive { entry, .. } if entry == "entry 1 (no name)"),
            "{e:?}"
        );
    }

    #[test]
    fn a_huge_declared_size_is_not_reserved() {
        // Found by tests/fuzz_unpack.rs: `read_file` reserved the header's size up front, and
        // a header claiming 2^63 - 1 bytes aborted the process ("memory allocation failed");
        // and a truncated file was returned as if whole.
        let mut h = tar::Header::new_gnu();
        h.set_path("f").expect("path");
        h.set_size(u64::MAX >> 1);
        h.set_cksum();
        let mut t = h.as_bytes().to_vec();
        t.extend_from_slice(&[b'x'; 512]);
        let e = first_file(&t, "c:/f").expect_err("truncated");
        assert_eq!(
            e.to_string(),
            "reading c:/f: entry 1: truncated: the archive holds 512 of its 9223372036854775807 bytes"
        );
        let ok = tar_of(&[("f", tar::EntryType::Regular, b"data", None)]);
        assert_eq!(first_file(&ok, "c:/f").expect("reads"), b"data");
    }
}

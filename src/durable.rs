//! Every file vbench keeps (manifests, result files, reports, server records) is written
//! here, and only here, so that one rule holds for all of them: a crash or power loss at any
//! moment leaves either the old file or the new one, never a torn one, and a file reported
//! written survives a crash.
//!
//! How: the bytes go to a hidden temp file in the target's own directory (a rename is only
//! atomic within one file system), the file is `fsync`ed, then renamed over the target (or,
//! for no-clobber writes, hard-linked to it, which fails when the target exists), and the
//! directory is `fsync`ed so the new name itself is on disk. The temp file is removed on
//! every error path.
//!
//! Missing parent directories are created, each one synced into its own parent: a file in a
//! directory whose entry was lost in a crash would be lost with it, so callers cannot do
//! this part with a plain `std::fs::create_dir_all` (use [`create_dir_all`] here when a
//! directory must exist before anything is written into it).
//!
//! Errors are the `std::io::Error` of the failing call, unflattened, so callers can tell a
//! full disk (`ErrorKind::StorageFull`) or a read-only file system
//! (`ErrorKind::ReadOnlyFilesystem`) from other failures; callers add the path as context.
//!
//! Also here: [`free_bytes`], the room left for such writes, and [`refusal`], which tells a
//! write the file system refused (full, over quota, read-only) from any other failure.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Write `bytes` to `path`, replacing whatever file is there.
pub fn write_replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_replace_with(path, |f| f.write_all(bytes))
}

/// [`write_replace`], with the contents written by `fill` into the (empty) temp file: for
/// contents streamed from elsewhere, or a file that needs its permissions set.
pub fn write_replace_with<F>(path: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut File) -> io::Result<()>,
{
    let dir = dir_of(path);
    create_dir_all(dir)?;
    let tmp = filled_temp(path, fill)?;
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Write `bytes` to `path` unless something already has that name. `Ok(false)` when it does:
/// nothing was replaced and nothing is left behind.
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<bool> {
    write_new_with(path, |f| f.write_all(bytes))
}

/// [`write_new`], with the contents written by `fill` into the (empty) temp file, e.g.
/// `|f| io::copy(&mut reader, f).map(drop)` to stream a large file without holding it in
/// memory. `fill` is not called when `path` already exists.
pub fn write_new_with<F>(path: &Path, fill: F) -> io::Result<bool>
where
    F: FnOnce(&mut File) -> io::Result<()>,
{
    // Checked first so an existing file costs no write; the hard link in `commit_new` is what
    // guarantees no clobbering when the name appears meanwhile.
    if std::fs::symlink_metadata(path).is_ok() {
        return Ok(false);
    }
    let mut staged = Staged::create(path)?;
    fill(staged.file())?;
    staged.commit_new()
}

/// A new file written in pieces as its bytes arrive (a result streamed out of a container),
/// never held whole in memory: a temp file beside its final name, synced and linked to that
/// name (never replacing a file) by `commit_new`, removed if dropped uncommitted.
pub struct Staged {
    file: Option<File>,
    tmp: PathBuf,
    path: PathBuf,
}

impl Staged {
    /// Start `path`'s temp file, creating missing parent directories.
    pub fn create(path: &Path) -> io::Result<Staged> {
        create_dir_all(dir_of(path))?;
        let tmp = temp_beside(path);
        // `create_new`: never write into a file someone else has open under this name.
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(Staged {
            file: Some(file),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The temp file, to write into.
    pub fn file(&mut self) -> &mut File {
        self.file
            .as_mut()
            .expect("a staged file is open until committed")
    }

    /// Append bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write as _;
        self.file().write_all(bytes)
    }

    /// Sync the bytes and give the file its name; false (and nothing changed) when the name
    /// is taken.
    pub fn commit_new(mut self) -> io::Result<bool> {
        let file = self.file.take().expect("committed once");
        file.sync_all()?;
        drop(file);
        let linked = match std::fs::hard_link(&self.tmp, &self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        };
        let removed = std::fs::remove_file(&self.tmp);
        let linked = linked?;
        removed?;
        // Persists the new name (and the temp file's removal).
        sync_dir(dir_of(&self.path))?;
        Ok(linked)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Give the already durable file `existing` a second name `new` (a hard link), unless
/// something already has that name (`Ok(false)`). Fails where hard links cannot be made
/// (another file system): the caller then writes a copy.
pub fn link_new(existing: &Path, new: &Path) -> io::Result<bool> {
    let dir = dir_of(new);
    create_dir_all(dir)?;
    match std::fs::hard_link(existing, new) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(e),
    }
    sync_dir(dir)?;
    Ok(true)
}

/// Bytes available to an unprivileged user on the file system holding `path` (which must
/// exist).
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Why the file system, not the file, refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No space (or no inode, or no quota) left.
    Full,
    /// Mounted read-only.
    ReadOnly,
}

/// `Some` when `e` is the file system refusing writes: full (`ENOSPC`, `EDQUOT`) or
/// read-only (`EROFS`). Such a failure is the storage's, not vbench's, and freeing space (or
/// remounting) is the fix.
pub fn refusal(e: &io::Error) -> Option<Refusal> {
    use rustix::io::Errno;
    let raw = e.raw_os_error();
    if raw == Some(Errno::NOSPC.raw_os_error())
        || raw == Some(Errno::DQUOT.raw_os_error())
        || matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
    {
        return Some(Refusal::Full);
    }
    if raw == Some(Errno::ROFS.raw_os_error()) || e.kind() == ErrorKind::ReadOnlyFilesystem {
        return Some(Refusal::ReadOnly);
    }
    None
}

/// The first refused write (see [`refusal`]) anywhere in an error's chain of sources.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut link = Some(e);
    while let Some(e) = link {
        if let Some(r) = e.downcast_ref::<io::Error>().and_then(refusal) {
            return Some(r);
        }
        link = e.source();
    }
    None
}

/// The directory `path` lives in (`.` for a bare file name).
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A new temp file beside `path` holding what `fill` wrote, synced to disk. Removed again if
/// anything fails.
fn filled_temp<F>(path: &Path, fill: F) -> io::Result<PathBuf>
where
    F: FnOnce(&mut File) -> io::Result<()>,
{
    let tmp = temp_beside(path);
    // `create_new`: never write into a file someone else has open under this name.
    let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let res = fill(&mut file).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(tmp)
}

/// `.<name>.tmp-<pid>-<n>` in the same directory: hidden, and unique across processes
/// (pid) and across threads and calls of this one (counter).
fn temp_beside(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Stay within the usual 255-byte name limit whatever the target's name.
    if name.len() > 200 {
        let mut cut = 200;
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        name.truncate(cut);
    }
    dir_of(path).join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Create `dir` and any missing ancestors, syncing each new directory's entry into its
/// parent, so the directory survives a crash as the files written into it do.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir_of(dir);
    if parent != dir {
        create_dir_all(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => sync_dir(parent),
        // Made meanwhile by someone else: fine.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        // A file has the name: say so, rather than the confusing "File exists".
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Err(rustix::io::Errno::NOTDIR.into()),
        Err(e) => Err(e),
    }
}

/// `fsync` a directory, persisting the names created, renamed or removed in it.
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|d| d.sync_all()) {
        // Some file systems (some FUSE and network ones) cannot sync a directory at all
        // (EINVAL/ENOTSUP); there the rename is as durable as that file system makes it, and
        // refusing every write would help no one.
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replace_writes_then_replaces_and_leaves_no_temp() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("m.json");
        write_replace(&p, b"one").expect("first");
        assert_eq!(std::fs::read(&p).expect("read"), b"one");
        write_replace(&p, b"two, longer").expect("second");
        assert_eq!(std::fs::read(&p).expect("read"), b"two, longer");
        assert_eq!(names(d.path()), ["m.json"]);
    }

    #[test]
    fn new_refuses_to_clobber() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("r.json");
        assert!(write_new(&p, b"one").expect("first"));
        assert!(!write_new(&p, b"two").expect("second"));
        assert_eq!(std::fs::read(&p).expect("read"), b"one");
        // Not even a dangling symlink is replaced: any entry under the name counts.
        let l = d.path().join("l.json");
        std::os::unix::fs::symlink("nowhere", &l).expect("symlink");
        assert!(!write_new(&l, b"x").expect("link"));
        assert_eq!(names(d.path()), ["l.json", "r.json"]);
    }

    #[test]
    fn new_does_not_fill_when_the_target_exists() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("r.json");
        std::fs::write(&p, "old").expect("seed");
        let wrote = write_new_with(&p, |_| panic!("fill called for an existing target"));
        assert!(!wrote.expect("write"));
    }

    #[test]
    fn missing_parents_are_created() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("a/b/c.json");
        write_replace(&p, b"x").expect("replace");
        let q = d.path().join("e/f/g.json");
        assert!(write_new(&q, b"y").expect("new"));
        assert_eq!(std::fs::read(&p).expect("read"), b"x");
        assert_eq!(std::fs::read(&q).expect("read"), b"y");
        assert_eq!(names(&d.path().join("a/b")), ["c.json"]);
        assert_eq!(names(&d.path().join("e/f")), ["g.json"]);
    }

    #[test]
    fn a_failing_fill_leaves_nothing_and_keeps_the_error_kind() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("m.json");
        write_replace(&p, b"old").expect("seed");
        let full = || io::Error::from(ErrorKind::StorageFull);

        let e = write_replace_with(&p, |f| {
            f.write_all(b"half")?;
            Err(full())
        })
        .expect_err("replace must fail");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&p).expect("read"), b"old", "old file kept");

        let q = d.path().join("r.json");
        let e = write_new_with(&q, |_| Err(full())).expect_err("new must fail");
        assert_eq!(e.kind(), ErrorKind::StorageFull);
        assert_eq!(names(d.path()), ["m.json"], "no temp, no new file");
    }

    #[test]
    fn a_failing_rename_removes_the_temp() {
        let d = tempfile::tempdir().expect("tempdir");
        // A non-empty directory where the file should go: the rename over it fails.
        let p = d.path().join("taken");
        std::fs::create_dir(&p).expect("mkdir");
        std::fs::write(p.join("inside"), "x").expect("seed");
        write_replace(&p, b"x").expect_err("cannot replace a directory");
        assert_eq!(names(d.path()), ["taken"]);
        assert_eq!(names(&p), ["inside"]);
    }

    #[test]
    fn errors_keep_their_kind() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("file");
        std::fs::write(&f, "x").expect("seed");
        // A parent that is a file, not a directory.
        let e = write_replace(&f.join("x.json"), b"x").expect_err("parent is a file");
        assert_eq!(e.kind(), ErrorKind::NotADirectory, "{e:?}");
        let e = write_new(Path::new("/proc/vbench-durable-test"), b"x").expect_err("procfs");
        assert!(
            e.raw_os_error().is_some(),
            "an OS error, not a flattened one: {e:?}"
        );
    }

    #[test]
    fn streaming_form_copies_a_reader() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("big.json");
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = data.as_slice();
        assert!(write_new_with(&p, |f| io::copy(&mut reader, f).map(drop)).expect("stream"));
        assert_eq!(std::fs::read(&p).expect("read"), data);
        assert_eq!(names(d.path()), ["big.json"]);
    }

    #[test]
    fn temp_names_are_hidden_unique_and_beside_the_target() {
        let p = Path::new("/r/results/x.json");
        let (a, b) = (temp_beside(p), temp_beside(p));
        assert_ne!(a, b);
        assert_eq!(a.parent(), p.parent());
        let name = a.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.starts_with(".x.json.tmp-"), "{name}");
        let long = "é".repeat(200);
        let t = temp_beside(Path::new(&long));
        assert!(t.file_name().expect("name").len() < 255);
        assert_eq!(
            temp_beside(Path::new("bare")).parent(),
            Some(Path::new("."))
        );
    }

    #[test]
    fn link_new_links_once() {
        let d = tempfile::tempdir().expect("tempdir");
        let a = d.path().join("a.json");
        write_replace(&a, b"x").expect("seed");
        let b = d.path().join("run/results/a.json");
        assert!(link_new(&a, &b).expect("link"));
        assert!(!link_new(&a, &b).expect("again"));
        assert_eq!(std::fs::read(&b).expect("read"), b"x");
    }

    #[test]
    fn refusals_are_told_from_other_failures() {
        let full = io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error());
        let ro = io::Error::from_raw_os_error(rustix::io::Errno::ROFS.raw_os_error());
        assert_eq!(refusal(&full), Some(Refusal::Full));
        assert_eq!(
            refusal(&io::Error::from(ErrorKind::StorageFull)),
            Some(Refusal::Full)
        );
        assert_eq!(refusal(&ro), Some(Refusal::ReadOnly));
        assert_eq!(refusal(&io::Error::from(ErrorKind::NotFound)), None);
        // Found under layers of context.
        let wrapped = anyhow::Error::from(full)
            .context("cannot write x")
            .context("run");
        let boxed: Box<dyn std::error::Error + Send + Sync> = wrapped.into();
        assert_eq!(refusal_in(boxed.as_ref()), Some(Refusal::Full));
    }

    #[test]
    fn free_bytes_of_root_is_positive_and_bad_paths_fail() {
        assert!(free_bytes(Path::new("/")).expect("statvfs /") > 0);
        let e = free_bytes(Path::new("/no/such/dir/anywhere")).expect_err("missing path");
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
}

//! Copying files out of and into containers as tar streams. Unpacking is defensive: entries
//! with absolute paths, `..`, or links pointing outside the target are refused, files land
//! atomically (temp file, then rename), and nothing outside the target is ever written.

use std::path::{Path, PathBuf};

use super::{Docker, Result};

impl Docker {
    /// Copy `path` (file or directory) out of `container` into `dest_dir` on the host.
    /// Returns the host paths written.
    pub async fn copy_out(
        &self,
        container: &str,
        path: &str,
        dest_dir: &Path,
    ) -> Result<Vec<PathBuf>> {
        let _ = (container, path, dest_dir);
        todo!()
    }

    /// The bytes of one regular file in the container; `None` when absent.
    pub async fn read_file(&self, container: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let _ = (container, path);
        todo!()
    }

    /// Write files (name, bytes, mode) into the existing directory `dest_dir` of `container`.
    pub async fn copy_in(
        &self,
        container: &str,
        dest_dir: &str,
        files: &[(String, Vec<u8>, u32)],
    ) -> Result<()> {
        let _ = (container, dest_dir, files);
        todo!()
    }
}

/// Unpack an uncompressed tar safely under `dest` (see module doc). `origin` names the source
/// in errors. Returns the paths written.
pub fn safe_unpack(tar: &[u8], dest: &Path, origin: &str) -> Result<Vec<PathBuf>> {
    let _ = (tar, dest, origin);
    todo!()
}

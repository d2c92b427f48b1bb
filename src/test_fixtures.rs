//! Unit tests' access to `tests/fixtures/` of this checkout (real vLLM artifacts, unedited;
//! their origins in `tests/fixtures/PROVENANCE.md`). Compiled for `cargo test` only.

use std::path::{Path, PathBuf};

/// The path of `tests/fixtures/<rel>`; panics naming it if it does not exist.
pub(crate) fn path(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel);
    assert!(
        path.exists(),
        "test fixture {} is missing: every fixture lives in tests/fixtures/ (see PROVENANCE.md there)",
        path.display()
    );
    path
}

/// The bytes of `tests/fixtures/<rel>`; panics naming the file if it cannot be read.
pub(crate) fn read(rel: &str) -> Vec<u8> {
    let path = path(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

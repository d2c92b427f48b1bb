//! The real vLLM artifacts the stand-in's tests compare against: `tests/fixtures/` of this
//! checkout (unedited copies; their origins in `tests/fixtures/PROVENANCE.md`).
#![allow(dead_code)] // each test crate uses a different part of this module

use std::path::{Path, PathBuf};

/// The path of `<repo>/tests/fixtures/<rel>`; panics naming it if it does not exist.
pub fn fixture(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel);
    assert!(
        path.exists(),
        "test fixture {} is missing: every fixture lives in tests/fixtures/ (see PROVENANCE.md there)",
        path.display()
    );
    path
}

/// The text of `<repo>/tests/fixtures/<rel>`; panics naming the file if it cannot be read.
pub fn read_fixture(rel: &str) -> String {
    let path = fixture(rel);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

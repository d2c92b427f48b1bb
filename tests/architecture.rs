//! The layering rules ARCHITECTURE.md promises, checked over the source tree: only the edge
//! (`cli.rs`, `lib.rs`, `main.rs`) and the glue (`commands/`) know the clap types, and only
//! they and the renderers (`render/`) write to stdout or stderr. The engine reports through
//! events, so a `println!` or a `use crate::cli` slipping into it fails here.

use std::fs;
use std::path::{Path, PathBuf};

/// Paths (relative to `src/`) allowed to touch the command line and the terminal.
const EDGE: [&str; 4] = ["cli.rs", "lib.rs", "main.rs", "commands/"];
const RENDER: &str = "render/";

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each engine source file's lines that break `forbidden`, as `file:line: text`.
fn offences(allowed: &[&str], forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 50,
        "the source tree was not found: {}",
        src.display()
    );
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if allowed
            .iter()
            .any(|a| rel == *a || (a.ends_with('/') && rel.starts_with(a)))
        {
            continue;
        }
        let text = fs::read_to_string(&file).expect("read source");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("src/{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn nothing_outside_the_edge_and_the_glue_imports_cli() {
    let found = offences(&EDGE, &["crate::cli", "super::cli", "clap::"]);
    assert!(
        found.is_empty(),
        "the engine imports the CLI:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_engine_never_writes_to_stdout_or_stderr() {
    let mut allowed = EDGE.to_vec();
    allowed.push(RENDER);
    let found = offences(
        &allowed,
        &[
            "println!",
            "print!(",
            "eprintln!",
            "eprint!(",
            "dbg!(",
            "io::stdout()",
            "io::stderr()",
        ],
    );
    assert!(
        found.is_empty(),
        "the engine writes to the terminal:\n{}",
        found.join("\n")
    );
}

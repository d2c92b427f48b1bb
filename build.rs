//! Embeds the two files of the CPU stand-in images in vbench, so an installed vbench (`cargo
//! install`, a release binary) builds those images on any machine with a Docker Engine,
//! without the source tree:
//!
//! - the static stand-in (`standin/`, the `vllm` binary), built here by a nested `cargo build`
//!   with the same command as `scripts/build-standin.sh` (profile `standin`, `crt-static`, the
//!   target dir `target/standin`), so the script, the tests and this build share one artifact
//!   and a built stand-in is never compiled twice;
//! - a static busybox (the images' shell) from the build machine (`VBENCH_BUSYBOX`, else
//!   `/bin/busybox` or `/usr/bin/busybox`, as Debian's busybox-static installs it), when there
//!   is one; otherwise vbench looks for one on the host at run time.
//!
//! `src/standin/binaries.rs` includes `$OUT_DIR/standin-vllm` and `$OUT_DIR/standin-busybox`;
//! a file left empty means "not embedded", and `VBENCH_EMBED_*_NOTE` says why, for the error
//! message. `VBENCH_EMBED_STANDIN=0` skips the stand-in (then `VBENCH_STANDIN_BIN` must name
//! one at run time). A stand-in that fails to build fails the build: an installed vbench
//! whose `vbench demo` cannot work would be a worse surprise.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "src/standin/elf.rs"]
mod elf;

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    for p in [
        "build.rs",
        "src/standin/elf.rs",
        "standin/src",
        "standin/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={p}");
    }
    for v in ["VBENCH_EMBED_STANDIN", "VBENCH_BUSYBOX", "CARGO_TARGET_DIR"] {
        println!("cargo::rerun-if-env-changed={v}");
    }

    let (vllm, note) = match standin(&root) {
        Ok(Some(data)) => (data, "embedded".to_string()),
        Ok(None) => (Vec::new(), skip_reason()),
        Err(e) => {
            eprintln!("{e}");
            panic!(
                "cannot build the CPU stand-in to embed in vbench (see above); \
                 set VBENCH_EMBED_STANDIN=0 to build vbench without it"
            );
        }
    };
    write_if_changed(&out.join("standin-vllm"), &vllm);
    println!("cargo::rustc-env=VBENCH_EMBED_VLLM_NOTE={note}");

    let (busybox, note) = busybox();
    write_if_changed(&out.join("standin-busybox"), &busybox);
    println!("cargo::rustc-env=VBENCH_EMBED_BUSYBOX_NOTE={note}");
}

fn embed_wanted() -> bool {
    std::env::var("VBENCH_EMBED_STANDIN").map_or(true, |v| v != "0")
}

fn target() -> String {
    std::env::var("TARGET").expect("cargo sets TARGET")
}

/// Why no stand-in was embedded (for the run-time error message).
fn skip_reason() -> String {
    if !embed_wanted() {
        "it was built with VBENCH_EMBED_STANDIN=0".to_string()
    } else if !root_has_standin() {
        "its source had no standin/ crate".to_string()
    } else {
        format!(
            "it was built for {}, and the stand-in runs on Linux only",
            target()
        )
    }
}

fn root_has_standin() -> bool {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    root.is_some_and(|r| r.join("standin/Cargo.toml").is_file())
}

/// Build the stand-in and return its bytes; `None` when it is not to be embedded.
fn standin(root: &Path) -> Result<Option<Vec<u8>>, String> {
    let target = target();
    if !embed_wanted() || !root_has_standin() || !target.contains("-linux-") {
        return Ok(None);
    }
    // The same directory as scripts/build-standin.sh, so both find the other's build fresh.
    let target_dir = match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("standin"),
        None => root.join("target/standin"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--quiet", "--locked", "-p", "vllm-standin"])
        .args(["--profile", "standin", "--target", &target, "--target-dir"])
        .arg(&target_dir)
        // Exactly the script's flags (they are part of cargo's fingerprint): the outer
        // build's own flags (CARGO_ENCODED_RUSTFLAGS wins over RUSTFLAGS) must not leak in.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        // `cargo clippy` runs this script with clippy as the workspace wrapper: compiling the
        // stand-in with it would change its fingerprint and rebuild it for every build.
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_BUILD_TARGET");
    // The jobserver (CARGO_MAKEFLAGS) is inherited: the nested build shares the outer
    // build's job slots rather than adding its own on a small machine.
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run cargo to build the stand-in: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "`cargo build -p vllm-standin --profile standin --target {target}` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let bin = target_dir.join(&target).join("standin/vllm");
    let data = std::fs::read(&bin).map_err(|e| format!("cannot read {}: {e}", bin.display()))?;
    if let Some(why) = elf::not_static(&data) {
        return Err(format!("{} is unusable: {why}", bin.display()));
    }
    Ok(Some(data))
}

/// The build machine's static busybox, or nothing (and why).
fn busybox() -> (Vec<u8>, String) {
    let candidates: Vec<PathBuf> =
        match std::env::var_os("VBENCH_BUSYBOX").filter(|p| !p.is_empty()) {
            Some(p) => vec![PathBuf::from(p)],
            None => ["/bin/busybox", "/usr/bin/busybox"]
                .iter()
                .map(PathBuf::from)
                .collect(),
        };
    let mut why = Vec::new();
    for path in &candidates {
        // Only existing paths: cargo reruns a script whose rerun-if-changed file is missing
        // on every build.
        if !path.exists() {
            continue;
        }
        println!("cargo::rerun-if-changed={}", path.display());
        match std::fs::read(path) {
            Ok(data) => match elf::not_static(&data) {
                None => return (data, "embedded".to_string()),
                Some(w) => why.push(format!("{}: {w}", path.display())),
            },
            Err(e) => why.push(format!("{}: {e}", path.display())),
        }
    }
    if why.is_empty() {
        why.push("the machine that built it had no static busybox".to_string());
    }
    (Vec::new(), why.join("; "))
}

/// Write only when the content differs: a new mtime on an included file would recompile
/// vbench even though nothing changed.
fn write_if_changed(path: &Path, data: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == data) {
        return;
    }
    std::fs::write(path, data).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

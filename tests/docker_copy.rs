//! Real-engine tests of copying: a directory and a file out, files in, a missing path, and
//! hostile archives made inside a container with busybox `tar` (entries with `../`, an
//! absolute path, a symlink escape with a file written through it) refused with nothing
//! written outside the target.

mod common;

use std::path::Path;

use common::{Cleanup, docker, start_busybox};
use vbench::docker::copy::safe_unpack;
use vbench::docker::{Docker, DockerError, ExecSpec};

async fn sh_ok(d: &Docker, c: &str, script: &str) -> String {
    let (o, out, err) = d
        .exec_capture(c, &ExecSpec::argv(["sh", "-c", script]))
        .await
        .expect("exec");
    assert_eq!(
        o.exit_code,
        Some(0),
        "script failed: {script}\nstdout: {out}\nstderr: {err}"
    );
    out
}

fn listing(dir: &Path) -> Vec<String> {
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
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[tokio::test]
async fn copy_out_a_directory_and_a_file_then_copy_in() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "copy").await;
    // A 27 KB result-like file, as the sweep produces.
    sh_ok(
        &d,
        &c,
        "mkdir -p /results/production && yes '{\"ttft\": 1.5}' | head -c 27000 > /results/production/input_1K_n1.json \
         && echo '[]' > /results/index.json",
    )
    .await;

    let host = tempfile::tempdir().expect("tempdir");
    let written = d
        .copy_out(&c, "/results", host.path())
        .await
        .expect("copy dir out");
    assert_eq!(written.len(), 2, "{written:?}");
    assert_eq!(
        listing(host.path()),
        vec!["index.json", "production", "production/input_1K_n1.json"]
    );
    let big = std::fs::read(host.path().join("production/input_1K_n1.json")).expect("read");
    assert_eq!(big.len(), 27000);

    let one = tempfile::tempdir().expect("tempdir");
    let written = d
        .copy_out(&c, "/results/index.json", one.path())
        .await
        .expect("copy file out");
    assert_eq!(written, vec![one.path().join("index.json")]);
    assert_eq!(
        std::fs::read(one.path().join("index.json")).expect("read"),
        b"[]\n"
    );

    let bytes = d
        .read_file(&c, "/results/production/input_1K_n1.json")
        .await
        .expect("read_file");
    assert_eq!(bytes.as_deref(), Some(big.as_slice()));
    assert_eq!(
        d.read_file(&c, "/results/absent.json")
            .await
            .expect("read_file"),
        None
    );
    assert!(
        d.read_file(&c, "/results").await.is_err(),
        "a directory is not a file"
    );

    match d.copy_out(&c, "/no/such/dir", host.path()).await {
        Err(DockerError::NotFound { what }) => assert!(what.contains("/no/such/dir"), "{what}"),
        other => panic!("expected NotFound, got {other:?}"),
    }

    let files = vec![
        (
            "run.sh".to_string(),
            b"#!/bin/sh\necho ran\n".to_vec(),
            0o755,
        ),
        ("data.txt".to_string(), b"payload".to_vec(), 0o644),
    ];
    d.copy_in(&c, "/tmp", &files).await.expect("copy in");
    assert_eq!(
        sh_ok(&d, &c, "/tmp/run.sh && cat /tmp/data.txt").await,
        "ran\npayload\n"
    );
    assert!(
        d.copy_in(&c, "/tmp", &[("../x".into(), vec![], 0o644)])
            .await
            .is_err(),
        "`..` refused"
    );
}

/// Patch `bytes` into the tar at `offset` inside the container. Each patch keeps the byte
/// sum of the header (`+1/` ↔ `../`, `0`/`e` ↔ `/`/`f`), so the header checksum stays valid
/// and the archive is refused for its content, not its framing.
fn patch(tar: &str, offset: usize, bytes: &str) -> String {
    format!("printf '{bytes}' | dd of={tar} bs=1 seek={offset} conv=notrunc 2>/dev/null")
}

#[tokio::test]
async fn hostile_archives_made_in_a_container_are_refused() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "hostile").await;
    // Each archive starts with a harmless file (a 512-byte header and one data block), so the
    // hostile entry's header sits at offset 1024.
    let script = [
        "set -e; mkdir -p /h/a '/h/a/+1' /h/a/0a /h/b/x/esc /h/b2/x; cd /h/a; echo ok > ok"
            .to_string(),
        // 1: `../escape`
        "echo x > '+1/escape'; tar cf /t1.tar ok '+1/escape'".to_string(),
        patch("/t1.tar", 1024, "../"),
        // 2: `/a/fvil` (absolute)
        "echo x > 0a/evil; tar cf /t2.tar ok 0a/evil".to_string(),
        patch("/t2.tar", 1024, "/"),
        patch("/t2.tar", 1027, "f"),
        // 3: a symlink out of the target, then a file written through it: two archives made
        // from two trees, joined (the first loses its two closing zero blocks).
        "cd /h/b2; ln -s ../../outside x/esc; cp /h/a/ok x/ok; tar cf /A.tar x/ok x/esc"
            .to_string(),
        "cd /h/b; echo pwned > x/esc/pwned; tar cf /B.tar x/esc/pwned".to_string(),
        "n=$(wc -c < /A.tar); head -c $((n - 1024)) /A.tar > /t3.tar; cat /B.tar >> /t3.tar"
            .to_string(),
        "tar tf /t1.tar; tar tf /t2.tar; tar tvf /t3.tar".to_string(),
    ]
    .join("\n");
    let listed = sh_ok(&d, &c, &script).await;
    // (busybox's own listing hides `../` and `/`; the raw names are checked below.)
    assert!(
        listed.contains("x/esc -> ../../outside") && listed.contains("x/esc/pwned"),
        "{listed}"
    );

    for (tar, expect_in_error) in [
        ("/t1.tar", "escape"),
        ("/t2.tar", "fvil"),
        ("/t3.tar", "esc"),
    ] {
        let bytes = d
            .read_file(&c, tar)
            .await
            .expect("read_file")
            .expect("tar exists");
        let parent = tempfile::tempdir().expect("tempdir");
        // dest two levels down, so `../../outside` would land inside `parent`, where we look.
        let dest = parent.path().join("a/dest");
        std::fs::create_dir_all(&dest).expect("mkdir");
        let before = listing(parent.path());
        match safe_unpack(&bytes, &dest, tar) {
            Err(DockerError::UnsafeArchive { entry, .. }) => {
                assert!(entry.contains(expect_in_error), "{tar}: {entry}")
            }
            other => panic!("{tar}: expected UnsafeArchive, got {other:?}"),
        }
        assert_eq!(
            listing(parent.path()),
            before,
            "{tar}: something was written"
        );
    }
}

#[tokio::test]
async fn copy_out_refuses_a_symlink_escape_made_by_the_engine() {
    let d = docker().await;
    let cleanup = Cleanup::new();
    let c = start_busybox(&d, &cleanup, "escape").await;
    sh_ok(
        &d,
        &c,
        "mkdir -p /r && echo ok > /r/ok && ln -s ../../../../etc /r/etc",
    )
    .await;
    let parent = tempfile::tempdir().expect("tempdir");
    let dest = parent.path().join("dest");
    match d.copy_out(&c, "/r", &dest).await {
        Err(DockerError::UnsafeArchive { entry, .. }) => assert!(entry.contains("etc"), "{entry}"),
        other => panic!("expected UnsafeArchive, got {other:?}"),
    }
    assert_eq!(listing(parent.path()), vec!["dest"], "nothing unpacked");
}

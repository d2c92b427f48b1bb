//! `--color auto|always|never` and `NO_COLOR`, on output that has colour: the red `error:`
//! prefix, clap's styled help, and the terminal renderer's coloured result lines. `always`
//! colours even a pipe (and wins over NO_COLOR), `never` colours nothing, and `auto` colours
//! a real terminal (a pseudo-terminal here) unless NO_COLOR is set.

mod common;

use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ESC: &str = "\x1b[";

/// A command that fails without touching Docker: its error line is red where colour is on.
const FAILING: &[&str] = &["report", "/nonexistent/vbench-color-test"];

/// Run vbench with stdout and stderr piped; (exit code, stdout + stderr).
fn piped(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbench"));
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run vbench");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Run vbench with stdin, stdout and stderr on a pseudo-terminal; (exit code, all output).
fn on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two fds into the given ints; the other arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened by openpty and are owned here only.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vbench"));
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run vbench on a pty");
    drop(cmd); // closes our copies of the slave, so reads end when the child exits
    let mut reader = std::fs::File::from(master);
    let collector = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the child's side is closed: the end of the output.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vbench {args:?} did not finish on the pty within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status.code().unwrap_or(-1),
        collector.join().expect("collector"),
    )
}

fn with(global: &[&'static str], cmd: &[&'static str]) -> Vec<&'static str> {
    global.iter().chain(cmd).copied().collect()
}

#[test]
fn always_colours_a_pipe_never_and_auto_do_not() {
    let (code, out) = piped(&with(&["--color", "always"], FAILING), &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(ESC) && out.contains("error:"), "{out:?}");

    let (_, out) = piped(&with(&["--color", "always"], FAILING), &[("NO_COLOR", "1")]);
    assert!(out.contains(ESC), "the flag wins over NO_COLOR: {out:?}");

    for args in [with(&["--color", "never"], FAILING), with(&[], FAILING)] {
        let (code, out) = piped(&args, &[]);
        assert_ne!(code, 0);
        assert!(
            out.contains("error:") && !out.contains('\x1b'),
            "{args:?}: {out:?}"
        );
    }
    // CLICOLOR_FORCE asks for colour in auto; NO_COLOR still says no.
    let (_, out) = piped(FAILING, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]);
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn clap_help_follows_the_flag() {
    let (code, out) = piped(&["--color", "always", "--help"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains(ESC), "{out:?}");
    let (_, out) = piped(&["--color=always", "run", "--help"], &[]);
    assert!(out.contains(ESC), "{out:?}");
    let (_, out) = piped(&["--color", "never", "--help"], &[]);
    assert!(!out.contains('\x1b'), "{out:?}");
}

#[test]
fn auto_colours_a_terminal_unless_no_color_is_set() {
    let (code, out) = on_a_terminal(FAILING, &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains(ESC), "a terminal gets colour: {out:?}");

    let (_, out) = on_a_terminal(FAILING, &[("NO_COLOR", "1")]);
    assert!(out.contains("error:") && !out.contains('\x1b'), "{out:?}");
    let (_, out) = on_a_terminal(&with(&["--color", "never"], FAILING), &[]);
    assert!(out.contains("error:") && !out.contains('\x1b'), "{out:?}");
    let (_, out) = on_a_terminal(&["--help"], &[("NO_COLOR", "1")]);
    assert!(out.contains("Usage") && !out.contains('\x1b'), "{out:?}");
}

/// The terminal renderer's lines on stderr (a finished stage is green) follow the flag too,
/// whatever stdout is: `images build` on the real engine, under a tag of the test's own.
#[test]
fn the_terminal_renderer_follows_the_flag() {
    let cleanup = common::Cleanup::new();
    let tag = common::unique("color");
    let images = vbench::standin::StandinImages::for_tag(&tag);
    cleanup.image(&images.server);
    cleanup.image(&images.client);
    let build = |color: &'static str| {
        let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
            .args([
                "--output", "tty", "--color", color, "images", "build", "--tag", &tag,
            ])
            .env("VBENCH_LABELS", "vbench.test=1")
            .env_remove("NO_COLOR")
            .output()
            .expect("run vbench");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        assert!(err.contains("built vbench/vllm-standin-server:"), "{err}");
        err
    };
    let coloured = build("always");
    assert!(
        coloured.contains(&format!("{ESC}32m")),
        "green: {coloured:?}"
    );
    let plain = build("never");
    assert!(!plain.contains('\x1b'), "{plain:?}");
}

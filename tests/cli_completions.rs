//! `vbench completions bash|zsh|fish` and `vbench man`: each completion script is loaded in
//! its real shell (scripts/setup.sh installs zsh and fish), which then completes vbench's
//! subcommands, flags and flag values; the man page is roff that `man` renders, naming the
//! subcommands, and `--out-dir` writes one page per subcommand.

use std::path::Path;
use std::process::Command;

fn vbench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .args(args)
        .output()
        .expect("run vbench");
    assert!(
        out.status.success(),
        "vbench {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The completion script for `shell`, written to a file in `dir`.
fn script(dir: &Path, shell: &str) -> std::path::PathBuf {
    let text = vbench(&["completions", shell]);
    for word in ["demo", "images", "completions"] {
        assert!(text.contains(word), "{shell} completions lack {word}");
    }
    for flag in ["color", "pull", "gpus"] {
        // fish writes a long flag as `-l NAME`.
        assert!(
            text.contains(&format!("--{flag}")) || text.contains(&format!("-l {flag}")),
            "{shell} completions lack --{flag}"
        );
    }
    let path = dir.join(format!("vbench.{shell}"));
    std::fs::write(&path, text).expect("write the script");
    path
}

/// Run `code` in `shell` (which must be installed: scripts/setup.sh does it); stdout.
fn run_in(shell: &str, args: &[&str], code: &str) -> String {
    let out = Command::new(shell)
        .args(args)
        .arg(code)
        .output()
        .unwrap_or_else(|e| {
            panic!("{shell} is needed for this test (scripts/setup.sh installs it): {e}")
        });
    assert!(
        out.status.success(),
        "{shell} -c {code:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn words(s: &str) -> Vec<&str> {
    s.split_whitespace().collect()
}

#[test]
fn bash_loads_the_script_and_completes_subcommands_flags_and_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = script(dir.path(), "bash");
    let f = f.display();
    let registered = run_in("bash", &["-c"], &format!("source {f}; complete -p vbench"));
    assert!(
        registered.contains("-F _vbench") && registered.trim_end().ends_with("vbench"),
        "{registered}"
    );
    // What bash would offer after `vbench im<TAB>`, `vbench run --pu<TAB>` and
    // `vbench --color <TAB>`: call the completion function as bash's completion does.
    let complete = |line: &[&str]| {
        let quoted: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
        let n = line.len() - 1;
        let prev = if n > 0 { line[n - 1] } else { "" };
        run_in(
            "bash",
            &["-c"],
            &format!(
                "source {f}; COMP_WORDS=({}); COMP_CWORD={n}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
                 _vbench vbench '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                quoted.join(" "),
                line.join(" "),
                line[n]
            ),
        )
    };
    assert_eq!(words(&complete(&["vbench", "im"])), ["images"]);
    assert_eq!(
        words(&complete(&["vbench", "comp"])),
        ["compare", "completions"]
    );
    assert!(words(&complete(&["vbench", "run", "--pu"])).contains(&"--pull"));
    let colors = complete(&["vbench", "--color", ""]);
    assert_eq!(words(&colors), ["auto", "always", "never"], "{colors}");
}

#[test]
fn zsh_loads_the_script_and_registers_the_completion_function() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = script(dir.path(), "zsh");
    // compinit from a clean home, the script sourced as a user's .zshrc would: `_vbench` is
    // defined and registered for `vbench`.
    let home = dir.path().display();
    let out = run_in(
        "zsh",
        &["-f", "-c"],
        &format!(
            "HOME={home}; autoload -Uz compinit && compinit -u -d {home}/.zcompdump; source {}; \
             print -r -- \"$_comps[vbench]\"; whence -w _vbench",
            f.display()
        ),
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["_vbench", "_vbench: function"],
        "{out}"
    );
    let text = std::fs::read_to_string(&f).expect("script");
    // The subcommands with their help, and the value choices of --color.
    assert!(
        text.contains("'demo:The whole pipeline on the CPU stand-in"),
        "{text}"
    );
    assert!(text.contains("auto"), "{text}");
}

#[test]
fn fish_loads_the_script_and_completes_subcommands_flags_and_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = script(dir.path(), "fish");
    let complete = |line: &str| {
        run_in(
            "fish",
            &["--no-config", "-c"],
            &format!("source {}; complete -C '{line}'", f.display()),
        )
    };
    let first = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(first(&complete("vbench im")), ["images"]);
    assert!(first(&complete("vbench run --pu")).contains(&"--pull".to_string()));
    // (fish sorts the values. Before the subcommand, clap_complete's fish script offers no
    // values for a global flag: its "no subcommand yet" test fails on the unfinished flag.)
    let colors = first(&complete("vbench up --color "));
    assert_eq!(colors, ["always", "auto", "never"]);
    let policies = first(&complete("vbench up --pull "));
    assert_eq!(policies, ["always", "missing", "never"]);
}

#[test]
fn the_man_page_is_roff_that_man_renders() {
    let roff = vbench(&["man"]);
    assert!(roff.contains(".TH vbench 1"), "{roff}");
    for sub in ["demo", "run", "completions", "man"] {
        assert!(
            roff.contains(&format!("vbench\\-{sub}(1)")),
            "no {sub} in the subcommand list"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("vbench.1");
    std::fs::write(&page, &roff).expect("write");
    let shown = run_in(
        "sh",
        &["-c"],
        &format!(
            "MANWIDTH=100 man -l -P cat {} 2>/dev/null | col -b",
            page.display()
        ),
    );
    assert!(
        shown.contains("SYNOPSIS") && shown.contains("--color"),
        "{shown}"
    );

    let listing = vbench(&[
        "man",
        "--out-dir",
        &dir.path().join("man1").display().to_string(),
    ]);
    for name in [
        "vbench.1",
        "vbench-run.1",
        "vbench-images-build.1",
        "vbench-completions.1",
    ] {
        let p = dir.path().join("man1").join(name);
        assert!(listing.contains(&p.display().to_string()), "{listing}");
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH vbench"), "{name}");
    }
    let run = std::fs::read_to_string(dir.path().join("man1/vbench-run.1")).expect("run page");
    assert!(
        run.contains("\\-\\-baseline"),
        "vbench-run.1 documents its flags"
    );
}

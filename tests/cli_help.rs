//! `--help` layout of the real binary: every command lists its own options first and the
//! global options (`Global` in `src/cli.rs`) under a "Global options:" heading. The commands
//! come from the clap definition, so a new subcommand is covered without touching this file.

use std::collections::BTreeMap;
use std::process::Command;

use clap::CommandFactory;
use vbench::cli::Cli;

const HEADING: &str = "Global options:";

/// The flag an argument is shown under (`--long`, else `-s`); `None` for positionals.
fn flag(arg: &clap::Arg) -> Option<String> {
    match (arg.get_long(), arg.get_short()) {
        (Some(long), _) => Some(format!("--{long}")),
        (None, Some(short)) => Some(format!("-{short}")),
        (None, None) => None,
    }
}

/// Every command path below the root (`["run"]`, `["images", "build"]`, …), depth first.
fn command_paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        out.push(path.clone());
        command_paths(sub, &path, out);
    }
}

/// The command at `path` below the root of the (unbuilt) clap definition.
fn find<'a>(root: &'a clap::Command, path: &[String]) -> &'a clap::Command {
    path.iter().fold(root, |cmd, name| {
        cmd.find_subcommand(name)
            .unwrap_or_else(|| panic!("no subcommand {name}"))
    })
}

/// `vbench <path> --help`, with no environment that would change the text.
fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .args(path)
        .arg("--help")
        .env_remove("VBENCH_CONFIG")
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run vbench");
    assert!(out.status.success(), "vbench {path:?} --help: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// Line index of each option's definition line (`  -c, --config <CONFIG>  …`): the flags named
/// before the description, so a flag quoted in some description is not mistaken for one.
fn option_lines(text: &str) -> BTreeMap<String, usize> {
    let mut at = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start();
        if line.len() == body.len() || !body.starts_with('-') {
            continue;
        }
        let spec = body.split("  ").next().unwrap_or("");
        for part in spec.split(", ") {
            let name = part.split([' ', '=', '[']).next().unwrap_or("");
            at.entry(name.to_string()).or_insert(i);
        }
    }
    at
}

#[test]
fn every_help_lists_own_options_first_and_global_options_under_their_heading() {
    let root = Cli::command();
    let globals: Vec<String> = root
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(flag)
        .collect();
    for g in ["--config", "--docker-host", "--output", "--json"] {
        assert!(globals.iter().any(|f| f == g), "{g} is not global");
    }

    let mut paths = vec![Vec::new()];
    command_paths(&root, &[], &mut paths);
    assert!(paths.len() > 10, "too few commands found: {paths:?}");

    for path in &paths {
        let text = help(path);
        let shown = format!("vbench {} --help", path.join(" "));
        let heading = text
            .lines()
            .position(|l| l == HEADING)
            .unwrap_or_else(|| panic!("{shown}: no line {HEADING:?}:\n{text}"));
        let lines = option_lines(&text);

        for g in &globals {
            let i = lines
                .get(g)
                .unwrap_or_else(|| panic!("{shown}: {g} not listed:\n{text}"));
            assert!(
                *i > heading,
                "{shown}: {g} is listed above {HEADING:?}:\n{text}"
            );
        }

        let cmd = find(&root, path);
        let own: Vec<String> = cmd
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set())
            .filter_map(flag)
            .chain(["--help".to_string()])
            .collect();
        for o in &own {
            let i = lines
                .get(o)
                .unwrap_or_else(|| panic!("{shown}: its option {o} is not listed:\n{text}"));
            assert!(
                *i < heading,
                "{shown}: its option {o} is listed under {HEADING:?}:\n{text}"
            );
        }
    }
}

//! `vbench completions SHELL`: the shell completion script for the command line as it is
//! (clap_complete generates it from the clap types, so it never drifts), on stdout.

use clap::CommandFactory as _;

use super::Outcome;
use crate::cli::Cli;

pub fn cmd(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vbench", &mut buf);
    super::print_out(&String::from_utf8_lossy(&buf))?;
    Ok(Outcome::Done)
}

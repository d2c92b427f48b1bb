//! `vbench man [--out-dir DIR]`: the man page in roff (clap_mangen, from the clap types), on
//! stdout; with `--out-dir`, one page per subcommand (`vbench.1`, `vbench-run.1`,
//! `vbench-images-build.1`, …), as `scripts/release.sh` ships them.

use std::path::Path;

use clap::CommandFactory as _;

use super::{CommandError, Outcome};
use crate::cli::Cli;

pub fn cmd(out_dir: Option<&Path>) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    // Gives each subcommand its full name (`vbench-run`), which names its page.
    cmd.build();
    let Some(dir) = out_dir else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut buf)
            .map_err(|source| output_error("the man page", source))?;
        super::print_out(&String::from_utf8_lossy(&buf))?;
        return Ok(Outcome::Done);
    };
    let mut pages = Vec::new();
    render_pages(cmd, &mut pages).map_err(|source| output_error("the man pages", source))?;
    crate::durable::create_dir_all(dir)
        .map_err(|source| output_error(&dir.display().to_string(), source))?;
    let mut listing = String::new();
    for (name, roff) in pages {
        let path = dir.join(name);
        crate::durable::write_replace(&path, &roff)
            .map_err(|source| output_error(&path.display().to_string(), source))?;
        listing.push_str(&format!("{}\n", path.display()));
    }
    super::print_out(&listing)?;
    Ok(Outcome::Done)
}

/// The page of `cmd` and of every visible subcommand, depth first, as (file name, roff).
fn render_pages(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        render_pages(sub.clone(), out)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    out.push((man.get_filename(), buf));
    Ok(())
}

fn output_error(what: &str, source: std::io::Error) -> CommandError {
    CommandError::Output {
        what: what.to_string(),
        source,
    }
}

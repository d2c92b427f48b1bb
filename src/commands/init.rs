//! `vbench init [PATH] [--force]`: write the commented default configuration
//! (`config::template`), refusing to replace an existing file without `--force`.

use std::path::Path;

use super::Outcome;

pub fn cmd(path: &Path, force: bool) -> anyhow::Result<Outcome> {
    crate::config::template::write(path, force)?;
    super::print_out(&format!(
        "wrote {} (edit it, then check it with `vbench config`)\n",
        path.display()
    ))?;
    Ok(Outcome::Done)
}

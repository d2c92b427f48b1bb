//! `vbench init [PATH] [--force]`: write the commented default configuration
//! (`config::template`), refusing to replace an existing file without `--force` (exit 2).

use std::path::Path;

use crate::cli::Global;
use crate::exit::Code;

pub async fn cmd(_g: &Global, path: &Path, force: bool) -> anyhow::Result<Code> {
    crate::config::template::write(path, force)?;
    println!(
        "wrote {} (edit it, then check it with `vbench config`)",
        path.display()
    );
    Ok(Code::Ok)
}

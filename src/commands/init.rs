//! `vbench init` glue (to be implemented).

use std::path::Path;

use crate::cli::Global;
use crate::exit::Code;

pub async fn cmd(_g: &Global, _path: &Path, _force: bool) -> anyhow::Result<Code> {
    todo!()
}

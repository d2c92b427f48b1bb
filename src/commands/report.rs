//! `vbench report` glue (to be implemented).

use crate::cli::{Global, ReportArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: ReportArgs) -> anyhow::Result<Code> {
    todo!()
}

//! `vbench logs` glue (to be implemented).

use crate::cli::{Global, LogsArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: LogsArgs) -> anyhow::Result<Code> {
    todo!()
}

//! `vbench run` glue (to be implemented).

use crate::cli::{Global, RunArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: RunArgs) -> anyhow::Result<Code> {
    todo!()
}

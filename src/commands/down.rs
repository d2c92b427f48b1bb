//! `vbench down` glue (to be implemented).

use crate::cli::{Global, DownArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: DownArgs) -> anyhow::Result<Code> {
    todo!()
}

//! `vbench up` glue (to be implemented).

use crate::cli::{Global, UpArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: UpArgs) -> anyhow::Result<Code> {
    todo!()
}

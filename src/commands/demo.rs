//! `vbench demo` glue (to be implemented).

use crate::cli::{Global, DemoArgs};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _args: DemoArgs) -> anyhow::Result<Code> {
    todo!()
}

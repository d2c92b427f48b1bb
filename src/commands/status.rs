//! `vbench status` glue (to be implemented).

use crate::cli::{Global, Overrides};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _o: &Overrides) -> anyhow::Result<Code> {
    todo!()
}

//! `vbench gpu` glue (to be implemented).

use crate::cli::{Global, Overrides};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _watch: Option<f64>, _o: &Overrides) -> anyhow::Result<Code> {
    todo!()
}

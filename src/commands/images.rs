//! `vbench images` glue (to be implemented).

use crate::cli::{Global, ImagesAction};
use crate::exit::Code;

pub async fn cmd(_g: &Global, _action: ImagesAction) -> anyhow::Result<Code> {
    todo!()
}

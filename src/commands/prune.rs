//! `vbench prune --keep N` glue: take the results directory's lock (no run may be in
//! progress), delete all but the newest N runs, say what went.

use super::Outcome;
use crate::archive::prune;
use crate::cli::{Global, PruneArgs};
use crate::events;
use crate::sweep::RunError;
use crate::sweep::lock::{Holder, RunLock};

pub async fn cmd(g: &Global, args: PruneArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let sink = crate::render::sink_for(super::output(g));
    let lock =
        RunLock::acquire(&cfg.results_dir, &Holder::me("(prune)")).map_err(RunError::from)?;
    if let Some(stale) = &lock.stale {
        events::warn(
            sink.as_ref(),
            format!("took over the lock {}: {stale}", lock.path.display()),
        );
    }
    let pruned = prune::prune(&cfg.results_dir, args.keep)?;
    events::info(
        sink.as_ref(),
        format!(
            "pruned {} run(s) and {} result file(s); kept the newest {}",
            pruned.runs.len(),
            pruned.files.len(),
            pruned.kept
        ),
    );
    drop(lock);
    Ok(Outcome::Done)
}

//! `vbench compare BASE NEW [--threshold 5%]`: the verdict for cron — exit 0 when nothing
//! regressed, 8 when something did (each point and metric named), 9 when the runs cannot be
//! judged (a point failed or is missing, or the set-up differs).

use super::Outcome;
use crate::archive::source;
use crate::cli::{CompareArgs, Global};
use crate::events::Event;
use crate::report::verdict;

pub async fn cmd(g: &Global, args: CompareArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let threshold = super::threshold(&args.threshold)?;
    let sink = crate::render::sink_for(super::output(g));
    let load = |spec: &str| {
        let src = source::resolve(&cfg.results_dir, &[spec.to_string()])?;
        source::load(&cfg.results_dir, &src)
    };
    let (base, new) = (load(&args.base)?, load(&args.new)?);
    for p in base.problems.iter().chain(&new.problems) {
        sink.emit(Event::Unreadable {
            file: p.file.display().to_string(),
            line: p.line,
            column: p.column,
            message: p.message.clone(),
        });
    }
    let v = verdict::judge((&base.meta, &base.rows), (&new.meta, &new.rows), threshold);
    let outcome = v.outcome;
    sink.emit(Event::Verdict(v));
    Ok(Outcome::Judged(outcome))
}

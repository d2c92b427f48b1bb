//! `vbench history [--point P]… [--metric M]` glue: the table on stdout, and the trend chart
//! as SVG and HTML under `<results_dir>/reports/history/` (or `--out-dir`).

use super::{CommandError, Outcome};
use crate::archive::history;
use crate::cli::{Global, HistoryArgs};
use crate::render::Output;
use crate::report;

pub async fn cmd(g: &Global, args: HistoryArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let metric = report::ALL_METRICS
        .iter()
        .find(|m| m.id == args.metric)
        .copied()
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "--metric {}: one of {}",
                args.metric,
                report::ALL_METRICS
                    .iter()
                    .map(|m| m.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let h = history::history(&cfg.results_dir, &args.points, metric);
    let out_dir = args
        .out_dir
        .unwrap_or_else(|| cfg.results_dir.join("reports").join("history"));
    let files = history::write(&h, &out_dir)?;
    let text = if super::output(g) == Output::Json {
        format!("{}\n", serde_json::to_string(&h)?)
    } else {
        let mut t = h.table();
        for f in files {
            t.push_str(&format!("wrote {}\n", f.display()));
        }
        t
    };
    super::print_out(&text)?;
    Ok(Outcome::Done)
}

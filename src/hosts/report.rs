//! The one report of a fan-out run, in `<results_dir>/fanout/<id>/`: a table of every point
//! of every host (`summary.md`, `summary.csv`, `summary.json`), charts with one line per host
//! (`report::variants`, as the matrix draws its combinations), and a verdict per
//! host (`verdict.md`): in replicate mode each host judged against the first one
//! (`report::verdict::judge`, the GPUs allowed to differ — that is what is compared).

use serde::Serialize;

use super::record::{FanoutRecord, HostRecord, Mode};
use crate::archive::source::meta_of_run;
use crate::config::Config;
use crate::events::{Event, Sink};
use crate::report::variants::{self, Variant};
use crate::report::verdict::{self, Verdict};
use crate::report::{ChartOptions, Row, Rows, RunMeta};
use crate::sweep::manifest::Manifest;
use crate::sweep::{rows, session};

/// What the variant column of the tables is called.
const LABEL: &str = "host";

/// One host in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct HostSummary {
    #[serde(flatten)]
    pub record: HostRecord,
    /// The rows of all its runs.
    pub rows: Rows,
}

/// The fan-out's end.
#[derive(Debug, Clone, Serialize)]
pub struct FanoutSummary {
    pub fanout_id: String,
    pub mode: Mode,
    pub status: String,
    /// Where the report files are.
    pub dir: String,
    pub standin: bool,
    pub hosts: Vec<HostSummary>,
    /// Shard mode: units no host could finish.
    pub units_left: Vec<String>,
    pub verdicts: Vec<Verdict>,
}

/// A host's runs, loaded: its rows and the meta of its first run.
fn load(cfg: &Config, h: &HostRecord) -> (Vec<Row>, Option<RunMeta>) {
    let dir = cfg.results_dir.join("hosts").join(&h.name);
    let mut out = Vec::new();
    let mut meta = None;
    for id in &h.run_ids {
        let run_dir = session::run_dir(&dir, id);
        if let Ok(m) = Manifest::load(&run_dir) {
            out.extend(rows::rows_from_manifest(&m, &dir));
            meta.get_or_insert_with(|| meta_of_run(&m, &run_dir));
        }
    }
    (out, meta)
}

/// Write the report files, emit the verdicts and the summary; returns the verdicts.
pub fn publish(
    cfg: &Config,
    record: &FanoutRecord,
    threshold: f64,
    sink: &dyn Sink,
) -> anyhow::Result<Vec<Verdict>> {
    let dir = super::record::fanout_dir(&cfg.results_dir, &record.fanout_id);
    let loaded: Vec<(Vec<Row>, Option<RunMeta>)> =
        record.hosts.iter().map(|h| load(cfg, h)).collect();
    let mut verdicts = Vec::new();
    if record.mode == Mode::Replicate
        && let Some((base_rows, Some(base_meta))) = loaded.first()
        && !base_rows.is_empty()
    {
        // Hosts are compared: their GPUs (and the digest of an image each pulled) may differ.
        let meta = |h: &HostRecord, m: &RunMeta| RunMeta {
            title: format!("host {}", h.name),
            gpus: vec![],
            image_digest: None,
            ..m.clone()
        };
        let base = meta(&record.hosts[0], base_meta);
        for (h, (rows, m)) in record.hosts.iter().zip(&loaded).skip(1) {
            if let Some(m) = m
                && !rows.is_empty()
            {
                verdicts.push(verdict::judge(
                    (&base, base_rows),
                    (&meta(h, m), rows),
                    threshold,
                ));
            }
        }
    }
    let charted: Vec<Variant> = record
        .hosts
        .iter()
        .zip(&loaded)
        .map(|(h, (rows, _))| (h.name.as_str(), rows.as_slice()))
        .collect();
    let chart_names = variants::write_charts(
        &dir,
        &charted,
        &ChartOptions {
            standin: record.standin,
        },
    )?;
    let summary = FanoutSummary {
        fanout_id: record.fanout_id.clone(),
        mode: record.mode,
        status: record.status.clone(),
        dir: dir.display().to_string(),
        standin: record.standin,
        hosts: record
            .hosts
            .iter()
            .zip(loaded)
            .map(|(h, (rows, _))| HostSummary {
                record: h.clone(),
                rows: Rows(rows),
            })
            .collect(),
        units_left: record
            .units
            .iter()
            .filter(|u| !u.done())
            .map(|u| u.label())
            .collect(),
        verdicts: verdicts.clone(),
    };
    variants::write_summary(
        &dir,
        &markdown(&summary, &chart_names),
        &csv(&summary),
        &summary,
        &verdicts,
    )?;
    for v in &verdicts {
        sink.emit(Event::Verdict(v.clone()));
    }
    sink.emit(Event::FanoutSummary(Box::new(summary)));
    Ok(verdicts)
}

fn first_line(s: Option<&str>) -> String {
    s.and_then(|c| c.lines().next())
        .unwrap_or("")
        .replace('|', "/")
}

/// The hosts (status, runs, cause) and the one table of every point.
pub fn markdown(s: &FanoutSummary, charts: &[String]) -> String {
    let mut out = format!(
        "# Fan-out {} ({}): {}\n\n",
        s.fanout_id,
        s.mode.as_str(),
        s.status
    );
    if s.standin {
        out.push_str("_Measured on the CPU stand-in: not a GPU measurement._\n\n");
    }
    out.push_str("| host | engine | status | runs | points | cause |\n|---|---|---|---|---|---|\n");
    for h in &s.hosts {
        let r = &h.record;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.docker_host,
            r.status.as_str(),
            r.run_ids.len(),
            h.rows.0.len(),
            first_line(r.cause.as_deref())
        ));
    }
    if !s.units_left.is_empty() {
        out.push_str(&format!(
            "\nNot run (no host left to take them): {}\n",
            s.units_left.join(", ")
        ));
    }
    out.push_str(&variants::markdown(LABEL, &table(s), charts, &s.verdicts));
    out
}

/// The one table as CSV (numbers unformatted; empty when unknown).
pub fn csv(s: &FanoutSummary) -> String {
    variants::csv(LABEL, &table(s))
}

/// The hosts as the tables show them: each host's name and rows.
fn table(s: &FanoutSummary) -> Vec<Variant<'_>> {
    s.hosts
        .iter()
        .map(|h| (h.record.name.as_str(), h.rows.0.as_slice()))
        .collect()
}

/// The summary as text for the terminal: each host's status and where the report is.
pub fn text(s: &FanoutSummary) -> String {
    let mut out = String::new();
    for h in &s.hosts {
        let r = &h.record;
        out.push_str(&format!(
            "host {}: {} ({} run(s), {} point(s)){}\n",
            r.name,
            r.status.as_str(),
            r.run_ids.len(),
            h.rows.0.len(),
            r.cause
                .as_deref()
                .and_then(|c| c.lines().next())
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    if !s.units_left.is_empty() {
        out.push_str(&format!("not run: {}\n", s.units_left.join(", ")));
    }
    out.push_str(&format!(
        "fan-out {} ({}): {}{}; report: {}\n",
        s.fanout_id,
        s.mode.as_str(),
        s.status,
        if s.standin {
            " — CPU stand-in, not a GPU measurement"
        } else {
            ""
        },
        s.dir
    ));
    out
}

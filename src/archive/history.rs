//! A point's metric across runs, oldest first: the table and the trend chart of `vbench
//! history`. A night whose run did not finish, had failed points, or could not be judged is
//! marked invalid — its numbers (if any) are shown but never read as a trend.

use std::path::Path;

use serde::Serialize;

use crate::report::{self, Key, Metric, TrendPoint, TrendRow, TrendSeries};
use crate::sweep::manifest::{self, Manifest, PointStatus};
use crate::sweep::{rows, session};

/// One run in the history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRun {
    pub run_id: String,
    pub started: String,
    pub valid: bool,
    /// Why the night is invalid.
    pub note: Option<String>,
    /// One value per chosen point (median over repeats of the `ok` ones).
    pub values: Vec<Option<f64>>,
    /// Measured on the CPU stand-in.
    pub standin: bool,
}

/// The history of some points' metric.
#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub metric: String,
    pub metric_header: String,
    /// The chosen points' labels.
    pub points: Vec<String>,
    pub runs: Vec<HistoryRun>,
}

/// Why a run is not a valid night, if it is not.
fn invalid(m: &Manifest) -> Option<String> {
    if m.status != "finished" && m.status != "points_failed" {
        return Some(format!("run {}", m.status.replace('_', " ")));
    }
    let failed = m.count(PointStatus::Failed);
    if failed > 0 {
        return Some(format!("{failed} point(s) failed"));
    }
    match &m.verdict {
        Some(v) if v.outcome == "cannot judge" => Some("could not be judged".into()),
        _ => None,
    }
}

/// The history of `metric` for the points whose label or id contains one of `filters`
/// (every point when empty), over every run in `results_dir`.
pub fn history(results_dir: &Path, filters: &[String], metric: Metric) -> History {
    let manifests: Vec<Manifest> = manifest::list_runs(results_dir)
        .into_iter()
        .filter_map(|id| Manifest::load(&session::run_dir(results_dir, &id)).ok())
        .collect();
    let mut keys: Vec<Key> = Vec::new();
    let per_run: Vec<Vec<report::Row>> = manifests
        .iter()
        .map(|m| rows::rows_from_manifest(m, results_dir))
        .collect();
    for rs in &per_run {
        for g in report::group(rs) {
            let label = report::verdict::point_label(&g.key);
            let chosen = filters.is_empty()
                || filters.iter().any(|f| {
                    label.contains(f.as_str()) || g.rows.iter().any(|r| r.name.contains(f.as_str()))
                });
            if chosen && !keys.contains(&g.key) {
                keys.push(g.key.clone());
            }
        }
    }
    let runs = manifests
        .iter()
        .zip(&per_run)
        .map(|(m, rs)| {
            let groups = report::group(rs);
            let values = keys
                .iter()
                .map(|k| {
                    groups
                        .iter()
                        .find(|g| &g.key == k)
                        .and_then(|g| g.metric(metric))
                        .map(|s| s.median)
                })
                .collect();
            let note = invalid(m);
            HistoryRun {
                run_id: m.run_id.clone(),
                started: m.created.clone(),
                valid: note.is_none(),
                note,
                values,
                standin: m.standin,
            }
        })
        .collect();
    History {
        metric: metric.id.to_string(),
        metric_header: metric.header.to_string(),
        points: keys.iter().map(report::verdict::point_label).collect(),
        runs,
    }
}

impl History {
    /// The table: one line per run, one column per point; invalid nights flagged.
    pub fn table(&self) -> String {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        let mut header = vec!["run".to_string(), "night".to_string()];
        header.extend(self.points.iter().cloned());
        t.set_header(header);
        for r in &self.runs {
            let mut cells = vec![
                r.run_id.clone(),
                match &r.note {
                    None => "ok".to_string(),
                    Some(n) => format!("invalid: {n}"),
                },
            ];
            cells.extend(r.values.iter().map(|v| report::fmt_num(*v)));
            t.add_row(cells);
        }
        format!("{} ({})\n{t}\n", self.metric_header, self.metric)
    }
}

/// Write the history's files into `dir`: `history.svg` (the trend chart), `history.html`
/// (chart and table on one self-contained page), `history.json` (the data) and `history.md`
/// (the table); returns their paths.
pub fn write(h: &History, dir: &Path) -> Result<Vec<std::path::PathBuf>, super::ArchiveError> {
    let title = format!("{} across runs", h.metric_header);
    let series: Vec<TrendSeries> = h
        .points
        .iter()
        .enumerate()
        .map(|(i, label)| TrendSeries {
            label: label.clone(),
            points: h
                .runs
                .iter()
                .map(|r| TrendPoint {
                    run: r.run_id.clone(),
                    value: r.values[i],
                    valid: r.valid,
                    note: r.note.clone(),
                })
                .collect(),
        })
        .collect();
    let standin = h.runs.iter().any(|r| r.standin);
    let svg = report::trend_svg(
        &title,
        &h.metric_header,
        &series,
        &report::ChartOptions { standin },
    );
    let rows: Vec<TrendRow> = h
        .runs
        .iter()
        .map(|r| TrendRow {
            run: r.run_id.clone(),
            night: match &r.note {
                None => "ok".into(),
                Some(n) => format!("invalid: {n}"),
            },
            values: r.values.clone(),
            invalid: !r.valid,
        })
        .collect();
    let page = report::history_page(&title, &svg, &h.points, &rows);
    let json = serde_json::to_string_pretty(h).expect("history serialises") + "\n";
    let mut out = Vec::new();
    for (name, body) in [
        ("history.svg", svg),
        ("history.html", page),
        ("history.json", json),
        ("history.md", h.table()),
    ] {
        let p = dir.join(name);
        crate::durable::write_replace(&p, body.as_bytes()).map_err(|source| {
            super::ArchiveError::Write {
                op: format!("write {}", p.display()),
                source,
            }
        })?;
        out.push(p);
    }
    Ok(out)
}

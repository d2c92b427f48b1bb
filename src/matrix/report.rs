//! The report across a matrix's combinations, in `<results_dir>/matrix/<id>/`: one table of
//! every point of every combination (`summary.md`, `summary.csv`, `summary.json`), charts
//! with one line per combination (`charts/<sweep>_input_<len>_{ttft,tpot,throughput}.svg`;
//! the table, charts and files shared with the fan-out's report are `crate::report::variants`),
//! and — between two combinations that differ only in their image — the verdict of
//! `crate::report::verdict::judge` (`verdict.md`), the earlier combination as the baseline.

use serde::Serialize;

use super::record::{CombinationRecord, CombinationStatus, MatrixRecord};
use crate::archive::source::meta_of_run;
use crate::config::{Combination, Config};
use crate::events::{Event, Sink};
use crate::report::variants::{self, COLUMNS, Variant};
use crate::report::verdict::{self, Verdict};
use crate::report::{ChartOptions, Row, Rows, RunMeta, fmt_num, fmt_tokens};
use crate::sweep::manifest::Manifest;
use crate::sweep::{rows, session};

/// What the variant column of the tables is called.
const LABEL: &str = "combination";

/// One combination in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct CombinationSummary {
    #[serde(flatten)]
    pub record: CombinationRecord,
    /// Its run's rows (empty when it never ran).
    pub rows: Rows,
}

/// The matrix's end: every combination with its rows, and the verdicts between image
/// combinations.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixSummary {
    pub matrix_id: String,
    pub status: String,
    /// Where the report files are.
    pub dir: String,
    pub standin: bool,
    pub combinations: Vec<CombinationSummary>,
    pub verdicts: Vec<Verdict>,
}

/// A combination's run, loaded: its manifest and meta, or nothing when it never ran.
struct Loaded {
    rows: Vec<Row>,
    meta: Option<RunMeta>,
}

fn load(cfg: &Config, c: &CombinationRecord) -> Loaded {
    let dir = super::plan::combination_dir(&cfg.results_dir, &c.name);
    let run = c.run_id.as_ref().and_then(|id| {
        let run_dir = session::run_dir(&dir, id);
        Manifest::load(&run_dir).ok().map(|m| (m, run_dir))
    });
    match run {
        Some((m, run_dir)) => Loaded {
            rows: rows::rows_from_manifest(&m, &dir),
            meta: Some(meta_of_run(&m, &run_dir)),
        },
        None => Loaded {
            rows: vec![],
            meta: None,
        },
    }
}

/// Pairs of combinations (earlier, later) that differ in their image and in nothing else.
pub fn image_pairs(matrix: &[Combination]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, a) in matrix.iter().enumerate() {
        for (j, b) in matrix.iter().enumerate().skip(i + 1) {
            let same_rest = Combination {
                name: String::new(),
                image: None,
                ..a.clone()
            } == Combination {
                name: String::new(),
                image: None,
                ..b.clone()
            };
            if same_rest && a.image.is_some() && b.image.is_some() && a.image != b.image {
                out.push((i, j));
            }
        }
    }
    out
}

/// Write the report files, emit the verdicts and the summary; returns the verdicts.
pub fn publish(
    cfg: &Config,
    record: &MatrixRecord,
    threshold: f64,
    sink: &dyn Sink,
) -> anyhow::Result<Vec<Verdict>> {
    let dir = super::record::matrix_dir(&cfg.results_dir, &record.matrix_id);
    let loaded: Vec<Loaded> = record.combinations.iter().map(|c| load(cfg, c)).collect();
    let mut verdicts = Vec::new();
    for (i, j) in image_pairs(&cfg.matrix) {
        let (Some(a), Some(b)) = (
            record.combinations.get(i).zip(loaded.get(i)),
            record.combinations.get(j).zip(loaded.get(j)),
        ) else {
            continue;
        };
        let ran = |c: &CombinationRecord| {
            matches!(
                c.status,
                CombinationStatus::Ok | CombinationStatus::PointsFailed
            )
        };
        if !ran(a.0) || !ran(b.0) {
            continue;
        }
        // The image is what is compared: its digest must not make the runs incomparable.
        let meta = |c: &CombinationRecord, l: &Loaded| RunMeta {
            title: format!("{} ({})", c.name, c.run_id.as_deref().unwrap_or("-")),
            image_digest: None,
            image: None,
            ..l.meta.clone().unwrap_or_default()
        };
        let (ma, mb) = (meta(a.0, a.1), meta(b.0, b.1));
        verdicts.push(verdict::judge(
            (&ma, &a.1.rows),
            (&mb, &b.1.rows),
            threshold,
        ));
    }
    let charted: Vec<Variant> = record
        .combinations
        .iter()
        .zip(&loaded)
        .map(|(c, l)| (c.name.as_str(), l.rows.as_slice()))
        .collect();
    let chart_names = variants::write_charts(
        &dir,
        &charted,
        &ChartOptions {
            standin: record.standin,
        },
    )?;
    let summary = MatrixSummary {
        matrix_id: record.matrix_id.clone(),
        status: record.status.clone(),
        dir: dir.display().to_string(),
        standin: record.standin,
        combinations: record
            .combinations
            .iter()
            .zip(loaded)
            .map(|(c, l)| CombinationSummary {
                record: c.clone(),
                rows: Rows(l.rows),
            })
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
    sink.emit(Event::MatrixSummary(Box::new(summary)));
    Ok(verdicts)
}

/// The combinations (status, cause) and the one table of every point.
pub fn markdown(s: &MatrixSummary, charts: &[String]) -> String {
    let mut out = format!("# Matrix {}: {}\n\n", s.matrix_id, s.status);
    if s.standin {
        out.push_str("_Measured on the CPU stand-in: not a GPU measurement._\n\n");
    }
    out.push_str("| combination | settings | status | run | cause |\n|---|---|---|---|---|\n");
    for c in &s.combinations {
        let r = &c.record;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.name,
            r.settings.join("; ").replace('|', "/"),
            r.status.as_str(),
            r.run_id.as_deref().unwrap_or("-"),
            r.cause
                .as_deref()
                .and_then(|c| c.lines().next())
                .unwrap_or("")
                .replace('|', "/")
        ));
    }
    out.push_str(&variants::markdown(LABEL, &table(s), charts, &s.verdicts));
    out
}

/// The one table as CSV (numbers unformatted; empty when unknown).
pub fn csv(s: &MatrixSummary) -> String {
    variants::csv(LABEL, &table(s))
}

/// The combinations as the tables show them: each combination's name and rows.
fn table(s: &MatrixSummary) -> Vec<Variant<'_>> {
    s.combinations
        .iter()
        .map(|c| (c.record.name.as_str(), c.rows.0.as_slice()))
        .collect()
}

/// The summary as text for the terminal: the one table and each combination's status.
pub fn text(s: &MatrixSummary) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    let mut header = vec![
        "combination".to_string(),
        "point".into(),
        "C".into(),
        "status".into(),
    ];
    header.extend(COLUMNS.iter().map(|m| m.header.to_string()));
    t.set_header(header);
    for c in &s.combinations {
        for r in &c.rows.0 {
            let mut row = vec![
                c.record.name.clone(),
                format!(
                    "{} {}→{}",
                    r.sweep,
                    fmt_tokens(r.input_len),
                    fmt_tokens(r.output_len)
                ),
                r.concurrency.to_string(),
                r.status.clone(),
            ];
            row.extend(COLUMNS.iter().map(|m| fmt_num(r.metric(*m))));
            t.add_row(row);
        }
    }
    let mut out = format!("{t}\n");
    for c in &s.combinations {
        let r = &c.record;
        out.push_str(&format!(
            "combination {}: {}{}{}\n",
            r.name,
            r.status.as_str(),
            r.run_id
                .as_deref()
                .map(|id| format!(" (run {id})"))
                .unwrap_or_default(),
            r.cause
                .as_deref()
                .and_then(|c| c.lines().next())
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "matrix {}: {}{}; report: {}\n",
        s.matrix_id,
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

//! Importing result files people already have: single files, or directories of them (the
//! manual scripts' `production/input_1K_n1_<ts>.json` and `scaling/scale_n<N>_<ts>.json`,
//! vbench's own layout, any vLLM era `results::parse` reads, `--append-result` JSON lines).
//!
//! Each result becomes a `Row`. Its point (sweep, input, output, concurrency) comes from
//! vbench's own `--metadata` in the file, else the file name's pattern, else the file's own
//! fields. Each is then judged like a sweep point (all failed, partial, clamped outputs). A
//! file that cannot be read is listed with file:line:column and never stops the rest.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Row;
use crate::results::{self, BenchResult};

/// Output length of the manual production sweep (`run_production_bench.sh`).
const MANUAL_PRODUCTION_OUTPUT: u64 = 500;
/// Input and output length of the manual scaling sweep.
const MANUAL_SCALING_INPUT: u64 = 1024;
const MANUAL_SCALING_OUTPUT: u64 = 128;

/// A file that could not be imported, and where.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// What an import found.
#[derive(Debug, Default)]
pub struct Imported {
    pub rows: Vec<Row>,
    pub problems: Vec<Problem>,
    /// Every result file read, in order.
    pub files: Vec<PathBuf>,
}

/// Directories that hold vbench's own state, not results to import (a results directory
/// also keeps each run's copy of its results under `runs/`: importing both would count every
/// point twice).
const SKIPPED_DIRS: &[&str] = &["runs", "server", "logs", "charts", "reports"];
/// vbench's own JSON files.
const SKIPPED_FILES: &[&str] = &["manifest.json", "summary.json"];

/// Import files and directories (recursively), in a stable order.
pub fn import(paths: &[PathBuf]) -> Imported {
    let mut out = Imported::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            collect(p, &mut files, &mut out.problems);
        } else {
            files.push(p.clone());
        }
    }
    for f in files {
        import_file(&f, &mut out);
    }
    out
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem {
                file: dir.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read the directory: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                collect(&p, files, problems);
            }
        } else if (name.ends_with(".json") || name.ends_with(".jsonl"))
            && !SKIPPED_FILES.contains(&name.as_str())
        {
            files.push(p);
        }
    }
}

fn import_file(path: &Path, out: &mut Imported) {
    let origin = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            out.problems.push(Problem {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            });
            return;
        }
    };
    let results = match results::parse_all(&bytes, &origin) {
        Ok(r) => r,
        Err(e) => {
            out.problems.push(Problem {
                file: path.to_path_buf(),
                line: e.line,
                column: e.column,
                message: match &e.field {
                    Some(f) => format!("field `{f}`: {}", e.message),
                    None => e.message.clone(),
                },
            });
            return;
        }
    };
    out.files.push(path.to_path_buf());
    for (i, r) in results.into_iter().enumerate() {
        out.rows.push(row(path, r, i as u32 + 1));
    }
}

/// The point a result measured, by the first source that knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointOf {
    pub sweep: String,
    pub name: String,
    pub input_len: u64,
    pub output_len: u64,
    pub concurrency: u64,
}

fn row(path: &Path, r: BenchResult, repeat: u32) -> Row {
    let p = point_of(path, &r);
    let num_prompts = r
        .num_prompts()
        .or_else(|| Some(r.completed()? + r.failed().unwrap_or(0)))
        .unwrap_or(0);
    let problems = results::validate(
        &r,
        &results::Expect {
            num_prompts,
            input_len: p.input_len,
            output_len: p.output_len,
        },
    );
    Row {
        sweep: p.sweep,
        name: p.name,
        input_len: p.input_len,
        output_len: p.output_len,
        concurrency: p.concurrency,
        num_prompts,
        status: if problems.is_empty() { "ok" } else { "failed" }.into(),
        reason: (!problems.is_empty()).then(|| problems.join("; ")),
        result: Some(r),
        file: Some(path.to_path_buf()),
        repeat,
        log: None,
        telemetry: Default::default(),
    }
}

/// vbench's metadata, else the file name, else the file's own fields.
pub fn point_of(path: &Path, r: &BenchResult) -> PointOf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = path
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".into());
    from_metadata(r)
        .or_else(|| from_file_name(&stem, &dir))
        .unwrap_or_else(|| from_fields(r, &stem, &dir))
}

fn meta_u64(r: &BenchResult, key: &str) -> Option<u64> {
    r.get_str(key)?.trim().parse().ok()
}

/// `--metadata vbench_point=<sweep>/<stem>[.r<k>] input_len=… output_len=… concurrency=…`.
fn from_metadata(r: &BenchResult) -> Option<PointOf> {
    let point = r.get_str("vbench_point")?;
    let (sweep, stem) = point.split_once('/')?;
    let stem = stem.split_once(".r").map_or(stem, |(s, _)| s);
    Some(PointOf {
        sweep: sweep.to_string(),
        name: stem.to_string(),
        input_len: meta_u64(r, "input_len")?,
        output_len: meta_u64(r, "output_len")?,
        concurrency: meta_u64(r, "concurrency")?,
    })
}

/// `input_1K_n5_<ts>`, `scale_n20_<ts>` (the manual scripts) and `input_128_out32_n4_<ts>`
/// (vbench's custom layout). The timestamp tail is dropped.
fn from_file_name(stem: &str, dir: &str) -> Option<PointOf> {
    let parts: Vec<&str> = stem.split('_').collect();
    let n_at = parts.iter().position(|p| {
        p.strip_prefix('n')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })?;
    let concurrency: u64 = parts[n_at][1..].parse().ok()?;
    let name = parts[..=n_at].join("_");
    match parts[0] {
        "scale" if n_at == 1 => Some(PointOf {
            sweep: "scaling".into(),
            name,
            input_len: MANUAL_SCALING_INPUT,
            output_len: MANUAL_SCALING_OUTPUT,
            concurrency,
        }),
        "input" if n_at == 2 => Some(PointOf {
            sweep: if dir == "production" || dir == "import" {
                "production".into()
            } else {
                dir.to_string()
            },
            name,
            input_len: crate::config::parse_token_count(parts[1]).ok()?,
            output_len: MANUAL_PRODUCTION_OUTPUT,
            concurrency,
        }),
        "input" if n_at == 3 => Some(PointOf {
            sweep: dir.to_string(),
            name,
            input_len: crate::config::parse_token_count(parts[1]).ok()?,
            output_len: parts[2].strip_prefix("out")?.parse().ok()?,
            concurrency,
        }),
        _ => None,
    }
}

/// From what the file says about itself: tokens per request, max concurrency (a burst with
/// no limit: every prompt at once).
fn from_fields(r: &BenchResult, stem: &str, dir: &str) -> PointOf {
    let completed = r.completed().filter(|&c| c > 0);
    let per = |total: Option<u64>| match (total, completed) {
        (Some(t), Some(c)) => (t as f64 / c as f64).round() as u64,
        _ => 0,
    };
    let concurrency = r
        .get_f64("max_concurrency")
        .map(|c| c as u64)
        .or_else(|| r.num_prompts())
        .unwrap_or(0);
    PointOf {
        sweep: dir.to_string(),
        name: stem.to_string(),
        input_len: per(r.total_input_tokens()),
        output_len: per(r.total_output_tokens()),
        concurrency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_patterns() {
        let p = from_file_name("input_32K_n10_20260101_120000", "production").expect("prod");
        assert_eq!(
            (
                p.sweep.as_str(),
                p.name.as_str(),
                p.input_len,
                p.output_len,
                p.concurrency
            ),
            ("production", "input_32K_n10", 32768, 500, 10)
        );
        let s = from_file_name("scale_n200_20260101_120000-1", "scaling").expect("scaling");
        assert_eq!(
            (s.sweep.as_str(), s.input_len, s.output_len, s.concurrency),
            ("scaling", 1024, 128, 200)
        );
        let c = from_file_name("input_128_out32_n4_20260101_120000", "demo").expect("custom");
        assert_eq!(
            (c.sweep.as_str(), c.input_len, c.output_len, c.concurrency),
            ("demo", 128, 32, 4)
        );
        assert_eq!(from_file_name("real_client_random", "x"), None);
        assert_eq!(from_file_name("input_big_n1_x", "x"), None);
    }
}

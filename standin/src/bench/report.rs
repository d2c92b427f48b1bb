//! The console summary the real client prints after a run (`============ Serving Benchmark
//! Result ============` block), with the same labels, widths and number formats, and the list
//! of metrics whose statistics are reported (shared with the result file).

use super::metrics::{Metrics, Stat};
use super::pyfmt::{center, float, row, row_f2};

/// One metric whose statistics are printed and saved.
pub struct MetricSpec {
    /// Key part: `ttft` → `mean_ttft_ms`.
    pub key: &'static str,
    /// Console name: `Mean TTFT (ms):`.
    pub name: &'static str,
    /// Console header between dashes.
    pub header: &'static str,
}

const ALL: &[MetricSpec] = &[
    MetricSpec {
        key: "ttft",
        name: "TTFT",
        header: "Time to First Token",
    },
    MetricSpec {
        key: "tpot",
        name: "TPOT",
        header: "Time per Output Token (excl. 1st token)",
    },
    MetricSpec {
        key: "itl",
        name: "ITL",
        header: "Inter-token Latency",
    },
    MetricSpec {
        key: "e2el",
        name: "E2EL",
        header: "End-to-end Latency",
    },
    MetricSpec {
        key: "client_queue_time",
        name: "Client Queue Time",
        header: "Client Queue Time",
    },
    MetricSpec {
        key: "e2el_including_client_queue",
        name: "E2EL incl. Client Queue",
        header: "E2E Latency incl. Client Queue",
    },
];

/// Which metrics are reported, in the real order: those named in `--percentile-metrics`
/// (default `ttft,tpot,itl`), minus token metrics without a tokenizer, minus client-queue
/// metrics without `--max-concurrency` (and, for the E2EL variant, with an infinite rate).
pub fn selected(
    percentile_metrics: &str,
    tokenizer: bool,
    max_concurrency: bool,
    finite_rate: bool,
) -> Vec<&'static MetricSpec> {
    let chosen: Vec<&str> = percentile_metrics.split(',').map(str::trim).collect();
    ALL.iter()
        .filter(|m| chosen.contains(&m.key))
        .filter(|m| tokenizer || !matches!(m.key, "ttft" | "tpot" | "itl"))
        .filter(|m| match m.key {
            "client_queue_time" => max_concurrency,
            "e2el_including_client_queue" => max_concurrency && finite_rate,
            _ => true,
        })
        .collect()
}

pub fn stat<'a>(m: &'a Metrics, key: &str) -> &'a Stat {
    match key {
        "ttft" => &m.ttft,
        "tpot" => &m.tpot,
        "itl" => &m.itl,
        "e2el" => &m.e2el,
        "client_queue_time" => &m.client_queue_time,
        _ => &m.e2el_including_client_queue,
    }
}

/// `p_word`: `99` for integral percentiles, `99.9` otherwise.
pub fn p_word(p: f64) -> String {
    if p.fract() == 0.0 && p.abs() < 1e15 {
        format!("{}", p as i64)
    } else {
        float(p)
    }
}

/// What the summary needs besides the metrics.
pub struct RunInfo {
    pub max_concurrency: Option<usize>,
    pub request_rate: f64,
    pub duration: f64,
    pub goodput: bool,
}

/// The summary block, one string per line.
pub fn block(m: &Metrics, info: &RunInfo, metrics: &[&MetricSpec]) -> Vec<String> {
    let mut l = vec![center(" Serving Benchmark Result ", '=', 50)];
    l.push(row("Successful requests:", &m.completed.to_string()));
    l.push(row("Failed requests:", &m.failed.to_string()));
    if let Some(c) = info.max_concurrency {
        l.push(row("Maximum request concurrency:", &c.to_string()));
    }
    if info.request_rate.is_finite() {
        l.push(row_f2("Request rate configured (RPS):", info.request_rate));
    }
    l.push(row_f2("Benchmark duration (s):", info.duration));
    l.push(row("Total input tokens:", &m.total_input.to_string()));
    l.push(row("Total generated tokens:", &m.total_output.to_string()));
    l.push(row_f2("Request throughput (req/s):", m.request_throughput));
    if info.goodput {
        l.push(row_f2("Request goodput (req/s):", m.request_goodput));
    }
    l.push(row_f2(
        "Output token throughput (tok/s):",
        m.output_throughput,
    ));
    l.push(row_f2(
        "Peak output token throughput (tok/s):",
        m.max_output_tokens_per_s,
    ));
    l.push(row_f2(
        "Peak concurrent requests:",
        m.max_concurrent_requests as f64,
    ));
    l.push(row_f2(
        "Total token throughput (tok/s):",
        m.total_token_throughput,
    ));
    for spec in metrics {
        let s = stat(m, spec.key);
        l.push(center(spec.header, '-', 50));
        l.push(row_f2(&format!("Mean {} (ms):", spec.name), s.mean));
        l.push(row_f2(&format!("Median {} (ms):", spec.name), s.median));
        for (p, v) in &s.percentiles {
            l.push(row_f2(&format!("P{} {} (ms):", p_word(*p), spec.name), *v));
        }
    }
    l.push("=".repeat(50));
    l
}

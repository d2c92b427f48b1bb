//! vLLM's `/metrics`, scraped about once a second from the host: the Prometheus text parsed
//! with `prom_text_format_parser`, the series a sweep point wants fed into the run's `Store` —
//! running and waiting requests, KV-cache usage, and from the counters' deltas between two
//! scrapes the prefix-cache hit rate and preemptions per second.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Store;

/// Time between scrapes.
pub const PERIOD: Duration = Duration::from_secs(1);
/// A scrape that takes longer than this is skipped.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The values of one scrape vbench uses (absent when the server does not export them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub running: Option<f64>,
    pub waiting: Option<f64>,
    /// 0..1.
    pub kv_cache_usage: Option<f64>,
    pub prefix_queries: Option<f64>,
    pub prefix_hits: Option<f64>,
    pub preemptions: Option<f64>,
}

/// Lines the parser refuses that are skipped before a scrape is given up.
const MAX_BAD_LINES: usize = 64;

/// Parse the Prometheus text of `/metrics`. Samples of one metric are summed over their
/// labels (one engine per server here; several with data parallelism). Accepts every name
/// vLLM used for the same thing (`kv_cache_usage_perc`, older `gpu_cache_usage_perc`; counters
/// with or without `_total`). An error names the line and column of `/metrics` it stopped at.
pub fn parse(text: &str) -> Result<Snapshot, String> {
    // The text comes from a container: untrusted. The parser gives up on the whole text at
    // its first bad line, so a bad line (a server's new syntax, a torn response) is blanked
    // and the rest parsed again, up to MAX_BAD_LINES. CRLF line ends are read as LF.
    let mut lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut first_bad: Option<(usize, usize)> = None;
    let metrics = loop {
        // A final newline: the parser names the line of an error only in multi-line input.
        let joined = lines.join("\n") + "\n";
        if joined.trim().is_empty() {
            break Vec::new();
        }
        let (metrics, error) = prom_text_format_parser::parse_scrape(&joined);
        match error {
            Some(prom_text_format_parser::ScrapeParseError::Parse(msg)) if metrics.is_empty() => {
                let Some((line, col)) =
                    line_col(&msg).filter(|(l, _)| (1..=lines.len()).contains(l))
                else {
                    return Err(format!(
                        "/metrics: not Prometheus text ({})",
                        first_line(&msg)
                    ));
                };
                first_bad.get_or_insert((line, col));
                if lines[line - 1].is_empty() || first_bad_count(&lines, text) >= MAX_BAD_LINES {
                    break Vec::new();
                }
                lines[line - 1] = "";
            }
            // Families the parser could not assemble (no samples, TYPE clashes) cost only
            // themselves; with none left there is no reading, which is not an error.
            _ => break metrics,
        }
    };
    if metrics.is_empty()
        && let Some((line, col)) = first_bad
    {
        let text_line = text.split('\n').nth(line - 1).unwrap_or_default();
        return Err(format!(
            "/metrics line {line}, column {col}: not Prometheus text: {:?}",
            clip(text_line)
        ));
    }
    let sum = |names: &[&str]| -> Option<f64> {
        let values: Vec<f64> = metrics
            .iter()
            .filter(|m| names.contains(&m.name.as_str()))
            .flat_map(|m| m.samples.iter())
            .filter(|s| s.value.value_type == prom_text_format_parser::ValueType::Sample)
            .filter_map(|s| s.value.value.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .collect();
        // Finite samples can still sum past f64::MAX: an infinite sum is no reading.
        Some(values.iter().sum::<f64>()).filter(|v| !values.is_empty() && v.is_finite())
    };
    Ok(Snapshot {
        running: sum(&["vllm:num_requests_running"]),
        waiting: sum(&["vllm:num_requests_waiting"]),
        kv_cache_usage: sum(&["vllm:kv_cache_usage_perc"])
            .or_else(|| sum(&["vllm:gpu_cache_usage_perc"])),
        prefix_queries: sum(&[
            "vllm:prefix_cache_queries_total",
            "vllm:prefix_cache_queries",
        ]),
        prefix_hits: sum(&["vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits"]),
        preemptions: sum(&["vllm:num_preemptions_total", "vllm:num_preemptions"]),
    })
}

/// `parse error at line L, column C` from the parser's message.
fn line_col(msg: &str) -> Option<(usize, usize)> {
    let rest = msg.split("at line ").nth(1)?;
    let (line, rest) = rest.split_once(", column ")?;
    let col: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, col.parse().ok()?))
}

/// How many lines were blanked so far (blank in `lines`, not in the original text).
fn first_bad_count(lines: &[&str], text: &str) -> usize {
    lines
        .iter()
        .zip(text.split('\n'))
        .filter(|(now, orig)| now.is_empty() && !orig.trim_end_matches('\r').is_empty())
        .count()
}

fn first_line(msg: &str) -> String {
    clip(msg.lines().next().unwrap_or_default())
}

/// At most 80 characters of what a container sent, for a message.
fn clip(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(80).collect::<String>())
    }
}

/// Feed one snapshot (and the deltas since the previous one) into the store.
pub fn feed(store: &mut Store, now: &Snapshot, prev: Option<(&Snapshot, Duration)>) {
    for (name, v) in [
        ("vllm.running", now.running),
        ("vllm.waiting", now.waiting),
        ("vllm.kv_cache_usage", now.kv_cache_usage),
    ] {
        if let Some(v) = v {
            store.add(name, v);
        }
    }
    let Some((p, dt)) = prev else {
        return;
    };
    let delta = |a: Option<f64>, b: Option<f64>| Some(a? - b?).filter(|d| *d >= 0.0);
    if let (Some(q), Some(h)) = (
        delta(now.prefix_queries, p.prefix_queries),
        delta(now.prefix_hits, p.prefix_hits),
    ) && q > 0.0
    {
        store.add("vllm.prefix_cache_hit_rate", h / q);
    }
    if let Some(d) = delta(now.preemptions, p.preemptions)
        && dt.as_secs_f64() > 0.0
    {
        store.add("vllm.preemptions_per_s", d / dt.as_secs_f64());
    }
}

/// A `/metrics` endpoint and the previous snapshot (the counters' deltas are taken
/// against it), shared by the 1 Hz loop and the scrapes at points' boundaries.
#[derive(Clone)]
pub struct Scraper {
    client: reqwest::Client,
    url: String,
    prev: Arc<tokio::sync::Mutex<Option<(Snapshot, Instant)>>>,
}

impl Scraper {
    pub fn new(base: &str) -> Option<Scraper> {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build().ok()?;
        Some(Scraper {
            client,
            url: format!("{}/metrics", base.trim_end_matches('/')),
            prev: Default::default(),
        })
    }

    /// Scrape once and feed the store; a failed scrape is skipped (the next one may work).
    pub async fn once(&self, store: &Mutex<Store>) {
        let Ok(resp) = self.client.get(&self.url).send().await else {
            return;
        };
        let Ok(text) = resp.text().await else {
            return;
        };
        let Ok(snap) = parse(&text) else {
            return;
        };
        let mut prev = self.prev.lock().await;
        let at = Instant::now();
        if let Ok(mut s) = store.lock() {
            feed(
                &mut s,
                &snap,
                prev.as_ref().map(|(p, t)| (p, at.duration_since(*t))),
            );
        }
        *prev = Some((snap, at));
    }

    /// Scrape every `PERIOD` until aborted.
    pub fn spawn(self, store: Arc<Mutex<Store>>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                self.once(&store).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP vllm:num_requests_running Number of requests in model execution batches.\n\
# TYPE vllm:num_requests_running gauge\n\
vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3.0\n\
# TYPE vllm:num_requests_waiting gauge\n\
vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 1.0\n\
# TYPE vllm:kv_cache_usage_perc gauge\n\
vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.25\n\
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.\n\
# TYPE vllm:prefix_cache_queries_total counter\n\
vllm:prefix_cache_queries_total{engine=\"0\",model_name=\"m\"} 1000.0\n\
# TYPE vllm:prefix_cache_queries_created gauge\n\
vllm:prefix_cache_queries_created{engine=\"0\",model_name=\"m\"} 1.7646e+09\n\
# TYPE vllm:prefix_cache_hits_total counter\n\
vllm:prefix_cache_hits_total{engine=\"0\",model_name=\"m\"} 400.0\n\
# TYPE vllm:num_preemptions_total counter\n\
vllm:num_preemptions_total{engine=\"0\",model_name=\"m\"} 2.0\n\
# TYPE vllm:broken gauge\n";

    #[test]
    fn parses_vllm_metrics_and_feeds_rates() {
        let a = parse(TEXT).expect("parse");
        assert_eq!(a.running, Some(3.0));
        assert_eq!(a.waiting, Some(1.0));
        assert_eq!(a.kv_cache_usage, Some(0.25));
        assert_eq!(a.prefix_queries, Some(1000.0));
        assert_eq!(a.prefix_hits, Some(400.0));
        assert_eq!(a.preemptions, Some(2.0));
        let b = parse(
            &TEXT
                .replace("} 1000.0", "} 1100.0")
                .replace("} 400.0", "} 475.0")
                .replace(
                    "preemptions_total{engine=\"0\",model_name=\"m\"} 2.0",
                    "preemptions_total{engine=\"0\",model_name=\"m\"} 6.0",
                ),
        )
        .expect("parse");
        let mut s = Store::default();
        feed(&mut s, &a, None);
        feed(&mut s, &b, Some((&a, Duration::from_secs(2))));
        let t = s.take();
        assert_eq!(t["vllm.running"].n, 2);
        assert_eq!(t["vllm.prefix_cache_hit_rate"].mean, 0.75);
        assert_eq!(t["vllm.preemptions_per_s"].mean, 2.0);
        let err = parse("not { prometheus").expect_err("garbage is an error");
        assert!(err.starts_with("/metrics line 1, column 1:"), "{err}");
        assert_eq!(parse(" \n\n"), Ok(Snapshot::default()));
    }

    #[test]
    fn a_bad_line_or_crlf_loses_only_that_line() {
        // The parser alone drops the whole scrape at a bare `#` or a CR.
        let text = TEXT.replace(
            "# TYPE vllm:num_requests_waiting gauge\n",
            "#\n# TYPE vllm:num_requests_waiting gauge\n",
        );
        assert_eq!(parse(&text).unwrap(), parse(TEXT).unwrap());
        let crlf = TEXT.replace('\n', "\r\n");
        assert_eq!(parse(&crlf).unwrap(), parse(TEXT).unwrap());
        let torn = format!("{TEXT}vllm:num_requests_running{{engine=\"1\"");
        assert_eq!(parse(&torn).unwrap().running, Some(3.0));
        let all_bad = "#\n#\n".repeat(MAX_BAD_LINES);
        let err = parse(&all_bad).expect_err("nothing parses");
        assert!(err.starts_with("/metrics line 1, column 1:"), "{err}");
    }
}

//! The statistics of a run, computed as vLLM 0.33's `calculate_metrics` does: latency stats
//! over successful requests only, numpy's mean / population std / median / linear-interpolated
//! percentiles (0.0 for an empty list), goodput against SLOs, and the peak 1-second bucket of
//! output tokens and of in-flight requests.

use super::client::RequestOutput;
use crate::tokens;

/// numpy-style summary of one metric, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Stat {
    pub mean: f64,
    pub median: f64,
    pub std: f64,
    /// (percentile, value) in `--metric-percentiles` order.
    pub percentiles: Vec<(f64, f64)>,
}

impl Stat {
    /// `np.mean(xs or 0) * 1000` and friends: an empty list summarises as 0.0.
    pub fn of(xs: &[f64], percentiles: &[f64]) -> Stat {
        let data: Vec<f64> = if xs.is_empty() {
            vec![0.0]
        } else {
            xs.to_vec()
        };
        let mut sorted = data.clone();
        sorted.sort_by(f64::total_cmp);
        Stat {
            mean: mean(&data) * 1000.0,
            median: median_sorted(&sorted) * 1000.0,
            std: std(&data) * 1000.0,
            percentiles: percentiles
                .iter()
                .map(|&p| (p, percentile_sorted(&sorted, p) * 1000.0))
                .collect(),
        }
    }
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Population standard deviation (numpy's default `ddof=0`).
pub fn std(xs: &[f64]) -> f64 {
    let m = mean(xs);
    (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / xs.len() as f64).sqrt()
}

/// `np.median`: the middle value, or the mean of the two middle values.
pub fn median_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `np.percentile(xs, p)` (method "linear") on sorted data, with numpy's two-sided lerp.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let idx = (p / 100.0) * (n - 1) as f64;
    let lo = idx.floor().clamp(0.0, (n - 1) as f64) as usize;
    let hi = (lo + 1).min(n - 1);
    let t = idx - lo as f64;
    let (a, b) = (sorted[lo], sorted[hi]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// Per-metric statistics of a generative run.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    pub completed: usize,
    pub failed: usize,
    pub total_input: usize,
    pub total_output: usize,
    pub request_throughput: f64,
    pub request_goodput: f64,
    pub output_throughput: f64,
    pub total_token_throughput: f64,
    pub ttft: Stat,
    pub tpot: Stat,
    pub itl: Stat,
    pub e2el: Stat,
    pub client_queue_time: Stat,
    pub e2el_including_client_queue: Stat,
    pub max_output_tokens_per_s: f64,
    pub max_concurrent_requests: usize,
    /// Output length per request (0 for failed ones).
    pub actual_output_lens: Vec<usize>,
}

/// SLOs of `--goodput`, in milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Goodput {
    pub ttft: Option<f64>,
    pub tpot: Option<f64>,
    pub e2el: Option<f64>,
}

impl Goodput {
    pub fn is_set(&self) -> bool {
        self.ttft.is_some() || self.tpot.is_some() || self.e2el.is_some()
    }

    /// Parse `KEY:VALUE` pairs with the real error texts.
    pub fn parse(pairs: &[String]) -> Result<Goodput, String> {
        let mut g = Goodput::default();
        for pair in pairs {
            let parts: Vec<&str> = pair.split(':').collect();
            let val = match (
                parts.len(),
                parts.get(1).and_then(|v| v.trim().parse::<f64>().ok()),
            ) {
                (2, Some(v)) => v,
                _ => {
                    return Err("argparse.ArgumentTypeError: Invalid format found for service level objectives. \
Specify service level objectives for goodput as \"KEY:VALUE\" pairs, where the key is a metric name, and the value \
is a number in milliseconds."
                        .into());
                }
            };
            let name = parts[0];
            let slot = match name {
                "ttft" => &mut g.ttft,
                "tpot" => &mut g.tpot,
                "e2el" => &mut g.e2el,
                _ => {
                    return Err(format!(
                        "ValueError: Invalid metric name found, {name}: {}. The service level objective name should be one of ['ttft', 'tpot', 'e2el']. ",
                        super::pyfmt::float(val)
                    ));
                }
            };
            if val < 0.0 {
                return Err(format!(
                    "ValueError: Invalid value found, {name}: {}. The service level objective value should be non-negative.",
                    super::pyfmt::float(val)
                ));
            }
            *slot = Some(val);
        }
        Ok(g)
    }
}

/// Compute the run's metrics from per-request outputs and the wall duration `dur_s`.
pub fn calculate(
    outputs: &[RequestOutput],
    dur_s: f64,
    percentiles: &[f64],
    goodput: &Goodput,
) -> Metrics {
    let mut m = Metrics::default();
    let (mut ttfts, mut tpots, mut all_tpots, mut itls, mut e2els, mut queues, mut e2el_q) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for o in outputs {
        if !o.success {
            m.actual_output_lens.push(0);
            m.failed += 1;
            continue;
        }
        // Without usage the real client re-tokenizes the text; here one word is one token.
        let output_len = if o.output_tokens > 0 {
            o.output_tokens
        } else {
            tokens::count(&o.generated_text)
        };
        m.actual_output_lens.push(output_len);
        m.total_input += o.prompt_len;
        let mut tpot = 0.0;
        if output_len > 1 {
            tpot = (o.latency - o.ttft) / (output_len - 1) as f64;
            tpots.push(tpot);
        }
        all_tpots.push(tpot);
        itls.extend_from_slice(&o.itl);
        ttfts.push(o.ttft);
        e2els.push(o.latency);
        queues.push(o.queue_time);
        e2el_q.push(o.latency + o.queue_time);
        m.completed += 1;
    }
    let good = if goodput.is_set() {
        (0..ttfts.len())
            .filter(|&i| {
                goodput.ttft.is_none_or(|slo| slo / 1000.0 >= ttfts[i])
                    && goodput.tpot.is_none_or(|slo| slo / 1000.0 >= all_tpots[i])
                    && goodput.e2el.is_none_or(|slo| slo / 1000.0 >= e2els[i])
            })
            .count()
    } else {
        0
    };
    m.total_output = m.actual_output_lens.iter().sum();
    m.request_throughput = m.completed as f64 / dur_s;
    m.request_goodput = good as f64 / dur_s;
    m.output_throughput = m.total_output as f64 / dur_s;
    m.total_token_throughput = (m.total_input + m.total_output) as f64 / dur_s;
    m.ttft = Stat::of(&ttfts, percentiles);
    m.tpot = Stat::of(&tpots, percentiles);
    m.itl = Stat::of(&itls, percentiles);
    m.e2el = Stat::of(&e2els, percentiles);
    m.client_queue_time = Stat::of(&queues, percentiles);
    m.e2el_including_client_queue = Stat::of(&e2el_q, percentiles);
    let (tok, conc) = peaks(outputs);
    m.max_output_tokens_per_s = tok;
    m.max_concurrent_requests = conc;
    m
}

/// Peak output tokens in any 1-s bucket and peak requests active in any 1-s bucket, buckets
/// counted from the earliest successful start (the real client's definition, which counts a
/// request in every second it touches, so it can exceed `--max-concurrency`).
pub fn peaks(outputs: &[RequestOutput]) -> (f64, usize) {
    let ok: Vec<&RequestOutput> = outputs.iter().filter(|o| o.success).collect();
    if ok.is_empty() {
        return (0.0, 0);
    }
    let min_start = ok
        .iter()
        .map(|o| o.start_time)
        .fold(f64::INFINITY, f64::min);
    let max_end = ok
        .iter()
        .map(|o| o.start_time + o.latency)
        .fold(f64::NEG_INFINITY, f64::max);
    let buckets = (max_end - min_start).ceil() as usize + 1;
    let mut tokens = vec![0.0f64; buckets];
    let mut conc = vec![0usize; buckets];
    for o in ok {
        let mut t = o.start_time + o.ttft;
        let mut times = vec![t];
        for gap in &o.itl {
            t += gap;
            times.push(t);
        }
        for tt in times {
            let b = (tt - min_start).trunc();
            if b >= 0.0 && (b as usize) < buckets {
                tokens[b as usize] += 1.0;
            }
        }
        let s = (o.start_time - min_start).trunc() as usize;
        let e = ((o.start_time + o.latency) - min_start).trunc() as usize;
        for c in conc.iter_mut().take(e.min(buckets - 1) + 1).skip(s) {
            *c += 1;
        }
    }
    (
        tokens.iter().cloned().fold(0.0, f64::max),
        conc.into_iter().max().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy_linear() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_sorted(&xs, 50.0), 2.5);
        assert_eq!(median_sorted(&xs), 2.5);
        assert_eq!(median_sorted(&[1.0, 5.0, 9.0]), 5.0);
        assert!((percentile_sorted(&xs, 99.0) - 3.97).abs() < 1e-12);
        assert_eq!(percentile_sorted(&xs, 0.0), 1.0);
        assert_eq!(percentile_sorted(&xs, 100.0), 4.0);
        assert_eq!(percentile_sorted(&[7.0], 90.0), 7.0);
        // np.std([1,2,3,4]) == 1.118033988749895
        assert!((std(&xs) - 1.118033988749895).abs() < 1e-15);
    }

    #[test]
    fn empty_metrics_are_zero_and_failed_requests_count_zero_tokens() {
        let failed = RequestOutput {
            error: "Bad Request".into(),
            ..Default::default()
        };
        let m = calculate(&[failed.clone(), failed], 1.0, &[99.0], &Goodput::default());
        assert_eq!((m.completed, m.failed, m.total_output), (0, 2, 0));
        assert_eq!(m.ttft.mean, 0.0);
        assert_eq!(m.ttft.percentiles, vec![(99.0, 0.0)]);
        assert_eq!(m.actual_output_lens, vec![0, 0]);
        assert_eq!(
            (m.max_output_tokens_per_s, m.max_concurrent_requests),
            (0.0, 0)
        );
    }

    #[test]
    fn tpot_and_peaks_follow_the_real_definitions() {
        let o = RequestOutput {
            success: true,
            output_tokens: 3,
            prompt_len: 10,
            ttft: 0.05,
            itl: vec![0.01, 0.01],
            latency: 0.07,
            start_time: 100.0,
            ..Default::default()
        };
        let m = calculate(
            &[o.clone(), o],
            0.1,
            &[50.0],
            &Goodput {
                ttft: Some(60.0),
                ..Default::default()
            },
        );
        assert!((m.tpot.mean - 10.0).abs() < 1e-9);
        assert_eq!(m.itl.percentiles.len(), 1);
        assert_eq!(m.max_output_tokens_per_s, 6.0);
        assert_eq!(m.max_concurrent_requests, 2);
        assert_eq!(m.total_input, 20);
        assert!((m.request_goodput - 20.0).abs() < 1e-9);
    }
}

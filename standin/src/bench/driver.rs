//! The timed part of a run, as vLLM 0.33's `benchmark()` drives it: the optional ready check
//! and warm-up, request release times (all at t=0 for an infinite rate, else Poisson/gamma
//! gaps, or a ramp-up), the `--max-concurrency` semaphore whose wait is each request's queue
//! time, and the wall duration from the first release to the last completion.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::args::Options;
use super::client::{Client, RequestInput, RequestOutput};
use super::dataset;
use super::progress::Progress;
use super::pyfmt;
use super::rng::Rng;

pub struct Run {
    pub outputs: Vec<RequestOutput>,
    pub duration: f64,
}

/// Request rate for request `i` of `n` (ramp-up or fixed).
fn current_rate(o: &Options, i: usize, n: usize) -> f64 {
    match (
        o.ramp_up_strategy.as_deref(),
        o.ramp_up_start_rps,
        o.ramp_up_end_rps,
    ) {
        (Some(strategy), Some(start), Some(end)) => {
            let progress = i as f64 / (n.saturating_sub(1).max(1)) as f64;
            let (start, end) = (start as f64, end as f64);
            if strategy == "linear" {
                start + (end - start) * progress
            } else {
                start * (end / start).powf(progress)
            }
        }
        _ => o.request_rate,
    }
}

/// Release times (seconds after the start) of every request, as `get_request` computes them:
/// 0 for an infinite rate, else gamma(burstiness, 1/(rate·burstiness)) gaps, cumulated and, at
/// a fixed rate, rescaled so the last one lands at n/rate.
fn release_times(o: &Options, n: usize, rng: &mut Rng) -> Result<Vec<f64>, String> {
    let mut delays = Vec::with_capacity(n);
    for i in 0..n {
        let rate = current_rate(o, i, n);
        if rate.is_nan() || rate <= 0.0 {
            return Err(format!(
                "AssertionError: Obtained non-positive request rate {}.",
                pyfmt::float(rate)
            ));
        }
        delays.push(if rate.is_infinite() {
            0.0
        } else if o.burstiness.is_infinite() {
            1.0 / rate
        } else {
            rng.gamma(o.burstiness, 1.0 / (rate * o.burstiness))
        });
    }
    for i in 1..n {
        delays[i] += delays[i - 1];
    }
    if o.ramp_up_strategy.is_none() && delays.last().is_some_and(|&d| d != 0.0) {
        let factor = (n as f64 / o.request_rate) / delays[n - 1];
        for d in &mut delays {
            *d *= factor;
        }
    }
    Ok(delays)
}

pub async fn benchmark(
    o: &Options,
    client: Arc<Client>,
    samples: &[dataset::Sample],
    rng: &mut Rng,
) -> Result<Run, String> {
    println!("Starting initial single prompt test run...");
    let first = &samples[0];
    let test_input = RequestInput {
        prompt: first.prompt.clone(),
        prompt_len: first.prompt_len,
        output_len: first.expected_output_len,
        request_id: None,
        model: None,
    };
    if o.ready_check_timeout_sec > 0 {
        let deadline = tokio::time::Instant::now()
            + std::time::Duration::from_secs(o.ready_check_timeout_sec as u64);
        let last = loop {
            let out = client.send(&test_input).await;
            if out.success {
                break out;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break out;
            }
            tokio::time::sleep_until((now + std::time::Duration::from_secs(5)).min(deadline)).await;
        };
        if !last.success {
            return Err(format!(
                "ValueError: Initial test run failed - Please make sure benchmark arguments are correctly specified. Error: {}",
                last.error
            ));
        }
        println!("Initial test run completed.");
    } else {
        println!("Skipping endpoint ready check.");
    }
    let semaphore = o.max_concurrency.map(|c| Arc::new(Semaphore::new(c)));
    if o.num_warmups > 0 {
        println!("Warming up with {} requests...", o.num_warmups);
        let pbar = (!o.disable_tqdm).then(|| Arc::new(Progress::new(o.num_warmups)));
        let tasks: Vec<_> = (0..o.num_warmups)
            .map(|_| {
                spawn_request(
                    client.clone(),
                    semaphore.clone(),
                    pbar.clone(),
                    test_input.clone(),
                )
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        if let Some(p) = &pbar {
            p.close();
        }
        println!("Warmup run completed.");
    }
    println!("Starting main benchmark run...");
    let distribution = if o.burstiness == 1.0 {
        "Poisson process"
    } else {
        "Gamma distribution"
    };
    match (&o.ramp_up_strategy, o.ramp_up_start_rps, o.ramp_up_end_rps) {
        (Some(s), Some(a), Some(b)) => {
            println!("Traffic ramp-up strategy: {s}.");
            println!("Will increase RPS from {a} to {b} RPS over the duration of the benchmark.");
        }
        _ => println!("Traffic request rate: {}", pyfmt::float(o.request_rate)),
    }
    println!(
        "Burstiness factor: {} ({distribution})",
        pyfmt::float(o.burstiness)
    );
    println!(
        "Maximum request concurrency: {}",
        o.max_concurrency
            .map(|c| c.to_string())
            .unwrap_or_else(|| "None".into())
    );

    let releases = release_times(o, samples.len(), rng)?;
    let lora: Vec<Option<String>> = samples
        .iter()
        .map(|_| {
            o.lora_modules
                .as_ref()
                .filter(|l| !l.is_empty())
                .map(|l| l[rng.int_inclusive(0, l.len() as u64 - 1) as usize].clone())
        })
        .collect();
    let pbar = (!o.disable_tqdm).then(|| Arc::new(Progress::new(samples.len())));
    let start = tokio::time::Instant::now();
    let t0 = client.clock.now();
    let mut tasks = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        if releases[i] > 0.0 {
            tokio::time::sleep_until(start + std::time::Duration::from_secs_f64(releases[i])).await;
        }
        let input = RequestInput {
            prompt: s.prompt.clone(),
            prompt_len: s.prompt_len,
            output_len: s.expected_output_len,
            request_id: Some(s.request_id.clone()),
            model: lora[i].clone(),
        };
        tasks.push(spawn_request(
            client.clone(),
            semaphore.clone(),
            pbar.clone(),
            input,
        ));
    }
    let mut outputs = Vec::with_capacity(tasks.len());
    for t in tasks {
        outputs.push(
            t.await
                .map_err(|e| format!("RuntimeError: a request task failed: {e}"))?,
        );
    }
    if let Some(p) = &pbar {
        p.close();
    }
    let duration = client.clock.now() - t0;
    Ok(Run { outputs, duration })
}

/// One request task: wait for the concurrency semaphore (that wait is the queue time), then send.
fn spawn_request(
    client: Arc<Client>,
    semaphore: Option<Arc<Semaphore>>,
    pbar: Option<Arc<Progress>>,
    input: RequestInput,
) -> tokio::task::JoinHandle<RequestOutput> {
    tokio::spawn(async move {
        let q0 = client.clock.now();
        let _permit = match semaphore {
            Some(s) => s.acquire_owned().await.ok(),
            None => None,
        };
        let queue_time = client.clock.now() - q0;
        let mut out = client.send(&input).await;
        out.queue_time = queue_time;
        if let Some(p) = pbar {
            p.update();
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(args: &[&str]) -> Options {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match super::super::args::parse(&v) {
            Ok(o) => o,
            Err(_) => panic!("bad test args {args:?}"),
        }
    }

    #[test]
    fn infinite_rate_releases_everything_at_zero() {
        let t = release_times(&opts(&[]), 5, &mut Rng::new(0)).unwrap();
        assert_eq!(t, vec![0.0; 5]);
    }

    #[test]
    fn finite_rate_is_rescaled_so_the_last_release_is_n_over_rate() {
        for burstiness in ["1.0", "0.5", "4"] {
            let o = opts(&["--request-rate", "4", "--burstiness", burstiness]);
            let t = release_times(&o, 8, &mut Rng::new(1)).unwrap();
            assert!((t[7] - 2.0).abs() < 1e-12, "{t:?}");
            assert!(t.windows(2).all(|w| w[0] <= w[1]), "cumulative: {t:?}");
            assert!(t[0] > 0.0);
        }
    }

    #[test]
    fn linear_ramp_up_gaps_shrink_as_the_rate_grows() {
        let o = opts(&[
            "--ramp-up-strategy",
            "linear",
            "--ramp-up-start-rps",
            "1",
            "--ramp-up-end-rps",
            "100",
            "--burstiness",
            "inf",
        ]);
        assert_eq!(current_rate(&o, 0, 11), 1.0);
        assert_eq!(current_rate(&o, 10, 11), 100.0);
        let t = release_times(&o, 11, &mut Rng::new(0)).unwrap();
        assert!((t[0] - 1.0).abs() < 1e-12 && t[10] - t[9] < 0.011, "{t:?}");
    }
}

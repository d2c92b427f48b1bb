//! `vllm bench serve` of the CPU stand-in: a faithful re-implementation of vLLM 0.33's
//! benchmark client (flags, requests, timing, console output, result file) for tests and
//! demos against the stand-in server. It measures whatever server it is pointed at; it is a
//! test double, and says so on stderr.
//!
//! Submodules: `args` (command line), `dataset` (random prompts), `rng` (seeded randomness),
//! `client` (one request: HTTP + SSE + timing), `driver` (release, concurrency, duration), `progress` (tqdm bar), `metrics` (statistics), `report` (console
//! block), `result` (JSON file), `pyfmt` (Python text forms), `clock` (perf_counter / dates).

mod args;
mod client;
mod clock;
mod dataset;
mod driver;
mod metrics;
mod progress;
pub(crate) mod pyfmt;
mod report;
mod result;
mod rng;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use args::Options;
use client::{Api, Client, RequestOutput};
use clock::PerfClock;
use rng::Rng;

/// Entry point for `vllm bench serve …` (the words after `serve`); returns the exit code.
pub fn main(args: &[String]) -> i32 {
    eprintln!(
        "INFO: CPU stand-in for vLLM bench serve (test double: it measures the server it is pointed at; no model, no GPU)"
    );
    let opts = match args::parse(args) {
        Ok(o) => o,
        Err(stop) => return stop.exit_code(),
    };
    let fault = match result::Fault::from_env() {
        Ok(f) => f,
        Err(m) => {
            eprintln!("vllm bench serve (CPU stand-in): invalid knob {m}");
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vllm bench serve stand-in: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(run_until_signalled(opts, fault));
    // Do not wait for in-flight requests after a signal: stop promptly.
    rt.shutdown_background();
    code
}

/// Run, but stop at SIGTERM/SIGINT (vbench stops benchmarks by signalling the process
/// group): nothing is written then, and the exit code is 128 + signal number. With the fault
/// knob `VLLM_STANDIN_BENCH_IGNORE_SIGTERM=1` SIGTERM is noted on stderr and ignored (a client
/// stuck where the signal cannot reach it): only SIGINT or SIGKILL stop it.
async fn run_until_signalled(opts: Options, fault: Option<result::Fault>) -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            eprintln!("vllm bench serve stand-in: cannot install signal handlers");
            return 1;
        }
    };
    let ignore_term = std::env::var("VLLM_STANDIN_BENCH_IGNORE_SIGTERM").is_ok_and(|v| v == "1");
    let work = run(opts, fault);
    tokio::pin!(work);
    loop {
        tokio::select! {
            code = &mut work => return code,
            _ = term.recv() => {
                if ignore_term {
                    eprintln!("(CPU stand-in fault injection: VLLM_STANDIN_BENCH_IGNORE_SIGTERM=1: SIGTERM ignored)");
                    continue;
                }
                eprintln!("Terminated: benchmark stopped by SIGTERM, no result written.");
                return 143;
            }
            _ = int.recv() => {
                eprintln!("KeyboardInterrupt: benchmark stopped by SIGINT, no result written.");
                return 130;
            }
        }
    }
}

async fn run(opts: Options, fault: Option<result::Fault>) -> i32 {
    match run_inner(opts, fault).await {
        Ok(()) => 0,
        Err(msg) => {
            // Real vLLM dies with a Python traceback and exit status 1 on setup errors.
            eprintln!(
                "Traceback (most recent call last):\n  (CPU stand-in: no Python frames)\n{msg}"
            );
            1
        }
    }
}

fn log_info(msg: &str) {
    println!(
        "(MainProcess pid={}) INFO {} [utils.py:88] {msg}",
        std::process::id(),
        clock::log_stamp()
    );
}

/// `KEY=VALUE` items split on the first `=`, both sides stripped.
fn key_values(items: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.trim().to_string())),
            None => Err(format!(
                "ValueError: Invalid {what} format. Please use KEY=VALUE format."
            )),
        })
        .collect()
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

async fn run_inner(o: Options, fault: Option<result::Fault>) -> Result<(), String> {
    println!("{}", o.namespace_line());
    let mut o = o;
    if let Some(strategy) = &o.ramp_up_strategy {
        if o.request_rate.is_finite() {
            return Err("ValueError: When using ramp-up, do not specify --request-rate. The request rate will be \
controlled by ramp-up parameters. Please remove the --request-rate argument."
                .into());
        }
        let (Some(start), Some(end)) = (o.ramp_up_start_rps, o.ramp_up_end_rps) else {
            return Err("ValueError: When using --ramp-up-strategy, both --ramp-up-start-rps and --ramp-up-end-rps must be specified".into());
        };
        if start < 0 || end < 0 {
            return Err("ValueError: Ramp-up start and end RPS must be non-negative".into());
        }
        if start > end {
            return Err("ValueError: Ramp-up start RPS must be less than end RPS".into());
        }
        if strategy == "exponential" && start == 0 {
            return Err("ValueError: For exponential ramp-up, the start RPS cannot be 0.".into());
        }
    }
    if o.max_concurrency == Some(0) {
        return Err("ValueError: --max-concurrency must be greater than 0".into());
    }
    if o.burstiness <= 0.0 {
        return Err(format!(
            "AssertionError: A positive burstiness factor is expected, but given {}.",
            pyfmt::float(o.burstiness)
        ));
    }

    let (api_url, base_url) = match &o.base_url {
        Some(b) => (format!("{b}{}", o.endpoint), b.clone()),
        None => {
            let hp = join_host_port(&o.host, o.port);
            (format!("http://{hp}{}", o.endpoint), format!("http://{hp}"))
        }
    };
    let headers = match &o.header {
        Some(items) => key_values(items, "header")?,
        None => vec![],
    };
    let api = match o.backend.as_str() {
        "vllm" | "openai" => Api::Completions,
        "openai-chat" => Api::Chat,
        other => {
            return Err(format!(
                "ValueError: backend '{other}' is not supported by the CPU stand-in of vllm bench serve (supported: vllm, openai, openai-chat)"
            ));
        }
    };
    match api {
        Api::Completions if !api_url.ends_with("completions") => {
            return Err(
                "ValueError: OpenAI Completions API URL must end with 'completions'.".into(),
            );
        }
        Api::Chat if !api_url.ends_with("chat/completions") => {
            return Err(
                "ValueError: OpenAI Chat Completions API URL must end with 'chat/completions'."
                    .into(),
            );
        }
        _ => {}
    }
    let http = client::http_client(o.insecure)?;

    let (model_id, request_model) = match &o.model {
        Some(m) => (
            m.clone(),
            o.served_model_name.clone().unwrap_or_else(|| m.clone()),
        ),
        None => {
            println!("Model not specified, fetching first model from server...");
            let (id, root) = client::first_model(&http, &base_url, &headers).await?;
            println!("Using model: {id}");
            (root, o.served_model_name.clone().unwrap_or(id))
        }
    };
    let tokenizer_id = if o.skip_tokenizer_init {
        None
    } else {
        Some(o.tokenizer.clone().unwrap_or_else(|| model_id.clone()))
    };

    if o.dataset_name != "random" {
        return Err(format!(
            "ValueError: the CPU stand-in of vllm bench serve implements only --dataset-name random (got '{}'); \
other datasets need files or downloads the stand-in does not have",
            o.dataset_name
        ));
    }
    if o.dataset_path.is_some() {
        return Err(
            "ValueError: --dataset-path is not used by the random dataset; remove it.".into(),
        );
    }
    if let Some(l) = o.input_len {
        o.random_input_len = l;
    }
    if let Some(l) = o.output_len {
        o.random_output_len = l;
    }
    // 0.33: random datasets with OpenAI-compatible backends always ignore EOS.
    o.ignore_eos = true;
    let ratio = dataset::parse_range_ratio(&o.random_range_ratio)?;
    let spec = dataset::RandomSpec {
        num_requests: o.num_prompts,
        input_len: o.random_input_len,
        output_len: o.random_output_len,
        ratio,
        prefix_len: o.random_prefix_len,
        request_id_prefix: o.request_id_prefix.clone(),
    };
    let ((il, ih), (ol, oh)) = (spec.input_range(), spec.output_range());
    log_info(&format!(
        "Sampling input_len from [{il}, {ih}] and output_len from [{ol}, {oh}]"
    ));
    let mut rng = Rng::new(o.seed);
    let samples = spec.sample(&mut rng);
    if samples.is_empty() {
        return Err("AssertionError: No requests provided.".into());
    }
    let goodput = match &o.goodput {
        Some(pairs) => metrics::Goodput::parse(pairs)?,
        None => metrics::Goodput::default(),
    };

    let mut sampling = Map::new();
    let params: [(&str, Option<Value>); 7] = [
        ("top_p", o.top_p.map(|v| json!(v))),
        ("top_k", o.top_k.map(|v| json!(v))),
        ("min_p", o.min_p.map(|v| json!(v))),
        ("temperature", o.temperature.map(|v| json!(v))),
        ("frequency_penalty", o.frequency_penalty.map(|v| json!(v))),
        ("presence_penalty", o.presence_penalty.map(|v| json!(v))),
        ("repetition_penalty", o.repetition_penalty.map(|v| json!(v))),
    ];
    for (k, v) in params {
        if let Some(v) = v {
            sampling.insert(k.into(), v);
        }
    }
    if o.temperature.is_none() {
        println!(
            "WARNING: vllm bench serve no longer sets temperature==0 (greedy) in requests by default. The default will be \
determined on the server side and can be model/API specific. For the old behavior, include --temperature=0."
        );
    }
    let mut extra_body = sampling;
    for (k, v) in o.extra_body.clone().unwrap_or_default() {
        extra_body.insert(k, v);
    }
    let percentile_metrics = o
        .percentile_metrics
        .clone()
        .unwrap_or_else(|| "ttft,tpot,itl".into());
    let percentiles = o
        .metric_percentiles
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .map_err(|_| format!("ValueError: could not convert string to float: '{p}'"))
        })
        .collect::<Result<Vec<f64>, String>>()?;

    let clock = PerfClock::new();
    let client = Arc::new(Client {
        http,
        api,
        api_url,
        model: request_model,
        headers,
        extra_body,
        logprobs: o.logprobs,
        ignore_eos: o.ignore_eos,
        clock,
    });
    let run = driver::benchmark(&o, client, &samples, &mut rng).await?;

    let selected = report::selected(
        &percentile_metrics,
        tokenizer_id.is_some(),
        o.max_concurrency.is_some(),
        o.request_rate.is_finite(),
    );
    let m = metrics::calculate(&run.outputs, run.duration, &percentiles, &goodput);
    let failed: Vec<&RequestOutput> = run.outputs.iter().filter(|x| !x.success).collect();
    if !failed.is_empty() {
        println!("Failed requests during benchmark run detected (capping to 10):");
        for (i, f) in failed.iter().take(10).enumerate() {
            println!("Error {i}: {}", f.error);
        }
    }
    if m.completed == 0 {
        eprintln!(
            "UserWarning: All requests failed. This is likely due to a misconfiguration on the benchmark arguments."
        );
    } else {
        println!("tip: install termplotlib and gnuplot to plot the metrics");
    }
    let info = report::RunInfo {
        max_concurrency: o.max_concurrency,
        request_rate: o.request_rate,
        duration: run.duration,
        goodput: goodput.is_set(),
    };
    for line in report::block(&m, &info, &selected) {
        println!("{line}");
    }

    let date = clock::date_stamp();
    let metadata = match &o.metadata {
        Some(items) => key_values(items, "metadata")?,
        None => vec![],
    };
    let setup = result::Setup {
        date: &date,
        backend: &o.backend,
        label: o.label.as_deref(),
        model_id: &model_id,
        tokenizer_id: tokenizer_id.as_deref(),
        num_prompts: o.num_prompts,
        metadata: &metadata,
        request_rate: o.request_rate,
        burstiness: o.burstiness,
        max_concurrency: o.max_concurrency,
        ramp_up: o.ramp_up_strategy.as_deref().map(|s| {
            (
                s,
                o.ramp_up_start_rps.unwrap_or(0),
                o.ramp_up_end_rps.unwrap_or(0),
            )
        }),
        duration: run.duration,
        goodput: goodput.is_set(),
        save_detailed: o.save_detailed,
    };
    if o.save_result || o.append_result {
        let obj = result::build(&setup, &run.outputs, &m, &selected);
        let label = o.label.clone().unwrap_or_else(|| o.backend.clone());
        let name = o
            .result_filename
            .clone()
            .unwrap_or_else(|| result::auto_filename(&label, &setup));
        result::write(obj, name, o.result_dir.as_deref(), o.append_result, fault)?;
    }
    Ok(())
}

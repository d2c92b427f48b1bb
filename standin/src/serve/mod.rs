//! `vllm serve` of the CPU stand-in: a test double that looks and behaves like vLLM 0.33's
//! OpenAI-compatible server wherever vbench can see it (flags, start-up log, port behaviour,
//! endpoints, errors, shutdown), with a deterministic timing model and fault knobs.
//!
//! Start-up follows real vLLM: parse flags (argparse wording, exit 2), bind the port (a taken
//! port fails here with the real `OSError`), "load the model" for `VLLM_STANDIN_LOAD_SECONDS`
//! with the port bound but not listening (a connect is refused), then listen and serve until
//! SIGTERM/SIGINT. Submodules: `knobs` (env), `log` (line shapes), `fatal` (failure
//! signatures), `engine` (scheduler), `api` + `completions` (HTTP), `state` (monitor feed).

mod api;
mod completions;
mod engine;
mod fatal;
pub mod knobs;
pub(crate) mod log;
pub mod state;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::argparse::{self, Flag, Kind};
use knobs::{FailAtStart, Knobs};

/// The version the stand-in reports: vLLM 0.33.0's interface, marked as the stand-in.
pub const VERSION: &str = "0.33.0+standin";

const USAGE: &str = "vllm serve [model_tag] [options]";
const DEFAULT_MODEL: &str = "Qwen/Qwen3-0.6B";

const FLAGS: &[Flag] = &[
    Flag {
        names: &["--help", "-h"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--model"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--host"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--port"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--tensor-parallel-size", "-tp"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--pipeline-parallel-size", "-pp"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--gpu-memory-utilization"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--enforce-eager"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--max-model-len"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--served-model-name"],
        kind: Kind::Many,
    },
    Flag {
        names: &["--api-key"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--max-num-seqs"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--max-num-batched-tokens"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--dtype"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--trust-remote-code"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--seed"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--disable-log-requests"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--uvicorn-log-level"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--download-dir"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--generation-config"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--kv-cache-dtype"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--block-size"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--swap-space"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--distributed-executor-backend"],
        kind: Kind::Value,
    },
];

const HELP: &str = "usage: vllm serve [model_tag] [options]

CPU STAND-IN for vLLM 0.33 `vllm serve` (a test double and demo backend: it runs no model and
uses no GPU; its timings are a configurable model, never a measurement). Serves an
OpenAI-compatible API: /health /version /v1/models /v1/completions /v1/chat/completions
/tokenize /detokenize /metrics. Defaults to Qwen/Qwen3-0.6B if no model is specified.

options:
  --model MODEL, --host HOST, --port PORT (8000), -tp/--tensor-parallel-size N,
  -pp/--pipeline-parallel-size N, --gpu-memory-utilization F (0.9), --enforce-eager,
  --max-model-len N (1k/1K/auto), --served-model-name NAME [NAME ...], --api-key KEY,
  --max-num-seqs N (256), --max-num-batched-tokens N (8192), --dtype, --trust-remote-code,
  --seed N, --disable-log-requests, --uvicorn-log-level LEVEL, --download-dir,
  --generation-config, --kv-cache-dtype, --block-size, --swap-space,
  --distributed-executor-backend

Stand-in knobs (environment): VLLM_STANDIN_LOAD_SECONDS, VLLM_STANDIN_FAIL_AT_START,
VLLM_STANDIN_DERIVED_MAX_MODEL_LEN, VLLM_STANDIN_EXIT_AFTER_REQUESTS,
VLLM_STANDIN_EXIT_AFTER_SECONDS, VLLM_STANDIN_HANG_AFTER_REQUESTS, VLLM_STANDIN_ERROR_RATE,
VLLM_STANDIN_TTFT_MS, VLLM_STANDIN_PREFILL_US_PER_TOKEN, VLLM_STANDIN_TPOT_MS,
VLLM_STANDIN_TPOT_PER_SEQ_MS, VLLM_STANDIN_EOS_RATE, VLLM_STANDIN_KV_CACHE_TOKENS,
VLLM_STANDIN_SEED, VLLM_STANDIN_GPU, VLLM_STANDIN_GPUS, VLLM_STANDIN_STATE,
VLLM_STANDIN_LOG_SPAM_MB, VLLM_STANDIN_PG_WAIT_SECONDS
(see images/README.md in the vbench repository).
";

/// Everything the flags decide.
#[derive(Debug, Clone)]
struct Options {
    model: String,
    host: Option<String>,
    port: u16,
    tp: u32,
    pp: u32,
    gpu_memory_utilization: f64,
    max_model_len: Option<u64>,
    served: Vec<String>,
    api_key: Option<String>,
    max_num_seqs: usize,
    max_num_batched_tokens: usize,
    block_size: usize,
    seed: u64,
    access_log: bool,
    /// `--distributed-executor-backend ray`: the GPUs come from a Ray cluster's placement
    /// group, not from this process alone.
    ray: bool,
    /// `non-default args: {…}` as vLLM logs it.
    non_default: Vec<(String, String)>,
}

/// vLLM's human-readable `--max-model-len`: `2048`, `1k` (1000), `1K` (1024), `-1`/`auto`.
fn parse_len(v: &str) -> Option<Option<u64>> {
    if v == "-1" || v.eq_ignore_ascii_case("auto") {
        return Some(None);
    }
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1_000.0),
        'K' => (&v[..v.len() - 1], 1_024.0),
        'm' => (&v[..v.len() - 1], 1_000_000.0),
        'M' => (&v[..v.len() - 1], 1_048_576.0),
        _ => (v, 1.0),
    };
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 1.0).then(|| Some((n * mult).round() as u64))
}

fn options(args: &[String]) -> Result<Options, argparse::ArgError> {
    let p = argparse::parse(args, FLAGS, 1)?;
    let err = |m: String| argparse::ArgError { message: m };
    let model = p
        .positionals
        .first()
        .cloned()
        .or_else(|| p.get("--model").map(str::to_string))
        .unwrap_or_else(|| DEFAULT_MODEL.into());
    let port = p.parse::<u16>("--port", "int")?.unwrap_or(8000);
    let tp = p
        .parse::<u32>("--tensor-parallel-size", "int")?
        .unwrap_or(1)
        .max(1);
    let pp = p
        .parse::<u32>("--pipeline-parallel-size", "int")?
        .unwrap_or(1)
        .max(1);
    let gpu_memory_utilization = p
        .parse::<f64>("--gpu-memory-utilization", "float")?
        .unwrap_or(0.9);
    if !(gpu_memory_utilization > 0.0 && gpu_memory_utilization <= 1.0) {
        return Err(err(format!(
            "argument --gpu-memory-utilization: must be in (0, 1], got {gpu_memory_utilization}"
        )));
    }
    let max_model_len = match p.get("--max-model-len") {
        None => None,
        Some(v) => parse_len(v).ok_or_else(|| {
            err(format!(
                "argument --max-model-len: invalid parse_human_readable_int value: '{v}'"
            ))
        })?,
    };
    let served = if p.has("--served-model-name") {
        p.all("--served-model-name").to_vec()
    } else {
        vec![model.clone()]
    };
    let api_key = p
        .get("--api-key")
        .map(str::to_string)
        .or_else(|| std::env::var("VLLM_API_KEY").ok().filter(|k| !k.is_empty()));
    let max_num_seqs = p
        .parse::<usize>("--max-num-seqs", "int")?
        .unwrap_or(256)
        .max(1);
    let max_num_batched_tokens = p
        .parse::<usize>("--max-num-batched-tokens", "int")?
        .unwrap_or(8192)
        .max(1);
    let block_size = p.parse::<usize>("--block-size", "int")?.unwrap_or(16);
    if block_size == 0 {
        return Err(err("argument --block-size: must be at least 1".into()));
    }
    let seed = p.parse::<u64>("--seed", "int")?.unwrap_or(0);
    let level = p
        .get("--uvicorn-log-level")
        .unwrap_or("info")
        .to_ascii_lowercase();
    let mut non_default = vec![("model_tag".to_string(), format!("'{model}'"))];
    for (k, vals) in &p.values {
        if k == "help" {
            continue;
        }
        let v = match vals.as_slice() {
            [one] if one == "true" && !matches!(k.as_str(), "model" | "served_model_name") => {
                "True".to_string()
            }
            [one] if one.parse::<f64>().is_ok() => one.clone(),
            [one] if k != "served_model_name" => format!("'{one}'"),
            many => format!(
                "[{}]",
                many.iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        // Newer vLLM (`redact_sensitive_args`) replaces the whole value by '***'; the key itself
        // must never reach a log.
        let v = if k == "api_key" { "'***'".into() } else { v };
        non_default.push((k.clone(), v));
    }
    if !p.has("--model") {
        non_default.insert(1, ("model".into(), format!("'{model}'")));
    }
    Ok(Options {
        model,
        host: p.get("--host").map(str::to_string),
        port,
        tp,
        pp,
        gpu_memory_utilization,
        max_model_len,
        served,
        api_key,
        max_num_seqs,
        max_num_batched_tokens,
        block_size,
        seed,
        access_log: matches!(level.as_str(), "info" | "debug" | "trace"),
        ray: p.get("--distributed-executor-backend") == Some("ray"),
        non_default,
    })
}

pub fn main(args: &[String]) -> i32 {
    if args
        .iter()
        .any(|a| a == "--help" || a == "-h" || a.starts_with("--help="))
    {
        print!("{HELP}");
        return 0;
    }
    let opts = match options(args) {
        Ok(o) => o,
        Err(e) => return e.report(USAGE),
    };
    let knobs = match Knobs::from_env() {
        Ok(k) => k,
        Err(m) => {
            eprintln!("vllm serve (CPU stand-in): invalid knob {m}");
            return 2;
        }
    };
    // The host has VLLM_STANDIN_GPUS GPUs (default: just enough for tp × pp); the container
    // exposes some of them, CUDA_VISIBLE_DEVICES & co. narrow that for this process.
    let host_gpus = knobs
        .gpus
        .unwrap_or((world_of(&opts)).min(crate::devices::MAX_GPUS));
    let container = match crate::devices::container_visible(knobs.gpu, host_gpus) {
        Ok(c) => c,
        Err(m) => {
            eprintln!("vllm serve (CPU stand-in): invalid knob {m}");
            return 2;
        }
    };
    let gpus = Gpus {
        host: host_gpus,
        usable: crate::devices::process_visible(knobs.gpu, &container),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vllm serve (CPU stand-in): cannot start the async runtime: {e}");
            return 1;
        }
    };
    let code = rt.block_on(run(opts, knobs, gpus));
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}

/// tp × pp: the GPUs one engine needs.
fn world_of(o: &Options) -> u32 {
    o.tp.saturating_mul(o.pp)
}

/// The GPUs as this server sees them.
struct Gpus {
    /// GPUs of the stand-in host.
    host: u32,
    /// Physical GPUs this process may use, in device order.
    usable: Vec<u32>,
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn startup_banner(o: &Options, knobs: &Knobs) {
    log::info(
        "api_server.py:1805",
        &format!("vLLM API server version {VERSION}"),
    );
    log::info(
        "api_server.py:1806",
        "This is the CPU stand-in for vLLM (a test double: no model runs, no GPU is used; timings are a configured model, not a measurement)",
    );
    let args: Vec<String> = o
        .non_default
        .iter()
        .map(|(k, v)| format!("'{k}': {v}"))
        .collect();
    log::info(
        "utils.py:326",
        &format!("non-default args: {{{}}}", args.join(", ")),
    );
    log::info("model.py:619", "Resolved architecture: StandinForCausalLM");
    let len = o.max_model_len.unwrap_or(knobs.derived_max_model_len);
    log::info("model.py:1776", &format!("Using max model len {len}"));
    log::info(
        "scheduler.py:222",
        &format!(
            "Chunked prefill is enabled with max_num_batched_tokens={}.",
            o.max_num_batched_tokens
        ),
    );
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn run(o: Options, knobs: Knobs, gpus: Gpus) -> i32 {
    let host_label = o.host.clone().unwrap_or_else(|| "0.0.0.0".into());
    let ip: IpAddr = match o.host.as_deref() {
        None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(h) => match h.parse() {
            Ok(ip) => ip,
            Err(_) => match tokio::net::lookup_host((h, o.port))
                .await
                .ok()
                .and_then(|mut a| a.next())
            {
                Some(a) => a.ip(),
                None => {
                    log::raw(
                        log::Proc::Api,
                        &[format!(
                            "socket.gaierror: [Errno -2] Name or service not known: '{h}'"
                        )],
                    );
                    return 1;
                }
            },
        },
    };
    startup_banner(&o, &knobs);

    // Like vLLM ≥0.6.2: bind now (a taken port fails before any model load), listen later.
    if knobs.fail_at_start == Some(FailAtStart::PortInUse) {
        fatal::inject(
            FailAtStart::PortInUse,
            knobs.gpu,
            &o.model,
            knobs.derived_max_model_len,
            &host_label,
            o.port,
        );
        return 1;
    }
    let socket = match if ip.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    } {
        Ok(s) => s,
        Err(e) => {
            log::raw(log::Proc::Api, &[format!("OSError: {e}")]);
            return 1;
        }
    };
    let _ = socket.set_reuseaddr(true);
    if let Err(e) = socket.bind(SocketAddr::new(ip, o.port)) {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            fatal::port_in_use(&host_label, o.port);
        } else {
            log::raw(
                log::Proc::Api,
                &[format!(
                    "OSError: [Errno {}] {e}",
                    e.raw_os_error().unwrap_or(0)
                )],
            );
        }
        return 1;
    }
    let port = socket.local_addr().map(|a| a.port()).unwrap_or(o.port);

    // Config-time failures come before the engine starts.
    if let Some(
        cause @ (FailAtStart::NoGpu | FailAtStart::ModelNotFound | FailAtStart::MaxModelLen),
    ) = knobs.fail_at_start
    {
        fatal::inject(
            cause,
            knobs.gpu,
            &o.model,
            knobs.derived_max_model_len,
            &host_label,
            port,
        );
        return 1;
    }
    let allow_long = std::env::var("VLLM_ALLOW_LONG_MAX_MODEL_LEN")
        .map(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);
    if let Some(len) = o.max_model_len
        && len > knobs.derived_max_model_len
        && !allow_long
    {
        fatal::max_model_len(len, knobs.derived_max_model_len);
        return 1;
    }
    // vLLM's ParallelConfig: no GPU at all, or fewer than tp × pp, fails before any engine.
    let world = world_of(&o);
    if gpus.usable.is_empty() {
        fatal::inject(
            FailAtStart::NoGpu,
            knobs.gpu,
            &o.model,
            knobs.derived_max_model_len,
            &host_label,
            port,
        );
        return 1;
    }
    // With Ray the GPUs are the cluster's: vLLM asks for a placement group of tp × pp
    // one-GPU bundles (and waits for it) instead of counting this node's.
    let mut _placement = None;
    if o.ray {
        let local = gpus.usable.len() as u32;
        let ip = std::env::var("VLLM_HOST_IP")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| host_label.clone());
        let wait = knobs.pg_wait;
        let placing = tokio::task::spawn_blocking(move || {
            crate::ray::placement::place(world, local, &ip, wait)
        });
        tokio::select! {
            r = placing => match r {
                Ok(Ok(p)) => {
                    if !p.bundles.is_empty() {
                        log::line(
                            log::Proc::Engine,
                            log::Level::Info,
                            "ray_executor.py:160",
                            &format!(
                                "(CPU stand-in) placement group ready: {}",
                                p.bundles
                                    .iter()
                                    .enumerate()
                                    .map(|(i, n)| format!("bundle {i} on node {n}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                    _placement = Some(p);
                }
                Ok(Err(u)) => {
                    fatal::placement_group(u.required, &u.specs, u.waited);
                    return 1;
                }
                Err(_) => return 1,
            },
            _ = shutdown_signal() => {
                log::uvicorn("Shutting down");
                return 0;
            }
        }
    } else if world as usize > gpus.usable.len() {
        fatal::world_size(world, gpus.usable.len());
        return 1;
    }
    let used_gpus = gpus.usable[..(world as usize).min(gpus.usable.len())].to_vec();
    let max_model_len = o.max_model_len.unwrap_or(knobs.derived_max_model_len);
    let kv_cache_tokens = knobs
        .kv_cache_tokens
        .unwrap_or_else(|| {
            (524_288.0 * o.gpu_memory_utilization / 0.9 * f64::from(o.tp * o.pp)).round() as u64
        })
        .max(1);

    // "Model load": the port stays bound but refuses connections meanwhile.
    let load = async {
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "core.py:74",
            &format!(
                "Initializing a V1 LLM engine (v{VERSION}) with config: model='{}', tokenizer='{}', max_seq_len={max_model_len}, tensor_parallel_size={}, pipeline_parallel_size={}, seed={}, served_model_name={}, device_config=cpu-standin",
                o.model,
                o.model,
                o.tp,
                o.pp,
                o.seed,
                o.served.join(",")
            ),
        );
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "gpu_model_runner.py:1953",
            &format!("Starting to load model {}...", o.model),
        );
        let fail = knobs.fail_at_start;
        let first = if fail.is_some() {
            knobs.load / 2
        } else {
            knobs.load * 3 / 4
        };
        tokio::time::sleep(first).await;
        if let Some(cause) = fail {
            return Err(cause);
        }
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "gpu_model_runner.py:2007",
            &format!(
                "Model loading took 0.0000 GiB and {:.6} seconds (stand-in: simulated)",
                first.as_secs_f64()
            ),
        );
        tokio::time::sleep(knobs.load - first).await;
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "kv_cache_utils.py:849",
            &format!("GPU KV cache size: {} tokens", group(kv_cache_tokens)),
        );
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "kv_cache_utils.py:853",
            &format!(
                "Maximum concurrency for {} tokens per request: {:.2}x",
                group(max_model_len),
                kv_cache_tokens as f64 / max_model_len.max(1) as f64
            ),
        );
        log::line(
            log::Proc::Engine,
            log::Level::Info,
            "core.py:214",
            &format!(
                "init engine (profile, create kv cache, warmup model) took {:.2} seconds",
                knobs.load.as_secs_f64()
            ),
        );
        Ok(())
    };
    tokio::select! {
        r = load => if let Err(cause) = r {
            fatal::inject(cause, knobs.gpu, &o.model, knobs.derived_max_model_len, &host_label, port);
            return 1;
        },
        _ = shutdown_signal() => {
            log::uvicorn("Shutting down");
            return 0;
        }
    }

    let engine = engine::Engine::start(
        engine::Timing {
            ttft_base_ms: knobs.ttft_base_ms,
            prefill_us_per_token: knobs.prefill_us_per_token,
            tpot_base_ms: knobs.tpot_base_ms,
            tpot_per_seq_ms: knobs.tpot_per_seq_ms,
        },
        engine::Limits {
            max_num_seqs: o.max_num_seqs,
            max_num_batched_tokens: o.max_num_batched_tokens,
            kv_cache_tokens,
            eos_rate: knobs.eos_rate,
            block_size: o.block_size,
        },
    );
    let created_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let created = created_unix as u64;
    let app = Arc::new(api::App {
        engine: engine.clone(),
        model: o.model.clone(),
        served: o.served.clone(),
        max_model_len,
        kv_cache_tokens,
        block_size: o.block_size,
        api_key: o.api_key.clone(),
        seed: knobs.seed.unwrap_or(o.seed),
        created,
        created_unix,
        error_rate: knobs.error_rate,
        requests: AtomicU64::new(0),
        dead: AtomicBool::new(false),
        access_log: o.access_log,
    });
    state::spawn_writer(
        state::Fixed {
            path: knobs.state_path.clone(),
            gpu_memory_utilization: o.gpu_memory_utilization,
            host_gpus: gpus.host,
            used_gpus,
            gpu: knobs.gpu.as_str().into(),
            model: app.name().to_string(),
            max_num_seqs: o.max_num_seqs as u64,
            kv_cache_tokens,
        },
        engine.stats.clone(),
    );
    spawn_stats_logger(engine.stats.clone(), kv_cache_tokens, knobs.stats_interval);

    log::info("api_server.py:1611", "Supported_tasks: ['generate']");
    log::info(
        "api_server.py:1880",
        &format!("Starting vLLM server on http://{host_label}:{port}"),
    );
    log::info("launcher.py:36", "Available routes are:");
    for (route, methods) in [
        ("/health", "GET"),
        ("/tokenize", "POST"),
        ("/detokenize", "POST"),
        ("/v1/models", "GET"),
        ("/version", "GET"),
        ("/v1/chat/completions", "POST"),
        ("/v1/completions", "POST"),
        ("/metrics", "GET"),
    ] {
        log::info(
            "launcher.py:44",
            &format!("Route: {route}, Methods: {methods}"),
        );
    }
    log::uvicorn(&format!("Started server process [{}]", log::pid()));
    log::uvicorn("Waiting for application startup.");
    log::uvicorn("Application startup complete.");
    // Filler comes before the port listens: once /health answers, the whole log is written.
    if knobs.log_spam_mb > 0 {
        log::info(
            "api_server.py:1900",
            &format!(
                "CPU stand-in fault injection: VLLM_STANDIN_LOG_SPAM_MB={}: filler log lines follow",
                knobs.log_spam_mb
            ),
        );
        log::spam(knobs.log_spam_mb * 1_048_576);
    }
    let listener = match socket.listen(2048) {
        Ok(l) => l,
        Err(e) => {
            log::raw(
                log::Proc::Api,
                &[format!(
                    "OSError: [Errno {}] {e}",
                    e.raw_os_error().unwrap_or(0)
                )],
            );
            return 1;
        }
    };

    // Fault watchers: exit (engine dead) or hang after N completed requests / T seconds.
    let (die_tx, mut die_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(n) = knobs.exit_after_requests {
        let (e, tx) = (engine.clone(), die_tx.clone());
        tokio::spawn(async move {
            wait_completed(&e, n).await;
            let _ = tx.send(format!("VLLM_STANDIN_EXIT_AFTER_REQUESTS={n}"));
        });
    }
    if let Some(t) = knobs.exit_after {
        let tx = die_tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(t).await;
            let _ = tx.send(format!(
                "VLLM_STANDIN_EXIT_AFTER_SECONDS={}",
                t.as_secs_f64()
            ));
        });
    }
    if let Some(n) = knobs.hang_after_requests {
        let e = engine.clone();
        tokio::spawn(async move {
            wait_completed(&e, n).await;
            e.stats.frozen.store(true, Ordering::Relaxed);
        });
    }

    let state_path = knobs.state_path.clone();
    // TCP_NODELAY, as asyncio sets on every TCP connection under uvicorn: without it the
    // first SSE chunk after the headers waits for the client's delayed ACK (~40 ms of
    // phantom TTFT on loopback).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(
        listener,
        api::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    );
    let code = tokio::select! {
        r = server.into_future() => {
            if let Err(e) = r {
                log::raw(log::Proc::Api, &[format!("OSError: {e}")]);
            }
            1
        }
        _ = shutdown_signal() => {
            // uvicorn's graceful shutdown, bounded so a hung stream cannot hold us past ~1 s.
            log::uvicorn("Shutting down");
            log::uvicorn("Waiting for application shutdown.");
            log::uvicorn("Application shutdown complete.");
            log::uvicorn(&format!("Finished server process [{}]", log::pid()));
            0
        }
        Some(reason) = die_rx.recv() => {
            app.dead.store(true, Ordering::Relaxed);
            fatal::engine_dead(&reason);
            // vLLM's watchdog notices the dead engine and shuts the server down.
            tokio::time::sleep(Duration::from_millis(300)).await;
            log::uvicorn("Shutting down");
            log::uvicorn(&format!("Finished server process [{}]", log::pid()));
            1
        }
    };
    state::remove(&state_path);
    code
}

/// Wait until at least `n` requests have completed (0: return at once).
async fn wait_completed(e: &engine::Engine, n: u64) {
    loop {
        let notified = e.finished.notified();
        if e.stats.completed() >= n {
            return;
        }
        notified.await;
    }
}

/// vLLM's periodic `Engine 000: Avg prompt throughput …` line, while there is activity.
fn spawn_stats_logger(stats: Arc<engine::Stats>, kv_cache_tokens: u64, every: Duration) {
    if every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let (mut last_p, mut last_g, mut last_q, mut last_h) = (0u64, 0u64, 0u64, 0u64);
        loop {
            tokio::time::sleep(every).await;
            let p = stats.prompt_tokens_total.load(Ordering::Relaxed);
            let g = stats.generation_tokens_total.load(Ordering::Relaxed);
            let q = stats.prefix_cache_queries.load(Ordering::Relaxed);
            let h = stats.prefix_cache_hits.load(Ordering::Relaxed);
            let running = stats.running.load(Ordering::Relaxed);
            let waiting = stats.waiting.load(Ordering::Relaxed);
            if p == last_p && g == last_g && running == 0 && waiting == 0 {
                continue;
            }
            let secs = every.as_secs_f64();
            let kv = (100.0 * stats.kv_used_tokens.load(Ordering::Relaxed) as f64
                / kv_cache_tokens as f64)
                .min(100.0);
            // vLLM averages over recent requests; the interval's queries are close enough.
            let hit_rate = if q > last_q {
                100.0 * (h - last_h) as f64 / (q - last_q) as f64
            } else {
                0.0
            };
            log::info(
                "loggers.py:259",
                &format!(
                    "Engine 000: Avg prompt throughput: {:.1} tokens/s, Avg generation throughput: {:.1} tokens/s, Running: {running} reqs, Waiting: {waiting} reqs, GPU KV cache usage: {kv:.1}%, Prefix cache hit rate: {hit_rate:.1}%",
                    (p - last_p) as f64 / secs,
                    (g - last_g) as f64 / secs
                ),
            );
            (last_p, last_g, last_q, last_h) = (p, g, q, h);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_readable_lengths() {
        assert_eq!(parse_len("2048"), Some(Some(2048)));
        assert_eq!(parse_len("1k"), Some(Some(1000)));
        assert_eq!(parse_len("1K"), Some(Some(1024)));
        assert_eq!(parse_len("auto"), Some(None));
        assert_eq!(parse_len("x"), None);
    }

    #[test]
    fn flags_and_defaults() {
        let a: Vec<String> = [
            "m",
            "--port",
            "9",
            "--served-model-name",
            "a",
            "b",
            "-tp",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = options(&a).unwrap();
        assert_eq!((o.model.as_str(), o.port, o.tp), ("m", 9, 2));
        assert_eq!(o.served, vec!["a".to_string(), "b".to_string()]);
        let o = options(&[]).unwrap();
        assert_eq!(o.model, DEFAULT_MODEL);
        let e = options(&["m".into(), "--bogus".into()]).unwrap_err();
        assert_eq!(e.message, "unrecognized arguments: --bogus");
    }
}

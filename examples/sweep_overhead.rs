//! Orchestration cost per sweep point, measured (not a test): the runner drives N points whose
//! benchmark does no work (a shell script that writes a 27 KB result file at once) in a
//! busybox client container, and prints the median per-point time next to a bare exec and a
//! bare archive read, to compare with shared/reference/performance-anchors.md (manual loop
//! 213 ms, one exec 70 ms, one archive GET 89 ms).
//!
//! `cargo run --example sweep_overhead [N]` (needs the Docker Engine and /bin/busybox).
//!
//! Not included: the health check before each point and the GPU sample after it (each one
//! more exec in a real run; the server here is a no-op `ServerControl`).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vbench::config::Config;
use vbench::docker::ExecSpec;
use vbench::events::{Collector, Event};
use vbench::sweep::argv::BenchContext;
use vbench::sweep::manifest::ServerSnapshot;
use vbench::sweep::plan::{self, ContextLimit};
use vbench::sweep::runner::{Runner, ServerControl};
use vbench::sweep::session;

/// Writes the result file named on its command line and exits: a zero-work benchmark.
const ZERO_WORK_BENCH: &str = r#"#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in
    --result-dir) dir=$2; shift;;
    --result-filename) file=$2; shift;;
    --num-prompts) n=$2; shift;;
    --random-output-len) out=$2; shift;;
  esac
  shift
done
pad=$(head -c 27000 /dev/zero | tr '\0' a)
mkdir -p "$dir"
printf '{"num_prompts":%s,"completed":%s,"failed":0,"total_output_tokens":%s,"pad":"%s"}' "$n" "$n" "$((n * out))" "$pad" > "$dir/$file"
"#;

struct AlwaysHealthy;

impl ServerControl for AlwaysHealthy {
    async fn check(&self) -> anyhow::Result<Option<String>> {
        Ok(None)
    }
    async fn restart(&self) -> anyhow::Result<ServerSnapshot> {
        anyhow::bail!("not used")
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let d = common::docker().await;
    let cleanup = common::Cleanup::new();
    let c = common::start_busybox(&d, &cleanup, "sweep-overhead").await;
    d.copy_in(
        &c,
        "/bin",
        &[("vllm".into(), ZERO_WORK_BENCH.as_bytes().to_vec(), 0o755)],
    )
    .await?;

    let tmp = tempfile::tempdir()?;
    let cfg = Config {
        results_dir: tmp.path().to_path_buf(),
        ..Default::default()
    };
    let mut s = vbench::sweep::presets::preset("demo").expect("demo preset");
    s.input_lens = vec![128];
    s.concurrency = (1..=n).collect();
    let sweeps = vec![("overhead".to_string(), s)];
    let p = plan::build(&cfg, &sweeps, ContextLimit::Unknown).map_err(anyhow::Error::msg)?;
    let mut m = session::new_manifest("overhead", &cfg, &sweeps, &p, None, false);
    let sink = Collector::default();
    let runner = Runner {
        docker: &d,
        client: c.clone(),
        results_dir: tmp.path().to_path_buf(),
        run_dir: session::run_dir(tmp.path(), "overhead"),
        bench: BenchContext {
            base_url: "http://unused:8000".into(),
            model_id: "m".into(),
            tokenizer: None,
            seed: 0,
            result_dir: "/results".into(),
            run_id: "overhead".into(),
            extra_args: vec![],
        },
        env: vec![],
        server: AlwaysHealthy,
        restart_server: false,
        cancel: CancellationToken::new(),
        sink: &sink,
        client_mode: vbench::config::ClientMode::Process,
        telemetry: None,
        link: Default::default(),
        journal: Default::default(),
        more: None,
    };
    runner.prepare_client(&mut m).await?;
    let t0 = Instant::now();
    runner.run(&mut m).await?;
    let total = t0.elapsed();
    let per_point: Vec<f64> = sink
        .0
        .lock()
        .expect("events")
        .iter()
        .filter_map(|e| match e {
            Event::PointFinished {
                elapsed_s, status, ..
            } if status == "ok" => Some(*elapsed_s * 1000.0),
            _ => None,
        })
        .collect();
    assert_eq!(
        per_point.len() as u64,
        n,
        "every zero-work point should pass"
    );

    let mut exec_ms = Vec::new();
    let mut read_ms = Vec::new();
    let file = format!(
        "/results/overhead/{}",
        m.points[0].file_name.clone().expect("file")
    );
    for _ in 0..n {
        let t = Instant::now();
        d.exec_capture(
            &c,
            &ExecSpec {
                argv: vec!["true".into()],
                deadline: Some(Duration::from_secs(30)),
                ..Default::default()
            },
        )
        .await?;
        exec_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        d.read_file(&c, &file).await?;
        read_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!("{n} zero-work points in {:.2} s", total.as_secs_f64());
    println!(
        "per point (runner: tracked exec, archive read, validation, manifest saves; no health check or GPU sample here): median {:.0} ms",
        median(per_point)
    );
    println!(
        "total / points (incl. events and the final manifest): {:.0} ms",
        total.as_secs_f64() * 1000.0 / n as f64
    );
    println!(
        "bare exec `true`: median {:.0} ms; bare archive read of the 27 KB result: median {:.0} ms",
        median(exec_ms),
        median(read_ms)
    );
    println!("anchors (performance-anchors.md): manual loop 213 ms, exec 70 ms, archive GET 89 ms");
    Ok(())
}

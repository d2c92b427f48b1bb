//! Three nights of `scripts/nightly.sh` on the CPU stand-in, as cron would run it: a normal
//! night (the first: nothing to judge against), a night when the server got slower (the
//! stand-in's `VLLM_STANDIN_TPOT_MS` raised in the server container's environment — the
//! configuration is unchanged, as with a noisy neighbour), which exits "regressed" naming
//! the points, and a night when requests fail (`VLLM_STANDIN_ERROR_RATE`), which exits
//! "cannot judge", not "regressed". Each night has its own log; `vbench history` marks the
//! failing night invalid.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Cleanup, unique};
use vbench::config::Config;
use vbench::docker::{Docker, GpuPreset};

/// The nightly script on the test's configuration, with a deadline; (exit code, its log).
fn night(cfg: &Path, logs: &Path) -> (i32, String) {
    let before: Vec<PathBuf> = log_files(logs);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/nightly.sh");
    let mut child = Command::new(script)
        .env("VBENCH", env!("CARGO_BIN_EXE_vbench"))
        .env("VBENCH_GLOBAL", format!("--config {}", cfg.display()))
        .env("VBENCH_NIGHTLY_LOGS", logs)
        .env("VBENCH_KEEP", "10")
        .env("VBENCH_LABELS", "vbench.test=1")
        .args(["--standin", "demo"])
        .spawn()
        .expect("run scripts/nightly.sh");
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a night took over 4 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let new: Vec<PathBuf> = log_files(logs)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "one new log per night: {new:?}");
    let log = std::fs::read_to_string(&new[0]).expect("the night's log");
    (status.code().unwrap_or(-1), log)
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// (Re)create the server container with `knobs` in its environment (what `vllm serve` then
/// sees), so the night's conditions change while vbench's configuration does not.
async fn server_with(d: &Docker, cfg: &Config, knobs: &[(&str, &str)]) {
    let _ = d.remove_container(&cfg.server.container).await;
    d.ensure_network(
        &cfg.network,
        &vbench::server::spec::labels(d.extra_labels(), "network"),
    )
    .await
    .expect("network");
    let mut spec = vbench::server::spec::server_spec(
        cfg,
        GpuPreset::None,
        &vbench::server::gpus::HostGpus::default(),
        d.extra_labels(),
    );
    spec.env
        .extend(knobs.iter().map(|(k, v)| format!("{k}={v}")));
    d.ensure_container(&spec).await.expect("server container");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nights_pass_regress_and_cannot_judge() {
    let d = common::docker().await;
    vbench::server::ensure_standin_images(&d, &vbench::events::Collector::default())
        .await
        .expect("stand-in images");
    let tmp = tempfile::tempdir().expect("tempdir");
    let (results, logs) = (tmp.path().join("results"), tmp.path().join("logs"));
    let (srv, cli, net) = (
        unique("night-srv"),
        unique("night-cli"),
        unique("night-net"),
    );
    let cleanup = Cleanup::new();
    cleanup.container(&srv);
    cleanup.container(&cli);
    cleanup.network(&net);
    let yaml = format!(
        "server:\n  container: {srv}\n  startup_timeout: 60s\n  env:\n    VLLM_STANDIN_LOAD_SECONDS: \"0.5\"\nclient:\n  container: {cli}\nnetwork: {net}\nresults_dir: {}\n",
        results.display()
    );
    let cfg_path = tmp.path().join("vbench.yaml");
    std::fs::write(&cfg_path, &yaml).expect("config");
    let cfg = vbench::server::standin_config(
        &vbench::config::load(Some(&cfg_path), &Default::default()).expect("config loads"),
    );

    // Night 1: normal; nothing earlier to judge against.
    server_with(&d, &cfg, &[]).await;
    let (code, log) = night(&cfg_path, &logs);
    assert_eq!(code, 0, "night 1:\n{log}");
    assert!(log.contains("not judged"), "night 1:\n{log}");

    // Night 2: every decode step 5× slower.
    server_with(&d, &cfg, &[("VLLM_STANDIN_TPOT_MS", "40")]).await;
    let (code, log) = night(&cfg_path, &logs);
    assert_eq!(code, 8, "night 2 must exit regressed:\n{log}");
    assert!(log.contains("verdict: regressed"), "night 2:\n{log}");
    for conc in [1, 2, 4] {
        assert!(
            log.contains(&format!(
                "regressed: demo input 128 output 32 conc {conc}: "
            )),
            "night 2 names every point:\n{log}"
        );
    }
    assert!(
        log.contains("mean_tpot_ms"),
        "night 2 names the metric:\n{log}"
    );

    // Night 3: normal speed, but one request in ten fails: an outage, not a slowdown.
    server_with(&d, &cfg, &[("VLLM_STANDIN_ERROR_RATE", "0.1")]).await;
    let (code, log) = night(&cfg_path, &logs);
    assert_eq!(code, 9, "night 3 must exit cannot judge:\n{log}");
    assert!(log.contains("verdict: cannot judge"), "night 3:\n{log}");
    assert!(!log.contains("verdict: regressed"), "night 3:\n{log}");
    // Judged against night 1, the last good one (night 2 regressed).
    let runs = vbench::sweep::manifest::list_runs(&results);
    assert_eq!(runs.len(), 3, "{runs:?}");
    assert!(
        log.contains(&format!("against {}", runs[0])),
        "night 3:\n{log}"
    );

    // The history marks night 3 invalid and keeps the other two.
    let out = Command::new(env!("CARGO_BIN_EXE_vbench"))
        .arg("-c")
        .arg(&cfg_path)
        .args(["history", "--metric", "mean_tpot_ms"])
        .output()
        .expect("vbench history");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{table}");
    let night3 = table
        .lines()
        .find(|l| l.contains(&runs[2]))
        .expect("night 3 in the history");
    assert!(night3.contains("invalid"), "{table}");
    // The slow night is a valid measurement (slow is not broken); the first too.
    for run in &runs[..2] {
        let line = table
            .lines()
            .find(|l| l.contains(run.as_str()))
            .expect("run");
        assert!(!line.contains("invalid"), "{table}");
    }
    let hist = results.join("reports/history");
    let svg = std::fs::read_to_string(hist.join("history.svg")).expect("history.svg");
    assert!(
        svg.contains("1 point(s) failed"),
        "the invalid night's note in a tooltip"
    );
    let page = std::fs::read_to_string(hist.join("history.html")).expect("history.html");
    assert!(page.contains(&runs[2]) && page.contains("class=\"invalid\""));
    // Every night wrote its whole report, the verdict on its page.
    for run in &runs {
        let dir = vbench::sweep::session::run_dir(&results, run);
        for f in [
            "report.html",
            "summary.md",
            "summary.csv",
            "charts/demo_ttft.svg",
        ] {
            assert!(dir.join(f).is_file(), "{run}: {f}");
        }
    }
    let page2 = std::fs::read_to_string(
        vbench::sweep::session::run_dir(&results, &runs[1]).join("report.html"),
    )
    .expect("night 2's page");
    assert!(
        page2.contains("Regressed"),
        "night 2's page shows the verdict"
    );
    drop(cleanup);
}

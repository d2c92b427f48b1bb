//! Every documented exit code, produced by its cause: one row per code, each running the
//! engine code that meets the cause (the config loader on a bad file, a connect to a socket
//! nobody serves, the lock taken twice, the start-up log classifier on each signature, …)
//! and checking that the edge (`vbench::exit`) maps what comes back to the README's code.
//! The README's table must list exactly these codes.
//!
//! Causes that need a live server (a server serving something else, a signal during start-up)
//! and how a run ended (a lost client container, engine or network) are built as the typed
//! error or end the lifecycle and the runner return for them; `tests/lifecycle_up.rs`,
//! `tests/sweep_cli.rs` and `tests/faults_infra.rs` produce the same codes end to end.

use std::collections::BTreeSet;

use vbench::exit::{Code, code_for_end, code_of};
use vbench::server::ServerError;
use vbench::server::diagnose::{self, Outcome};
use vbench::sweep::RunError;
use vbench::sweep::lock::{Holder, RunLock};
use vbench::sweep::runner::RunEnd;

/// The code a start failure gets: the classifier's diagnosis, wrapped as `server::up` wraps it.
fn start_failure(outcome: Outcome, log: &[&str]) -> Code {
    let lines: Vec<String> = log.iter().map(|l| diagnose::clean_line(l)).collect();
    let diagnosis = diagnose::diagnose(outcome, &lines);
    let err = ServerError::StartFailed {
        message: diagnosis.message(),
        diagnosis: Box::new(diagnosis),
    };
    code_of(&anyhow::Error::from(RunError::from(err)))
}

/// The verdict's code when one point's output throughput goes from 100 to `tput` tok/s with
/// the given status.
fn verdict_code(tput: f64, status: &str) -> Code {
    use vbench::report::verdict::judge;
    use vbench::report::{Row, RunMeta};
    let row = |tput: f64, status: &str| Row {
        sweep: "s".into(),
        name: "p".into(),
        input_len: 1024,
        output_len: 100,
        concurrency: 1,
        num_prompts: 1,
        status: status.into(),
        reason: (status != "ok").then(|| "every request failed (1)".into()),
        result: Some(
            vbench::results::parse(
                format!(r#"{{"completed":1,"num_prompts":1,"output_throughput":{tput}}}"#)
                    .as_bytes(),
                "r.json",
            )
            .expect("parse"),
        ),
        file: None,
        repeat: 1,
        log: None,
        telemetry: Default::default(),
    };
    let meta = RunMeta::default();
    let v = judge(
        (&meta, &[row(100.0, "ok")]),
        (&meta, &[row(tput, status)]),
        0.05,
    );
    vbench::exit::code_for_verdict(v.outcome)
}

/// A real refused write (ENOSPC from `/dev/full`), met where the runner meets one: writing a
/// result file, wrapped as the pipeline wraps it.
fn no_space() -> RunError {
    use std::io::Write as _;
    let e = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .and_then(|mut f| f.write_all(b"{}").and_then(|()| f.sync_all()))
        .expect_err("/dev/full is always full");
    let err = RunError::State {
        op: "write /results/production/x.json".into(),
        source: e.into(),
    };
    vbench::sweep::storage::explain(err, std::path::Path::new("/results"), None)
}

fn exited(log: &[&str]) -> Code {
    start_failure(Outcome::Exited { status: Some(1) }, log)
}

/// One row per documented code: (code, cause, what the engine answered).
fn table() -> Vec<(u8, &'static str, Code)> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad_yaml = tmp.path().join("vbench.yaml");
    std::fs::write(&bad_yaml, "server:\n  tensor_parallel_size: four\n").expect("write");
    let config_error = vbench::config::load(Some(&bad_yaml), &Default::default())
        .expect_err("a string where a number belongs");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let unreachable = rt
        .block_on(vbench::docker::Docker::connect(Some(
            "unix:///nonexistent/vbench-test/docker.sock",
        )))
        .err()
        .expect("nobody serves that socket");
    let lock_dir = tmp.path().join("results");
    let _held = RunLock::acquire(&lock_dir, &Holder::me("first")).expect("first lock");
    let second = RunLock::acquire(&lock_dir, &Holder::me("second")).expect_err("held");
    let bug = std::fs::read("/nonexistent/vbench-test/file").expect_err("no such file");
    let hosts_yaml = tmp.path().join("hosts.yaml");
    std::fs::write(
        &hosts_yaml,
        "hosts:\n  - name: gone\n    docker_host: unix:///nonexistent/vbench-test/docker.sock\n",
    )
    .expect("write");
    let hosts_cfg =
        vbench::config::load(Some(&hosts_yaml), &Default::default()).expect("hosts config");
    let unknown_host = vbench::hosts::named(&hosts_cfg, "nope").expect_err("no such host");
    let gone = vbench::hosts::named(&hosts_cfg, "gone").expect("named");
    let host_unreachable = rt
        .block_on(vbench::hosts::connect(gone, Default::default()))
        .err()
        .expect("nobody serves that socket");

    vec![
        (0, "every point passed", code_for_end(&RunEnd::Finished)),
        (1, "an unclassified error (a bug)", code_of(&bug.into())),
        (2, "bad configuration", code_of(&config_error.into())),
        (3, "Docker unreachable", code_of(&unreachable.into())),
        (
            4,
            "the server died mid-sweep",
            code_for_end(&RunEnd::ServerFailed("vllm serve is not running".into())),
        ),
        (
            5,
            "some points failed validation",
            code_for_end(&RunEnd::PointsFailed),
        ),
        (
            6,
            "another run holds the lock",
            code_of(&RunError::from(second).into()),
        ),
        (
            7,
            "the results directory is full (a write to /dev/full: ENOSPC)",
            code_of(&no_space().into()),
        ),
        (8, "the verdict: regressed", verdict_code(80.0, "ok")),
        (
            9,
            "the verdict: cannot judge (a point failed)",
            verdict_code(80.0, "failed"),
        ),
        (
            10,
            "no memory for the KV cache",
            exited(&[
                "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
            ]),
        ),
        (
            11,
            "GPU out of memory",
            exited(&["torch.OutOfMemoryError: HIP out of memory. Tried to allocate 1.00 GiB."]),
        ),
        (
            12,
            "max-model-len too large",
            exited(&[
                "Value error, User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=131072).",
            ]),
        ),
        (
            13,
            "model not found",
            exited(&[
                "ValueError: Invalid repository ID or local directory specified: 'no/such-model'.",
            ]),
        ),
        (
            14,
            "port in use",
            exited(&["OSError: [Errno 98] Address already in use"]),
        ),
        (
            15,
            "unrecognised arguments",
            exited(&["vllm: error: unrecognized arguments: --no-such-flag"]),
        ),
        (
            16,
            "no GPU visible",
            exited(&[
                "RuntimeError: Failed to infer device type, please set the environment variable `VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue.",
            ]),
        ),
        (
            17,
            "a start-up stage missed its deadline",
            start_failure(
                Outcome::Deadline {
                    stage: "health".into(),
                    after: std::time::Duration::from_secs(8),
                },
                &["INFO loading weights"],
            ),
        ),
        (
            18,
            "vllm serve exited for no known reason",
            exited(&["INFO loading weights"]),
        ),
        (
            19,
            "the server container was OOM-killed",
            start_failure(
                Outcome::ContainerDied {
                    exit_code: Some(137),
                    oom_killed: true,
                },
                &[],
            ),
        ),
        (
            20,
            "the container serves another model",
            code_of(
                &ServerError::Mismatch {
                    container: "vllm-server".into(),
                    message: "vllm-server already runs a different server".into(),
                }
                .into(),
            ),
        ),
        (
            21,
            "the client container died mid-run",
            code_for_end(&RunEnd::ClientLost(
                "container vllm-bench-client stopped (exited, exit code 137: killed)".into(),
            )),
        ),
        (
            22,
            "the Docker Engine lost mid-run",
            code_for_end(&RunEnd::EngineLost(
                "the Docker Engine at unix:///var/run/docker.sock does not answer".into(),
            )),
        ),
        (
            23,
            "the client cannot reach a live server",
            code_for_end(&RunEnd::ServerUnreachable(
                "container vllm-bench-client is not connected to network vllm-bench".into(),
            )),
        ),
        (
            24,
            "a matrix ran but one of its combinations could not start",
            vbench::exit::code_for_matrix(&vbench::matrix::MatrixOutcome::Ran {
                matrix_id: "m".into(),
                statuses: vec![
                    ("a".into(), vbench::matrix::record::CombinationStatus::Ok),
                    (
                        "b".into(),
                        vbench::matrix::record::CombinationStatus::Failed,
                    ),
                ],
                interrupted: false,
                verdicts: vec![],
            }),
        ),
        (
            27,
            "--host names no hosts: entry",
            code_of(&unknown_host.into()),
        ),
        (
            28,
            "a named host's engine is unreachable",
            code_of(&host_unreachable.into()),
        ),
        (
            29,
            "a fan-out ran, but one of its hosts failed",
            vbench::exit::code_for_fanout(&vbench::hosts::fanout::FanoutOutcome::Ran {
                fanout_id: "f".into(),
                hosts: vec![
                    ("a".into(), vbench::hosts::record::HostStatus::Ok),
                    ("b".into(), vbench::hosts::record::HostStatus::Failed),
                ],
                units_left: 0,
                interrupted: false,
                verdicts: vec![],
            }),
        ),
        (130, "interrupted", code_for_end(&RunEnd::Interrupted)),
    ]
}

#[test]
fn every_documented_code_is_produced_by_its_cause() {
    for (want, cause, got) in table() {
        assert_eq!(got.as_u8(), want, "{cause}: got {got:?}");
    }
}

/// The codes in the README's "Exit codes" table.
fn readme_codes() -> BTreeSet<u8> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("## Exit codes")
        .nth(1)
        .expect("an `## Exit codes` section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.strip_prefix('|')?.split('|').next()?.trim().parse().ok())
        .collect()
}

#[test]
fn the_readme_documents_exactly_the_codes_vbench_uses() {
    let documented = readme_codes();
    let defined: BTreeSet<u8> = Code::ALL.iter().map(|c| c.as_u8()).collect();
    let produced: BTreeSet<u8> = table().iter().map(|r| r.0).collect();
    assert_eq!(documented, defined, "README vs exit::Code::ALL");
    assert_eq!(produced, defined, "the table must cover every code");
}

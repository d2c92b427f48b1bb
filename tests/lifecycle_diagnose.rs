//! The start-up log classifier on the real `vllm serve` logs in `tests/fixtures/logs/` and on
//! synthetic lines for every signature of contract §4, plus the serve argv builder.

mod common;

use std::time::Duration;

use vbench::config::Config;
use vbench::exit::{Code, code_for_start};
use vbench::server::argv;
use vbench::server::diagnose::{self, LogCause, Outcome};

fn fixture_lines(name: &str) -> Vec<String> {
    let p = common::fixture(&format!("logs/{name}"));
    let text =
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    text.lines().map(diagnose::clean_line).collect()
}

#[test]
fn real_no_kv_cache_log_is_no_kv_cache_memory() {
    let lines =
        fixture_lines("er0080-vllm-benchmarking__vllm_serve_no_kv_cache_memory_v0.25.1.log");
    let f = diagnose::classify(&lines).expect("a fatal signature");
    assert_eq!(f.cause, LogCause::NoKvCacheMemory);
    assert!(
        f.text.contains("No available memory for the cache blocks"),
        "{}",
        f.text
    );
    assert_eq!(diagnose::startup_complete(&lines), None);
    let d = diagnose::diagnose(Outcome::Exited { status: Some(1) }, &lines);
    assert_eq!(code_for_start(d.failure), Code::NoKvCacheMemory);
    assert_eq!(code_for_start(d.failure).as_u8(), 10);
    assert_eq!(d.tail.len(), 40);
    assert_eq!(d.tail.last(), lines.last());
    assert!(d.message().contains("gpu_memory_utilization"));
}

#[test]
fn real_successful_log_has_no_fatal_cause_and_its_milestone_is_found() {
    let lines = fixture_lines("dennislee22-vLLM-benchmarking__vllm-7B-1gpuA10080GB-0.5GRAM.log");
    assert_eq!(diagnose::classify(&lines), None);
    let i = diagnose::startup_complete(&lines).expect("Application startup complete. found");
    assert!(
        lines[i].contains("Application startup complete."),
        "{}",
        lines[i]
    );
    assert_eq!(i, lines.len() - 1, "it is the last line of that log");
    assert!(
        !lines.iter().any(|l| l.contains("Uvicorn running on")),
        "the fixture never says it: we must not wait for it"
    );
    assert_eq!(
        diagnose::logged_version(&lines).as_deref(),
        Some("0.10.1.1")
    );
}

#[test]
fn milestone_split_by_hard_wrapping_is_found() {
    let lines: Vec<String> = [
        "(APIServer pid=2739) INFO:     Waiting for application startup.",
        "(APIServer pid=2739) INFO:     Application startup com",
        "plete.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(diagnose::startup_complete(&lines), Some(1));
}

#[test]
fn milestone_of_every_era_with_ansi() {
    for l in [
        "INFO:     Application startup complete.",
        "(APIServer pid=1) INFO:     Application startup complete.",
        "\u{1b}[32mINFO\u{1b}[0m:     Application startup complete.",
    ] {
        assert_eq!(
            diagnose::startup_complete(&[diagnose::clean_line(l)]),
            Some(0),
            "{l:?}"
        );
    }
    let uvicorn_only =
        vec!["INFO:     Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)".to_string()];
    assert_eq!(diagnose::startup_complete(&uvicorn_only), None);
}

#[test]
fn every_signature_of_contract_section_4() {
    let cases: &[(&str, LogCause, u8)] = &[
        (
            "(EngineCore pid=25) ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
            LogCause::NoKvCacheMemory,
            10,
        ),
        (
            "ValueError: To serve at least one request with the model's max seq len (131072), (12.0 GiB KV cache is needed, which is larger than the available KV cache memory (4.1 GiB). Based on the available memory, the estimated maximum model length is 44800.",
            LogCause::NoKvCacheMemory,
            10,
        ),
        (
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.",
            LogCause::GpuOutOfMemory,
            11,
        ),
        (
            "torch.OutOfMemoryError: HIP out of memory. Tried to allocate 1.00 GiB.",
            LogCause::GpuOutOfMemory,
            11,
        ),
        (
            "ValueError: Free memory on device (10.1/79.1 GiB) on startup is less than desired GPU memory utilization (0.9, 71.2 GiB).",
            LogCause::GpuOutOfMemory,
            11,
        ),
        (
            "pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig\n  Value error, User-specified max_model_len (200000) is greater than the derived max_model_len (max_position_embeddings=131072).",
            LogCause::MaxModelLenTooLarge,
            12,
        ),
        (
            "ValueError: Invalid repository ID or local directory specified: 'no/such-model'.",
            LogCause::ModelNotFound,
            13,
        ),
        (
            "huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo for url https://huggingface.co/meta-llama/x/resolve/main/config.json.",
            LogCause::ModelNotFound,
            13,
        ),
        (
            "huggingface_hub.errors.LocalEntryNotFoundError: Cannot find the requested files in the disk cache and outgoing traffic has been disabled.",
            LogCause::ModelNotFound,
            13,
        ),
        (
            "OSError: [Errno 98] Address already in use",
            LogCause::PortInUse,
            14,
        ),
        (
            "vllm: error: unrecognized arguments: --bogus-flag",
            LogCause::BadServeArguments,
            15,
        ),
        (
            "vllm serve: error: argument --tensor-parallel-size/-tp: invalid int value: 'x'",
            LogCause::BadServeArguments,
            15,
        ),
        (
            "RuntimeError: Failed to infer device type, please set the environment variable `VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue.",
            LogCause::NoGpu,
            16,
        ),
        (
            "RuntimeError: No CUDA GPUs are available",
            LogCause::NoGpu,
            16,
        ),
        (
            "RuntimeError: No HIP GPUs are available",
            LogCause::NoGpu,
            16,
        ),
        (
            "ValueError: Cannot provide a placement group requiring 3.0 GPUs (placement_group_specs=[{'GPU': 1.0, 'node:10.0.0.1': 0.001}, {'GPU': 1.0}, {'GPU': 1.0}]) within 1800 seconds.",
            LogCause::NoGpu,
            16,
        ),
    ];
    for (line, cause, code) in cases {
        let lines: Vec<String> = line
            .lines()
            .map(|l| diagnose::clean_line(&format!("(APIServer pid=7) {l}")))
            .collect();
        let f = diagnose::classify(&lines).unwrap_or_else(|| panic!("no cause for {line:?}"));
        assert_eq!(f.cause, *cause, "{line:?}");
        let d = diagnose::diagnose(Outcome::Exited { status: Some(1) }, &lines);
        assert_eq!(code_for_start(d.failure).as_u8(), *code, "{line:?}");
    }
}

#[test]
fn earliest_signature_is_the_root_cause() {
    let lines: Vec<String> = [
        "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization`",
        "RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}",
        "RuntimeError: No CUDA GPUs are available",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        diagnose::classify(&lines).map(|f| f.cause),
        Some(LogCause::NoKvCacheMemory)
    );
}

#[test]
fn outcomes_without_a_signature() {
    let lines = vec!["INFO loading weights".to_string()];
    assert_eq!(
        code_for_start(diagnose::diagnose(Outcome::Exited { status: Some(3) }, &lines).failure),
        Code::ServeExited
    );
    assert_eq!(
        code_for_start(
            diagnose::diagnose(
                Outcome::ContainerDied {
                    exit_code: Some(137),
                    oom_killed: false
                },
                &lines
            )
            .failure
        ),
        Code::ContainerDied
    );
    let d = diagnose::diagnose(
        Outcome::ContainerDied {
            exit_code: Some(137),
            oom_killed: true,
        },
        &lines,
    );
    assert_eq!(code_for_start(d.failure), Code::ContainerDied);
    assert!(d.summary.contains("OOM"), "{}", d.summary);
    let d = diagnose::diagnose(
        Outcome::Deadline {
            stage: "health".into(),
            after: Duration::from_secs(9),
        },
        &lines,
    );
    assert_eq!(code_for_start(d.failure), Code::StartupDeadline);
    assert!(
        d.summary.contains("health") && d.summary.contains("9s"),
        "{}",
        d.summary
    );
    assert!(d.message().contains("INFO loading weights"));
}

#[test]
fn ansi_and_carriage_returns_are_stripped() {
    assert_eq!(
        diagnose::clean_line("\u{1b}[1;31mERROR\u{1b}[0m boom"),
        "ERROR boom"
    );
    assert_eq!(
        diagnose::clean_line("Loading 10%\rLoading 100%\r"),
        "Loading 100%"
    );
    assert_eq!(diagnose::clean_line("\u{1b}]0;title\u{7}text"), "text");
}

#[test]
fn serve_argv_has_every_option_in_order() {
    let mut cfg = Config::default();
    cfg.server.max_model_len = Some(8192);
    cfg.server.served_model_name = Some("gpt".into());
    cfg.server.extra_args = vec![
        "--api-key".into(),
        "sekrit-value".into(),
        "--kv-cache-dtype".into(),
        "fp8".into(),
    ];
    let a = argv::serve_argv(&cfg.server);
    assert_eq!(
        a,
        [
            "vllm",
            "serve",
            "openai/gpt-oss-120b",
            "--tensor-parallel-size",
            "4",
            "--gpu-memory-utilization",
            "0.9",
            "--enforce-eager",
            "--max-model-len",
            "8192",
            "--served-model-name",
            "gpt",
            "--port",
            "8000",
            "--api-key",
            "sekrit-value",
            "--kv-cache-dtype",
            "fp8"
        ]
    );
    let shown = argv::redact(&a, &["sekrit-value".to_string()]);
    assert!(!shown.iter().any(|s| s.contains("sekrit")), "{shown:?}");
    assert_eq!(argv::expected_model_id(&cfg.server), "gpt");
    cfg.server.enforce_eager = false;
    cfg.server.gpu_memory_utilization = 1.0;
    cfg.server.max_model_len = None;
    let a = argv::serve_argv(&cfg.server);
    assert!(
        !a.contains(&"--enforce-eager".to_string()) && !a.contains(&"--max-model-len".to_string())
    );
    assert!(
        a.windows(2)
            .any(|w| w == ["--gpu-memory-utilization", "1.0"]),
        "{a:?}"
    );
}

#[test]
fn launcher_passes_argv_through_and_logs_the_exit_status() {
    let l = argv::launcher_argv(&["vllm".into(), "serve".into(), "it's \"quoted\"".into()]);
    assert_eq!(&l[..2], ["sh", "-c"]);
    assert!(l[2].contains("\"$@\"") && l[2].contains(argv::SERVE_LOG));
    assert_eq!(l[3], "sh", "$0 placeholder so $@ is exactly the serve argv");
    assert_eq!(&l[4..], ["vllm", "serve", "it's \"quoted\""]);
    let log = vec!["x".to_string(), format!("{}137", argv::EXIT_MARKER)];
    assert_eq!(argv::logged_exit_status(&log), Some(137));
}

//! The result file and console block of the stand-in's `vllm bench serve`, compared with what
//! real vLLM 0.33 wrote and printed for the same command (tests/fixtures/vllm-0.33/).

mod bench_support;
mod fixture_support;

use std::time::Duration;

use bench_support::*;
use fixture_support::read_fixture;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

/// The fixture's command, pointed at `base_url` and writing into `dir`.
fn fixture_command(base_url: &str, dir: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--backend",
        "vllm",
        "--base-url",
        base_url,
        "--model",
        "facebook/opt-125m",
        "--tokenizer",
        "/tmp/tiny-tokenizer",
        "--dataset-name",
        "random",
        "--random-input-len",
        "128",
        "--random-output-len",
        "32",
        "--num-prompts",
        "8",
        "--max-concurrency",
        "4",
        "--save-result",
        "--result-dir",
        dir,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn run(args: &[String]) -> RunOutput {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_bench(&refs, &[], DEADLINE)
}

#[test]
fn fixture_command_writes_the_real_key_set_order_types_and_console_block() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 20,
        itl_ms: 2,
    });
    let dir = TempDir::new("bench-keys");
    let args = fixture_command(
        &server.base_url(),
        dir.path().to_str().unwrap(),
        &["--result-filename", "real_client_random.json"],
    );
    let out = run(&args);
    assert_eq!(
        out.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );

    let real: Value =
        serde_json::from_str(&read_fixture("vllm-0.33/real_client_random.json")).unwrap();
    let real = real.as_object().unwrap();
    let path = dir.join("real_client_random.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let ours = read_result(&path);

    let real_keys: Vec<&String> = real.keys().collect();
    let our_keys: Vec<&String> = ours.keys().collect();
    assert_eq!(
        our_keys, real_keys,
        "key set and order differ from the real 0.33 file"
    );
    for (k, v) in real {
        assert_eq!(type_name(&ours[k]), type_name(v), "type of {k}");
    }
    // json.dump layout: one line, Python separators, no trailing newline.
    assert!(!text.contains('\n'), "one line");
    assert!(
        text.starts_with("{\"date\": \"") && text.ends_with('}'),
        "{text}"
    );
    assert!(text.contains("\"label\": null, \"model_id\": \"facebook/opt-125m\""));
    assert!(
        text.contains("\"request_rate\": \"inf\", \"burstiness\": 1.0, \"max_concurrency\": 4")
    );
    assert!(text.contains("\"rtfx\": 0.0"));
    let date = ours["date"].as_str().unwrap();
    assert!(
        date.len() == 15
            && date.as_bytes()[8] == b'-'
            && date.chars().filter(char::is_ascii_digit).count() == 14,
        "{date}"
    );
    assert_eq!(ours["completed"], 8);
    assert_eq!(ours["failed"], 0);
    assert_eq!(ours["total_input_tokens"], 1024);
    assert_eq!(ours["total_output_tokens"], 256);
    assert_eq!(ours["tokenizer_id"], "/tmp/tiny-tokenizer");
    assert_eq!(ours["latencies"].as_array().unwrap().len(), 8);
    assert_eq!(ours["queue_times"].as_array().unwrap().len(), 8);

    // Console: the same lines as the real run, labels identical, values in the same columns.
    let real_out = read_fixture("vllm-0.33/real_client_random.stdout.txt");
    let block = |s: &str| -> Vec<String> {
        let start = s
            .lines()
            .position(|l| l.starts_with("============ Serving"))
            .expect("result block");
        s.lines()
            .skip(start)
            .take_while(|l| *l != "=".repeat(50))
            .map(str::to_string)
            .collect()
    };
    let (rb, ob) = (block(&real_out), block(&out.stdout));
    assert_eq!(ob.len(), rb.len(), "block lines:\n{}", ob.join("\n"));
    for (r, o) in rb.iter().zip(&ob) {
        let label = |l: &str| l.chars().take(41).collect::<String>();
        assert_eq!(label(o), label(r));
        // Rows are 40 + 1 + 10 columns (values padded), headers 50: same widths as the real run.
        assert_eq!(o.len(), r.len(), "line width: {o:?} vs real {r:?}");
    }
    for line in [
        "Starting initial single prompt test run...",
        "Skipping endpoint ready check.",
        "Starting main benchmark run...",
        "Traffic request rate: inf",
        "Burstiness factor: 1.0 (Poisson process)",
        "Maximum request concurrency: 4",
        "Successful requests:                     8         ",
        "Total input tokens:                      1024      ",
        "Total generated tokens:                  256       ",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == line),
            "missing line {line:?} in:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout
            .lines()
            .next()
            .unwrap()
            .starts_with("Namespace(subparser='bench', bench_type='serve'")
    );
    assert!(
        out.stderr.lines().next().unwrap().contains("CPU stand-in"),
        "stderr marks the stand-in"
    );
}

#[test]
fn detailed_result_has_the_contract_keys_metadata_and_percentile_names() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 10,
        itl_ms: 2,
    });
    let dir = TempDir::new("bench-detailed");
    let args = fixture_command(
        &server.base_url(),
        dir.path().to_str().unwrap(),
        &[
            "--result-filename",
            "d.json",
            "--save-detailed",
            "--percentile-metrics",
            "ttft,tpot,itl,e2el",
            "--metric-percentiles",
            "50,90,99",
            "--metadata",
            "a=b=c",
            "tp=1",
        ],
    );
    let out = run(&args);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let ours = read_result(&dir.join("d.json"));
    let mut expected: Vec<String> = [
        "date",
        "endpoint_type",
        "backend",
        "label",
        "model_id",
        "tokenizer_id",
        "num_prompts",
        "a",
        "tp",
        "request_rate",
        "burstiness",
        "max_concurrency",
        "duration",
        "completed",
        "failed",
        "total_input_tokens",
        "total_output_tokens",
        "request_throughput",
        "request_goodput",
        "output_throughput",
        "total_token_throughput",
        "input_lens",
        "output_lens",
        "ttfts",
        "itls",
        "latencies",
        "start_times",
        "queue_times",
        "generated_texts",
        "errors",
        "max_output_tokens_per_s",
        "max_concurrent_requests",
        "rtfx",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in ["ttft", "tpot", "itl", "e2el"] {
        for s in ["mean", "median", "std", "p50", "p90", "p99"] {
            expected.push(format!("{s}_{m}_ms"));
        }
    }
    assert_eq!(ours.keys().cloned().collect::<Vec<_>>(), expected);
    assert_eq!(ours["a"], "b=c", "--metadata splits on the first '='");
    assert_eq!(ours["tp"], "1");
    assert_eq!(
        ours["errors"],
        serde_json::json!(["", "", "", "", "", "", "", ""])
    );
    assert_eq!(
        ours["output_lens"],
        serde_json::json!([32, 32, 32, 32, 32, 32, 32, 32])
    );
    let itls = ours["itls"].as_array().unwrap();
    assert!(
        itls.iter().all(|l| l.as_array().unwrap().len() == 31),
        "31 gaps for 32 token chunks"
    );
    assert!(
        ours["generated_texts"][0]
            .as_str()
            .unwrap()
            .starts_with(" tok0 tok1")
    );
    // E2EL block printed when selected.
    assert!(
        out.stdout
            .contains("----------------End-to-end Latency----------------"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.lines().any(|l| l.starts_with("P90 E2EL (ms):")));
}

#[test]
fn auto_filename_result_dir_creation_fractional_percentiles_and_append() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 5,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-autoname");
    let nested = dir.join("new/sub");
    let base = server.base_url();
    let args: Vec<&str> = vec![
        "--backend",
        "vllm",
        "--base-url",
        &base,
        "--model",
        "org/opt-125m",
        "--random-input-len",
        "8",
        "--random-output-len",
        "4",
        "--num-prompts",
        "3",
        "--max-concurrency",
        "2",
        "--save-result",
        "--result-dir",
        nested.to_str().unwrap(),
        "--metric-percentiles",
        "99.9",
        "--request-rate",
        "1000",
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let names: Vec<String> = std::fs::read_dir(&nested)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let name = &names[0];
    assert!(
        name.starts_with("vllm-1000.0qps-concurrency2-opt-125m-") && name.ends_with(".json"),
        "{name}"
    );
    let r = read_result(&nested.join(name));
    assert_eq!(r["request_rate"], serde_json::json!(1000.0));
    assert!(
        r.contains_key("p99.9_ttft_ms"),
        "{:?}",
        r.keys().collect::<Vec<_>>()
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("P99.9 TTFT (ms):"))
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l == "Traffic request rate: 1000.0")
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("Request rate configured (RPS):    "))
    );

    // --append-result: a second object on a new line of the same file.
    let file = dir.join("appended.json");
    for _ in 0..2 {
        let args: Vec<&str> = vec![
            "--base-url",
            &base,
            "--model",
            "m",
            "--random-input-len",
            "4",
            "--random-output-len",
            "2",
            "--num-prompts",
            "2",
            "--append-result",
            "--result-filename",
            file.to_str().unwrap(),
            "--label",
            "lab",
        ];
        let out = run_bench(&args, &[], DEADLINE);
        assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["label"], "lab");
        assert_eq!(v["backend"], "openai");
        assert_eq!(v["max_concurrency"], Value::Null);
    }
}

#[test]
fn goodput_and_skip_tokenizer_init_change_the_keys_as_in_0_33() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 5,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-goodput");
    let base = server.base_url();
    let d = dir.path().to_str().unwrap();
    let common = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--random-input-len",
        "4",
        "--random-output-len",
        "3",
    ];
    let mut args: Vec<&str> = common.to_vec();
    args.extend([
        "--num-prompts",
        "3",
        "--save-result",
        "--result-dir",
        d,
        "--result-filename",
        "g.json",
    ]);
    args.extend(["--goodput", "ttft:10000", "e2el:10000"]);
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let r = read_result(&dir.join("g.json"));
    assert_eq!(type_name(&r["request_goodput"]), "float");
    assert_eq!(
        r["request_goodput"], r["request_throughput"],
        "every request meets a 10 s SLO"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("Request goodput (req/s):"))
    );

    let mut args: Vec<&str> = common.to_vec();
    args.extend([
        "--num-prompts",
        "2",
        "--save-result",
        "--result-dir",
        d,
        "--result-filename",
        "s.json",
    ]);
    args.extend(["--skip-tokenizer-init", "--percentile-metrics", "ttft,e2el"]);
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let r = read_result(&dir.join("s.json"));
    assert_eq!(r["tokenizer_id"], Value::Null);
    assert!(
        !r.contains_key("mean_ttft_ms"),
        "no token metrics without a tokenizer"
    );
    assert!(r.contains_key("mean_e2el_ms"));
}

#[test]
fn result_fault_knob_writes_a_truncated_or_corrupt_file_and_still_exits_0() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 2,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-fault");
    let base = server.base_url();
    let d = dir.path().to_str().unwrap();
    let run = |file: &str, fault: &str| {
        let args = [
            "--base-url",
            &base,
            "--model",
            "m",
            "--random-input-len",
            "4",
            "--random-output-len",
            "3",
            "--num-prompts",
            "4",
            "--save-result",
            "--save-detailed",
            "--result-dir",
            d,
            "--result-filename",
            file,
        ];
        run_bench(&args, &[("VLLM_STANDIN_BENCH_RESULT", fault)], DEADLINE)
    };

    let out = run("t.json", "truncate");
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let text = std::fs::read_to_string(dir.join("t.json")).unwrap();
    assert!(text.starts_with("{\"date\": \""), "{text}");
    let e = serde_json::from_str::<Value>(&text).unwrap_err();
    assert!(e.is_eof(), "cut in the middle: {e}");
    assert_eq!((e.line(), e.column()), (1, text.len()));
    // Half of the bytes: the rest would have held every metric through the last key.
    assert!(!text.contains("p99_itl_ms") && text.len() > 200, "{text}");

    let out = run("c.json", "corrupt");
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let text = std::fs::read_to_string(dir.join("c.json")).unwrap();
    let e = serde_json::from_str::<Value>(&text).unwrap_err();
    assert!(e.is_syntax(), "{e}");
    assert_eq!(e.line(), 1);
    let at = e.column() - 1;
    assert_eq!(
        &text[at..at + 1],
        "'",
        "the error points at the damaged quote: {e}"
    );
    assert!(at > text.len() / 2 - 1, "damage after the middle");
    // Exactly one byte differs from a valid file.
    let mut fixed = text.clone();
    fixed.replace_range(at..at + 1, "\"");
    let v: Value = serde_json::from_str(&fixed).expect("one byte away from valid JSON");
    assert_eq!(v["completed"], 4);

    let requests_before = server.requests().len();
    let out = run("x.json", "shred");
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains(
            "invalid knob VLLM_STANDIN_BENCH_RESULT=\"shred\": expected truncate or corrupt"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        server.requests().len(),
        requests_before,
        "stopped before any request"
    );
    assert!(!dir.join("x.json").exists());
}

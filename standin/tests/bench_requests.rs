//! The HTTP requests the stand-in's `vllm bench serve` sends, compared with every request the
//! real 0.33 client sent for the same command
//! (tests/fixtures/vllm-0.33/requests_real_client_random.jsonl).

mod bench_support;
mod fixture_support;

use std::collections::BTreeSet;
use std::time::Duration;

use bench_support::*;
use fixture_support::read_fixture;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

fn real_requests() -> Vec<Value> {
    read_fixture("vllm-0.33/requests_real_client_random.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn is_bench_id(id: &str) -> Option<(String, usize)> {
    let rest = id.strip_prefix("bench-")?;
    let (hex, idx) = rest.split_at_checked(8)?;
    let idx = idx.strip_prefix('-')?;
    if hex
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    {
        Some((format!("bench-{hex}-"), idx.parse().ok()?))
    } else {
        None
    }
}

#[test]
fn requests_match_the_real_clients_for_the_fixture_command() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 5,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-requests");
    let base = server.base_url();
    let args = [
        "--backend",
        "vllm",
        "--base-url",
        &base,
        "--model",
        "facebook/opt-125m",
        "--tokenizer",
        "/tmp/tok",
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
        dir.path().to_str().unwrap(),
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let real = real_requests();
    let ours = server.requests();
    assert_eq!(
        ours.len(),
        real.len(),
        "one request per prompt, no test request (ready check is off by default)"
    );

    let mut prefixes = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for r in &ours {
        assert_eq!(r.path, "/v1/completions");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(
            r.header("authorization"),
            None,
            "no key, no Authorization header"
        );
        let (prefix, idx) =
            is_bench_id(r.header("x-request-id").unwrap()).expect("x-request-id bench-<8hex>-<i>");
        prefixes.insert(prefix);
        ids.insert(idx);
    }
    assert_eq!(prefixes.len(), 1, "one prefix per run");
    assert_eq!(ids, (0..8).collect(), "ids 0..7");

    for (r, want) in ours.iter().zip(&real) {
        let body = r.body.as_object().unwrap();
        let want_body = want["body"].as_object().unwrap();
        assert_eq!(
            body.keys().collect::<Vec<_>>(),
            want_body.keys().collect::<Vec<_>>(),
            "body key order"
        );
        for (k, v) in want_body {
            if k != "prompt" {
                assert_eq!(&body[k], v, "body[{k}]");
            }
        }
        // Same float/int spelling as the real body (repetition_penalty 1.0 is a float).
        assert_eq!(type_name(&body["repetition_penalty"]), "float");
        let prompt = body["prompt"].as_str().unwrap();
        assert_eq!(
            prompt.split_whitespace().count() as u64,
            want["prompt_words"].as_u64().unwrap()
        );
    }
}

#[test]
fn sampling_flags_extra_body_headers_and_api_key_are_sent_like_the_real_client() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 2,
        itl_ms: 1,
    });
    let base = server.base_url();
    let args = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--served-model-name",
        "served",
        "--random-input-len",
        "5",
        "--random-output-len",
        "3",
        "--num-prompts",
        "2",
        "--temperature",
        "0",
        "--top-k",
        "5",
        "--extra-body",
        r#"{"min_tokens": 1, "temperature": 0.5}"#,
        "--header",
        "x-extra=a=b",
        "Authorization=Bearer from-header",
        "x-request-id=overridden",
        "--request-id-prefix",
        "run7-",
        "--logprobs",
        "2",
    ];
    let out = run_bench(&args, &[("OPENAI_API_KEY", "sk-test")], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert!(
        !out.stdout.contains("no longer sets temperature"),
        "no warning with --temperature"
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        // --header replaces the key from the environment; the request id replaces --header's.
        assert_eq!(r.header("authorization"), Some("Bearer from-header"));
        let ids = r
            .headers
            .iter()
            .filter(|(k, _)| k == "x-request-id")
            .count();
        assert_eq!(ids, 1, "one x-request-id header");
        assert_eq!(r.header("x-extra"), Some("a=b"));
        assert!(r.header("x-request-id").unwrap().starts_with("run7-"));
        let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "model",
                "prompt",
                "repetition_penalty",
                "max_tokens",
                "logprobs",
                "stream",
                "stream_options",
                "ignore_eos",
                "top_k",
                "temperature",
                "min_tokens"
            ]
        );
        assert_eq!(
            r.body["model"], "served",
            "--served-model-name is what is sent"
        );
        assert_eq!(r.body["logprobs"], 2);
        assert_eq!(r.body["top_k"], 5);
        assert_eq!(
            r.body["temperature"], 0.5,
            "--extra-body wins over sampling flags"
        );
    }
}

#[test]
fn without_model_the_first_served_model_is_fetched_from_v1_models() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 2,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-models");
    let base = server.base_url();
    let args = [
        "--base-url",
        &base,
        "--random-input-len",
        "4",
        "--random-output-len",
        "2",
        "--num-prompts",
        "1",
        "--save-result",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "r.json",
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/v1/models");
    assert_eq!(
        reqs[1].body["model"], "fake-served",
        "data[0].id is sent as the model"
    );
    assert!(out.stdout.contains(
        "Model not specified, fetching first model from server...\nUsing model: fake-served\n"
    ));
    let r = read_result(&dir.join("r.json"));
    assert_eq!(
        r["model_id"], "/models/fake-root",
        "data[0].root is the model id"
    );
    assert_eq!(r["tokenizer_id"], "/models/fake-root");
}

#[test]
fn openai_chat_backend_posts_messages_to_chat_completions() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 2,
        itl_ms: 1,
    });
    let dir = TempDir::new("bench-chat");
    let base = server.base_url();
    let args = [
        "--backend",
        "openai-chat",
        "--endpoint",
        "/v1/chat/completions",
        "--base-url",
        &base,
        "--model",
        "m",
        "--random-input-len",
        "4",
        "--random-output-len",
        "3",
        "--num-prompts",
        "2",
        "--save-result",
        "--save-detailed",
        "--result-dir",
        dir.path().to_str().unwrap(),
        "--result-filename",
        "c.json",
    ];
    let out = run_bench(&args, &[], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    let reqs = server.requests();
    assert_eq!(reqs[0].path, "/v1/chat/completions");
    assert_eq!(reqs[0].body["messages"][0]["role"], "user");
    assert_eq!(reqs[0].body["max_completion_tokens"], 3);
    let r = read_result(&dir.join("c.json"));
    assert_eq!(r["completed"], 2);
    assert_eq!(r["generated_texts"][0], " tok0 tok1 tok2");
}

#[test]
fn the_api_key_from_the_environment_is_sent_as_a_bearer_token() {
    let server = FakeServer::start(Mode::Stream {
        ttft_ms: 1,
        itl_ms: 1,
    });
    let base = server.base_url();
    let args = [
        "--base-url",
        &base,
        "--model",
        "m",
        "--random-input-len",
        "3",
        "--random-output-len",
        "2",
        "--num-prompts",
        "1",
    ];
    let out = run_bench(&args, &[("OPENAI_API_KEY", "sk-test")], DEADLINE);
    assert_eq!(out.code, Some(0), "stderr:\n{}", out.stderr);
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer sk-test")
    );
    // Without --disable-tqdm the tqdm bar is drawn on stderr, as the real client does.
    assert!(
        out.stderr.contains("100%|██████████| 1/1 ["),
        "{}",
        out.stderr
    );
}

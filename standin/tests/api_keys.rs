//! API keys end to end: `vllm serve` takes its key from `VLLM_API_KEY` (or `--api-key`) and
//! refuses `/v1/*` without it; `vllm bench serve` sends `Authorization: Bearer
//! $OPENAI_API_KEY` and completes every request with it; neither ever prints the key.

mod serve_support;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::*;

const KEY: &str = "sk-standin-very-secret-4711";

/// Run the stand-in client against `base` (10 requests, `--model` given or not) with
/// `OPENAI_API_KEY` set or not; returns (stdout + stderr, result file text).
fn bench(base: &str, key: Option<&str>, with_model: bool) -> (String, String) {
    let dir = std::env::temp_dir().join(format!(
        "vbt-keys-{}-{}-{with_model}",
        std::process::id(),
        key.is_some()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["bench", "serve", "--base-url", base])
        .args(["--random-input-len", "4", "--random-output-len", "3"])
        .args(["--num-prompts", "10", "--save-result", "--save-detailed"])
        .arg("--result-dir")
        .arg(&dir)
        .args(["--result-filename", "r.json"])
        .env_remove("OPENAI_API_KEY");
    if with_model {
        cmd.args(["--model", "m"]);
    }
    if let Some(k) = key {
        cmd.env("OPENAI_API_KEY", k);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let result = std::fs::read_to_string(dir.join("r.json")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (text, result)
}

#[tokio::test]
async fn env_key_guards_the_server_and_the_client_sends_openai_api_key() {
    let s = Server::start(&["m"], &[("VLLM_API_KEY", KEY)]).await;
    let c = reqwest::Client::new();
    let body = json!({"model": "m", "prompt": "a b c", "max_tokens": 2});
    let r = c
        .post(s.url("/v1/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), r#"{"error":"Unauthorized"}"#);
    let r = c
        .post(s.url("/v1/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // With the key every request completes, also when the model is fetched from /v1/models.
    for with_model in [true, false] {
        let (out, result) = bench(&s.base, Some(KEY), with_model);
        let v: Value = serde_json::from_str(&result).unwrap();
        assert_eq!(
            (v["completed"].as_u64(), v["failed"].as_u64()),
            (Some(10), Some(0)),
            "{out}"
        );
        assert!(!out.contains(KEY), "the client printed the key:\n{out}");
        assert!(!result.contains(KEY), "the key is in the result file");
    }
    // Without it every request fails with the reason phrase (exit status 0, as vLLM's).
    let (out, result) = bench(&s.base, None, true);
    let v: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(
        (v["completed"].as_u64(), v["failed"].as_u64()),
        (Some(0), Some(10))
    );
    assert_eq!(v["errors"][0], "Unauthorized", "{out}");

    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = s.output();
    assert!(log.contains("\"POST /v1/completions HTTP/1.1\" 401 Unauthorized"));
    assert!(!log.contains(KEY), "the server printed the key:\n{log}");
}

#[tokio::test]
async fn a_key_given_as_a_flag_is_redacted_in_the_start_up_log() {
    let s = Server::start(&["m", "--api-key", KEY], &[]).await;
    let line = s.wait_for_line("non-default args:", Duration::from_secs(5));
    assert!(line.contains("'api_key': '***'"), "{line}");
    let (_, result) = bench(&s.base, Some(KEY), true);
    let v: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(v["completed"], 10);
    assert!(!s.output().contains(KEY), "{}", s.output());
}

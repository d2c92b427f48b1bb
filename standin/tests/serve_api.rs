//! The stand-in `vllm serve` HTTP surface against vLLM 0.33's shapes: the real client's
//! requests replayed, SSE framing and usage, context-length clamp and errors, auth, unknown
//! model, `/v1/models`, tokenize/detokenize, chat, metrics, and the timing model.

mod fixture_support;
mod serve_support;

use std::time::{Duration, Instant};

use fixture_support::fixture;
use futures_util::StreamExt;
use serde_json::{Value, json};
use serve_support::*;

#[tokio::test]
async fn replays_every_request_of_the_real_client_and_streams_like_vllm() {
    let s = Server::start(&["facebook/opt-125m", "--max-model-len", "2048"], &[]).await;
    let path = fixture("vllm-0.33/requests_real_client_random.jsonl");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut tasks = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let rec: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), lineno + 1));
        let words = rec["prompt_words"].as_u64().expect("prompt_words") as usize;
        let mut body = rec["body"].clone();
        // The fixture cuts prompts to 60 chars: rebuild one of the recorded word count.
        body["prompt"] = json!(prompt_of(words));
        let rid = rec["headers"]["x-request-id"]
            .as_str()
            .expect("x-request-id")
            .to_string();
        let url = s.url(rec["path"].as_str().expect("path"));
        tasks.push(tokio::spawn(async move {
            let resp = reqwest::Client::new()
                .post(url)
                .header("x-request-id", &rid)
                .json(&body)
                .send()
                .await
                .expect("POST");
            (
                rid,
                words,
                body,
                resp.status().as_u16(),
                resp.headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_string()),
                resp.text().await.expect("body"),
            )
        }));
    }
    assert_eq!(tasks.len(), 8, "the fixture has 8 requests");
    for t in tasks {
        let (rid, words, body, status, ctype, text) = t.await.expect("task");
        assert_eq!(status, 200, "{rid}: {text}");
        assert!(
            ctype.unwrap_or_default().starts_with("text/event-stream"),
            "{rid}: content type"
        );
        let payloads = sse_payloads(&text);
        assert_eq!(
            payloads.last().map(String::as_str),
            Some("[DONE]"),
            "{rid}: last message"
        );
        let chunks: Vec<Value> = payloads[..payloads.len() - 1]
            .iter()
            .map(|p| serde_json::from_str(p).unwrap_or_else(|e| panic!("{rid}: chunk {p:?}: {e}")))
            .collect();
        let max_tokens = body["max_tokens"].as_u64().unwrap() as usize;
        let (tokens, usage) = chunks.split_at(chunks.len() - 1);
        assert_eq!(
            tokens.len(),
            max_tokens,
            "{rid}: one chunk per token with ignore_eos"
        );
        for (i, c) in tokens.iter().enumerate() {
            assert_eq!(c["id"], json!(format!("cmpl-{rid}")));
            assert_eq!(c["object"], "text_completion");
            assert_eq!(c["model"], "facebook/opt-125m");
            let choice = &c["choices"][0];
            assert!(
                choice["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(' ') && t.len() > 1),
                "{rid}: token text {choice}"
            );
            let want = if i + 1 == max_tokens {
                json!("length")
            } else {
                Value::Null
            };
            assert_eq!(
                choice["finish_reason"], want,
                "{rid}: finish_reason of chunk {i}"
            );
            assert_eq!(choice["stop_reason"], Value::Null);
        }
        let u = &usage[0];
        assert_eq!(u["choices"], json!([]), "{rid}: usage chunk has no choices");
        assert_eq!(
            u["usage"],
            json!({"prompt_tokens": words, "total_tokens": words + max_tokens, "completion_tokens": max_tokens}),
            "{rid}"
        );
    }
}

#[tokio::test]
async fn context_length_clamp_and_errors_use_vllm_033_wording() {
    let s = Server::start(&["m", "--max-model-len", "150"], &[]).await;
    let url = s.url("/v1/completions");
    // prompt + max_tokens > N: silently clamped to N - P.
    let r = post(
        &url,
        &json!({"model": "m", "prompt": prompt_of(128), "max_tokens": 32, "ignore_eos": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 128, "total_tokens": 150, "completion_tokens": 22})
    );
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert_eq!(
        v["choices"][0]["text"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .count(),
        22
    );
    // prompt > N
    let r = post(
        &url,
        &json!({"model": "m", "prompt": prompt_of(151), "max_tokens": 1}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"message": "This model's maximum context length is 150 tokens. However, your prompt contains 151 input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt.", "type": "BadRequestError", "param": null, "code": 400}})
    );
    // prompt == N
    let r = post(
        &url,
        &json!({"model": "m", "prompt": prompt_of(150), "max_tokens": 1}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("The decoder prompt (length 150) plus the number of requested output tokens (at least 1) is longer than the maximum model length of 150."), "{msg}");
    // token-id prompts count one token per id
    let r = post(&url, &json!({"prompt": [1, 2, 3], "max_tokens": 2})).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn unknown_model_api_key_and_models_list() {
    let s = Server::start(
        &[
            "org/base-model",
            "--served-model-name",
            "alias",
            "other",
            "--api-key",
            "sekret",
            "--max-model-len",
            "4k",
        ],
        &[],
    )
    .await;
    let c = reqwest::Client::new();
    // /v1/* needs the key; /health /metrics /version do not.
    let r = c.get(s.url("/v1/models")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.text().await.unwrap(), r#"{"error":"Unauthorized"}"#);
    let r = c
        .post(s.url("/v1/completions"))
        .bearer_auth("wrong")
        .json(&json!({"prompt": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    for open in ["/health", "/metrics", "/version"] {
        assert_eq!(
            c.get(s.url(open)).send().await.unwrap().status(),
            200,
            "{open}"
        );
    }
    let v: Value = c
        .get(s.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"version": "0.33.0+standin"}));

    let v: Value = c
        .get(s.url("/v1/models"))
        .bearer_auth("sekret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let card = &data[0];
    let keys: Vec<&str> = card
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "object",
            "created",
            "owned_by",
            "root",
            "parent",
            "max_model_len",
            "permission"
        ]
    );
    assert_eq!(
        (
            card["id"].as_str(),
            card["root"].as_str(),
            card["max_model_len"].as_u64()
        ),
        (Some("alias"), Some("org/base-model"), Some(4000))
    );
    assert_eq!(card["owned_by"], "vllm");
    let perm = &card["permission"][0];
    assert_eq!(perm["object"], "model_permission");
    assert!(perm["id"].as_str().unwrap().starts_with("modelperm-"));
    for k in [
        "allow_create_engine",
        "allow_sampling",
        "allow_logprobs",
        "allow_search_indices",
        "allow_view",
        "allow_fine_tuning",
        "organization",
        "group",
        "is_blocking",
    ] {
        assert!(perm.get(k).is_some(), "permission lacks {k}");
    }

    // Unknown model → 404 with vLLM's wording; the model argument is not a served name here.
    let r = c
        .post(s.url("/v1/completions"))
        .bearer_auth("sekret")
        .json(&json!({"model": "org/base-model", "prompt": "a b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["error"]["message"],
        "The model `org/base-model` does not exist."
    );
    assert_eq!(v["error"]["code"], 404);
    // Both served names work.
    for name in ["alias", "other"] {
        let r = c
            .post(s.url("/v1/completions"))
            .bearer_auth("sekret")
            .json(&json!({"model": name, "prompt": "a b", "max_tokens": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["model"], "alias", "responses name the first served name");
    }
}

#[tokio::test]
async fn api_key_from_environment_and_tokenizer_endpoints_and_chat() {
    let s = Server::start(&["m"], &[("VLLM_API_KEY", "envkey")]).await;
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(s.url("/v1/models")).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        c.get(s.url("/v1/models"))
            .bearer_auth("envkey")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Ids → text → the same ids (one vocabulary word per token).
    let v: Value = c
        .post(s.url("/detokenize"))
        .json(&json!({"model": "m", "tokens": [5, 100, 31999]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = v["prompt"].as_str().unwrap().to_string();
    assert_eq!(text.split_whitespace().count(), 3, "{text}");
    let v: Value = c
        .post(s.url("/tokenize"))
        .json(&json!({"model": "m", "prompt": text}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["count"], 3);
    assert_eq!(v["max_model_len"], 131072);
    assert_eq!(v["tokens"], json!([5, 100, 31999]));

    // Chat, streaming: role chunk, content deltas, finish, usage, [DONE].
    let r = c
        .post(s.url("/v1/chat/completions"))
        .bearer_auth("envkey")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
                      "max_completion_tokens": 5, "stream": true, "stream_options": {"include_usage": true}, "ignore_eos": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let payloads = sse_payloads(&r.text().await.unwrap());
    assert_eq!(payloads.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = payloads[..payloads.len() - 1]
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: Vec<&Value> = chunks[1..chunks.len() - 1].iter().collect();
    assert_eq!(content.len(), 5);
    assert!(
        content
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk"
                && c["choices"][0]["delta"]["content"].is_string())
    );
    assert_eq!(content[4]["choices"][0]["finish_reason"], "length");
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["completion_tokens"], 5);
    assert!(
        usage["prompt_tokens"].as_u64().unwrap() > 2,
        "chat template tokens count: {usage}"
    );

    // Determinism: same request, same seed → same text.
    let body = json!({"model": "m", "prompt": "a b c", "max_tokens": 8, "ignore_eos": true});
    let a: Value = c
        .post(s.url("/v1/completions"))
        .bearer_auth("envkey")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Value = c
        .post(s.url("/v1/completions"))
        .bearer_auth("envkey")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["choices"][0]["text"], b["choices"][0]["text"]);
}

/// Stream one request, returning (TTFT, mean inter-token gap, token count).
async fn timed(url: &str, prompt_tokens: usize, max_tokens: usize) -> (Duration, Duration, usize) {
    let body = json!({"model": "m", "prompt": prompt_of(prompt_tokens), "max_tokens": max_tokens, "stream": true, "ignore_eos": true});
    let start = Instant::now();
    let resp = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    let mut times = Vec::new();
    while let Some(chunk) = stream.next().await {
        buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(i) = buf.find("\n\n") {
            let msg: String = buf.drain(..i + 2).collect();
            if msg.contains("\"text\"") {
                times.push(start.elapsed());
            }
        }
    }
    let ttft = times[0];
    let gaps = (times[times.len() - 1] - ttft) / (times.len() as u32 - 1);
    (ttft, gaps, times.len())
}

#[tokio::test]
async fn timing_model_matches_the_knobs() {
    // Lone request: TTFT = 40 + 0.5 ms × 100 + 0 = 90 ms; TPOT = 15 ms.
    let knobs = [
        ("VLLM_STANDIN_TTFT_MS", "40"),
        ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "500"),
        ("VLLM_STANDIN_TPOT_MS", "15"),
        ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "5"),
    ];
    let s = Server::start(&["m"], &knobs).await;
    let url = s.url("/v1/completions");
    let (ttft, tpot, n) = timed(&url, 100, 21).await;
    assert_eq!(n, 21);
    // Tolerance: never faster than the model; at most +40 ms (TTFT) / +5 ms (TPOT) of
    // scheduling noise on a shared 2-core machine. per_seq adds 5 ms for the one sequence.
    let (want_ttft, want_tpot) = (Duration::from_millis(95), Duration::from_millis(20));
    assert!(
        ttft >= want_ttft - Duration::from_millis(2)
            && ttft <= want_ttft + Duration::from_millis(40),
        "TTFT {ttft:?}, want {want_ttft:?}"
    );
    assert!(
        tpot >= want_tpot - Duration::from_millis(1)
            && tpot <= want_tpot + Duration::from_millis(5),
        "TPOT {tpot:?}, want {want_tpot:?}"
    );

    // Four at once: TPOT = 15 + 5 × 4 = 35 ms (batching slows each sequence down).
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { timed(&url, 10, 21).await }));
    }
    for t in tasks {
        let (_, tpot, _) = t.await.unwrap();
        assert!(
            tpot >= Duration::from_millis(33) && tpot <= Duration::from_millis(45),
            "TPOT with 4 running {tpot:?}, want ≈35 ms"
        );
    }
}

#[tokio::test]
async fn max_num_seqs_makes_requests_wait_and_metrics_show_it() {
    let knobs = [("VLLM_STANDIN_TPOT_MS", "20")];
    let s = Server::start(&["m", "--max-num-seqs", "1"], &knobs).await;
    let url = s.url("/v1/completions");
    let first = tokio::spawn({
        let url = url.clone();
        async move { timed(&url, 5, 20).await }
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let second = tokio::spawn({
        let url = url.clone();
        async move { timed(&url, 5, 5).await }
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let metrics = reqwest::get(s.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 1.0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 1.0"),
        "{metrics}"
    );
    assert!(metrics.contains("vllm:gpu_cache_usage_perc{"), "{metrics}");
    let (_, _, _) = first.await.unwrap();
    let (ttft2, _, _) = second.await.unwrap();
    // The second waited for the first's ~20 × 20 ms decode.
    assert!(
        ttft2 >= Duration::from_millis(250),
        "second request's TTFT {ttft2:?} shows no queueing"
    );
    let metrics = reqwest::get(s.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("vllm:prompt_tokens_total{engine=\"0\",model_name=\"m\"} 10.0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vllm:generation_tokens_total{engine=\"0\",model_name=\"m\"} 25.0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_zero_cost_model_streams_without_phantom_latency() {
    // With every timing knob at 0 the first token comes as fast as the loopback allows. A
    // server socket without TCP_NODELAY holds the first SSE chunk on a kept-alive connection
    // until the client's delayed ACK (~40 ms on Linux): a TTFT the model never asked for.
    let knobs = [
        ("VLLM_STANDIN_TTFT_MS", "0"),
        ("VLLM_STANDIN_PREFILL_US_PER_TOKEN", "0"),
        ("VLLM_STANDIN_TPOT_MS", "0"),
        ("VLLM_STANDIN_TPOT_PER_SEQ_MS", "0"),
    ];
    let s = Server::start(&["m"], &knobs).await;
    let url = s.url("/v1/completions");
    // One client: its pooled connection is reused, as the benchmark client's is.
    let client = reqwest::Client::new();
    let mut ttfts = Vec::new();
    for _ in 0..15 {
        let body = json!({"model": "m", "prompt": prompt_of(8), "max_tokens": 2, "stream": true, "ignore_eos": true});
        let start = Instant::now();
        let resp = client.post(&url).json(&body).send().await.unwrap();
        let mut stream = resp.bytes_stream();
        let mut first = None;
        let mut buf = String::new();
        while let Some(chunk) = stream.next().await {
            buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
            if first.is_none() && buf.contains("\"text\"") {
                first = Some(start.elapsed());
            }
        }
        assert!(buf.ends_with("data: [DONE]\n\n"));
        ttfts.push(first.expect("a token chunk"));
    }
    ttfts.sort();
    let median = ttfts[ttfts.len() / 2];
    assert!(
        median < Duration::from_millis(25),
        "median TTFT {median:?} of a zero-cost model (all: {ttfts:?})"
    );
}

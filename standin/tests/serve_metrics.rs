//! `GET /metrics` of the stand-in server as vbench scrapes it: a well-formed Prometheus text
//! exposition with vLLM 0.33's names and types, values that move with load (running, waiting,
//! KV usage), prefix-cache counters that follow shared prompt prefixes, and preemptions when
//! the KV cache is too small for the running sequences.

mod serve_support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use serve_support::*;

/// A parsed exposition: family name → type, and sample name (labels dropped, one engine) →
/// value. Panics on anything a strict text-format parser would reject.
struct Exposition {
    types: HashMap<String, String>,
    samples: HashMap<String, f64>,
}

fn parse(text: &str) -> Exposition {
    let mut types = HashMap::new();
    let mut samples = HashMap::new();
    let mut help_for: Option<String> = None;
    let mut family: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap().to_string();
            assert!(!types.contains_key(&name), "family {name} declared twice");
            help_for = Some(name);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            let (name, ty) = (it.next().unwrap(), it.next().unwrap());
            assert_eq!(help_for.as_deref(), Some(name), "TYPE without HELP: {line}");
            assert!(
                matches!(ty, "gauge" | "counter"),
                "unexpected type in {line}"
            );
            assert!(
                ty != "counter" || name.ends_with("_total"),
                "counter without _total: {line}"
            );
            types.insert(name.to_string(), ty.to_string());
            family = Some((name.to_string(), ty.to_string()));
        } else {
            assert!(!line.starts_with('#'), "stray comment {line:?}");
            let (name_labels, value) = line.rsplit_once(' ').expect("sample has a value");
            let name = name_labels.split('{').next().unwrap();
            let (fam, _) = family.as_ref().expect("sample before any TYPE");
            assert_eq!(name, fam, "sample {line:?} outside its family");
            let labels = name_labels
                .strip_prefix(name)
                .unwrap()
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("labels of {line:?}"));
            assert!(
                labels.contains("engine=\"0\"") && labels.contains("model_name=\"m\""),
                "{line}"
            );
            let v: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("value of {line:?}"));
            // Label sets other than the engine's (finished_reason) get their own key.
            let key = match labels.split_once("finished_reason=") {
                Some((_, r)) => format!("{name}{{{}}}", r.trim_matches('"')),
                None => name.to_string(),
            };
            samples.insert(key, v);
        }
    }
    Exposition { types, samples }
}

impl Exposition {
    fn get(&self, name: &str) -> f64 {
        *self
            .samples
            .get(name)
            .unwrap_or_else(|| panic!("no sample {name}"))
    }
}

async fn scrape(s: &Server) -> Exposition {
    let r = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&r.text().await.unwrap())
}

async fn complete(url: String, prompt: String, max_tokens: usize) -> Value {
    let r = post(
        &url,
        &json!({"model": "m", "prompt": prompt, "max_tokens": max_tokens, "ignore_eos": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn names_and_types_are_vllm_033s_and_values_follow_the_load() {
    let s = Server::start(&["m"], &[("VLLM_STANDIN_TPOT_MS", "20")]).await;
    let idle = scrape(&s).await;
    for (name, ty) in [
        ("vllm:num_requests_running", "gauge"),
        ("vllm:num_requests_waiting", "gauge"),
        ("vllm:kv_cache_usage_perc", "gauge"),
        ("vllm:gpu_cache_usage_perc", "gauge"),
        ("vllm:prefix_cache_queries_total", "counter"),
        ("vllm:prefix_cache_hits_total", "counter"),
        ("vllm:num_preemptions_total", "counter"),
        ("vllm:prompt_tokens_total", "counter"),
        ("vllm:generation_tokens_total", "counter"),
        ("vllm:request_success_total", "counter"),
        ("vllm:prompt_tokens_created", "gauge"),
    ] {
        assert_eq!(idle.types.get(name).map(String::as_str), Some(ty), "{name}");
    }
    assert_eq!(idle.get("vllm:num_requests_running"), 0.0);
    assert_eq!(idle.get("vllm:kv_cache_usage_perc"), 0.0);
    assert!(idle.get("vllm:prompt_tokens_created") > 1.6e9, "start time");

    // Four requests of 30 tokens at 20 ms a step: busy for ~600 ms.
    let url = s.url("/v1/completions");
    let tasks: Vec<_> = (0..4)
        .map(|i| tokio::spawn(complete(url.clone(), format!("p{i} a b c"), 30)))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy = scrape(&s).await;
    assert_eq!(busy.get("vllm:num_requests_running"), 4.0);
    let kv = busy.get("vllm:kv_cache_usage_perc");
    assert!(kv > 0.0 && kv <= 1.0, "KV usage while busy: {kv}");
    assert_eq!(busy.get("vllm:gpu_cache_usage_perc"), kv);
    assert_eq!(busy.get("vllm:prompt_tokens_total"), 16.0);
    for t in tasks {
        t.await.unwrap();
    }
    let done = scrape(&s).await;
    assert_eq!(done.get("vllm:num_requests_running"), 0.0);
    assert_eq!(done.get("vllm:num_requests_waiting"), 0.0);
    assert_eq!(done.get("vllm:kv_cache_usage_perc"), 0.0);
    assert_eq!(done.get("vllm:generation_tokens_total"), 120.0);
    assert_eq!(done.get("vllm:request_success_total{length}"), 4.0);
    assert_eq!(done.get("vllm:num_preemptions_total"), 0.0);
}

#[tokio::test]
async fn prefix_cache_counters_count_shared_leading_blocks() {
    let s = Server::start(&["m"], &[]).await;
    let url = s.url("/v1/completions");
    // 40 shared tokens + 3 of its own: 43 tokens; blocks of 16 → the first two blocks (32
    // tokens) are shared, the third mixes prefix and suffix.
    let prefix = prompt_of(40);
    for i in 0..3 {
        complete(url.clone(), format!("{prefix} own{i} b c"), 2).await;
    }
    let m = scrape(&s).await;
    assert_eq!(m.get("vllm:prefix_cache_queries_total"), 129.0);
    assert_eq!(m.get("vllm:prefix_cache_hits_total"), 64.0, "0 + 32 + 32");
    assert_eq!(m.get("vllm:prompt_tokens_total"), 129.0);

    // --block-size sets the unit: with 8, five shared blocks (40 tokens) are reused.
    let s = Server::start(&["m", "--block-size", "8"], &[]).await;
    let url = s.url("/v1/completions");
    for i in 0..2 {
        complete(url.clone(), format!("{prefix} own{i} b c"), 2).await;
    }
    let m = scrape(&s).await;
    assert_eq!(m.get("vllm:prefix_cache_hits_total"), 40.0);
}

#[tokio::test]
async fn a_small_kv_cache_preempts_and_every_request_still_completes() {
    // Four sequences of 10 + 40 tokens need 200 KV slots; there are 100.
    let s = Server::start(&["m"], &[("VLLM_STANDIN_KV_CACHE_TOKENS", "100")]).await;
    let url = s.url("/v1/completions");
    let tasks: Vec<_> = (0..4)
        .map(|i| tokio::spawn(complete(url.clone(), format!("{i} {}", prompt_of(9)), 40)))
        .collect();
    for t in tasks {
        let v = t.await.unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 40, "{v}");
        assert_eq!(v["choices"][0]["finish_reason"], "length");
    }
    let m = scrape(&s).await;
    assert!(
        m.get("vllm:num_preemptions_total") >= 1.0,
        "no preemption with an undersized KV cache"
    );
    assert_eq!(m.get("vllm:request_success_total{length}"), 4.0);
    assert_eq!(m.get("vllm:generation_tokens_total"), 160.0);
    assert_eq!(
        m.get("vllm:prompt_tokens_total"),
        40.0,
        "recomputes not counted"
    );
    assert_eq!(m.get("vllm:num_requests_running"), 0.0);
    assert_eq!(m.get("vllm:num_requests_waiting"), 0.0);
    assert_eq!(m.get("vllm:kv_cache_usage_perc"), 0.0);
}

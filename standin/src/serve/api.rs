//! The HTTP surface of the stand-in, shaped like vLLM 0.33's OpenAI-compatible server: the
//! router, the middlewares (hang fault, API key, uvicorn-style access log) and the small
//! endpoints (`/health`, `/version`, `/v1/models`, `/metrics`, `/tokenize`, `/detokenize`).
//! Completions live in `completions.rs`.

// Handlers return the finished error `Response` as `Err`: built once per failed request and
// handed straight to axum, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::engine::Engine;
use super::{VERSION, completions, log};
use crate::tokens;

/// Everything the handlers share.
pub struct App {
    pub engine: Engine,
    /// The model argument (`root` in `/v1/models`).
    pub model: String,
    /// `--served-model-name` values (default: the model); the first is the reported name.
    pub served: Vec<String>,
    pub max_model_len: u64,
    pub kv_cache_tokens: u64,
    /// `--block-size`: the prefix cache's unit.
    pub block_size: usize,
    pub api_key: Option<String>,
    pub seed: u64,
    pub created: u64,
    /// Start time with sub-second precision: the `…_created` samples of `/metrics`.
    pub created_unix: f64,
    pub error_rate: f64,
    /// Completion requests seen (drives the deterministic error rate and request ids).
    pub requests: AtomicU64,
    /// Set when an exit fault fires: `/health` 503, requests 500, then the process exits.
    pub dead: AtomicBool,
    pub access_log: bool,
}

pub type Shared = Arc<App>;

impl App {
    pub fn name(&self) -> &str {
        self.served
            .first()
            .map(String::as_str)
            .unwrap_or(&self.model)
    }

    pub fn serves(&self, name: &str) -> bool {
        self.served.iter().any(|s| s == name)
    }
}

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .route("/v1/models", get(models))
        .route("/tokenize", post(tokenize))
        .route("/detokenize", post(detokenize))
        .route("/v1/completions", post(completions::completions))
        .route("/v1/chat/completions", post(completions::chat))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), auth))
        .layer(middleware::from_fn(access_log_layer(app.access_log)))
        .layer(middleware::from_fn_with_state(app.clone(), hang))
        .with_state(app)
}

/// vLLM's error body: `{"error":{"message","type","param","code"}}`.
pub fn error(status: StatusCode, kind: &str, message: &str, param: Option<&str>) -> Response {
    let body = json!({"error": {"message": message, "type": kind, "param": param, "code": status.as_u16()}});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

pub fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequestError", message, None)
}

pub fn json_response(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Parse a JSON object body, with a 400 naming the problem when it is not one.
pub fn parse_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request(
            "Input should be a valid dictionary or object to extract fields from",
        )),
        Err(e) => Err(bad_request(&format!("JSON decode error: {e}"))),
    }
}

/// Hang fault: once frozen, accept connections but never answer (not even `/health`).
async fn hang(State(app): State<Shared>, req: Request, next: Next) -> Response {
    if app.engine.stats.frozen.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
    next.run(req).await
}

/// `--api-key` / `VLLM_API_KEY`: like vLLM, only `/v1/*` needs `Authorization: Bearer KEY`.
async fn auth(State(app): State<Shared>, req: Request, next: Next) -> Response {
    if let Some(key) = &app.api_key
        && req.uri().path().starts_with("/v1")
        && req.method() != axum::http::Method::OPTIONS
    {
        let ok = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| given == key);
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"error":"Unauthorized"}"#,
            )
                .into_response();
        }
    }
    next.run(req).await
}

/// uvicorn's access log: `INFO:     127.0.0.1:50000 - "POST /v1/completions HTTP/1.1" 200 OK`.
fn access_log_layer(
    enabled: bool,
) -> impl Fn(Request, Next) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |req: Request, next: Next| {
        Box::pin(async move {
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.to_string())
                .unwrap_or_else(|| "-".into());
            let line = format!(
                "{} {}",
                req.method(),
                req.uri()
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/")
            );
            let resp = next.run(req).await;
            if enabled {
                let s = resp.status();
                log::uvicorn(&format!(
                    "{peer} - \"{line} HTTP/1.1\" {} {}",
                    s.as_u16(),
                    s.canonical_reason().unwrap_or("")
                ));
            }
            resp
        })
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"detail":"Not Found"}"#,
    )
        .into_response()
}

async fn health(State(app): State<Shared>) -> Response {
    if app.dead.load(Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    (StatusCode::OK, Body::empty()).into_response()
}

async fn version() -> Response {
    json_response(&json!({"version": VERSION}))
}

async fn models(State(app): State<Shared>) -> Response {
    let data: Vec<Value> = app
        .served
        .iter()
        .enumerate()
        .map(|(i, name)| {
            json!({
                "id": name, "object": "model", "created": app.created, "owned_by": "vllm",
                "root": app.model, "parent": null, "max_model_len": app.max_model_len,
                "permission": [{
                    "id": format!("modelperm-{:016x}{:016x}", app.seed ^ i as u64, app.created),
                    "object": "model_permission", "created": app.created,
                    "allow_create_engine": false, "allow_sampling": true, "allow_logprobs": true,
                    "allow_search_indices": false, "allow_view": true, "allow_fine_tuning": false,
                    "organization": "*", "group": null, "is_blocking": false
                }]
            })
        })
        .collect();
    json_response(&json!({"object": "list", "data": data}))
}

/// A sample value as Python's `prometheus_client` writes it (`floatToGoString`): `repr()` of
/// the float, but Go's exponent form from 1e7 up (`1.764e+09`), `+Inf`, `NaN`.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let s = crate::bench::pyfmt::float(v);
    match s.find('.') {
        Some(dot) if v > 0.0 && dot > 6 => {
            let digits = format!("{}{}", &s[1..dot], &s[dot + 1..]);
            let mantissa = format!("{}.{digits}", &s[..1]);
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => s,
    }
}

/// `GET /metrics`: vLLM 0.33's Prometheus text exposition (format 0.0.4) for the series the
/// stand-in models: `# HELP` / `# TYPE` before each family, counters named `…_total` and
/// followed by their `…_created` gauge (start time), as `prometheus_client` writes them.
async fn metrics(State(app): State<Shared>) -> Response {
    let s = &app.engine.stats;
    let labels = format!(
        "engine=\"0\",model_name=\"{}\"",
        app.name().replace('\\', "\\\\").replace('"', "\\\"")
    );
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64;
    let kv = (load(&s.kv_used_tokens) / app.kv_cache_tokens.max(1) as f64).min(1.0);
    let created = go_float(app.created_unix);
    let mut out = String::with_capacity(4096);
    let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
        out.push_str(&format!(
            "# HELP vllm:{name} {help}\n# TYPE vllm:{name} gauge\nvllm:{name}{{{labels}}} {}\n",
            go_float(v)
        ));
    };
    gauge(
        &mut out,
        "num_requests_running",
        "Number of requests in model execution batches.",
        load(&s.running),
    );
    gauge(
        &mut out,
        "num_requests_waiting",
        "Number of requests waiting to be processed.",
        load(&s.waiting),
    );
    gauge(
        &mut out,
        "gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage.",
        kv,
    );
    gauge(
        &mut out,
        "kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        kv,
    );
    // One counter family: `name_total` samples (one per extra label set), then `name_created`.
    let counter = |out: &mut String, name: &str, help: &str, samples: &[(&str, f64)]| {
        out.push_str(&format!(
            "# HELP vllm:{name}_total {help}\n# TYPE vllm:{name}_total counter\n"
        ));
        for (extra, v) in samples {
            out.push_str(&format!(
                "vllm:{name}_total{{{labels}{extra}}} {}\n",
                go_float(*v)
            ));
        }
        out.push_str(&format!(
            "# HELP vllm:{name}_created {help}\n# TYPE vllm:{name}_created gauge\n"
        ));
        for (extra, _) in samples {
            out.push_str(&format!(
                "vllm:{name}_created{{{labels}{extra}}} {created}\n"
            ));
        }
    };
    counter(
        &mut out,
        "prefix_cache_queries",
        "Prefix cache queries, in terms of number of queried tokens.",
        &[("", load(&s.prefix_cache_queries))],
    );
    counter(
        &mut out,
        "prefix_cache_hits",
        "Prefix cache hits, in terms of number of cached tokens.",
        &[("", load(&s.prefix_cache_hits))],
    );
    counter(
        &mut out,
        "num_preemptions",
        "Cumulative number of preemption from the engine.",
        &[("", load(&s.preemptions))],
    );
    counter(
        &mut out,
        "prompt_tokens",
        "Number of prefill tokens processed.",
        &[("", load(&s.prompt_tokens_total))],
    );
    counter(
        &mut out,
        "generation_tokens",
        "Number of generation tokens processed.",
        &[("", load(&s.generation_tokens_total))],
    );
    counter(
        &mut out,
        "request_success",
        "Count of successfully processed requests.",
        &[
            (",finished_reason=\"stop\"", load(&s.finished_stop)),
            (",finished_reason=\"length\"", load(&s.finished_length)),
            (",finished_reason=\"abort\"", load(&s.finished_abort)),
        ],
    );
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// Token ids of a `/tokenize` body (`prompt` text, or chat `messages`).
async fn tokenize(State(app): State<Shared>, body: Bytes) -> Response {
    let req = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some(r) = completions::check_model(&app, &req) {
        return r;
    }
    let text = if let Some(messages) = req.get("messages") {
        match completions::chat_prompt(messages) {
            Ok(t) => t,
            Err(m) => return bad_request(&m),
        }
    } else {
        match req.get("prompt") {
            Some(Value::String(s)) => s.clone(),
            _ => return bad_request("Field required: 'prompt' (a string) or 'messages'"),
        }
    };
    let ids = tokens::encode(&text);
    json_response(
        &json!({"count": ids.len(), "max_model_len": app.max_model_len, "tokens": ids, "token_strs": null}),
    )
}

async fn detokenize(State(app): State<Shared>, _headers: HeaderMap, body: Bytes) -> Response {
    let req = match parse_body(&body) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some(r) = completions::check_model(&app, &req) {
        return r;
    }
    let Some(Value::Array(items)) = req.get("tokens") else {
        return bad_request("Field required: 'tokens' (a list of token ids)");
    };
    let mut ids = Vec::with_capacity(items.len());
    for v in items {
        match v.as_u64() {
            Some(id) if id < u64::from(tokens::VOCAB_SIZE) => ids.push(id as u32),
            _ => return bad_request(&format!("Token id {v} is out of vocabulary")),
        }
    }
    json_response(&json!({"prompt": tokens::decode(&ids)}))
}

#[cfg(test)]
mod tests {
    use super::go_float;

    #[test]
    fn sample_values_print_like_prometheus_client() {
        assert_eq!(go_float(1.0), "1.0");
        assert_eq!(go_float(0.0), "0.0");
        assert_eq!(go_float(0.4125), "0.4125");
        assert_eq!(go_float(123456.0), "123456.0");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1764600000.5), "1.7646000005e+09");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}

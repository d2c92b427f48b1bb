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
    pub api_key: Option<String>,
    pub seed: u64,
    pub created: u64,
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

async fn metrics(State(app): State<Shared>) -> Response {
    let s = &app.engine.stats;
    let labels = format!(
        "engine=\"0\",model_name=\"{}\"",
        app.name().replace('\\', "\\\\").replace('"', "\\\"")
    );
    let kv = s.kv_used_tokens.load(Ordering::Relaxed) as f64 / app.kv_cache_tokens.max(1) as f64;
    let kv = kv.min(1.0);
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, v: f64| {
        out.push_str(&format!(
            "# HELP vllm:{name} {help}\n# TYPE vllm:{name} gauge\nvllm:{name}{{{labels}}} {v:?}\n"
        ));
    };
    gauge(
        "num_requests_running",
        "Number of requests in model execution batches.",
        s.running.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "num_requests_waiting",
        "Number of requests waiting to be processed.",
        s.waiting.load(Ordering::Relaxed) as f64,
    );
    gauge(
        "kv_cache_usage_perc",
        "KV-cache usage. 1 means 100 percent usage.",
        kv,
    );
    gauge(
        "gpu_cache_usage_perc",
        "GPU KV-cache usage. 1 means 100 percent usage.",
        kv,
    );
    let mut counter = |name: &str, help: &str, extra: &str, v: u64| {
        out.push_str(&format!(
            "# HELP vllm:{name}_total {help}\n# TYPE vllm:{name}_total counter\nvllm:{name}_total{{{labels}{extra}}} {:?}\n",
            v as f64
        ));
    };
    counter(
        "prompt_tokens",
        "Number of prefill tokens processed.",
        "",
        s.prompt_tokens_total.load(Ordering::Relaxed),
    );
    counter(
        "generation_tokens",
        "Number of generation tokens processed.",
        "",
        s.generation_tokens_total.load(Ordering::Relaxed),
    );
    counter(
        "num_preemptions",
        "Cumulative number of preemption from the engine.",
        "",
        0,
    );
    out.push_str("# HELP vllm:request_success_total Count of successfully processed requests.\n# TYPE vllm:request_success_total counter\n");
    for (reason, v) in [
        ("stop", &s.finished_stop),
        ("length", &s.finished_length),
        ("abort", &s.finished_abort),
    ] {
        out.push_str(&format!(
            "vllm:request_success_total{{{labels},finished_reason=\"{reason}\"}} {:?}\n",
            v.load(Ordering::Relaxed) as f64
        ));
    }
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

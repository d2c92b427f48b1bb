//! `POST /v1/completions` and `POST /v1/chat/completions` in vLLM 0.33's shapes: request
//! validation (model, prompt, context length with 0.33's wording and silent `max_tokens`
//! clamp), the deterministic error-rate fault, and the response either as one JSON body or
//! as an SSE stream (`data: {json}\n\n` chunks, optional usage chunk, `data: [DONE]\n\n`).

// Handlers return the finished error `Response` as `Err`: built once per failed request and
// handed straight to axum, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::api::{App, Shared, bad_request, error, json_response, parse_body};
use super::engine::{Job, Token, block_hashes, splitmix};
use crate::tokens;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Completion,
    Chat,
}

/// 404 when `model` names nothing we serve (`model` may be omitted, as vLLM allows).
pub fn check_model(app: &App, req: &Map<String, Value>) -> Option<Response> {
    match req.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if app.serves(m) => None,
        Some(other) => {
            let m = other
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| other.to_string());
            Some(error(
                StatusCode::NOT_FOUND,
                "NotFoundError",
                &format!("The model `{m}` does not exist."),
                Some("model"),
            ))
        }
    }
}

/// Chat messages → the prompt text the stand-in "template" makes: each message is
/// `<|role|> content`, then `<|assistant|>` (so template tokens count, as in real vLLM).
pub fn chat_prompt(messages: &Value) -> Result<String, String> {
    let Value::Array(list) = messages else {
        return Err("'messages' must be a list".into());
    };
    let mut out = String::new();
    for (i, m) in list.iter().enumerate() {
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("messages[{i}]: 'role' is required"))?;
        let content = match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| {
                    (p.get("type").and_then(Value::as_str) == Some("text"))
                        .then(|| p.get("text").and_then(Value::as_str))
                        .flatten()
                })
                .collect::<Vec<_>>()
                .join(" "),
            None | Some(Value::Null) => String::new(),
            Some(_) => {
                return Err(format!(
                    "messages[{i}]: 'content' must be a string or a list of parts"
                ));
            }
        };
        out.push_str(&format!("<|{role}|> {content} "));
    }
    out.push_str("<|assistant|>");
    Ok(out)
}

/// Prompt token ids of a completion request: text, token ids, or a one-element list of either.
fn prompt_ids(v: Option<&Value>) -> Result<Vec<u32>, String> {
    match v {
        Some(Value::String(s)) => Ok(tokens::encode(s)),
        Some(Value::Array(items)) if items.iter().all(Value::is_u64) => Ok(items
            .iter()
            .filter_map(Value::as_u64)
            .map(|i| (i % u64::from(tokens::VOCAB_SIZE)) as u32)
            .collect()),
        Some(Value::Array(items)) if items.len() == 1 => prompt_ids(items.first()),
        Some(Value::Array(_)) => Err(
            "the CPU stand-in serves one prompt per request (batched prompts are not supported)"
                .into(),
        ),
        _ => Err("Field required: 'prompt'".into()),
    }
}

fn uint(req: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    match req.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Ok(Some(n as u64)),
            Some(n) => Err(format!("{key} must be at least 1, got {n}.")),
            None => Err(format!("{key}: Input should be a valid integer")),
        },
    }
}

fn fnv(ids: &[u32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        h ^= u64::from(*id);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Prepared {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: usize,
    stream: bool,
    include_usage: bool,
    rx: mpsc::UnboundedReceiver<Token>,
}

/// Validate, apply faults, submit to the engine. `Err` is the finished error response.
fn prepare(
    app: &Shared,
    headers: &HeaderMap,
    body: &Bytes,
    kind: Kind,
) -> Result<Prepared, Response> {
    let req = parse_body(body)?;
    if app.dead.load(Ordering::Relaxed) {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "EngineCore encountered an issue. See stack trace (above) for the root cause.",
            None,
        ));
    }
    if let Some(r) = check_model(app, &req) {
        return Err(r);
    }
    let ids = match kind {
        Kind::Completion => prompt_ids(req.get("prompt")).map_err(|m| bad_request(&m))?,
        Kind::Chat => {
            let messages = req
                .get("messages")
                .ok_or_else(|| bad_request("Field required: 'messages'"))?;
            tokens::encode(&chat_prompt(messages).map_err(|m| bad_request(&m))?)
        }
    };
    let p = ids.len() as u64;
    let n = app.max_model_len;
    if p == 0 {
        return Err(bad_request("The decoder prompt cannot be empty"));
    }
    if p > n {
        return Err(bad_request(&format!(
            "This model's maximum context length is {n} tokens. However, your prompt contains {p} input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt."
        )));
    }
    if p == n {
        return Err(bad_request(&format!(
            "The decoder prompt (length {p}) plus the number of requested output tokens (at least 1) is longer than the maximum model length of {n}. Make sure that `max_model_len` is no smaller than the number of text tokens (prompt + requested output tokens)."
        )));
    }
    let requested = match kind {
        // vLLM's CompletionRequest defaults max_tokens to 16; chat to "the rest of the context".
        Kind::Completion => uint(&req, "max_tokens")
            .map_err(|m| bad_request(&m))?
            .unwrap_or(16),
        Kind::Chat => match uint(&req, "max_completion_tokens").map_err(|m| bad_request(&m))? {
            Some(v) => v,
            None => uint(&req, "max_tokens")
                .map_err(|m| bad_request(&m))?
                .unwrap_or(n - p),
        },
    };
    // vLLM 0.33 silently clamps the output to what fits in the context.
    let max_tokens = requested.min(n - p) as usize;

    let count = app.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let f = app.error_rate;
    if f > 0.0 && ((count as f64) * f).floor() > ((count - 1) as f64 * f).floor() {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &format!(
                "Internal server error (CPU stand-in fault injection: VLLM_STANDIN_ERROR_RATE={f}, request {count})"
            ),
            None,
        ));
    }

    let prefix = if kind == Kind::Chat {
        "chatcmpl"
    } else {
        "cmpl"
    };
    let id = match headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
        Some(rid) if !rid.is_empty() => format!("{prefix}-{rid}"),
        _ => {
            let mut s = app.seed ^ count.rotate_left(17) ^ app.created;
            format!(
                "{prefix}-{:016x}{:016x}",
                splitmix(&mut s),
                splitmix(&mut s)
            )
        }
    };
    let req_seed = req.get("seed").and_then(Value::as_u64).unwrap_or(0);
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = req
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let ignore_eos = req
        .get("ignore_eos")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (tx, rx) = mpsc::unbounded_channel();
    let job = Job {
        prompt_tokens: ids.len(),
        block_hashes: block_hashes(&ids, app.block_size),
        max_tokens,
        ignore_eos,
        seed: app.seed ^ fnv(&ids) ^ req_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        out: tx,
    };
    if !app.engine.submit(job) {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "engine is not running",
            None,
        ));
    }
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Prepared {
        id,
        model: app.name().to_string(),
        created,
        prompt_tokens: ids.len(),
        stream,
        include_usage,
        rx,
    })
}

fn usage(p: usize, c: usize) -> Value {
    json!({"prompt_tokens": p, "total_tokens": p + c, "completion_tokens": c})
}

/// One SSE token chunk.
fn chunk(kind: Kind, pr: &Prepared, tok: &Token) -> Value {
    let finish = tok.finish.map(|f| f.as_str());
    match kind {
        Kind::Completion => json!({
            "id": pr.id, "object": "text_completion", "created": pr.created, "model": pr.model,
            "choices": [{"index": 0, "text": tok.text, "logprobs": null, "finish_reason": finish, "stop_reason": null}]
        }),
        Kind::Chat => json!({
            "id": pr.id, "object": "chat.completion.chunk", "created": pr.created, "model": pr.model,
            "choices": [{"index": 0, "delta": {"content": tok.text}, "logprobs": null, "finish_reason": finish, "stop_reason": null}]
        }),
    }
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// Non-streaming: wait for the whole sequence, then answer with one body.
async fn collect(kind: Kind, mut pr: Prepared) -> Response {
    let mut text = String::new();
    let mut n = 0usize;
    let mut finish = "length";
    while let Some(tok) = pr.rx.recv().await {
        n += 1;
        text.push_str(&tok.text);
        if let Some(f) = tok.finish {
            finish = f.as_str();
            break;
        }
    }
    let choice = match kind {
        Kind::Completion => {
            json!({"index": 0, "text": text, "logprobs": null, "finish_reason": finish, "stop_reason": null, "prompt_logprobs": null})
        }
        Kind::Chat => json!({
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null, "annotations": null, "audio": null,
                        "function_call": null, "tool_calls": [], "reasoning_content": null},
            "logprobs": null, "finish_reason": finish, "stop_reason": null
        }),
    };
    let object = if kind == Kind::Chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    json_response(&json!({
        "id": pr.id, "object": object, "created": pr.created, "model": pr.model,
        "choices": [choice], "usage": usage(pr.prompt_tokens, n), "system_fingerprint": null, "kv_transfer_params": null
    }))
}

fn stream(kind: Kind, pr: Prepared) -> Response {
    struct St {
        kind: Kind,
        pr: Prepared,
        sent_role: bool,
        generated: usize,
        phase: u8, // 0 tokens, 1 usage, 2 done, 3 end
    }
    let st = St {
        kind,
        pr,
        sent_role: kind != Kind::Chat,
        generated: 0,
        phase: 0,
    };
    let body = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            match st.phase {
                0 => {
                    if !st.sent_role {
                        st.sent_role = true;
                        let v = json!({
                            "id": st.pr.id, "object": "chat.completion.chunk", "created": st.pr.created, "model": st.pr.model,
                            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": null, "finish_reason": null}]
                        });
                        return Some((Ok::<Bytes, std::convert::Infallible>(sse(&v)), st));
                    }
                    match st.pr.rx.recv().await {
                        Some(tok) => {
                            st.generated += 1;
                            if tok.finish.is_some() {
                                st.phase = 1;
                            }
                            let v = chunk(st.kind, &st.pr, &tok);
                            return Some((Ok(sse(&v)), st));
                        }
                        // The engine dropped us (shutdown): end the stream without [DONE].
                        None => return None,
                    }
                }
                1 => {
                    st.phase = 2;
                    if st.pr.include_usage {
                        let object = if st.kind == Kind::Chat {
                            "chat.completion.chunk"
                        } else {
                            "text_completion"
                        };
                        let v = json!({
                            "id": st.pr.id, "object": object, "created": st.pr.created, "model": st.pr.model,
                            "choices": [], "usage": usage(st.pr.prompt_tokens, st.generated)
                        });
                        return Some((Ok(sse(&v)), st));
                    }
                }
                2 => {
                    st.phase = 3;
                    return Some((Ok(Bytes::from_static(b"data: [DONE]\n\n")), st));
                }
                _ => return None,
            }
        }
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}

pub async fn completions(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    handle(app, headers, body, Kind::Completion).await
}

pub async fn chat(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    handle(app, headers, body, Kind::Chat).await
}

async fn handle(app: Shared, headers: HeaderMap, body: Bytes, kind: Kind) -> Response {
    match prepare(&app, &headers, &body, kind) {
        Err(resp) => resp,
        Ok(pr) if pr.stream => stream(kind, pr),
        Ok(pr) => collect(kind, pr).await,
    }
}

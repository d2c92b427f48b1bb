//! One benchmark request, sent and timed as vLLM 0.33's `async_request_openai_completions`
//! (and `…_chat_completions`) do: the same body keys in the same order, `x-request-id`,
//! streaming SSE parsed message by message, TTFT at the first chunk with non-empty `choices`,
//! ITL between successive token chunks, latency at the last token chunk, output length from
//! `usage.completion_tokens`, and the same failure texts.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use super::clock::PerfClock;

pub const NO_VALID_CHUNK: &str =
    "Never received a valid chunk to calculate TTFT.This response will be marked as failed!";

/// The API flavour of `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Completions,
    Chat,
}

/// What one request sends (`RequestFuncInput`).
#[derive(Debug, Clone)]
pub struct RequestInput {
    pub prompt: String,
    pub prompt_len: usize,
    pub output_len: usize,
    pub request_id: Option<String>,
    /// A LoRA module chosen for this request (`--lora-modules`), sent instead of the model.
    pub model: Option<String>,
}

/// What one request measured (`RequestFuncOutput`); times in seconds.
#[derive(Debug, Clone, Default)]
pub struct RequestOutput {
    pub success: bool,
    pub generated_text: String,
    pub output_tokens: usize,
    pub prompt_len: usize,
    pub ttft: f64,
    pub itl: Vec<f64>,
    pub latency: f64,
    pub start_time: f64,
    pub queue_time: f64,
    pub error: String,
}

/// Sends requests of one run.
pub struct Client {
    pub http: reqwest::Client,
    pub api: Api,
    pub api_url: String,
    /// Sent as `"model"`: `--served-model-name` or the model id.
    pub model: String,
    pub headers: Vec<(String, String)>,
    pub extra_body: Map<String, Value>,
    pub logprobs: Option<i64>,
    pub ignore_eos: bool,
    pub clock: PerfClock,
}

/// An HTTP client as the real one is configured: 6 h total timeout, pooled connections, no
/// proxy (the stand-in only ever talks to 127.0.0.1 or its own containers).
pub fn http_client(insecure: bool) -> Result<reqwest::Client, String> {
    let _ = insecure; // TLS is not built into the stand-in; `--insecure` is accepted and has nothing to relax.
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(6 * 60 * 60))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

impl Client {
    /// The request body, keys in the real order; `--extra-body` and sampling flags merged last
    /// (a key already present keeps its place and takes the new value, as `dict.update` does).
    pub fn body(&self, input: &RequestInput) -> Value {
        let mut m = Map::new();
        m.insert(
            "model".into(),
            json!(input.model.as_deref().unwrap_or(&self.model)),
        );
        match self.api {
            Api::Completions => {
                m.insert("prompt".into(), json!(input.prompt));
                m.insert("repetition_penalty".into(), json!(1.0));
                m.insert("max_tokens".into(), json!(input.output_len));
                m.insert("logprobs".into(), json!(self.logprobs));
            }
            Api::Chat => {
                m.insert(
                    "messages".into(),
                    json!([{"role": "user", "content": [{"type": "text", "text": input.prompt}]}]),
                );
                m.insert("max_completion_tokens".into(), json!(input.output_len));
            }
        }
        m.insert("stream".into(), json!(true));
        m.insert("stream_options".into(), json!({"include_usage": true}));
        if self.ignore_eos {
            m.insert("ignore_eos".into(), json!(true));
        }
        for (k, v) in &self.extra_body {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// Headers with the real precedence: `Content-Type` and `Authorization: Bearer
    /// $OPENAI_API_KEY`, then `--header` pairs replacing them, then `x-request-id` over all.
    fn request_headers(&self, request_id: Option<&str>) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        let mut set = |k: &str, v: &str| -> Result<(), String> {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("ValueError: invalid header name {k:?}: {e}"))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| format!("ValueError: invalid value for header {k:?}: {e}"))?;
            h.insert(name, value);
            Ok(())
        };
        set("Content-Type", "application/json")?;
        if let Ok(key) = std::env::var("OPENAI_API_KEY") {
            set("Authorization", &format!("Bearer {key}"))?;
        }
        for (k, v) in &self.headers {
            set(k, v)?;
        }
        if let Some(id) = request_id {
            set("x-request-id", id)?;
        }
        Ok(h)
    }

    /// Send one request and time it. Never fails: failures are recorded in the output.
    pub async fn send(&self, input: &RequestInput) -> RequestOutput {
        let mut out = RequestOutput {
            prompt_len: input.prompt_len,
            ..Default::default()
        };
        let body = self.body(input);
        let headers = match self.request_headers(input.request_id.as_deref()) {
            Ok(h) => h,
            Err(e) => {
                out.error = e;
                return out;
            }
        };
        let req = self.http.post(&self.api_url).headers(headers);
        let bytes = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => {
                out.error = format!("TypeError: request body is not JSON serializable: {e}");
                return out;
            }
        };
        let st = self.clock.now();
        out.start_time = st;
        let resp = match req.body(bytes).send().await {
            Ok(r) => r,
            Err(e) => {
                out.error = connection_error(&self.api_url, &e);
                return out;
            }
        };
        if resp.status() != reqwest::StatusCode::OK {
            // aiohttp's `response.reason`: the reason phrase only; the body is discarded.
            out.error = resp.status().canonical_reason().unwrap_or("").to_string();
            return out;
        }
        let mut stream = resp.bytes_stream();
        let mut buf: Vec<u8> = Vec::new();
        let mut state = StreamState {
            st,
            most_recent: st,
            first: false,
        };
        'read: while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    out.error = format!(
                        "Traceback (most recent call last):\naiohttp.client_exceptions.ClientPayloadError: Response payload is not completed: {e}"
                    );
                    return out;
                }
            };
            let ts = self.clock.now();
            buf.extend_from_slice(&chunk);
            while let Some(pos) = find_double_newline(&buf) {
                let msg: Vec<u8> = buf.drain(..pos + 2).collect();
                match self.handle_message(&msg[..pos], ts, &mut state, &mut out) {
                    Ok(true) => break 'read,
                    Ok(false) => {}
                    Err(e) => {
                        out.error = e;
                        return out;
                    }
                }
            }
        }
        if state.first {
            out.success = true;
            out.latency = state.most_recent - st;
        } else {
            out.error = NO_VALID_CHUNK.to_string();
        }
        out
    }

    /// One SSE message. `Ok(true)` at `[DONE]`.
    fn handle_message(
        &self,
        raw: &[u8],
        ts: f64,
        state: &mut StreamState,
        out: &mut RequestOutput,
    ) -> Result<bool, String> {
        let text = String::from_utf8_lossy(raw);
        let msg = text.trim();
        if msg.is_empty() || msg.starts_with(':') {
            return Ok(false);
        }
        let data = msg
            .strip_prefix("data: ")
            .or_else(|| msg.strip_prefix("data:"))
            .unwrap_or(msg)
            .trim();
        if data == "[DONE]" {
            return Ok(true);
        }
        let v: Value = serde_json::from_str(data).map_err(|e| {
            format!("Traceback (most recent call last):\njson.decoder.JSONDecodeError: {e} (chunk {data:?})")
        })?;
        let choices = v
            .get("choices")
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty());
        if let Some(choices) = choices {
            let piece = match self.api {
                Api::Completions => choices[0].get("text").and_then(Value::as_str),
                Api::Chat => choices[0]
                    .get("delta")
                    .and_then(|d| d.get("content"))
                    .and_then(Value::as_str),
            };
            if !state.first {
                state.first = true;
                out.ttft = ts - state.st;
            } else {
                out.itl.push(ts - state.most_recent);
            }
            state.most_recent = ts;
            out.generated_text.push_str(piece.unwrap_or(""));
        } else if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
            if let Some(c) = usage.get("completion_tokens").and_then(Value::as_u64) {
                out.output_tokens = c as usize;
            }
            if let Some(p) = usage.get("prompt_tokens").and_then(Value::as_u64) {
                out.prompt_len = p as usize;
            }
        }
        // A mid-stream `{"error": …}` chunk is ignored, as in the real client.
        Ok(false)
    }
}

struct StreamState {
    st: f64,
    most_recent: f64,
    first: bool,
}

fn find_double_newline(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\n\n")
}

/// The traceback tail aiohttp would leave for a connection failure.
fn connection_error(url: &str, e: &reqwest::Error) -> String {
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail = format!("{detail}: {s}");
        src = s.source();
    }
    let hostport = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or(url);
    if e.is_connect() {
        format!(
            "Traceback (most recent call last):\naiohttp.client_exceptions.ClientConnectorError: Cannot connect to host {hostport} ssl:default [{detail}]"
        )
    } else if e.is_timeout() {
        "Traceback (most recent call last):\nasyncio.exceptions.TimeoutError".to_string()
    } else {
        format!(
            "Traceback (most recent call last):\naiohttp.client_exceptions.ClientError: {detail}"
        )
    }
}

/// `GET {base_url}/v1/models` → (`data[0].id`, `data[0].root` or the id), as 0.33 does when
/// `--model` is omitted.
pub async fn first_model(
    http: &reqwest::Client,
    base_url: &str,
    headers: &[(String, String)],
) -> Result<(String, String), String> {
    let url = format!("{base_url}/v1/models");
    let fail = |e: String| {
        format!(
            "RuntimeError: Failed to fetch models from server at {url}. Check that:\n1. The server is running\n2. The server URL is correct\nError: {e}"
        )
    };
    let mut req = http.get(&url);
    if let Ok(key) = std::env::var("OPENAI_API_KEY") {
        req = req.header("Authorization", format!("Bearer {key}"));
    }
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(fail(format!(
            "{}, message='{}', url='{url}'",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )));
    }
    let v: Value = resp.json().await.map_err(|e| fail(e.to_string()))?;
    let first = v.get("data").and_then(Value::as_array).and_then(|d| d.first()).ok_or_else(|| {
        format!("ValueError: No models found on the server at {base_url}. Make sure the server is running and has models loaded.")
    })?;
    let id = first
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("data[0].id missing".into()))?;
    let root = first.get("root").and_then(Value::as_str).unwrap_or(id);
    Ok((id.to_string(), root.to_string()))
}

//! HTTP probes of the server from the host: `/health`, `/v1/models`, `/version`. Each probe has
//! its own timeout (≤5 s); "connection refused" while the model loads is normal.

use std::time::Duration;

use super::readiness::ModelCard;

/// Per-probe timeout (contract §8: ≤5 s per probe).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the server answers, and the API key it wants (`vllm serve --api-key`, or
/// `VLLM_API_KEY` in its environment; `/health` needs none, `/v1/*` do).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub base: String,
    pub api_key: Option<String>,
}

impl Endpoint {
    pub fn new(base: impl Into<String>, api_key: Option<String>) -> Self {
        Self {
            base: base.into(),
            api_key,
        }
    }

    fn get(&self, path: &str, timeout: Duration) -> anyhow::Result<reqwest::RequestBuilder> {
        Ok(self.auth(client(timeout)?.get(format!("{}{path}", self.base))))
    }

    fn auth(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }
}

fn client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    // Never through a proxy: the server is on loopback or a local bridge.
    Ok(reqwest::Client::builder()
        .timeout(timeout.max(Duration::from_millis(200)))
        .no_proxy()
        .build()?)
}

/// Short reason for a failed request (`connection refused`, `timed out`, `HTTP 503`).
fn why(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused (not listening yet)".into()
    } else {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            s = format!("{s}: {inner}");
            src = inner.source();
        }
        s
    }
}

/// `GET /health` must answer 200.
pub async fn health(ep: &Endpoint, timeout: Duration) -> anyhow::Result<()> {
    let r = ep
        .get("/health", timeout)?
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(why(&e)))?;
    if r.status().as_u16() == 200 {
        Ok(())
    } else {
        anyhow::bail!("HTTP {}", r.status().as_u16())
    }
}

/// The server refused the request's credentials (HTTP 401 or 403): the API key is missing
/// or wrong. Waiting does not fix that, so readiness stops at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("GET /v1/models: HTTP {status} (the server refused the API key)")]
pub struct Refused {
    pub status: u16,
}

/// `GET /v1/models` → its `data` list (a `Refused` error on 401/403).
pub async fn models(ep: &Endpoint, timeout: Duration) -> anyhow::Result<Vec<ModelCard>> {
    #[derive(serde::Deserialize)]
    struct List {
        data: Vec<ModelCard>,
    }
    let r = ep
        .get("/v1/models", timeout)?
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(why(&e)))?;
    if matches!(r.status().as_u16(), 401 | 403) {
        return Err(Refused {
            status: r.status().as_u16(),
        }
        .into());
    }
    if !r.status().is_success() {
        anyhow::bail!("GET /v1/models: HTTP {}", r.status().as_u16());
    }
    let text = r
        .text()
        .await
        .map_err(|e| anyhow::anyhow!("GET /v1/models: {}", why(&e)))?;
    let list: List = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("GET /v1/models: unexpected body ({e}): {}", clip(&text)))?;
    Ok(list.data)
}

/// `POST /v1/completions` with one token: proof that the engine generates. Any 2xx counts.
pub async fn complete_one(ep: &Endpoint, model: &str, timeout: Duration) -> anyhow::Result<()> {
    let body =
        serde_json::json!({"model": model, "prompt": "Hello", "max_tokens": 1, "temperature": 0.0});
    let r = ep
        .auth(client(timeout)?.post(format!("{}/v1/completions", ep.base)))
        .json(&body)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("POST /v1/completions: {}", why(&e)))?;
    let status = r.status().as_u16();
    if r.status().is_success() {
        return Ok(());
    }
    let text = r.text().await.unwrap_or_default();
    anyhow::bail!("POST /v1/completions: HTTP {status}: {}", clip(&text))
}

/// `GET /version` → `{"version": "0.33.0"}`.
pub async fn version(ep: &Endpoint, timeout: Duration) -> anyhow::Result<String> {
    let r = ep
        .get("/version", timeout)?
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(why(&e)))?;
    if !r.status().is_success() {
        anyhow::bail!("GET /version: HTTP {}", r.status().as_u16());
    }
    let v: serde_json::Value = r
        .json()
        .await
        .map_err(|e| anyhow::anyhow!("GET /version: {}", why(&e)))?;
    v.get("version")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("GET /version: no `version` field"))
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

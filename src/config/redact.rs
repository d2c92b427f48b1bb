//! Secrets: which values must never be printed, logged or saved, and how to hide them.
//! An environment value is secret when its NAME contains TOKEN, KEY, SECRET or PASSWORD (any
//! case). In argv, the value of a secret-looking flag (`--api-key X`, `--api-key=X`,
//! `--hf-token X`) is secret. `Config::redacted` and `Config::scrub` apply these rules and also
//! replace any other occurrence of a secret value found in the configuration. A `Secret`
//! (`server.api_key`) never shows its value: it serializes and debug-prints as `***`.

use serde_json::Value;

use super::Config;

/// What a hidden value is replaced with.
pub const REDACTED: &str = "***";

/// A secret value (`server.api_key`). Serialized and debug-printed as `***`, so no printed or
/// saved form of the configuration can carry it; `expose` is for the one place that hands it
/// to a process environment or an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// Whether an environment variable name marks a secret (contains TOKEN, KEY, SECRET or
/// PASSWORD, case-insensitive). Deliberately broad: over-hiding `TOKENIZERS_PARALLELISM` is
/// cheaper than leaking a token.
pub fn is_secret_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    ["TOKEN", "KEY", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| up.contains(w))
}

/// The value to show for environment variable `name`: `***` for a non-empty secret.
pub fn redact_env(name: &str, value: &str) -> String {
    if is_secret_name(name) && !value.is_empty() {
        REDACTED.to_string()
    } else {
        value.to_string()
    }
}

/// Whether a command-line flag (without its leading dashes) takes a secret value. Matched by
/// whole words so that `--tokenizer` and `--max-num-batched-tokens` stay visible while
/// `--api-key`, `--hf-token` and `--password` are hidden.
fn is_secret_flag(flag: &str) -> bool {
    let lower = flag.to_ascii_lowercase();
    lower.contains("secret")
        || lower.contains("password")
        || lower
            .split(['-', '_'])
            .any(|w| matches!(w, "key" | "token" | "apikey" | "passwd"))
}

/// argv with the values of secret flags replaced by `***` (`--api-key X` and `--api-key=X`).
pub fn redact_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for a in args {
        if hide_next {
            hide_next = false;
            // A following flag means the secret flag had no value; keep the flag visible.
            if !a.starts_with("--") {
                out.push(REDACTED.to_string());
                continue;
            }
        }
        match a.strip_prefix("--").or_else(|| a.strip_prefix('-')) {
            Some(flag) if !flag.is_empty() => match flag.split_once('=') {
                Some((name, _)) if is_secret_flag(name) => {
                    out.push(format!(
                        "{}={REDACTED}",
                        &a[..a.len() - flag.len() + name.len()]
                    ));
                }
                Some(_) => out.push(a.clone()),
                None => {
                    hide_next = is_secret_flag(flag);
                    out.push(a.clone());
                }
            },
            _ => out.push(a.clone()),
        }
    }
    out
}

/// The secret values in argv (what `redact_args` hides).
fn secret_args(args: &[String]) -> Vec<String> {
    let shown = redact_args(args);
    let mut found = Vec::new();
    for (orig, red) in args.iter().zip(&shown) {
        if orig != red {
            match (orig.split_once('='), orig.starts_with('-')) {
                (Some((_, v)), true) => found.push(v.to_string()),
                _ => found.push(orig.clone()),
            }
        }
    }
    found
}

impl Config {
    /// Every secret value this configuration holds (env values with secret names, values of
    /// secret flags in extra_args) of at least 4 characters, longest first.
    pub fn secret_values(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        if let Some(k) = &self.server.api_key {
            v.push(k.expose().to_string());
        }
        for env in [&self.server.env, &self.client.env] {
            v.extend(
                env.iter()
                    .filter(|(k, val)| is_secret_name(k) && !val.is_empty())
                    .map(|(_, val)| val.clone()),
            );
        }
        v.extend(secret_args(&self.server.extra_args));
        v.extend(secret_args(&self.client.extra_args));
        for c in &self.matrix {
            v.extend(
                c.env
                    .iter()
                    .filter(|(k, val)| is_secret_name(k) && !val.is_empty())
                    .map(|(_, val)| val.clone()),
            );
            v.extend(secret_args(c.extra_args.as_deref().unwrap_or_default()));
        }
        // Very short values (`x`) would mangle unrelated text when scrubbed as substrings; the
        // fields that hold them are still redacted by name.
        v.retain(|s| s.len() >= 4);
        // Longest first so a secret that contains another is replaced whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        v.dedup();
        v
    }

    /// `text` with every secret value of this configuration replaced by `***`: for log lines,
    /// command lines and anything else that is printed or saved.
    pub fn scrub(&self, text: &str) -> String {
        scrub_with(text, &self.secret_values())
    }

    /// The configuration as JSON with secrets redacted: secret env values, secret flag values
    /// in extra_args, and any other string that contains a secret value. Used by
    /// `vbench config` and for run records.
    pub fn redacted(&self) -> Value {
        let secrets = self.secret_values();
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        for section in ["server", "client"] {
            if let Some(Value::Object(env)) = v.pointer_mut(&format!("/{section}/env")) {
                for (k, val) in env.iter_mut() {
                    if let Value::String(s) = val {
                        *s = redact_env(k, s);
                    }
                }
            }
            if let Some(Value::Array(args)) = v.pointer_mut(&format!("/{section}/extra_args")) {
                let strings: Vec<String> = args
                    .iter()
                    .map(|a| a.as_str().unwrap_or_default().to_string())
                    .collect();
                *args = redact_args(&strings)
                    .into_iter()
                    .map(Value::String)
                    .collect();
            }
        }
        if let Some(Value::Array(list)) = v.pointer_mut("/matrix") {
            for c in list.iter_mut() {
                if let Some(Value::Object(env)) = c.get_mut("env") {
                    for (k, val) in env.iter_mut() {
                        if let Value::String(s) = val {
                            *s = redact_env(k, s);
                        }
                    }
                }
                if let Some(Value::Array(args)) = c.get_mut("extra_args") {
                    let strings: Vec<String> = args
                        .iter()
                        .map(|a| a.as_str().unwrap_or_default().to_string())
                        .collect();
                    *args = redact_args(&strings)
                        .into_iter()
                        .map(Value::String)
                        .collect();
                }
            }
        }
        scrub_value(&mut v, &secrets);
        v
    }
}

fn scrub_with(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), REDACTED);
        }
    }
    out
}

fn scrub_value(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => *s = scrub_with(s, secrets),
        Value::Array(a) => a.iter_mut().for_each(|x| scrub_value(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub_value(x, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn secret_env_names() {
        for n in [
            "HF_TOKEN",
            "hf_token",
            "OPENAI_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "apikey",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "HOME",
            "VLLM_LOGGING_LEVEL",
            "CUDA_VISIBLE_DEVICES",
            "HF_HOME",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
        assert_eq!(redact_env("HF_TOKEN", "hf_secret123"), REDACTED);
        assert_eq!(redact_env("HF_TOKEN", ""), "");
        assert_eq!(redact_env("HF_HOME", "/data/hf"), "/data/hf");
    }

    #[test]
    fn secret_flag_values_in_argv() {
        assert_eq!(
            redact_args(&s(&[
                "--api-key",
                "sk-1",
                "--port",
                "8000",
                "--api-key=sk-2",
                "--hf-token",
                "hf_x"
            ])),
            s(&[
                "--api-key",
                REDACTED,
                "--port",
                "8000",
                "--api-key=***",
                "--hf-token",
                REDACTED
            ])
        );
        // Non-secret flags that merely contain "token" keep their values.
        let plain = s(&[
            "--tokenizer",
            "/models/t",
            "--max-num-batched-tokens",
            "8192",
            "--ssl-keyfile",
            "/k.pem",
        ]);
        assert_eq!(redact_args(&plain), plain);
        // A secret flag at the end, or followed by another flag, has no value to hide.
        assert_eq!(redact_args(&s(&["--api-key"])), s(&["--api-key"]));
        assert_eq!(
            redact_args(&s(&["--api-key", "--port", "1"])),
            s(&["--api-key", "--port", "1"])
        );
        assert_eq!(redact_args(&s(&["-password=x"])), s(&["-password=***"]));
    }

    #[test]
    fn redacted_config_hides_secrets_everywhere() {
        let mut c = Config::default();
        c.server
            .env
            .insert("HF_TOKEN".into(), "hf_secret123".into());
        c.server.env.insert("HF_HOME".into(), "/hf".into());
        c.server.extra_args = s(&["--api-key", "sk-abc123", "--max-num-seqs", "64"]);
        c.client.extra_args = s(&["--header", "Authorization: Bearer sk-abc123"]);
        c.server.api_key = Some(Secret::new("vk-apikey-9876"));
        let text = serde_json::to_string(&c.redacted()).unwrap();
        assert!(!text.contains("vk-apikey-9876"), "{text}");
        assert!(text.contains("\"api_key\":\"***\""), "{text}");
        assert!(!format!("{c:?}").contains("vk-apikey-9876"));
        assert_eq!(c.scrub("key vk-apikey-9876"), "key ***");
        assert!(!text.contains("hf_secret123"), "{text}");
        assert!(!text.contains("sk-abc123"), "{text}");
        assert!(text.contains("\"HF_HOME\":\"/hf\""), "{text}");
        assert!(text.contains("--max-num-seqs"), "{text}");
        assert_eq!(
            c.scrub("vllm serve --api-key sk-abc123 (token hf_secret123)"),
            "vllm serve --api-key *** (token ***)"
        );
    }
}

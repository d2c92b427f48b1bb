//! The `matrix:` of an experiment: named combinations of server settings, each overriding
//! the `server` section for its part of the run (`crate::matrix` runs them). Also the
//! command line's `--matrix-set NAME:key=value`, which adds or changes a combination.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Config, ServerConfig};

/// The server settings a combination may override.
pub const COMBINATION_KEYS: [&str; 7] = [
    "image",
    "tensor_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "enforce_eager",
    "extra_args",
    "env",
];

/// Names a combination may not take: its results directory sits beside these.
pub const RESERVED_NAMES: [&str; 10] = [
    "matrix",
    "hosts",
    "fanout",
    "runs",
    "server",
    "logs",
    "reports",
    "production",
    "scaling",
    "custom",
];

/// One named combination. Unset fields keep the `server` section's value; `extra_args`
/// replaces the list whole (as every list in the configuration does); `env` merges key by key
/// over `server.env`, and an empty value removes the key.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Combination {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tensor_parallel_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_memory_utilization: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_model_len: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforce_eager: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Combination {
    /// `server` with this combination's settings applied.
    pub fn apply(&self, server: &mut ServerConfig) {
        if let Some(v) = &self.image {
            server.image = v.clone();
        }
        if let Some(v) = self.tensor_parallel_size {
            server.tensor_parallel_size = v;
        }
        if let Some(v) = self.gpu_memory_utilization {
            server.gpu_memory_utilization = v;
        }
        if let Some(v) = self.max_model_len {
            server.max_model_len = Some(v);
        }
        if let Some(v) = self.enforce_eager {
            server.enforce_eager = v;
        }
        if let Some(v) = &self.extra_args {
            server.extra_args = v.clone();
        }
        for (k, v) in &self.env {
            if v.is_empty() {
                server.env.remove(k);
            } else {
                server.env.insert(k.clone(), v.clone());
            }
        }
    }

    /// What the combination sets, one `key=value` each (env values redacted by name).
    pub fn settings(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(x) = &self.image {
            v.push(format!("image={x}"));
        }
        if let Some(x) = self.tensor_parallel_size {
            v.push(format!("tensor_parallel_size={x}"));
        }
        if let Some(x) = self.gpu_memory_utilization {
            v.push(format!("gpu_memory_utilization={x}"));
        }
        if let Some(x) = self.max_model_len {
            v.push(format!("max_model_len={x}"));
        }
        if let Some(x) = self.enforce_eager {
            v.push(format!("enforce_eager={x}"));
        }
        if let Some(x) = &self.extra_args {
            v.push(format!("extra_args={}", super::redact_args(x).join(" ")));
        }
        for (k, val) in &self.env {
            v.push(format!("env.{k}={}", super::redact_env(k, val)));
        }
        v
    }

    /// Set `key` (one of [`COMBINATION_KEYS`], or `env.NAME`) from its text on the command
    /// line. A list is `[a, b]` (YAML) or words separated by spaces.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let int = |what: &str| {
            value
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{what}: `{value}` is not an integer"))
        };
        match key {
            "image" => self.image = Some(value.trim().to_string()),
            "tensor_parallel_size" => {
                let n = int(key)?;
                self.tensor_parallel_size =
                    Some(u32::try_from(n).map_err(|_| format!("{key}: {n} is too large"))?);
            }
            "gpu_memory_utilization" => {
                self.gpu_memory_utilization = Some(
                    value
                        .trim()
                        .parse::<f64>()
                        .map_err(|_| format!("{key}: `{value}` is not a number"))?,
                )
            }
            "max_model_len" => self.max_model_len = Some(int(key)?),
            "enforce_eager" => {
                self.enforce_eager = Some(match value.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("{key}: `{value}` is not true or false")),
                })
            }
            "extra_args" => self.extra_args = Some(list(value)?),
            _ => match key.strip_prefix("env.") {
                Some(name) if !name.is_empty() => {
                    self.env.insert(name.to_string(), value.to_string());
                }
                _ => {
                    return Err(format!(
                        "unknown key `{key}` (valid: {}, env.NAME)",
                        COMBINATION_KEYS.join(", ")
                    ));
                }
            },
        }
        Ok(())
    }
}

/// A list as written on the command line: YAML flow (`[--max-num-seqs, "8"]`) or words.
fn list(value: &str) -> Result<Vec<String>, String> {
    let t = value.trim();
    if t.starts_with('[') {
        return serde_saphyr::from_str::<Vec<String>>(t)
            .map_err(|e| format!("extra_args: `{value}` is not a list: {e}"));
    }
    Ok(t.split_whitespace().map(str::to_string).collect())
}

/// `NAME:key=value` split into its parts.
pub fn parse_matrix_set(s: &str) -> Result<(&str, &str, &str), String> {
    let (name, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("`{s}`: expected NAME:key=value"))?;
    let (key, value) = rest
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected NAME:key=value"))?;
    Ok((name.trim(), key.trim(), value))
}

impl Config {
    /// The configuration of one combination: its settings over `server`, and no matrix of
    /// its own.
    pub fn for_combination(&self, c: &Combination) -> Config {
        let mut out = self.clone();
        c.apply(&mut out.server);
        out.matrix = vec![];
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_apply() {
        let mut c = Combination {
            name: "a".into(),
            ..Default::default()
        };
        c.set("extra_args", "--max-num-seqs 8").unwrap();
        c.set("tensor_parallel_size", "2").unwrap();
        c.set("env.HF_TOKEN", "hf_abc").unwrap();
        c.set("enforce_eager", "false").unwrap();
        assert!(c.set("bogus", "1").unwrap_err().contains("valid: image"));
        assert!(c.set("max_model_len", "x").is_err());
        assert_eq!(
            c.extra_args.as_deref(),
            Some(&["--max-num-seqs".to_string(), "8".into()][..])
        );
        c.set("extra_args", "[--a, \"b c\"]").unwrap();
        assert_eq!(c.extra_args, Some(vec!["--a".to_string(), "b c".into()]));
        let mut cfg = Config::default();
        cfg.server.env.insert("DROP".into(), "1".into());
        c.set("env.DROP", "").unwrap();
        let out = cfg.for_combination(&c);
        assert_eq!(out.server.tensor_parallel_size, 2);
        assert!(!out.server.enforce_eager);
        assert_eq!(out.server.env["HF_TOKEN"], "hf_abc");
        assert!(!out.server.env.contains_key("DROP"));
        assert!(c.settings().iter().any(|s| s == "env.HF_TOKEN=***"));
        assert_eq!(
            parse_matrix_set("x:image=a/b:1").unwrap(),
            ("x", "image", "a/b:1")
        );
        assert!(parse_matrix_set("x=1").is_err());
    }
}

//! Building the `vllm serve` command line as an argv (never a shell string from user input),
//! the launcher that runs it detached with its output in a log file, and its redacted form.
//! Pure functions, unit-tested as data.

use crate::config::ServerConfig;

/// Where the launcher writes the serve process's output inside the server container.
pub const SERVE_LOG: &str = "/tmp/vbench-serve.log";
/// The PID file of the serve process group (the Docker layer's tracked-process support).
pub const SERVE_PIDFILE: &str = "/tmp/vbench-serve.pid";
/// The redacted serve argv, JSON, so a later `up`/`status` knows what is running.
pub const SERVE_ARGS: &str = "/tmp/vbench-serve.args";
/// The last line the launcher appends when `vllm serve` ends: `<prefix><status>`.
pub const EXIT_MARKER: &str = "[vbench] vllm serve exited with status ";

/// `vllm serve <model> --tensor-parallel-size N --gpu-memory-utilization F [--enforce-eager]
/// [--max-model-len L] [--served-model-name S] [--port P] [extra args…]`.
pub fn serve_argv(s: &ServerConfig) -> Vec<String> {
    let mut v: Vec<String> = vec!["vllm".into(), "serve".into(), s.model.clone()];
    v.push("--tensor-parallel-size".into());
    v.push(s.tensor_parallel_size.to_string());
    v.push("--gpu-memory-utilization".into());
    v.push(fmt_float(s.gpu_memory_utilization));
    if s.enforce_eager {
        v.push("--enforce-eager".into());
    }
    if let Some(l) = s.max_model_len {
        v.push("--max-model-len".into());
        v.push(l.to_string());
    }
    if let Some(n) = &s.served_model_name {
        v.push("--served-model-name".into());
        v.push(n.clone());
    }
    // vLLM's default port is 8000; say it anyway so the command line is self-describing.
    v.push("--port".into());
    v.push(s.port.to_string());
    // `extra_args` may say these itself (it comes last, and argparse keeps the last value).
    if s.pipeline_parallel_size > 1
        && crate::config::pipeline_parallel_size(&s.extra_args).is_none()
    {
        v.push("--pipeline-parallel-size".into());
        v.push(s.pipeline_parallel_size.to_string());
    }
    let sets_backend = s.extra_args.iter().any(|a| {
        a.replace('_', "-")
            .starts_with("--distributed-executor-backend")
    });
    if !s.nodes.is_empty() && !sets_backend {
        v.push("--distributed-executor-backend".into());
        v.push("ray".into());
    }
    v.extend(s.extra_args.iter().cloned());
    v
}

/// `0.9` stays `0.9`, `1.0` becomes `1.0` (never `1`): the form a person would type.
fn fmt_float(f: f64) -> String {
    let s = f.to_string();
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// The argv the tracked launcher runs: a POSIX shell that starts `vllm serve` (passed as
/// `"$@"`, so nothing is re-quoted), sends its stdout+stderr to `SERVE_LOG` (truncated: one
/// start per log; the host copy keeps the history) and appends the exit status on exit.
pub fn launcher_argv(serve: &[String]) -> Vec<String> {
    let script = format!("\"$@\" >{SERVE_LOG} 2>&1; echo \"{EXIT_MARKER}$?\" >>{SERVE_LOG}");
    let mut v = vec!["sh".to_string(), "-c".to_string(), script, "sh".to_string()];
    v.extend(serve.iter().cloned());
    v
}

/// The exit status the launcher logged, if the process has ended.
pub fn logged_exit_status(lines: &[String]) -> Option<i64> {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix(EXIT_MARKER)?.trim().parse().ok())
}

/// `text` with every known secret value (≥4 characters) replaced by `***`.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |t, s| {
            t.replace(s.as_str(), crate::config::REDACTED)
        })
}

/// argv with secret flag values and any known secret value replaced by `***`.
pub fn redact(argv: &[String], secrets: &[String]) -> Vec<String> {
    crate::config::redact_args(argv)
        .into_iter()
        .map(|a| scrub(&a, secrets))
        .collect()
}

/// The API key the server will demand: `server.api_key`, else `--api-key K` /
/// `--api-key=K` in extra_args, else `VLLM_API_KEY` in the server's environment.
pub fn api_key(s: &ServerConfig) -> Option<String> {
    if let Some(k) = &s.api_key {
        return Some(k.expose().to_string());
    }
    let mut it = s.extra_args.iter();
    while let Some(a) = it.next() {
        if a == "--api-key" {
            return it.next().cloned();
        }
        if let Some(k) = a.strip_prefix("--api-key=") {
            return Some(k.to_string());
        }
    }
    s.env.get("VLLM_API_KEY").filter(|k| !k.is_empty()).cloned()
}

/// The environment `vllm serve` runs with: the configured `env`, and `VLLM_API_KEY` from
/// `server.api_key` (vLLM reads its key from there, so it is never on the command line).
pub fn serve_env(s: &ServerConfig) -> Vec<String> {
    let mut env: Vec<String> = super::spec::env_pairs(&s.env)
        .into_iter()
        .filter(|kv| s.api_key.is_none() || !kv.starts_with("VLLM_API_KEY="))
        .collect();
    if let Some(k) = &s.api_key {
        env.push(format!("VLLM_API_KEY={}", k.expose()));
    }
    env
}

/// The environment of the benchmark client's processes: the configured client `env`, and
/// `OPENAI_API_KEY` (what `vllm bench serve` sends as `Authorization: Bearer`) set to the key
/// the server demands, unless the client's `env` already sets it.
pub fn client_env(cfg: &crate::config::Config) -> Vec<String> {
    let mut env = super::spec::env_pairs(&cfg.client.env);
    if !cfg.client.env.contains_key("OPENAI_API_KEY")
        && let Some(k) = api_key(&cfg.server)
    {
        env.push(format!("OPENAI_API_KEY={k}"));
    }
    env
}

/// The model id the server will list in `/v1/models` (`--served-model-name`, else the model).
pub fn expected_model_id(s: &ServerConfig) -> String {
    s.served_model_name
        .clone()
        .unwrap_or_else(|| s.model.clone())
}

/// `sh -c <script> sh <args…>`: tools such as `tail` or `mkdir` run through the shell, which
/// finds them on PATH in real images and as busybox applets in the FROM-scratch stand-in
/// images; arguments arrive as `$1…`, never spliced into the script.
pub fn sh(script: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "sh".to_string(),
        "-c".to_string(),
        script.to_string(),
        "sh".to_string(),
    ];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Secret};

    #[test]
    fn the_api_key_goes_into_the_environments_never_the_argv() {
        let mut c = Config::default();
        c.server.api_key = Some(Secret::new("sk-env-only-77"));
        c.server
            .env
            .insert("VLLM_API_KEY".into(), "sk-env-only-77".into());
        let argv = serve_argv(&c.server);
        assert!(!argv.join(" ").contains("sk-env-only-77"), "{argv:?}");
        let env = serve_env(&c.server);
        assert_eq!(
            env.iter()
                .filter(|e| e.starts_with("VLLM_API_KEY="))
                .count(),
            1,
            "{env:?}"
        );
        assert!(env.contains(&"VLLM_API_KEY=sk-env-only-77".to_string()));
        assert!(client_env(&c).contains(&"OPENAI_API_KEY=sk-env-only-77".to_string()));
        // A key known only from the server's env still reaches the client.
        let mut c = Config::default();
        c.server
            .env
            .insert("VLLM_API_KEY".into(), "sk-legacy-1".into());
        assert!(client_env(&c).contains(&"OPENAI_API_KEY=sk-legacy-1".to_string()));
        // The client's own OPENAI_API_KEY wins; no key, no variable.
        c.client
            .env
            .insert("OPENAI_API_KEY".into(), "sk-client".into());
        let env = client_env(&c);
        assert_eq!(env, vec!["OPENAI_API_KEY=sk-client".to_string()]);
        assert!(client_env(&Config::default()).is_empty());
    }
}

//! Checks on the merged configuration (file + defaults + flags), in one place. Each error
//! names the field and, through `Ctx`, where the value came from (file:line:column, a flag,
//! or a built-in default).

use super::error::{ConfigError, Ctx};
use super::file::expectation;
use super::units::parse_duration;
use super::{Config, PRESETS};

/// Docker's rule for container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. Also used for networks
/// and sweep names so they stay safe in file names.
pub fn is_docker_name(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn err(ctx: &Ctx, path: &str, msg: impl Into<String>) -> ConfigError {
    let key = path.rsplit('.').next().unwrap_or_default();
    let key = key.split('[').next().unwrap_or_default();
    let e = ctx.error(path, msg);
    match expectation(key) {
        Some(x) => e.help(format!("expected: {x}")),
        None => e,
    }
}

fn name(ctx: &Ctx, path: &str, v: &str, what: &str) -> Result<(), ConfigError> {
    if is_docker_name(v) {
        Ok(())
    } else {
        Err(ctx
            .error(path, format!("`{v}` is not a valid {what} name"))
            .help("expected: a letter or digit, then letters, digits, `_`, `.` or `-` (at least 2 characters)"))
    }
}

fn image(ctx: &Ctx, path: &str, v: &str) -> Result<(), ConfigError> {
    if v.is_empty() || v.chars().any(char::is_whitespace) {
        return Err(ctx
            .error(path, format!("`{v}` is not an image reference"))
            .help("expected: e.g. vllm/vllm-openai:latest"));
    }
    // Docker's own grammar: a bad reference (upper case, a short digest) fails here, at its
    // line, rather than at the engine after the server was half set up.
    if let Err(why) = crate::docker::reference::ImageRef::parse(v) {
        return Err(ctx
            .error(path, format!("`{v}` is not an image reference: {why}"))
            .help("expected: e.g. vllm/vllm-openai:latest, or pinned: vllm/vllm-openai@sha256:<64 hex>"));
    }
    Ok(())
}

fn non_empty(ctx: &Ctx, path: &str, v: &str) -> Result<(), ConfigError> {
    if v.trim().is_empty() {
        Err(ctx.error(path, "must not be empty"))
    } else {
        Ok(())
    }
}

fn volumes(ctx: &Ctx, path: &str, list: &[String]) -> Result<(), ConfigError> {
    for (i, v) in list.iter().enumerate() {
        let parts: Vec<&str> = v.split(':').collect();
        let ok = (2..=3).contains(&parts.len())
            && !parts[0].is_empty()
            && parts[1].starts_with('/')
            && parts.get(2).is_none_or(|m| !m.is_empty());
        if !ok {
            return Err(err(
                ctx,
                &format!("{path}[{i}]"),
                format!("`{v}` is not a volume"),
            ));
        }
    }
    Ok(())
}

fn env(
    ctx: &Ctx,
    path: &str,
    m: &std::collections::BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for k in m.keys() {
        if k.is_empty() || k.contains('=') || k.contains(char::is_whitespace) {
            return Err(ctx.error(
                &format!("{path}.{k}"),
                format!("`{k}` is not an environment variable name"),
            ));
        }
    }
    Ok(())
}

/// `server.api_key` is the one key: another key given elsewhere (`--api-key` in extra_args,
/// `VLLM_API_KEY` or the client's `OPENAI_API_KEY` in an `env`) that differs would leave the
/// server and the client disagreeing. The messages never contain a key.
fn api_key(ctx: &Ctx, c: &Config) -> Result<(), ConfigError> {
    let Some(key) = &c.server.api_key else {
        return Ok(());
    };
    let key = key.expose();
    if c.server
        .extra_args
        .iter()
        .any(|a| a == "--api-key" || a.starts_with("--api-key="))
    {
        return Err(ctx
            .error(
                "server.api_key",
                "server.api_key and `--api-key` in server.extra_args both set a key",
            )
            .help("drop `--api-key` from server.extra_args: a key there is on vllm serve's command line, visible in the container's process list; server.api_key reaches the server through its environment"));
    }
    for (path, env, name) in [
        ("server.env", &c.server.env, "VLLM_API_KEY"),
        ("client.env", &c.client.env, "OPENAI_API_KEY"),
    ] {
        if env.get(name).is_some_and(|v| v != key) {
            return Err(ctx
                .error(
                    &format!("{path}.{name}"),
                    format!("{path}.{name} is set and differs from server.api_key"),
                )
                .help(format!(
                    "remove {path}.{name}: vbench passes server.api_key as {name} itself"
                )));
        }
    }
    Ok(())
}

/// Validate the effective configuration.
pub fn validate(c: &Config, ctx: &Ctx) -> Result<(), ConfigError> {
    let s = &c.server;
    name(ctx, "server.container", &s.container, "container")?;
    image(ctx, "server.image", &s.image)?;
    non_empty(ctx, "server.model", &s.model)?;
    if let Some(n) = &s.served_model_name {
        non_empty(ctx, "server.served_model_name", n)?;
    }
    if s.tensor_parallel_size < 1 {
        return Err(err(
            ctx,
            "server.tensor_parallel_size",
            format!("must be >= 1, got {}", s.tensor_parallel_size),
        ));
    }
    super::gpus::check_selection(s, ctx)?;
    let g = s.gpu_memory_utilization;
    if !(g > 0.0 && g <= 1.0) {
        return Err(err(
            ctx,
            "server.gpu_memory_utilization",
            format!("must be in (0, 1], got {g}"),
        ));
    }
    if s.port == 0 {
        return Err(err(ctx, "server.port", "must be 1-65535, got 0"));
    }
    if s.max_model_len == Some(0) {
        return Err(err(ctx, "server.max_model_len", "must be >= 1, got 0"));
    }
    if s.publish_port == Some(0) {
        return Err(err(ctx, "server.publish_port", "must be 1-65535, got 0"));
    }
    if s.shm_size == Some(0) {
        return Err(err(ctx, "server.shm_size", "must be > 0"));
    }
    if s.startup_timeout.is_zero() {
        return Err(err(ctx, "server.startup_timeout", "must be longer than 0s"));
    }
    env(ctx, "server.env", &s.env)?;
    api_key(ctx, c)?;
    nodes(c, ctx)?;
    volumes(ctx, "server.volumes", &s.volumes)?;

    let cl = &c.client;
    name(ctx, "client.container", &cl.container, "container")?;
    if cl.container == s.container {
        return Err(ctx.error(
            "client.container",
            format!("`{}` is also the server container's name", cl.container),
        ));
    }
    image(ctx, "client.image", &cl.image)?;
    if let Some(t) = &cl.tokenizer {
        non_empty(ctx, "client.tokenizer", t)?;
    }
    if !cl.result_dir.starts_with('/') {
        return Err(ctx.error(
            "client.result_dir",
            format!(
                "`{}` must be an absolute path inside the client container",
                cl.result_dir
            ),
        ));
    }
    env(ctx, "client.env", &cl.env)?;
    volumes(ctx, "client.volumes", &cl.volumes)?;

    name(ctx, "network", &c.network, "network")?;
    if c.results_dir.as_os_str().is_empty() {
        return Err(ctx.error("results_dir", "must not be empty"));
    }

    for (n, sw) in &c.sweeps {
        let p = format!("sweeps.{n}");
        if PRESETS.contains(&n.as_str()) {
            return Err(ctx
                .error(
                    &p,
                    format!("`{n}` is a built-in preset and cannot be redefined"),
                )
                .help("give your sweep another name"));
        }
        name(ctx, &p, n, "sweep")?;
        if sw.input_lens.is_empty() {
            return Err(err(ctx, &format!("{p}.input_lens"), "must not be empty"));
        }
        if let Some(i) = sw.input_lens.iter().position(|&l| l == 0) {
            return Err(err(ctx, &format!("{p}.input_lens[{i}]"), "must be >= 1"));
        }
        if sw.output_len == 0 {
            return Err(err(ctx, &format!("{p}.output_len"), "must be >= 1"));
        }
        if sw.concurrency.is_empty() && sw.slo.is_none() {
            return Err(err(ctx, &format!("{p}.concurrency"), "must not be empty"));
        }
        let rate_ok = sw.request_rate == "inf"
            || sw
                .request_rate
                .parse::<f64>()
                .is_ok_and(|r| r.is_finite() && r > 0.0);
        if !rate_ok {
            return Err(err(
                ctx,
                &format!("{p}.request_rate"),
                format!("`{}` is not a request rate", sw.request_rate),
            ));
        }
        if let Some(l) = &sw.layout
            && !["production", "scaling", "custom"].contains(&l.as_str())
        {
            return Err(
                err(ctx, &format!("{p}.layout"), format!("unknown layout `{l}`"))
                    .help("valid choices: production, scaling, custom"),
            );
        }
        if let Some(t) = &sw.point_timeout {
            match parse_duration(t) {
                Ok(d) if !d.is_zero() => {}
                Ok(_) => {
                    return Err(err(
                        ctx,
                        &format!("{p}.point_timeout"),
                        "must be longer than 0s",
                    ));
                }
                Err(m) => return Err(err(ctx, &format!("{p}.point_timeout"), m)),
            }
        }
    }

    if c.run.sweeps.is_empty() {
        return Err(ctx
            .error("run.sweeps", "must name at least one sweep")
            .help(format!("presets: {}", PRESETS.join(", "))));
    }
    for (i, n) in c.run.sweeps.iter().enumerate() {
        if !PRESETS.contains(&n.as_str()) && !c.sweeps.contains_key(n) {
            let mut known: Vec<&str> = PRESETS.to_vec();
            known.extend(c.sweeps.keys().map(String::as_str));
            let mut e = ctx
                .error(&format!("run.sweeps[{i}]"), format!("unknown sweep `{n}`"))
                .help(format!("valid choices: {}", known.join(", ")));
            if let Some(s) = super::error::suggest(n, &known) {
                e = e.help(format!("did you mean `{s}`?"));
            }
            return Err(e);
        }
    }
    if c.run.point_timeout.is_zero() {
        return Err(err(ctx, "run.point_timeout", "must be longer than 0s"));
    }
    matrix(c, ctx)?;
    hosts(c, ctx)
}

/// `hosts:`: unique names safe as directory names, addresses bollard can connect to, TLS
/// only over tcp, valid container names.
fn hosts(c: &Config, ctx: &Ctx) -> Result<(), ConfigError> {
    for (i, h) in c.hosts.iter().enumerate() {
        let p = format!("hosts[{i}]");
        name(ctx, &format!("{p}.name"), &h.name, "host")?;
        if let Some(j) = c.hosts[..i].iter().position(|o| o.name == h.name) {
            return Err(ctx.error(
                &format!("{p}.name"),
                format!("`{}` also names hosts[{j}]", h.name),
            ));
        }
        let addr = &h.docker_host;
        if !super::HOST_SCHEMES.iter().any(|s| addr.starts_with(s)) {
            return Err(err(
                ctx,
                &format!("{p}.docker_host"),
                format!("`{addr}` is not a Docker Engine address"),
            ));
        }
        let tcp = ["tcp://", "https://"].iter().any(|s| addr.starts_with(s));
        if h.tls_cert_path.is_some() && !tcp {
            return Err(ctx
                .error(
                    &format!("{p}.tls_cert_path"),
                    format!("TLS certificates apply to tcp:// addresses, not `{addr}`"),
                )
                .help("remove tls_cert_path, or give a tcp://HOST:2376 address"));
        }
        if let Some(n) = &h.server_container {
            name(ctx, &format!("{p}.server_container"), n, "container")?;
        }
        if let Some(n) = &h.client_container {
            name(ctx, &format!("{p}.client_container"), n, "container")?;
        }
    }
    Ok(())
}

/// The combinations: unique names that are safe as directory names (and not those of the
/// results directory's own entries), and values the `server` section would accept.
/// A multi-node server: two nodes or more, each a distinct `hosts:` entry; the head's Ray and
/// server ports differ (host networking puts both on the head machine).
fn nodes(c: &Config, ctx: &Ctx) -> Result<(), ConfigError> {
    let s = &c.server;
    if s.nodes.is_empty() {
        return Ok(());
    }
    if s.nodes.len() < 2 {
        return Err(err(
            ctx,
            "server.nodes",
            "a multi-node server needs at least two nodes (one node: leave server.nodes empty)",
        ));
    }
    for (i, n) in s.nodes.iter().enumerate() {
        let p = format!("server.nodes[{i}]");
        if s.nodes[..i].contains(n) {
            return Err(err(ctx, &p, format!("`{n}` is listed twice")));
        }
        if c.host(n).is_none() {
            return Err(err(
                ctx,
                &p,
                format!("`{n}` is not a host: every node must be a name from hosts:"),
            ));
        }
    }
    if s.ray_port == s.port {
        return Err(err(
            ctx,
            "server.ray_port",
            format!(
                "{} is also server.port: with host networking both listen on the head's machine",
                s.ray_port
            ),
        ));
    }
    if s.nodes_timeout.is_zero() {
        return Err(err(ctx, "server.nodes_timeout", "must be longer than 0s"));
    }
    if !c.matrix.is_empty() {
        return Err(err(
            ctx,
            "server.nodes",
            "a multi-node server cannot be combined with matrix: yet",
        ));
    }
    Ok(())
}

fn matrix(c: &Config, ctx: &Ctx) -> Result<(), ConfigError> {
    for (i, m) in c.matrix.iter().enumerate() {
        let p = format!("matrix[{i}]");
        name(ctx, &format!("{p}.name"), &m.name, "combination")?;
        let taken = super::RESERVED_NAMES.contains(&m.name.as_str())
            || c.sweeps.contains_key(&m.name)
            || PRESETS.contains(&m.name.as_str())
            || m.name == "demo";
        if taken {
            return Err(ctx
                .error(
                    &format!("{p}.name"),
                    format!(
                        "`{}` cannot name a combination: its results directory would mix with the results directory's own `{}`",
                        m.name, m.name
                    ),
                )
                .help(format!(
                    "reserved: {}, and every sweep name",
                    super::RESERVED_NAMES.join(", ")
                )));
        }
        if let Some(j) = c.matrix[..i].iter().position(|o| o.name == m.name) {
            return Err(ctx.error(
                &format!("{p}.name"),
                format!("`{}` also names matrix[{j}]", m.name),
            ));
        }
        if let Some(v) = &m.image {
            image(ctx, &format!("{p}.image"), v)?;
        }
        if m.tensor_parallel_size == Some(0) {
            return Err(err(
                ctx,
                &format!("{p}.tensor_parallel_size"),
                "must be >= 1, got 0",
            ));
        }
        if let Some(g) = m.gpu_memory_utilization
            && !(g > 0.0 && g <= 1.0)
        {
            return Err(err(
                ctx,
                &format!("{p}.gpu_memory_utilization"),
                format!("must be in (0, 1], got {g}"),
            ));
        }
        if m.max_model_len == Some(0) {
            return Err(err(
                ctx,
                &format!("{p}.max_model_len"),
                "must be >= 1, got 0",
            ));
        }
        env(ctx, &format!("{p}.env"), &m.env)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names() {
        for ok in ["vllm-server", "a1", "x_y.z-0"] {
            assert!(is_docker_name(ok), "{ok}");
        }
        for bad in ["", "a", "-x", "has space", "a/b", "_x", "ümlaut"] {
            assert!(!is_docker_name(bad), "{bad}");
        }
    }

    #[test]
    fn defaults_are_valid() {
        validate(&Config::default(), &Ctx::default()).unwrap();
    }

    fn load(yaml: &str, key: Option<&str>) -> Result<Config, crate::config::ConfigError> {
        let key = key.map(str::to_string);
        let lookup = move |n: &str| match n {
            "VLLM_API_KEY" => key.clone(),
            "HOME" => Some("/h".into()),
            _ => None,
        };
        crate::config::from_text(yaml.into(), None, &Default::default(), Some(&lookup))
    }

    #[test]
    fn nodes_must_be_two_distinct_hosts_with_their_own_ray_port() {
        let hosts = "hosts:\n  - name: na\n    docker_host: unix:///a.sock\n  - name: nb\n    docker_host: tcp://10.0.0.2:2375\n";
        let ok = load(
            &format!("{hosts}server:\n  nodes: [na, nb]\n  pipeline_parallel_size: 2\n"),
            None,
        )
        .unwrap();
        assert_eq!(ok.server.nodes, ["na", "nb"]);
        assert_eq!(ok.server.pipeline_parallel_size, 2);
        for (server, path, words) in [
            ("  nodes: [na]\n", "server.nodes", "at least two"),
            (
                "  nodes: [na, nc]\n",
                "server.nodes[1]",
                "`nc` is not a host",
            ),
            ("  nodes: [na, na]\n", "server.nodes[1]", "listed twice"),
            (
                "  nodes: [na, nb]\n  ray_port: 8000\n",
                "server.ray_port",
                "also server.port",
            ),
        ] {
            let e = load(&format!("{hosts}server:\n{server}"), None).unwrap_err();
            assert_eq!(e.field, path, "{e}");
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn api_key_expands_and_conflicting_keys_are_refused_without_showing_them() {
        let c = load(
            "server:\n  api_key: ${VLLM_API_KEY}\n",
            Some("sk-test-5150"),
        )
        .unwrap();
        assert_eq!(
            c.server.api_key.as_ref().map(|k| k.expose()),
            Some("sk-test-5150")
        );
        // Unset with a default, or empty: no key.
        let c = load("server:\n  api_key: ${VLLM_API_KEY:-}\n", None).unwrap();
        assert_eq!(c.server.api_key, None);
        assert!(load("server:\n  api_key: ${VLLM_API_KEY}\n", None).is_err());
        // The same key given again as the server's or client's env is fine; another is not.
        let same =
            "server:\n  api_key: ${VLLM_API_KEY}\n  env:\n    VLLM_API_KEY: ${VLLM_API_KEY}\n";
        load(same, Some("sk-test-5150")).unwrap();
        for (yaml, field) in [
            (
                "server:\n  api_key: ${VLLM_API_KEY}\n  env:\n    VLLM_API_KEY: other-key-1\n",
                "server.env.VLLM_API_KEY",
            ),
            (
                "server:\n  api_key: ${VLLM_API_KEY}\nclient:\n  env:\n    OPENAI_API_KEY: other-key-1\n",
                "client.env.OPENAI_API_KEY",
            ),
            (
                "server:\n  api_key: ${VLLM_API_KEY}\n  extra_args: [\"--api-key=other-key-1\"]\n",
                "server.api_key",
            ),
        ] {
            let e = load(yaml, Some("sk-test-5150")).unwrap_err();
            let text = format!("{e}");
            assert!(text.contains(field), "{text}");
            assert!(!text.contains("sk-test-5150"), "{text}");
        }
    }
}

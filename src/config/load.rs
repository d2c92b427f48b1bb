//! Building the effective `Config`: find the file, parse it (`file`), merge its values over
//! the built-in defaults expanding `${VAR}` as each value is read, expand the defaults that
//! the file did not replace, apply command-line overrides (not expanded: the shell already
//! did), drop empty env values, then validate (`validate`). Maps replace key by key (`env`,
//! `sweeps`); lists (`volumes`, `extra_args`, `input_lens`, …) replace whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_saphyr::Spanned;

use super::error::{ConfigError, Ctx, Origin};
use super::expand::expand;
use super::file::{
    self, RawClient, RawCombination, RawConfig, RawHost, RawRun, RawServer, RawSlo, RawSweep,
    expectation, origin,
};
use super::gpus::{self, GpuSelection, RawGpus, parse_gpus};
use super::units::{parse_duration, parse_size, parse_token_count};
use super::{
    Combination, Config, GpuMode, HostConfig, Overrides, PullPolicy, SloBy, SloConfig, SweepConfig,
    validate,
};

/// The environment lookup used for `${VAR}`; `None` leaves values unexpanded.
pub type Lookup<'a> = Option<&'a dyn Fn(&str) -> Option<String>>;

/// The file to read: `explicit` (must exist), else `./vbench.yaml` in `cwd` if present.
pub fn locate(explicit: Option<&Path>, cwd: &Path) -> Result<Option<PathBuf>, ConfigError> {
    let missing = |p: &Path, why: String| {
        ConfigError::new(
            Some(p.to_path_buf()),
            Origin::Flag("--config"),
            "",
            format!("cannot use configuration file {}: {why}", p.display()),
        )
        .help("run `vbench init` to write a commented default file")
    };
    match explicit {
        Some(p) => match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Ok(Some(p.to_path_buf())),
            Ok(_) => Err(missing(p, "not a regular file".into())),
            Err(e) => Err(missing(p, e.to_string())),
        },
        None => {
            let p = cwd.join("vbench.yaml");
            Ok(p.is_file().then_some(p))
        }
    }
}

/// Load from an optional file with the given overrides and environment lookup.
pub fn load_file(
    path: Option<&Path>,
    overrides: &Overrides,
    lookup: Lookup<'_>,
) -> Result<Config, ConfigError> {
    let (text, file) = match path {
        Some(p) => {
            let fail =
                |msg: String| ConfigError::new(Some(p.to_path_buf()), Origin::Default, "", msg);
            let bytes = std::fs::read(p).map_err(|e| fail(format!("cannot read: {e}")))?;
            let text = String::from_utf8(bytes).map_err(|e| {
                fail(format!(
                    "not UTF-8 text (byte {})",
                    e.utf8_error().valid_up_to()
                ))
            })?;
            (text, Some(p.to_path_buf()))
        }
        None => (String::new(), None),
    };
    let source = file
        .as_ref()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
    let mut cfg = from_text(text, file, overrides, lookup)?;
    cfg.source = source;
    Ok(cfg)
}

/// Parse, merge, expand, override and validate one YAML text (`file` names it in errors).
pub fn from_text(
    text: String,
    file: Option<PathBuf>,
    overrides: &Overrides,
    lookup: Lookup<'_>,
) -> Result<Config, ConfigError> {
    let mut m = Merger {
        ctx: Ctx {
            file,
            text,
            ..Default::default()
        },
        lookup,
    };
    let raw = file::parse(&m.ctx)?;
    let mut cfg = Config::default();
    m.merge(&mut cfg, raw)?;
    m.expand_defaults(&mut cfg)?;
    m.apply_overrides(&mut cfg, overrides)?;
    if lookup.is_some() {
        // `HF_TOKEN: ${HF_TOKEN:-}` passes the token only when it is set.
        cfg.server.env.retain(|_, v| !v.is_empty());
        cfg.client.env.retain(|_, v| !v.is_empty());
    }
    validate::validate(&cfg, &m.ctx)?;
    cfg.provenance = super::Provenance::new(m.ctx);
    Ok(cfg)
}

struct Merger<'a> {
    ctx: Ctx,
    lookup: Lookup<'a>,
}

impl Merger<'_> {
    fn expand(&self, path: &str, s: &str) -> Result<String, ConfigError> {
        match self.lookup {
            None => Ok(s.to_string()),
            Some(f) => expand(s, f).map_err(|e| self.ctx.error(path, e.to_string())),
        }
    }

    fn text(&mut self, path: &str, v: Spanned<String>) -> Result<String, ConfigError> {
        self.ctx.set_origin(path, origin(&v));
        self.expand(path, &v.value)
    }

    fn list(
        &mut self,
        path: &str,
        v: Spanned<Vec<Spanned<String>>>,
    ) -> Result<Vec<String>, ConfigError> {
        self.ctx.set_origin(path, origin(&v));
        v.value
            .into_iter()
            .enumerate()
            .map(|(i, item)| self.text(&format!("{path}[{i}]"), item))
            .collect()
    }

    fn env(
        &mut self,
        path: &str,
        into: &mut BTreeMap<String, String>,
        m: BTreeMap<String, Spanned<String>>,
    ) -> Result<(), ConfigError> {
        for (k, v) in m {
            let val = self.text(&format!("{path}.{k}"), v)?;
            into.insert(k, val);
        }
        Ok(())
    }

    /// An integer within `[min, max]`.
    fn int(&mut self, path: &str, v: Spanned<i64>, min: i64, max: i64) -> Result<i64, ConfigError> {
        self.ctx.set_origin(path, origin(&v));
        if v.value < min || v.value > max {
            let key = path.rsplit('.').next().unwrap_or_default();
            let mut e = self
                .ctx
                .error(path, format!("{} is out of range ({min}..={max})", v.value));
            if let Some(x) = expectation(key) {
                e = e.help(format!("expected: {x}"));
            }
            return Err(e);
        }
        Ok(v.value)
    }

    /// A string value parsed by `parse` (units), after expansion.
    fn unit<T>(
        &mut self,
        path: &str,
        v: Spanned<String>,
        parse: fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let s = self.text(path, v)?;
        parse(&s).map_err(|msg| self.ctx.error(path, msg))
    }

    fn merge(&mut self, cfg: &mut Config, raw: RawConfig) -> Result<(), ConfigError> {
        if let Some(s) = raw.server {
            self.server(cfg, s)?;
        }
        if let Some(c) = raw.client {
            self.client(cfg, c)?;
        }
        if let Some(v) = raw.network {
            cfg.network = self.text("network", v)?;
        }
        if let Some(v) = raw.results_dir {
            cfg.results_dir = PathBuf::from(self.text("results_dir", v)?);
        }
        if let Some(v) = raw.pull {
            let p = self.text("pull", v)?;
            cfg.pull = PullPolicy::parse(&p).ok_or_else(|| {
                self.ctx
                    .error("pull", format!("unknown pull policy `{p}`"))
                    .help("valid choices: missing, always, never")
            })?;
        }
        for (name, sweep) in raw.sweeps.unwrap_or_default() {
            let path = format!("sweeps.{name}");
            self.ctx.set_origin(&path, origin(&sweep));
            let s = self.sweep(&path, sweep.value)?;
            cfg.sweeps.insert(name, s);
        }
        if let Some(r) = raw.run {
            self.run(cfg, r)?;
        }
        if let Some(m) = raw.matrix {
            self.matrix(cfg, m)?;
        }
        if let Some(h) = raw.hosts {
            self.hosts(cfg, h)?;
        }
        Ok(())
    }

    fn server(&mut self, cfg: &mut Config, s: RawServer) -> Result<(), ConfigError> {
        let c = &mut cfg.server;
        if let Some(v) = s.container {
            c.container = self.text("server.container", v)?;
        }
        if let Some(v) = s.image {
            c.image = self.text("server.image", v)?;
        }
        if let Some(v) = s.model {
            c.model = self.text("server.model", v)?;
        }
        if let Some(v) = s.served_model_name {
            c.served_model_name = Some(self.text("server.served_model_name", v)?);
        }
        if let Some(v) = s.tensor_parallel_size {
            c.tensor_parallel_size =
                self.int("server.tensor_parallel_size", v, 1, u32::MAX.into())? as u32;
        }
        if let Some(v) = s.gpu_memory_utilization {
            self.ctx
                .set_origin("server.gpu_memory_utilization", origin(&v));
            c.gpu_memory_utilization = v.value;
        }
        if let Some(v) = s.enforce_eager {
            self.ctx.set_origin("server.enforce_eager", origin(&v));
            c.enforce_eager = v.value;
        }
        if let Some(v) = s.port {
            c.port = self.int("server.port", v, 1, 65535)? as u16;
        }
        if let Some(v) = s.max_model_len {
            c.max_model_len = Some(self.int("server.max_model_len", v, 1, i64::MAX)? as u64);
        }
        if let Some(v) = s.extra_args {
            c.extra_args = self.list("server.extra_args", v)?;
        }
        if let Some(m) = s.env {
            let mut env = std::mem::take(&mut cfg.server.env);
            self.env("server.env", &mut env, m)?;
            cfg.server.env = env;
        }
        let c = &mut cfg.server;
        if let Some(v) = s.volumes {
            c.volumes = self.list("server.volumes", v)?;
        }
        if let Some(v) = s.gpu {
            let g = self.text("server.gpu", v)?;
            c.gpu = parse_gpu(&g).ok_or_else(|| {
                self.ctx
                    .error("server.gpu", format!("unknown GPU mode `{g}`"))
                    .help("valid choices: auto, nvidia, amd, none")
            })?;
        }
        if let Some(v) = s.gpus {
            c.gpus = self.gpus(v)?;
        }
        if let Some(v) = s.shm_size {
            c.shm_size = Some(self.unit("server.shm_size", v, parse_size)?);
        }
        if let Some(v) = s.startup_timeout {
            c.startup_timeout = self.unit("server.startup_timeout", v, parse_duration)?;
        }
        if let Some(v) = s.publish_port {
            c.publish_port = Some(self.int("server.publish_port", v, 1, 65535)? as u16);
        }
        if let Some(v) = s.api_key {
            // `${VLLM_API_KEY:-}` unset: no key (the server then demands none).
            let key = self.text("server.api_key", v)?;
            c.api_key = (!key.is_empty()).then(|| super::Secret::new(key));
        }
        if let Some(v) = s.pipeline_parallel_size {
            c.pipeline_parallel_size =
                self.int("server.pipeline_parallel_size", v, 1, u32::MAX.into())? as u32;
        }
        if let Some(v) = s.nodes {
            c.nodes = self.list("server.nodes", v)?;
        }
        if let Some(v) = s.ray_port {
            c.ray_port = self.int("server.ray_port", v, 1, 65535)? as u16;
        }
        if let Some(v) = s.nodes_timeout {
            c.nodes_timeout = self.unit("server.nodes_timeout", v, parse_duration)?;
        }
        Ok(())
    }

    /// `hosts:`: each with a name and an address (checked in `validate`).
    fn hosts(
        &mut self,
        cfg: &mut Config,
        list: Spanned<Vec<Spanned<RawHost>>>,
    ) -> Result<(), ConfigError> {
        self.ctx.set_origin("hosts", origin(&list));
        for (i, item) in list.value.into_iter().enumerate() {
            let p = format!("hosts[{i}]");
            self.ctx.set_origin(&p, origin(&item));
            let r = item.value;
            let need = |ctx: &Ctx, key: &str| {
                ctx.error(&p, format!("a host has no `{key}`")).help(
                    "each hosts entry is `- name: NAME` with `docker_host: unix:///var/run/docker.sock` (or tcp://HOST:PORT, ssh://user@host)",
                )
            };
            let name = r.name.ok_or_else(|| need(&self.ctx, "name"))?;
            let addr = r
                .docker_host
                .ok_or_else(|| need(&self.ctx, "docker_host"))?;
            let mut h = HostConfig {
                name: self.text(&format!("{p}.name"), name)?,
                docker_host: self.text(&format!("{p}.docker_host"), addr)?,
                tls_cert_path: None,
                gpu: None,
                gpus: None,
                server_container: None,
                client_container: None,
                publish_port: None,
            };
            if let Some(v) = r.tls_cert_path {
                h.tls_cert_path = Some(PathBuf::from(self.text(&format!("{p}.tls_cert_path"), v)?));
            }
            if let Some(v) = r.gpu {
                let path = format!("{p}.gpu");
                let g = self.text(&path, v)?;
                h.gpu = Some(parse_gpu(&g).ok_or_else(|| {
                    self.ctx
                        .error(&path, format!("unknown GPU mode `{g}`"))
                        .help("valid choices: auto, nvidia, amd, none")
                })?);
            }
            if let Some(v) = r.gpus {
                h.gpus = Some(self.gpus_at(&format!("{p}.gpus"), v)?);
            }
            if let Some(v) = r.server_container {
                h.server_container = Some(self.text(&format!("{p}.server_container"), v)?);
            }
            if let Some(v) = r.client_container {
                h.client_container = Some(self.text(&format!("{p}.client_container"), v)?);
            }
            if let Some(v) = r.publish_port {
                h.publish_port = Some(self.int(&format!("{p}.publish_port"), v, 1, 65535)? as u16);
            }
            cfg.hosts.push(h);
        }
        Ok(())
    }

    /// `server.gpus`: a count, a list, or text (`all`, `4,5,6,7`, `${GPUS:-all}`, expanded).
    fn gpus(&mut self, v: Spanned<RawGpus>) -> Result<GpuSelection, ConfigError> {
        self.gpus_at("server.gpus", v)
    }

    /// A GPU selection at `path` (`server.gpus`, `hosts[i].gpus`).
    fn gpus_at(&mut self, path: &str, v: Spanned<RawGpus>) -> Result<GpuSelection, ConfigError> {
        self.ctx.set_origin(path, origin(&v));
        let parsed = match v.value {
            RawGpus::Count(n) => gpus::count(n),
            RawGpus::List(ids) => gpus::list(&ids),
            RawGpus::Text(t) => parse_gpus(&self.expand(path, &t)?),
        };
        parsed.map_err(|m| {
            self.ctx
                .error(path, m)
                .help(format!("expected: {}", gpus::GPUS_EXPECTED))
        })
    }

    fn client(&mut self, cfg: &mut Config, s: RawClient) -> Result<(), ConfigError> {
        if let Some(v) = s.container {
            cfg.client.container = self.text("client.container", v)?;
        }
        if let Some(v) = s.image {
            cfg.client.image = self.text("client.image", v)?;
        }
        if let Some(v) = s.tokenizer {
            cfg.client.tokenizer = Some(self.text("client.tokenizer", v)?);
        }
        if let Some(v) = s.result_dir {
            cfg.client.result_dir = self.text("client.result_dir", v)?;
        }
        if let Some(m) = s.env {
            let mut env = std::mem::take(&mut cfg.client.env);
            self.env("client.env", &mut env, m)?;
            cfg.client.env = env;
        }
        if let Some(v) = s.volumes {
            cfg.client.volumes = self.list("client.volumes", v)?;
        }
        if let Some(v) = s.extra_args {
            cfg.client.extra_args = self.list("client.extra_args", v)?;
        }
        Ok(())
    }

    fn sweep(&mut self, path: &str, s: RawSweep) -> Result<SweepConfig, ConfigError> {
        fn need(ctx: &super::error::Ctx, path: &str, what: &str) -> ConfigError {
            ctx.error(path, format!("sweep has no `{what}`"))
                .help("a sweep needs input_lens, output_len and concurrency (or an `slo:` search instead of concurrency)")
        }
        let lens = s
            .input_lens
            .ok_or_else(|| need(&self.ctx, path, "input_lens"))?;
        let out = s
            .output_len
            .ok_or_else(|| need(&self.ctx, path, "output_len"))?;
        let slo = match s.slo {
            Some(v) => {
                let sp = format!("{path}.slo");
                self.ctx.set_origin(&sp, origin(&v));
                Some(self.slo(&sp, v.value)?)
            }
            None => None,
        };
        let conc = match (&slo, s.concurrency) {
            (None, c) => Some(c.ok_or_else(|| need(&self.ctx, path, "concurrency"))?),
            (Some(_), Some(c)) => {
                let cp = format!("{path}.concurrency");
                self.ctx.set_origin(&cp, origin(&c));
                return Err(self
                    .ctx
                    .error(&cp, "an `slo:` sweep searches its levels itself")
                    .help("remove `concurrency`, or set the search's bounds with slo.start and slo.max"));
            }
            (Some(_), None) => None,
        };
        let lp = format!("{path}.input_lens");
        self.ctx.set_origin(&lp, origin(&lens));
        let mut input_lens = Vec::new();
        for (i, l) in lens.value.into_iter().enumerate() {
            input_lens.push(self.unit(&format!("{lp}[{i}]"), l, parse_token_count)?);
        }
        let output_len = self.unit(&format!("{path}.output_len"), out, parse_token_count)?;
        let mut concurrency = Vec::new();
        if let Some(conc) = conc {
            let cp = format!("{path}.concurrency");
            self.ctx.set_origin(&cp, origin(&conc));
            for (i, c) in conc.value.into_iter().enumerate() {
                concurrency.push(self.int(&format!("{cp}[{i}]"), c, 1, i64::MAX)? as u64);
            }
        }
        let mut sc = SweepConfig {
            input_lens,
            output_len,
            concurrency,
            // An SLO level is judged under sustained load: several waves, not one burst.
            prompts_per_concurrency: if slo.is_some() {
                super::slo::DEFAULT_PROMPTS_PER_CONCURRENCY
            } else {
                1
            },
            num_prompts: None,
            request_rate: "inf".into(),
            warmups: 0,
            layout: None,
            point_timeout: None,
            repeats: 1,
            slo,
        };
        if let Some(v) = s.prompts_per_concurrency {
            sc.prompts_per_concurrency =
                self.int(&format!("{path}.prompts_per_concurrency"), v, 1, i64::MAX)? as u64;
        }
        if let Some(v) = s.num_prompts {
            sc.num_prompts = Some(self.int(&format!("{path}.num_prompts"), v, 1, i64::MAX)? as u64);
        }
        if let Some(v) = s.request_rate {
            sc.request_rate = self.text(&format!("{path}.request_rate"), v)?;
        }
        if let Some(v) = s.warmups {
            sc.warmups = self.int(&format!("{path}.warmups"), v, 0, i64::MAX)? as u64;
        }
        if let Some(v) = s.layout {
            sc.layout = Some(self.text(&format!("{path}.layout"), v)?);
        }
        if let Some(v) = s.point_timeout {
            sc.point_timeout = Some(self.text(&format!("{path}.point_timeout"), v)?);
        }
        if let Some(v) = s.repeats {
            sc.repeats = self.int(&format!("{path}.repeats"), v, 1, 1000)? as u32;
        }
        Ok(sc)
    }

    /// `sweeps.<name>.slo`: the limits and the search's bounds, checked together.
    fn slo(&mut self, path: &str, r: RawSlo) -> Result<SloConfig, ConfigError> {
        let mut s = SloConfig::default();
        let ms = |m: &mut Self, key: &str, v: Spanned<String>| -> Result<u64, ConfigError> {
            let d = m.unit(&format!("{path}.{key}"), v, parse_duration)?;
            Ok(d.as_millis() as u64)
        };
        if let Some(v) = r.ttft_p99 {
            s.ttft_p99 = Some(ms(self, "ttft_p99", v)?);
        }
        if let Some(v) = r.tpot_p99 {
            s.tpot_p99 = Some(ms(self, "tpot_p99", v)?);
        }
        if let Some(v) = r.e2el_p99 {
            s.e2el_p99 = Some(ms(self, "e2el_p99", v)?);
        }
        if let Some(v) = r.by {
            let p = format!("{path}.by");
            let b = self.text(&p, v)?;
            s.by = SloBy::parse(&b).ok_or_else(|| {
                self.ctx
                    .error(&p, format!("unknown search `{b}`"))
                    .help("valid choices: concurrency, rate")
            })?;
        }
        for (key, v, slot) in [
            ("start", r.start, &mut s.start),
            ("max", r.max, &mut s.max),
            ("precision", r.precision, &mut s.precision),
        ] {
            if let Some(v) = v {
                self.ctx.set_origin(&format!("{path}.{key}"), origin(&v));
                *slot = v.value;
            }
        }
        if let Some(v) = r.max_points {
            s.max_points = self.int(&format!("{path}.max_points"), v, 2, 1000)? as u32;
        }
        if let Some(v) = r.boundary_repeats {
            s.boundary_repeats = self.int(&format!("{path}.boundary_repeats"), v, 1, 50)? as u32;
        }
        s.check().map_err(|(key, why)| {
            let p = if key == "slo" {
                path.to_string()
            } else {
                format!("{path}.{key}")
            };
            let mut e = self.ctx.error(&p, why);
            if let Some(x) = expectation(key) {
                e = e.help(format!("expected: {x}"));
            }
            e
        })?;
        Ok(s)
    }

    /// `matrix:`: the combinations in order, each with a name (checked in `validate`).
    fn matrix(
        &mut self,
        cfg: &mut Config,
        list: Spanned<Vec<Spanned<RawCombination>>>,
    ) -> Result<(), ConfigError> {
        self.ctx.set_origin("matrix", origin(&list));
        for (i, item) in list.value.into_iter().enumerate() {
            let p = format!("matrix[{i}]");
            self.ctx.set_origin(&p, origin(&item));
            let r = item.value;
            let name = r.name.ok_or_else(|| {
                self.ctx
                    .error(&p, "a combination has no `name`")
                    .help("each matrix entry is `- name: NAME` followed by the server settings it changes")
            })?;
            let mut c = Combination {
                name: self.text(&format!("{p}.name"), name)?,
                ..Default::default()
            };
            if let Some(v) = r.image {
                c.image = Some(self.text(&format!("{p}.image"), v)?);
            }
            if let Some(v) = r.tensor_parallel_size {
                c.tensor_parallel_size =
                    Some(
                        self.int(&format!("{p}.tensor_parallel_size"), v, 1, u32::MAX.into())?
                            as u32,
                    );
            }
            if let Some(v) = r.gpu_memory_utilization {
                self.ctx
                    .set_origin(&format!("{p}.gpu_memory_utilization"), origin(&v));
                c.gpu_memory_utilization = Some(v.value);
            }
            if let Some(v) = r.max_model_len {
                c.max_model_len =
                    Some(self.int(&format!("{p}.max_model_len"), v, 1, i64::MAX)? as u64);
            }
            if let Some(v) = r.enforce_eager {
                self.ctx
                    .set_origin(&format!("{p}.enforce_eager"), origin(&v));
                c.enforce_eager = Some(v.value);
            }
            if let Some(v) = r.extra_args {
                c.extra_args = Some(self.list(&format!("{p}.extra_args"), v)?);
            }
            if let Some(m) = r.env {
                self.env(&format!("{p}.env"), &mut c.env, m)?;
            }
            cfg.matrix.push(c);
        }
        Ok(())
    }

    fn run(&mut self, cfg: &mut Config, r: RawRun) -> Result<(), ConfigError> {
        if let Some(v) = r.sweeps {
            cfg.run.sweeps = self.list("run.sweeps", v)?;
        }
        if let Some(v) = r.seed {
            cfg.run.seed = self.int("run.seed", v, 0, i64::MAX)? as u64;
        }
        if let Some(v) = r.point_timeout {
            cfg.run.point_timeout = self.unit("run.point_timeout", v, parse_duration)?;
        }
        if let Some(v) = r.client_mode {
            let m = self.text("run.client_mode", v)?;
            cfg.run.client_mode = super::ClientMode::parse(&m).ok_or_else(|| {
                self.ctx
                    .error("run.client_mode", format!("unknown client mode `{m}`"))
                    .help("valid choices: auto, worker, process")
            })?;
        }
        Ok(())
    }

    /// Expand `${VAR}` in values that are still built-in defaults (file values were expanded
    /// when read; expanding twice would undo `$$`).
    fn expand_defaults(&self, cfg: &mut Config) -> Result<(), ConfigError> {
        if self.lookup.is_none() {
            return Ok(());
        }
        let mut result = Ok(());
        for_each_string(cfg, &mut |path, s| {
            if result.is_ok() && s.contains('$') && self.ctx.origin_of(path) == Origin::Default {
                match self.expand(path, s) {
                    Ok(v) => *s = v,
                    Err(e) => result = Err(e),
                }
            }
        });
        result
    }

    fn apply_overrides(&mut self, cfg: &mut Config, o: &Overrides) -> Result<(), ConfigError> {
        let mut flag =
            |path: &str, name: &'static str| self.ctx.set_origin(path, Origin::Flag(name));
        if let Some(v) = &o.model {
            flag("server.model", "--model");
            cfg.server.model = v.clone();
        }
        if let Some(v) = o.tensor_parallel_size {
            flag("server.tensor_parallel_size", "--tp");
            cfg.server.tensor_parallel_size = v;
        }
        if let Some(v) = o.gpu_memory_utilization {
            flag("server.gpu_memory_utilization", "--gpu-memory-utilization");
            cfg.server.gpu_memory_utilization = v;
        }
        if let Some(v) = o.max_model_len {
            flag("server.max_model_len", "--max-model-len");
            cfg.server.max_model_len = Some(v);
        }
        if let Some(v) = o.enforce_eager {
            flag("server.enforce_eager", "--enforce-eager");
            cfg.server.enforce_eager = v;
        }
        if let Some(v) = &o.server_image {
            flag("server.image", "--server-image");
            cfg.server.image = v.clone();
        }
        if let Some(v) = &o.client_image {
            flag("client.image", "--client-image");
            cfg.client.image = v.clone();
        }
        if let Some(v) = &o.server_container {
            flag("server.container", "--server-container");
            cfg.server.container = v.clone();
        }
        if let Some(v) = &o.client_container {
            flag("client.container", "--client-container");
            cfg.client.container = v.clone();
        }
        if let Some(v) = &o.network {
            flag("network", "--network");
            cfg.network = v.clone();
        }
        if let Some(v) = &o.results_dir {
            flag("results_dir", "--results-dir");
            cfg.results_dir = v.clone();
        }
        if let Some(v) = &o.gpu {
            flag("server.gpu", "--gpu");
            cfg.server.gpu = parse_gpu(v).ok_or_else(|| {
                self.ctx
                    .error("server.gpu", format!("unknown GPU mode `{v}`"))
                    .help("valid choices: auto, nvidia, amd, none")
            })?;
        }
        if let Some(v) = &o.client_mode {
            self.ctx
                .set_origin("run.client_mode", Origin::Flag("--client-mode"));
            cfg.run.client_mode = super::ClientMode::parse(v).ok_or_else(|| {
                self.ctx
                    .error("run.client_mode", format!("unknown client mode `{v}`"))
                    .help("valid choices: auto, worker, process")
            })?;
        }
        if let Some(v) = &o.pull {
            self.ctx.set_origin("pull", Origin::Flag("--pull"));
            cfg.pull = PullPolicy::parse(v).ok_or_else(|| {
                self.ctx
                    .error("pull", format!("unknown pull policy `{v}`"))
                    .help("valid choices: missing, always, never")
            })?;
        }
        if let Some(v) = &o.gpus {
            self.ctx.set_origin("server.gpus", Origin::Flag("--gpus"));
            cfg.server.gpus = parse_gpus(v).map_err(|m| {
                self.ctx
                    .error("server.gpus", m)
                    .help(format!("expected: {}", gpus::GPUS_EXPECTED))
            })?;
        }
        for set in &o.matrix_set {
            let fail = |ctx: &super::error::Ctx, m: String| {
                ctx.error_at(Origin::Flag("--matrix-set"), "matrix", m)
                    .help(format!(
                        "expected: NAME:key=value, key one of {}, env.NAME",
                        super::COMBINATION_KEYS.join(", ")
                    ))
            };
            let (name, key, value) =
                super::parse_matrix_set(set).map_err(|m| fail(&self.ctx, m))?;
            let i = match cfg.matrix.iter().position(|c| c.name == name) {
                Some(i) => i,
                None => {
                    cfg.matrix.push(Combination {
                        name: name.to_string(),
                        ..Default::default()
                    });
                    let i = cfg.matrix.len() - 1;
                    self.ctx
                        .set_origin(&format!("matrix[{i}]"), Origin::Flag("--matrix-set"));
                    i
                }
            };
            cfg.matrix[i]
                .set(key, value)
                .map_err(|m| fail(&self.ctx, format!("`{set}`: {m}")))?;
            let field = key.split('.').next().unwrap_or(key);
            self.ctx.set_origin(
                &format!("matrix[{i}].{field}"),
                Origin::Flag("--matrix-set"),
            );
        }
        if let Some(v) = &o.startup_timeout {
            self.ctx
                .set_origin("server.startup_timeout", Origin::Flag("--startup-timeout"));
            cfg.server.startup_timeout =
                parse_duration(v).map_err(|m| self.ctx.error("server.startup_timeout", m))?;
        }
        Ok(())
    }
}

fn parse_gpu(s: &str) -> Option<GpuMode> {
    Some(match s {
        "auto" => GpuMode::Auto,
        "nvidia" => GpuMode::Nvidia,
        "amd" => GpuMode::Amd,
        "none" => GpuMode::None,
        _ => return None,
    })
}

/// Visit every free-text string of the configuration with its field path.
fn for_each_string(cfg: &mut Config, f: &mut dyn FnMut(&str, &mut String)) {
    let s = &mut cfg.server;
    f("server.container", &mut s.container);
    f("server.image", &mut s.image);
    f("server.model", &mut s.model);
    if let Some(v) = &mut s.served_model_name {
        f("server.served_model_name", v);
    }
    for (i, v) in s.extra_args.iter_mut().enumerate() {
        f(&format!("server.extra_args[{i}]"), v);
    }
    for (k, v) in s.env.iter_mut() {
        f(&format!("server.env.{k}"), v);
    }
    for (i, v) in s.volumes.iter_mut().enumerate() {
        f(&format!("server.volumes[{i}]"), v);
    }
    let c = &mut cfg.client;
    f("client.container", &mut c.container);
    f("client.image", &mut c.image);
    if let Some(v) = &mut c.tokenizer {
        f("client.tokenizer", v);
    }
    f("client.result_dir", &mut c.result_dir);
    for (k, v) in c.env.iter_mut() {
        f(&format!("client.env.{k}"), v);
    }
    for (i, v) in c.volumes.iter_mut().enumerate() {
        f(&format!("client.volumes[{i}]"), v);
    }
    for (i, v) in c.extra_args.iter_mut().enumerate() {
        f(&format!("client.extra_args[{i}]"), v);
    }
    f("network", &mut cfg.network);
    if let Some(s) = cfg.results_dir.to_str() {
        let mut s = s.to_string();
        f("results_dir", &mut s);
        cfg.results_dir = PathBuf::from(s);
    }
    for (i, v) in cfg.run.sweeps.iter_mut().enumerate() {
        f(&format!("run.sweeps[{i}]"), v);
    }
}

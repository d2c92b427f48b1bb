//! The one-command pipeline behind `vbench run` and `vbench demo`: lock → up (or reuse) →
//! client → plan → manifest (new or resumed) → points → summary → optional down, with the
//! documented exit codes. `vbench report` re-renders a run from its manifest.

use std::path::Path;
use std::sync::Arc;

use super::argv::BenchContext;
use super::estimate::History;
use super::lock::{Holder, LockError, RunLock};
use super::manifest::{self, Manifest, ServerSnapshot};
use super::plan::{self, ContextLimit};
use super::runner::{self, RunEnd, Runner, ServerControl};
use super::session;
use crate::cli::SweepSelection;
use crate::config::{Config, SweepConfig};
use crate::docker::Docker;
use crate::events::{self, Event, Sink};
use crate::exit::{Code, Failure};
use crate::server::{self, DownOptions, ServerInfo, UpOptions};

/// What `vbench run` (or `demo`) asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub selection: SweepSelection,
    /// Sweeps decided by the command itself (`demo`), instead of `selection`.
    pub sweeps: Option<Vec<(String, SweepConfig)>>,
    pub dry_run: bool,
    /// `Some("latest")` or a run id.
    pub resume: Option<String>,
    pub force: bool,
    pub restart_server: bool,
    pub down: bool,
    pub restart: bool,
    pub standin: bool,
    /// Print the summary table on stdout (not in JSON mode).
    pub print_summary: bool,
    /// JSON output: a dry run prints its plan as one JSON object.
    pub json: bool,
}

fn usage(m: impl Into<String>) -> anyhow::Error {
    Failure::new(Code::Usage, m).into()
}

fn snapshot(info: &ServerInfo) -> ServerSnapshot {
    ServerSnapshot {
        model_id: info.model_id.clone(),
        root: info.root.clone(),
        max_model_len: info.max_model_len,
        version: info.version.clone(),
        url_in_network: info.url_in_network.clone(),
        record_path: Some(info.record_path.display().to_string()),
    }
}

/// The real server, through the lifecycle module.
struct LiveServer<'a> {
    docker: &'a Docker,
    cfg: &'a Config,
    standin: bool,
    sink: &'a dyn Sink,
}

impl ServerControl for LiveServer<'_> {
    async fn check(&self) -> anyhow::Result<Option<String>> {
        let h = server::health(self.docker, self.cfg).await?;
        Ok((!h.healthy).then_some(h.detail))
    }

    async fn restart(&self) -> anyhow::Result<ServerSnapshot> {
        // Stop what is left first: a process that is still exiting would otherwise be
        // "reused" by `up` and then vanish under it.
        server::down(self.docker, self.cfg, &DownOptions::default(), self.sink).await?;
        let opts = UpOptions {
            restart: true,
            standin: self.standin,
        };
        Ok(snapshot(
            &server::up(self.docker, self.cfg, &opts, self.sink).await?,
        ))
    }
}

/// The exit code for how a run ended.
pub fn code_for(end: &RunEnd) -> Code {
    match end {
        RunEnd::Finished => Code::Ok,
        RunEnd::PointsFailed => Code::PointsFailed,
        RunEnd::Interrupted => Code::Interrupted,
        RunEnd::ServerFailed(_) => Code::Server,
    }
}

/// `vbench run` / `vbench demo`. `cfg` is already the stand-in configuration when
/// `opts.standin` is set.
pub async fn run(
    docker_host: Option<&str>,
    cfg: &Config,
    opts: &RunOptions,
    sink: Arc<dyn Sink>,
) -> anyhow::Result<Code> {
    let sweeps = match &opts.sweeps {
        Some(s) => s.clone(),
        None => session::select(cfg, &opts.selection).map_err(usage)?,
    };
    if opts.dry_run {
        let live = live_context(docker_host, cfg).await;
        return dry_run(cfg, &sweeps, opts, live);
    }
    if opts.resume.is_some()
        && (!opts.selection.sweeps.is_empty() || super::presets::has_custom(&opts.selection))
    {
        return Err(usage(
            "--resume runs the sweeps of the run it resumes; name no sweep with it",
        ));
    }
    let results_dir = cfg.results_dir.clone();
    let mut lock =
        RunLock::acquire(&results_dir, &Holder::me("(starting)")).map_err(|e| match e {
            LockError::Held { .. } => {
                anyhow::Error::from(Failure::new(Code::LockHeld, e.to_string()))
            }
            other => anyhow::Error::from(Failure::new(Code::Setup, other.to_string())),
        })?;
    // Resolve the run to resume before anything starts, so a typo costs nothing.
    let resumed = match &opts.resume {
        Some(id) => {
            let id =
                manifest::find_run(&results_dir, Some(id)).map_err(|e| usage(format!("{e:#}")))?;
            Some(Manifest::load(&session::run_dir(&results_dir, &id))?)
        }
        None => None,
    };
    // The sweeps of a resumed run are its own; a changed configuration is refused before
    // anything starts (the hash ignores the context check, so no server is needed for it).
    let sweeps = match &resumed {
        Some(m) => m
            .sweeps
            .iter()
            .map(|n| Ok((n.clone(), plan::resolve(cfg, n)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(usage)?,
        None => sweeps,
    };
    let hash = session::config_hash(
        cfg,
        &plan::build(cfg, &sweeps, ContextLimit::Unknown).map_err(usage)?,
    );
    if let Some(m) = &resumed
        && hash != m.config_hash
    {
        if !opts.force {
            return Err(usage(format!(
                "the configuration changed since run {} was planned (config hash {} → {hash}); its results would not be comparable. Use --force to resume anyway, or start a new run",
                m.run_id, m.config_hash
            )));
        }
        events::warn(
            sink.as_ref(),
            format!(
                "run {}: configuration changed (config hash {} → {hash}); resuming anyway (--force)",
                m.run_id, m.config_hash
            ),
        );
    }
    // A run with nothing left to do needs no server: say so and show its summary.
    if let Some(m) = &resumed
        && m.points.iter().all(|r| r.status.done())
    {
        events::info(
            sink.as_ref(),
            format!("run {}: every point is done; nothing to resume", m.run_id),
        );
        let run_dir = session::run_dir(&results_dir, &m.run_id);
        let summary = render_report(
            &results_dir,
            &run_dir,
            m,
            previous_comparable(&results_dir, m).as_ref(),
        )?;
        if opts.print_summary {
            println!("{summary}");
        }
        let failed = m.count(super::PointStatus::Failed) > 0;
        return Ok(if failed { Code::PointsFailed } else { Code::Ok });
    }
    let cancel = super::signals::install(sink.clone());
    let docker = Docker::connect(docker_host)
        .await
        .map_err(|e| Failure::new(Code::Setup, e.to_string()))?;
    // Ctrl-C while the server loads (up to half an hour) must still stop vbench.
    let up_opts = UpOptions {
        restart: opts.restart,
        standin: opts.standin,
    };
    let setup = async {
        let info = server::up(&docker, cfg, &up_opts, sink.as_ref()).await?;
        server::ensure_client(&docker, cfg, sink.as_ref()).await?;
        anyhow::Ok(info)
    };
    let info = tokio::select! {
        r = setup => r?,
        _ = cancel.cancelled() => {
            return Err(Failure::new(Code::Interrupted, "interrupted while bringing the server up; nothing was run").into());
        }
    };

    // Any benchmark already running in the client belongs to someone else (a resumed run's
    // own leftover is recovered first, below): two at once would skew both.
    let is_resume = resumed.is_some();
    if !is_resume {
        refuse_if_busy(&docker, &cfg.client.container).await?;
    }

    // The plan, with the live server's context length.
    let plan = plan::build(cfg, &sweeps, ContextLimit::Live(info.max_model_len)).map_err(usage)?;
    if plan.points.is_empty() {
        return Err(usage("the sweep plan is empty: no point to run"));
    }
    let mut m = match resumed {
        Some(mut m) => {
            m.config_hash = hash;
            m.server = Some(snapshot(&info));
            m
        }
        None => {
            let id = super::new_run_id(&jiff::ZonedDateTime::now(), &hash);
            session::new_manifest(
                &id,
                cfg,
                &sweeps,
                &plan,
                Some(snapshot(&info)),
                opts.standin,
            )
        }
    };
    let _ = lock.update(&Holder::me(&m.run_id));
    let run_dir = session::run_dir(&results_dir, &m.run_id);
    std::fs::create_dir_all(run_dir.join("logs")).map_err(|e| {
        Failure::new(
            Code::Setup,
            format!("cannot create {}: {e}", run_dir.display()),
        )
    })?;
    m.save(&run_dir)?;
    for n in &plan.notes {
        events::info(sink.as_ref(), format!("note: {n}"));
    }

    let live = LiveServer {
        docker: &docker,
        cfg,
        standin: opts.standin,
        sink: sink.as_ref(),
    };
    let runner = Runner {
        docker: &docker,
        client: cfg.client.container.clone(),
        results_dir: results_dir.clone(),
        run_dir: run_dir.clone(),
        bench: BenchContext {
            base_url: info.url_in_network.clone(),
            model_id: info.model_id.clone(),
            tokenizer: cfg.client.tokenizer.clone(),
            seed: cfg.run.seed,
            result_dir: cfg.client.result_dir.clone(),
            run_id: m.run_id.clone(),
            extra_args: cfg.client.extra_args.clone(),
        },
        env: cfg
            .client
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        server: live,
        restart_server: opts.restart_server,
        cancel: cancel.clone(),
        sink: sink.as_ref(),
        gpu_container: Some(cfg.server.container.clone()),
    };
    runner
        .prepare_client(&m)
        .await
        .map_err(|e| Failure::new(Code::Setup, format!("{e:#}")))?;
    // A benchmark left by a killed vbench of this run is stopped and recovered first.
    runner.recover(&mut m).await?;
    if is_resume {
        refuse_if_busy(&docker, &cfg.client.container).await?;
    }
    let started = std::time::Instant::now();
    let todo = m.points.iter().filter(|r| !r.status.done()).count();
    sink.emit(Event::RunStarted {
        run_id: m.run_id.clone(),
        run_dir: run_dir.display().to_string(),
        points: todo,
        total: m.points.len(),
        resumed: opts.resume.is_some(),
    });
    if opts.resume.is_none() {
        for r in m.points.iter().filter(|r| r.point.skip.is_some()) {
            sink.emit(Event::PointSkipped {
                name: r.point.id.clone(),
                reason: r.reason.clone().unwrap_or_default(),
            });
        }
    }
    let end = runner.run(&mut m).await?;
    if let RunEnd::ServerFailed(why) = &end {
        events::warn(
            sink.as_ref(),
            format!(
                "the server stopped serving: {why}; the run is saved: `vbench run --resume {}` continues it",
                m.run_id
            ),
        );
    }
    if end == RunEnd::Interrupted {
        events::warn(
            sink.as_ref(),
            format!(
                "interrupted; `vbench run --resume {}` continues the run",
                m.run_id
            ),
        );
    }
    sink.emit(Event::RunFinished {
        run_id: m.run_id.clone(),
        status: m.status.clone(),
        ok: m.count(super::PointStatus::Ok),
        failed: m.count(super::PointStatus::Failed),
        skipped: m.count(super::PointStatus::Skipped),
        pending: m.count(super::PointStatus::Pending) + m.count(super::PointStatus::Running),
        elapsed_s: started.elapsed().as_secs_f64(),
        run_dir: run_dir.display().to_string(),
    });
    let summary = render_report(
        &results_dir,
        &run_dir,
        &m,
        previous_comparable(&results_dir, &m).as_ref(),
    )?;
    if opts.print_summary {
        println!("{summary}");
        println!(
            "results: {} (run state, logs and reports: {})",
            results_dir.display(),
            run_dir.display()
        );
    }
    if opts.down && end != RunEnd::Interrupted {
        server::down(&docker, cfg, &DownOptions::default(), sink.as_ref()).await?;
    }
    drop(lock);
    Ok(code_for(&end))
}

/// `max_model_len` of a server that already serves (a dry run starts nothing): the engine,
/// the server's health and `/v1/models`, each best effort with short deadlines.
async fn live_context(docker_host: Option<&str>, cfg: &Config) -> Option<u64> {
    use crate::server::probe;
    let t = std::time::Duration::from_secs(5);
    let docker = tokio::time::timeout(t, Docker::connect(docker_host))
        .await
        .ok()?
        .ok()?;
    if !tokio::time::timeout(t, server::health(&docker, cfg))
        .await
        .ok()?
        .ok()?
        .healthy
    {
        return None;
    }
    let url = server::url_from_host(&docker, cfg).await.ok()?;
    let ep = probe::Endpoint::new(url, server::argv::api_key(&cfg.server));
    let cards = probe::models(&ep, probe::PROBE_TIMEOUT).await.ok()?;
    let want = cfg
        .server
        .served_model_name
        .as_deref()
        .unwrap_or(&cfg.server.model);
    cards
        .iter()
        .find(|c| c.id == want)
        .or(cards.first())
        .and_then(|c| c.max_model_len)
}

/// Refuse (exit 6) while a `vllm bench serve` runs in the client, naming it.
async fn refuse_if_busy(docker: &Docker, client: &str) -> anyhow::Result<()> {
    let others = runner::bench_processes(docker, client).await?;
    if others.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = others
        .iter()
        .map(|(p, c)| format!("pid {p}: {c}"))
        .collect();
    Err(Failure::new(
        Code::LockHeld,
        format!(
            "a benchmark is already running in {client}: {}",
            list.join("; ")
        ),
    )
    .into())
}

fn dry_run(
    cfg: &Config,
    sweeps: &[(String, SweepConfig)],
    opts: &RunOptions,
    live: Option<u64>,
) -> anyhow::Result<Code> {
    let context = match (live, cfg.server.max_model_len) {
        (Some(n), _) => ContextLimit::Live(n),
        (None, Some(n)) => ContextLimit::Configured(n),
        (None, None) => ContextLimit::Unknown,
    };
    let plan = plan::build(cfg, sweeps, context).map_err(usage)?;
    if plan.points.is_empty() {
        return Err(usage("the sweep plan is empty: no point to run"));
    }
    let history = History::load(&cfg.results_dir);
    let ts = super::timestamp(&jiff::ZonedDateTime::now());
    if opts.json {
        println!(
            "{}",
            session::dry_run_json(&plan, &history, opts.standin, &ts)
        );
    } else {
        print!(
            "{}",
            session::dry_run_table(&plan, &history, opts.standin, &ts)
        );
    }
    if plan.runnable().count() == 0 {
        return Err(usage(
            "every point of the plan is skipped: nothing would run",
        ));
    }
    Ok(Code::Ok)
}

/// The newest earlier run with the same config hash and at least one good point.
pub fn previous_comparable(results_dir: &Path, m: &Manifest) -> Option<Manifest> {
    manifest::list_runs(results_dir)
        .into_iter()
        .rev()
        .filter(|id| *id < m.run_id)
        .filter_map(|id| Manifest::load(&session::run_dir(results_dir, &id)).ok())
        .find(|b| b.config_hash == m.config_hash && b.count(super::PointStatus::Ok) > 0)
}

/// Write the run's report files (`summary.md/csv/json`, charts, `comparison.md` against
/// `baseline`) through `crate::report`, and return the terminal summary: the table, a status
/// line and, with a baseline, the comparison.
pub fn render_report(
    results_dir: &Path,
    run_dir: &Path,
    m: &Manifest,
    baseline: Option<&Manifest>,
) -> anyhow::Result<String> {
    let rows = crate::report::rows_from_manifest(m, results_dir);
    let base_rows = baseline.map(|b| crate::report::rows_from_manifest(b, results_dir));
    let base = baseline
        .zip(base_rows.as_deref())
        .map(|(b, r)| (b.run_id.as_str(), r));
    crate::report::write_run_report(run_dir, &rows, base)?;
    let mut s = crate::report::table(&rows);
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&format!(
        "run {}: {}; {} ok, {} failed, {} skipped, {} pending{}\n",
        m.run_id,
        m.status,
        m.count(super::PointStatus::Ok),
        m.count(super::PointStatus::Failed),
        m.count(super::PointStatus::Skipped),
        m.count(super::PointStatus::Pending) + m.count(super::PointStatus::Running),
        if m.standin {
            " — CPU stand-in, not a GPU measurement"
        } else {
            ""
        }
    ));
    if let (Some(b), Some(r)) = (baseline, base_rows.as_deref()) {
        // The headline here; the full comparison is in comparison.md.
        let full = crate::report::render_comparison(&crate::report::compare(&rows, r), &b.run_id);
        let headline = full
            .lines()
            .find(|l| l.starts_with("**"))
            .unwrap_or("")
            .replace("**", "");
        s.push_str(&format!(
            "compared with run {}: {headline} (details: {})\n",
            b.run_id,
            run_dir.join("comparison.md").display()
        ));
    }
    Ok(s)
}

/// `vbench report [RUN] [--against RUN]`: a run's summary (and its comparison) from its
/// manifest; its report files are written again.
pub fn report(
    results_dir: &Path,
    run: Option<&str>,
    against: Option<&str>,
) -> anyhow::Result<String> {
    let id = manifest::find_run(results_dir, run).map_err(|e| usage(format!("{e:#}")))?;
    let run_dir = session::run_dir(results_dir, &id);
    let m = Manifest::load(&run_dir)?;
    let baseline = match against {
        Some(a) => {
            let aid =
                manifest::find_run(results_dir, Some(a)).map_err(|e| usage(format!("{e:#}")))?;
            Some(Manifest::load(&session::run_dir(results_dir, &aid))?)
        }
        None => previous_comparable(results_dir, &m),
    };
    render_report(results_dir, &run_dir, &m, baseline.as_ref())
}

//! The one-command pipeline behind `vbench run` and `vbench demo`, as steps with typed
//! outcomes: acquire the lock → resolve the run (new or resumed) → ensure the server →
//! plan → run the points → finish (report). Each step is a short function; `run` reads as
//! the table of contents. A dry run plans and stops. Everything the user sees goes out as
//! events; how the run ended is a `RunOutcome`, turned into an exit code at the edge.

use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

pub mod finish;
pub mod options;

pub use options::RunOptions;

use finish::Baseline;

use crate::report::verdict::{DEFAULT_THRESHOLD, Outcome};

use crate::config::{Config, SweepConfig};
use crate::docker::Docker;
use crate::events::{self, Event, Sink};
use crate::server::{self, DownOptions, ServerInfo, UpOptions};
use crate::sweep::argv::BenchContext;
use crate::sweep::error::RunError;
use crate::sweep::estimate::History;
use crate::sweep::lock::{Holder, RunLock};
use crate::sweep::manifest::{self, Manifest, ServerSnapshot};
use crate::sweep::plan::{self, ContextLimit, Plan};
use crate::sweep::runner::{self, RunEnd, Runner, ServerControl};
use crate::sweep::{self, session};
use crate::telemetry::Telemetry;

/// How a run that got going ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// A dry run printed its plan.
    Planned,
    /// The points ran (or had all run before, on a resume); judged when a baseline was named.
    Ran {
        run_id: String,
        end: RunEnd,
        verdict: Option<Outcome>,
    },
}

/// Step 2's answer: the run to work on.
enum Resolved {
    /// A new run of these sweeps.
    New {
        sweeps: Vec<(String, SweepConfig)>,
        hash: String,
    },
    /// A run to continue, with its own sweeps.
    Resumed {
        manifest: Box<Manifest>,
        sweeps: Vec<(String, SweepConfig)>,
        hash: String,
    },
    /// A resumed run with nothing left to do.
    Done(Box<Manifest>),
}

/// `vbench run` / `vbench demo`. `cfg` is already the stand-in configuration when
/// `opts.standin` is set.
pub async fn run(
    cfg: &Config,
    opts: &RunOptions,
    sink: Arc<dyn Sink>,
) -> Result<RunOutcome, RunError> {
    // The run under way, once known: a results directory that stops taking writes ends the
    // run with the way to resume it (`sweep::storage`).
    let mut run_id = None;
    steps(cfg, opts, sink, &mut run_id).await.map_err(|e| {
        // Refused before the run was resolved (at the lock): a resume's run is still there.
        let run_id = run_id.or_else(|| {
            let asked = opts.resume.as_deref()?;
            manifest::find_run(&cfg.results_dir, Some(asked)).ok()
        });
        sweep::storage::explain(e, &cfg.results_dir, run_id.as_deref())
    })
}

async fn steps(
    cfg: &Config,
    opts: &RunOptions,
    sink: Arc<dyn Sink>,
    run_id: &mut Option<String>,
) -> Result<RunOutcome, RunError> {
    // A multi-node server: the client, the probes and the benchmark run on the head's host,
    // with the head's node configuration (host network, its address).
    let head = server::cluster::head(cfg).map_err(RunError::Server)?;
    let (cfg, head_endpoint) = match &head {
        Some((endpoint, head_cfg)) => (head_cfg, Some(endpoint)),
        None => (cfg, None),
    };
    let sweeps = select(cfg, opts)?;
    if opts.dry_run {
        return dry_run(cfg, &sweeps, opts, sink.as_ref()).await;
    }
    let mut lock = acquire_lock(&cfg.results_dir)?;
    if let Some(stale) = &lock.stale {
        events::warn(
            sink.as_ref(),
            format!("took over the lock {}: {stale}", lock.path.display()),
        );
    }
    let resolved = resolve_run(cfg, opts, sweeps, sink.as_ref())?;
    if let Resolved::Resumed { manifest, .. } = &resolved {
        *run_id = Some(manifest.run_id.clone());
    }
    if let Resolved::Done(mut m) = resolved {
        *run_id = Some(m.run_id.clone());
        let end = finish::end_of_resumed(&m);
        // A run that stopped after its last point (at its final manifest or report write)
        // is recorded as it ended, its journal folded in.
        if m.status != end.status() {
            m.status = end.status().into();
            m.save(&session::run_dir(&cfg.results_dir, &m.run_id))
                .map_err(RunError::state("write the run manifest"))?;
        }
        publish_slo(cfg, &m, sink.as_ref())?;
        let verdict = finish_report(cfg, &mut m, opts, sink.as_ref())?;
        return Ok(RunOutcome::Ran {
            run_id: m.run_id.clone(),
            end,
            verdict,
        });
    }
    let cancel = match &opts.cancel {
        Some(c) => c.clone(),
        None => sweep::signals::install(sink.clone(), opts.exit_now),
    };
    let docker = connect(opts, head_endpoint).await?;
    let info = ensure_server(&docker, cfg, opts, &cancel, sink.as_ref()).await?;
    if !matches!(resolved, Resolved::Resumed { .. }) {
        refuse_if_busy(&docker, &cfg.client.container).await?;
    }
    let (mut m, plan) = plan_run(cfg, opts, resolved, &info)?;
    *run_id = Some(m.run_id.clone());
    let _ = lock.update(&Holder::me(&m.run_id));
    let run_dir = session::run_dir(&cfg.results_dir, &m.run_id);
    create_run_dir(&run_dir, &mut m)?;
    let end = run_points(
        &docker,
        cfg,
        opts,
        &info,
        &mut m,
        &plan,
        cancel,
        sink.as_ref(),
    )
    .await?;
    publish_slo(cfg, &m, sink.as_ref())?;
    // A run that did not get through its points is not judged: it is resumable, not slow.
    let verdict = if end.resumable() {
        finish::report(
            cfg,
            &mut m,
            &Baseline::Previous,
            DEFAULT_THRESHOLD,
            sink.as_ref(),
        )?;
        None
    } else {
        finish_report(cfg, &mut m, opts, sink.as_ref())?
    };
    // Without the engine nothing can be stopped; an interrupted run keeps its server.
    if opts.down && !matches!(end, RunEnd::Interrupted | RunEnd::EngineLost(_)) {
        server::down(&docker, cfg, &DownOptions::default(), sink.as_ref()).await?;
    }
    drop(lock);
    Ok(RunOutcome::Ran {
        run_id: m.run_id,
        end,
        verdict,
    })
}

/// What the run's SLO searches found (`slo.md`, `slo.json`, an event each); nothing for a
/// run without one.
fn publish_slo(cfg: &Config, m: &Manifest, sink: &dyn Sink) -> Result<(), RunError> {
    let run_dir = session::run_dir(&cfg.results_dir, &m.run_id);
    crate::slo::report::publish(m, &cfg.results_dir, &run_dir, sink)
        .map(|_| ())
        .map_err(RunError::state(format!(
            "write the SLO report of run {}",
            m.run_id
        )))
}

/// Step 6: the report, compared with the baseline the options name (and judged then).
fn finish_report(
    cfg: &Config,
    m: &mut Manifest,
    opts: &RunOptions,
    sink: &dyn Sink,
) -> Result<Option<Outcome>, RunError> {
    let baseline = match opts.baseline.as_deref() {
        None => Baseline::Previous,
        Some("last-good") => Baseline::LastGood,
        Some(spec) => Baseline::Named(spec.to_string()),
    };
    let threshold = opts.threshold.unwrap_or(DEFAULT_THRESHOLD);
    Ok(finish::report(cfg, m, &baseline, threshold, sink)?.map(|v| v.outcome))
}

/// The sweeps asked for: the command's own (`demo`), else the selection's.
fn select(cfg: &Config, opts: &RunOptions) -> Result<Vec<(String, SweepConfig)>, RunError> {
    match &opts.sweeps {
        Some(s) => Ok(s.clone()),
        None => session::select(cfg, &opts.selection).map_err(RunError::Usage),
    }
}

/// Step 1: one run at a time per results directory.
fn acquire_lock(results_dir: &Path) -> Result<RunLock, RunError> {
    Ok(RunLock::acquire(results_dir, &Holder::me("(starting)"))?)
}

/// Step 2: a new run, or the run to resume — resolved before anything starts, so a typo or a
/// changed configuration costs nothing. A resumed run keeps its own sweeps.
fn resolve_run(
    cfg: &Config,
    opts: &RunOptions,
    sweeps: Vec<(String, SweepConfig)>,
    sink: &dyn Sink,
) -> Result<Resolved, RunError> {
    let Some(id) = &opts.resume else {
        let hash = config_hash(cfg, &sweeps)?;
        return Ok(Resolved::New { sweeps, hash });
    };
    let id = manifest::find_run(&cfg.results_dir, Some(id))
        .map_err(|e| RunError::usage(format!("{e:#}")))?;
    let m = Manifest::load(&session::run_dir(&cfg.results_dir, &id))
        .map_err(RunError::state(format!("read run {id}")))?;
    // The run's own definitions (its plan travels with it: a custom sweep from flags needs
    // no flags again); a manifest of an older vbench has only the names.
    let own = m
        .sweeps
        .iter()
        .map(|n| match m.sweep_configs.get(n) {
            Some(s) => Ok((n.clone(), s.clone())),
            None => Ok((n.clone(), plan::resolve(cfg, n)?)),
        })
        .collect::<Result<Vec<_>, String>>()
        .map_err(RunError::Usage)?;
    // Sweeps named with --resume (the command line that started the run, typed again) are
    // fine when they are the run's; others would change what the run measures.
    let named = !opts.selection.sweeps.is_empty()
        || sweep::presets::has_custom(&opts.selection)
        || opts.selection.repeats.is_some();
    if named && sweeps != own {
        let names = |s: &[(String, SweepConfig)]| {
            s.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(RunError::usage(format!(
            "--resume runs the sweeps of run {} ({}); the sweeps named with it ({}) differ from them: give --resume alone, or start a new run",
            m.run_id,
            names(&own),
            names(&sweeps)
        )));
    }
    let sweeps = own;
    let hash = config_hash(cfg, &sweeps)?;
    if hash != m.config_hash {
        if !opts.force {
            return Err(RunError::usage(format!(
                "the configuration changed since run {} was planned (config hash {} → {hash}); its results would not be comparable. Use --force to resume anyway, or start a new run",
                m.run_id, m.config_hash
            )));
        }
        events::warn(
            sink,
            format!(
                "run {}: configuration changed (config hash {} → {hash}); resuming anyway (--force)",
                m.run_id, m.config_hash
            ),
        );
    }
    if m.points.iter().all(|r| r.status.done()) && !crate::slo::unfinished(&m, &cfg.results_dir) {
        events::info(
            sink,
            format!("run {}: every point is done; nothing to resume", m.run_id),
        );
        return Ok(Resolved::Done(Box::new(m)));
    }
    Ok(Resolved::Resumed {
        manifest: Box::new(m),
        sweeps,
        hash,
    })
}

/// The hash that decides whether a run may be resumed (the context check is left out, so no
/// server is needed to compute it).
fn config_hash(cfg: &Config, sweeps: &[(String, SweepConfig)]) -> Result<String, RunError> {
    let plan = plan::build(cfg, sweeps, ContextLimit::Unknown).map_err(RunError::Usage)?;
    Ok(session::config_hash(cfg, &plan))
}

async fn connect(
    opts: &RunOptions,
    head: Option<&crate::docker::Endpoint>,
) -> Result<Docker, RunError> {
    let endpoint = head.cloned().unwrap_or_else(|| opts.endpoint());
    Docker::connect_endpoint(&endpoint)
        .await
        .map(|d| d.with_labels(opts.labels.clone()))
        .map_err(|source| RunError::Docker {
            op: "connect to the Docker Engine".into(),
            source,
        })
}

/// Step 3: the server up (or reused) and the client container ready. Ctrl-C while the
/// server loads (up to half an hour) still stops vbench.
async fn ensure_server(
    docker: &Docker,
    cfg: &Config,
    opts: &RunOptions,
    cancel: &CancellationToken,
    sink: &dyn Sink,
) -> Result<ServerInfo, RunError> {
    let up = UpOptions {
        restart: opts.restart,
        standin: opts.standin,
    };
    let setup = async {
        let info = server::up(docker, cfg, &up, sink).await?;
        server::ensure_client(docker, cfg, sink).await?;
        Ok::<_, RunError>(info)
    };
    tokio::select! {
        r = setup => r,
        _ = cancel.cancelled() => Err(RunError::InterruptedDuringSetup),
    }
}

/// Step 4: the plan against the live server's context length, and the manifest: a new one,
/// or the resumed run's with the current server.
fn plan_run(
    cfg: &Config,
    opts: &RunOptions,
    resolved: Resolved,
    info: &ServerInfo,
) -> Result<(Manifest, Plan), RunError> {
    let (sweeps, hash, resumed) = match resolved {
        Resolved::New { sweeps, hash } => (sweeps, hash, None),
        Resolved::Resumed {
            manifest,
            sweeps,
            hash,
        } => (sweeps, hash, Some(manifest)),
        Resolved::Done(_) => unreachable!("a finished run is reported, not planned"),
    };
    let plan = plan::build(cfg, &sweeps, ContextLimit::Live(info.max_model_len))
        .map_err(RunError::Usage)?;
    if plan.points.is_empty() {
        return Err(RunError::usage("the sweep plan is empty: no point to run"));
    }
    let m = match resumed {
        Some(mut m) => {
            m.config_hash = hash;
            m.server = Some(snapshot(info));
            *m
        }
        None => {
            let id = sweep::new_run_id(&jiff::ZonedDateTime::now(), &hash);
            session::new_manifest(&id, cfg, &sweeps, &plan, Some(snapshot(info)), opts.standin)
        }
    };
    Ok((m, plan))
}

fn create_run_dir(run_dir: &Path, m: &mut Manifest) -> Result<(), RunError> {
    let logs = run_dir.join("logs");
    std::fs::create_dir_all(&logs)
        .map_err(|e| RunError::setup(format!("create {}", logs.display()), e))?;
    m.save(run_dir)
        .map_err(RunError::state("write the run manifest"))
}

/// Step 5: every point not yet done, through the runner; a benchmark a killed vbench of this
/// run left in the client is stopped and recovered first.
#[allow(clippy::too_many_arguments)]
async fn run_points(
    docker: &Docker,
    cfg: &Config,
    opts: &RunOptions,
    info: &ServerInfo,
    m: &mut Manifest,
    plan: &Plan,
    cancel: CancellationToken,
    sink: &dyn Sink,
) -> Result<RunEnd, RunError> {
    for n in &plan.notes {
        events::info(sink, format!("note: {n}"));
    }
    let mut notes = Vec::new();
    let telemetry = Telemetry::start(
        docker,
        &cfg.server.container,
        Some(info.url_from_host.clone()),
        &m.run_id,
        &mut notes,
    )
    .await;
    for n in notes {
        events::info(sink, n);
    }
    let end = run_points_with(docker, cfg, opts, info, m, cancel, sink, &telemetry).await;
    // The samplers stop whatever happened (the GPU loop runs in the server container).
    telemetry.stop().await;
    end
}

#[allow(clippy::too_many_arguments)]
async fn run_points_with(
    docker: &Docker,
    cfg: &Config,
    opts: &RunOptions,
    info: &ServerInfo,
    m: &mut Manifest,
    cancel: CancellationToken,
    sink: &dyn Sink,
    telemetry: &Telemetry,
) -> Result<RunEnd, RunError> {
    // An SLO search adds its next probe once the points so far are done.
    let slo_next = |m: &Manifest| crate::slo::next_points(m, &cfg.results_dir);
    let more: Option<&runner::MorePoints<'_>> = crate::slo::has_search(m).then_some(&slo_next);
    let runner = Runner {
        docker,
        client: cfg.client.container.clone(),
        results_dir: cfg.results_dir.clone(),
        run_dir: session::run_dir(&cfg.results_dir, &m.run_id),
        bench: BenchContext {
            base_url: info.url_in_network.clone(),
            model_id: info.model_id.clone(),
            tokenizer: cfg.client.tokenizer.clone(),
            seed: cfg.run.seed,
            result_dir: cfg.client.result_dir.clone(),
            run_id: m.run_id.clone(),
            extra_args: cfg.client.extra_args.clone(),
        },
        // The client's env and the server's API key as OPENAI_API_KEY: never on a command line.
        env: server::argv::client_env(cfg),
        server: LiveServer {
            docker,
            cfg,
            standin: opts.standin,
            sink,
            url: std::sync::Mutex::new(info.url_from_host.clone()),
        },
        restart_server: opts.restart_server,
        cancel,
        sink,
        client_mode: cfg.run.client_mode,
        telemetry: Some(telemetry),
        link: Default::default(),
        journal: Default::default(),
        more,
    };
    runner.prepare_client(m).await?;
    runner.recover(m).await?;
    if opts.resume.is_some() {
        refuse_if_busy(docker, &cfg.client.container).await?;
    }
    let started = std::time::Instant::now();
    sink.emit(Event::RunStarted {
        run_id: m.run_id.clone(),
        run_dir: runner.run_dir.display().to_string(),
        points: m.points.iter().filter(|r| !r.status.done()).count(),
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
    let mut end = runner.run(m).await?;
    if let RunEnd::ServerFailed(why) = &end {
        match server::stop_if_hung(docker, cfg, sink).await {
            Ok(true) => {
                end = RunEnd::ServerFailed(format!(
                    "{why}; vbench stopped it, so --resume starts a fresh server"
                ))
            }
            Ok(false) => {}
            Err(e) => events::warn(sink, format!("{e:#}")),
        }
    }
    finish::announce_end(m, &end, &runner.run_dir, started.elapsed(), sink);
    Ok(end)
}

fn snapshot(info: &ServerInfo) -> ServerSnapshot {
    ServerSnapshot {
        model_id: info.model_id.clone(),
        root: info.root.clone(),
        max_model_len: info.max_model_len,
        version: info.version.clone(),
        url_in_network: info.url_in_network.clone(),
        record_path: Some(info.record_path.display().to_string()),
        image: info.image.clone(),
        image_digest: info.image_digest.clone(),
        serve_args: info.serve_args.clone(),
        gpus: info.gpus.clone(),
    }
}

/// The real server, through the lifecycle module.
struct LiveServer<'a> {
    docker: &'a Docker,
    cfg: &'a Config,
    standin: bool,
    sink: &'a dyn Sink,
    /// Where the host found the server serving (`ServerInfo::url_from_host`).
    url: std::sync::Mutex<String>,
}

impl ServerControl for LiveServer<'_> {
    async fn check(&self) -> anyhow::Result<Option<String>> {
        // Before every point: a 200 from where the server was found proves it serves, in one
        // HTTP request (~1 ms) and no call to the engine. Anything else gets the full check
        // (container, then the process), which tells a dead server from a hung one; the
        // quick probe's short timeout keeps a hung server's detection about as quick as before.
        let url = self.url.lock().map(|u| u.clone()).unwrap_or_default();
        let ep = server::probe::Endpoint::new(url, None);
        if server::probe::health(&ep, std::time::Duration::from_secs(1))
            .await
            .is_ok()
        {
            return Ok(None);
        }
        let h = server::health(self.docker, self.cfg).await?;
        Ok((!h.healthy).then_some(h.detail))
    }

    async fn reach(&self) -> anyhow::Result<Option<String>> {
        Ok(
            match server::reach::from_client(self.docker, self.cfg).await? {
                server::reach::Reach::Reached => None,
                server::reach::Reach::Unreachable(why) => Some(why),
            },
        )
    }

    async fn restart(&self) -> anyhow::Result<ServerSnapshot> {
        // Stop what is left first: a process that is still exiting would otherwise be
        // "reused" by `up` and then vanish under it.
        server::down(self.docker, self.cfg, &DownOptions::default(), self.sink).await?;
        let opts = UpOptions {
            restart: true,
            standin: self.standin,
        };
        let info = server::up(self.docker, self.cfg, &opts, self.sink).await?;
        if let Ok(mut u) = self.url.lock() {
            u.clone_from(&info.url_from_host);
        }
        Ok(snapshot(&info))
    }
}

/// Refuse while a `vllm bench serve` runs in the client, naming it: two at once would skew
/// both.
async fn refuse_if_busy(docker: &Docker, client: &str) -> Result<(), RunError> {
    let others = runner::bench_processes(docker, client)
        .await
        .map_err(|e| RunError::setup(format!("list processes in {client}"), e))?;
    if others.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = others
        .iter()
        .map(|(p, c)| format!("pid {p}: {c}"))
        .collect();
    Err(RunError::ClientBusy {
        container: client.to_string(),
        processes: list.join("; "),
    })
}

/// A dry run: the plan with file names and estimates, as an event; nothing starts. The
/// context length comes from a server that already serves, else the configuration.
async fn dry_run(
    cfg: &Config,
    sweeps: &[(String, SweepConfig)],
    opts: &RunOptions,
    sink: &dyn Sink,
) -> Result<RunOutcome, RunError> {
    let live = live_context(opts, cfg).await;
    let context = match (live, cfg.server.max_model_len) {
        (Some(n), _) => ContextLimit::Live(n),
        (None, Some(n)) => ContextLimit::Configured(n),
        (None, None) => ContextLimit::Unknown,
    };
    let plan = plan::build(cfg, sweeps, context).map_err(RunError::Usage)?;
    if plan.points.is_empty() {
        return Err(RunError::usage("the sweep plan is empty: no point to run"));
    }
    let history = History::load(&cfg.results_dir);
    let ts = sweep::timestamp(&jiff::ZonedDateTime::now());
    sink.emit(Event::Plan(session::plan_view(
        &plan,
        &history,
        opts.standin,
        &ts,
    )));
    if plan.runnable().count() == 0 {
        return Err(RunError::usage(
            "every point of the plan is skipped: nothing would run",
        ));
    }
    Ok(RunOutcome::Planned)
}

/// `max_model_len` of a server that already serves (a dry run starts nothing): the engine,
/// the server's health and `/v1/models`, each best effort with short deadlines.
async fn live_context(opts: &RunOptions, cfg: &Config) -> Option<u64> {
    use crate::server::probe;
    let t = std::time::Duration::from_secs(5);
    let docker = tokio::time::timeout(t, Docker::connect_endpoint(&opts.endpoint()))
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

//! One benchmark over several named hosts (`vbench run --hosts a,b --mode replicate|shard`).
//! No scheduler of its own: each host's work is an ordinary `crate::pipeline::run` on that
//! host's engine with that host's configuration (`hosts::on_host`: its GPU settings and
//! container names, its own results directory, lock and runs), all hosts at once.
//!
//! - replicate: every host runs every point in one run (resumable per host), to compare
//!   hosts or GPU types; the report judges each host against the first.
//! - shard: the points are units in one queue; each host, with its own server, takes the
//!   next unit when it is free and runs it as a run of that one point. A host that fails (its
//!   engine unreachable or lost, its server not starting or dying) is recorded, its unit goes
//!   back in the queue for the others, and the fan-out goes on.
//!
//! The fan-out has one id and one record (`record`), holds the results directory's lock,
//! passes each host's events on tagged with the host (`Event::OnHost`), and ends with one
//! report across hosts (`report`).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::record::{self, FanoutRecord, HostRecord, HostStatus, Mode, UnitRecord, UnitStatus};
use crate::config::{Config, HostConfig, SweepConfig};
use crate::events::{self, Event, Sink};
use crate::pipeline::{self, RunOptions, RunOutcome};
use crate::report::verdict::{DEFAULT_THRESHOLD, Outcome};
use crate::sweep::lock::{Holder, RunLock};
use crate::sweep::runner::RunEnd;
use crate::sweep::{self, RunError, session};

/// What `--hosts` and `--mode` ask for.
#[derive(Debug, Clone, Default)]
pub struct FanoutOptions {
    /// Host names from the configuration's `hosts:`, in order (the first is the reference
    /// in replicate mode's verdicts).
    pub hosts: Vec<String>,
    pub mode: Mode,
}

/// How a fan-out ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FanoutOutcome {
    /// A dry run printed its plan.
    Planned,
    Ran {
        fanout_id: String,
        /// Each host's status, in order.
        hosts: Vec<(String, HostStatus)>,
        /// Shard mode: units no host could finish.
        units_left: usize,
        interrupted: bool,
        /// Replicate mode: each host against the first; with `--baseline`, each host's run.
        verdicts: Vec<Outcome>,
    },
}

/// The shared state of the hosts at work.
struct Shared {
    rec: FanoutRecord,
    /// Shard mode: indices of units waiting for a host.
    queue: VecDeque<usize>,
    /// Units being run right now (a host waits for them before it stops: a failing host
    /// may hand one back).
    in_flight: usize,
}

struct Ctx<'a> {
    cfg: &'a Config,
    opts: &'a RunOptions,
    sink: Arc<dyn Sink>,
    sweeps: Vec<(String, SweepConfig)>,
    shared: Arc<Mutex<Shared>>,
    changed: Arc<Notify>,
    cancel: CancellationToken,
    dir: PathBuf,
}

impl Ctx<'_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Save the record (a failure is a warning: the run goes on, the report still comes).
    fn save(&self, s: &mut Shared) {
        if let Err(e) = s.rec.save(&self.dir) {
            events::warn(
                self.sink.as_ref(),
                format!("cannot write the fan-out record: {e:#}"),
            );
        }
    }
}

/// Run the fan-out (or print its plan).
pub async fn run(
    cfg: &Config,
    fan: &FanoutOptions,
    opts: &RunOptions,
    sink: Arc<dyn Sink>,
) -> anyhow::Result<FanoutOutcome> {
    let hosts: Vec<HostConfig> = super::select(cfg, &fan.hosts)?
        .into_iter()
        .cloned()
        .collect();
    if hosts.is_empty() {
        return Err(RunError::usage("--hosts names no host").into());
    }
    if !cfg.matrix.is_empty() {
        return Err(RunError::usage(
            "a fan-out run measures the server section as it is: run it with --no-matrix, or run the matrix on one --host",
        )
        .into());
    }
    let sweeps = match &opts.sweeps {
        Some(s) => s.clone(),
        None => session::select(cfg, &opts.selection).map_err(RunError::Usage)?,
    };
    if opts.dry_run {
        // The plan is the same on every host: show it once, for the first.
        let hcfg = super::on_host(cfg, &hosts[0]);
        let mut o = host_options(opts, &hosts[0], None);
        o.sweeps = Some(sweeps);
        o.dry_run = true;
        pipeline::run(&hcfg, &o, sink).await?;
        return Ok(FanoutOutcome::Planned);
    }
    let mut lock = RunLock::acquire(&cfg.results_dir, &Holder::me("(fan-out, starting)"))?;
    let (rec, sweeps, resumed) = resolve(cfg, fan, opts, &hosts, sweeps)?;
    let _ = lock.update(&Holder::me(&format!("fan-out {}", rec.fanout_id)));
    let dir = record::fanout_dir(&cfg.results_dir, &rec.fanout_id);
    let queue: VecDeque<usize> = rec
        .units
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.done())
        .map(|(i, _)| i)
        .collect();
    sink.emit(Event::FanoutStarted {
        fanout_id: rec.fanout_id.clone(),
        mode: rec.mode.as_str().into(),
        hosts: hosts.iter().map(|h| h.name.clone()).collect(),
        units: queue.len(),
        dir: dir.display().to_string(),
        resumed,
    });
    let cancel = match &opts.cancel {
        Some(c) => c.clone(),
        None => sweep::signals::install(sink.clone(), opts.exit_now),
    };
    let ctx = Ctx {
        cfg,
        opts,
        sink: sink.clone(),
        sweeps,
        shared: Arc::new(Mutex::new(Shared {
            rec,
            queue,
            in_flight: 0,
        })),
        changed: Arc::new(Notify::new()),
        cancel: cancel.clone(),
        dir: dir.clone(),
    };
    {
        let mut s = ctx.lock();
        s.rec.status = "running".into();
        let shard = s.rec.mode == Mode::Shard;
        for h in &mut s.rec.hosts {
            // A resumed fan-out tries every host again (a failed one may be back); in
            // replicate mode a host whose run is done stays done.
            if shard || !matches!(h.status, HostStatus::Ok | HostStatus::PointsFailed) {
                h.status = HostStatus::Pending;
                h.cause = None;
            }
        }
        ctx.save(&mut s);
    }
    let mode = ctx.lock().rec.mode;
    let workers = hosts.iter().map(|h| async {
        match mode {
            Mode::Replicate => replicate(&ctx, h).await,
            Mode::Shard => shard(&ctx, h).await,
        }
    });
    let verdicts: Vec<Outcome> = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();

    let (rec, interrupted, units_left) = {
        let mut s = ctx.lock();
        let interrupted = cancel.is_cancelled()
            || s.rec
                .hosts
                .iter()
                .any(|h| h.status == HostStatus::Interrupted);
        let units_left = s.rec.units.iter().filter(|u| !u.done()).count();
        let all_failed = s.rec.hosts.iter().all(|h| h.status == HostStatus::Failed);
        s.rec.status = if interrupted {
            "interrupted"
        } else if all_failed || units_left > 0 {
            "failed"
        } else if s.rec.hosts.iter().any(|h| h.status == HostStatus::Failed) {
            "hosts_failed"
        } else {
            "finished"
        }
        .into();
        ctx.save(&mut s);
        (s.rec.clone(), interrupted, units_left)
    };
    let threshold = opts.threshold.unwrap_or(DEFAULT_THRESHOLD);
    let judged = super::report::publish(cfg, &rec, threshold, sink.as_ref()).map_err(|e| {
        RunError::State {
            op: format!("write the report of fan-out {}", rec.fanout_id),
            source: e.into(),
        }
    })?;
    if interrupted {
        events::warn(
            sink.as_ref(),
            format!(
                "interrupted; `vbench run --hosts {} --resume {}` continues the fan-out",
                fan.hosts.join(","),
                rec.fanout_id
            ),
        );
    }
    if opts.down && !interrupted && rec.mode == Mode::Shard {
        for h in &hosts {
            if let Ok(d) = super::connect(h, opts.labels.clone()).await {
                let hcfg = super::on_host(cfg, h);
                let _ = crate::server::down(&d, &hcfg, &Default::default(), sink.as_ref()).await;
            }
        }
    }
    drop(lock);
    let mut all_verdicts = verdicts;
    all_verdicts.extend(judged.iter().map(|v| v.outcome));
    Ok(FanoutOutcome::Ran {
        fanout_id: rec.fanout_id.clone(),
        hosts: rec
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.status))
            .collect(),
        units_left,
        interrupted,
        verdicts: all_verdicts,
    })
}

/// The options of one host's run: its engine, the fan-out's cancellation, no signal
/// handlers of its own.
fn host_options(
    opts: &RunOptions,
    host: &HostConfig,
    cancel: Option<CancellationToken>,
) -> RunOptions {
    let endpoint = host.endpoint();
    RunOptions {
        docker_host: endpoint.host,
        tls_cert_path: endpoint.tls_cert_path,
        cancel,
        resume: None,
        ..opts.clone()
    }
}

/// The fan-out to work on, its sweeps, and whether it is resumed.
type Resolved = (FanoutRecord, Vec<(String, SweepConfig)>, bool);

/// A new fan-out, or the one to resume (its own sweeps, hosts and mode).
fn resolve(
    cfg: &Config,
    fan: &FanoutOptions,
    opts: &RunOptions,
    hosts: &[HostConfig],
    sweeps: Vec<(String, SweepConfig)>,
) -> Result<Resolved, RunError> {
    let Some(id) = &opts.resume else {
        let now = jiff::ZonedDateTime::now();
        let mut h = Sha256::new();
        h.update(fan.mode.as_str());
        for x in hosts {
            h.update(x.name.as_bytes());
        }
        for (n, s) in &sweeps {
            h.update(n.as_bytes());
            h.update(serde_json::to_vec(s).unwrap_or_default());
        }
        let hash: String = h
            .finalize()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let units = match fan.mode {
            Mode::Replicate => vec![],
            Mode::Shard => units_of(&sweeps),
        };
        let rec = FanoutRecord {
            schema_version: record::SCHEMA_VERSION,
            fanout_id: sweep::new_run_id(&now, &hash),
            created: now.timestamp().to_string(),
            updated: String::new(),
            mode: fan.mode,
            status: "planned".into(),
            standin: opts.standin,
            sweeps: sweeps.iter().map(|(n, _)| n.clone()).collect(),
            sweep_configs: sweeps.iter().cloned().collect(),
            hosts: hosts
                .iter()
                .map(|h| HostRecord {
                    name: h.name.clone(),
                    docker_host: h.docker_host.clone(),
                    status: HostStatus::Pending,
                    run_ids: vec![],
                    cause: None,
                })
                .collect(),
            units,
        };
        return Ok((rec, sweeps, false));
    };
    let id = record::find(&cfg.results_dir, id).map_err(RunError::Usage)?;
    let rec = FanoutRecord::load(&record::fanout_dir(&cfg.results_dir, &id))
        .map_err(RunError::state(format!("read fan-out {id}")))?;
    let had: Vec<&str> = rec.hosts.iter().map(|h| h.name.as_str()).collect();
    let want: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    if had != want {
        return Err(RunError::usage(format!(
            "fan-out {id} ran on the hosts {}; resume it with --hosts {}",
            had.join(", "),
            had.join(",")
        )));
    }
    let sweeps = rec
        .sweeps
        .iter()
        .filter_map(|n| Some((n.clone(), rec.sweep_configs.get(n)?.clone())))
        .collect();
    Ok((rec, sweeps, true))
}

/// Shard mode's units: each point of each sweep (an SLO search: each input length).
fn units_of(sweeps: &[(String, SweepConfig)]) -> Vec<UnitRecord> {
    let mut out = Vec::new();
    for (name, s) in sweeps {
        for &len in &s.input_lens {
            let levels: Vec<Option<u64>> = if s.slo.is_some() || s.concurrency.is_empty() {
                vec![None]
            } else {
                s.concurrency.iter().map(|&c| Some(c)).collect()
            };
            for c in levels {
                out.push(UnitRecord {
                    sweep: name.clone(),
                    input_len: len,
                    concurrency: c,
                    status: UnitStatus::Pending,
                    host: None,
                    run_id: None,
                    failed_on: vec![],
                });
            }
        }
    }
    out
}

/// The sweep of one unit: its sweep narrowed to the unit's input length and level.
fn unit_sweep(ctx: &Ctx<'_>, u: &UnitRecord) -> Option<(String, SweepConfig)> {
    let (_, s) = ctx.sweeps.iter().find(|(n, _)| *n == u.sweep)?;
    let mut s = s.clone();
    s.input_lens = vec![u.input_len];
    if let Some(c) = u.concurrency {
        s.concurrency = vec![c];
    }
    Some((u.sweep.clone(), s))
}

/// How one pipeline run on a host went, for the fan-out.
enum Ended {
    /// Its points ran (`ok` or `points_failed`).
    Ran {
        run_id: String,
        status: HostStatus,
        verdict: Option<Outcome>,
    },
    /// The host cannot go on (`cause`); `run_id` when the run had started.
    HostFailed {
        cause: String,
        run_id: Option<String>,
    },
    Interrupted {
        run_id: Option<String>,
    },
}

fn ended(out: Result<RunOutcome, RunError>, hcfg: &Config) -> Ended {
    match out {
        Ok(RunOutcome::Ran {
            run_id,
            end,
            verdict,
        }) => match &end {
            RunEnd::Finished => Ended::Ran {
                run_id,
                status: HostStatus::Ok,
                verdict,
            },
            RunEnd::PointsFailed => Ended::Ran {
                run_id,
                status: HostStatus::PointsFailed,
                verdict,
            },
            RunEnd::Interrupted => Ended::Interrupted {
                run_id: Some(run_id),
            },
            RunEnd::ServerFailed(why)
            | RunEnd::ClientLost(why)
            | RunEnd::EngineLost(why)
            | RunEnd::ServerUnreachable(why) => Ended::HostFailed {
                cause: hcfg.scrub(&format!("{}: {why}", end.status())),
                run_id: Some(run_id),
            },
        },
        Ok(RunOutcome::Planned) => Ended::HostFailed {
            cause: "the run was only planned".into(),
            run_id: None,
        },
        Err(RunError::InterruptedDuringSetup) => Ended::Interrupted { run_id: None },
        Err(e) => Ended::HostFailed {
            cause: hcfg.scrub(&crate::error_text::chain(&e)),
            run_id: None,
        },
    }
}

/// The sink of one host's run: its events tagged with the host; a run's id recorded the
/// moment the run announces it (so a killed vbench resumes the right run).
fn tap(ctx: &Ctx<'_>, host: &str, unit: Option<usize>) -> Arc<dyn Sink> {
    let inner = ctx.sink.clone();
    let shared = ctx.shared.clone();
    let dir = ctx.dir.clone();
    let host = host.to_string();
    Arc::new(move |e: Event| {
        if let Event::RunStarted { run_id, .. } = &e {
            let mut s = shared.lock().unwrap_or_else(|p| p.into_inner());
            match unit {
                Some(i) => s.rec.units[i].run_id = Some(run_id.clone()),
                None => {
                    if let Some(h) = s.rec.host_mut(&host)
                        && !h.run_ids.contains(run_id)
                    {
                        h.run_ids.push(run_id.clone());
                    }
                }
            }
            if let Err(err) = s.rec.save(&dir) {
                events::warn(
                    inner.as_ref(),
                    format!("cannot record run {run_id}: {err:#}"),
                );
            }
        }
        inner.emit(Event::OnHost {
            host: host.clone(),
            inner: Box::new(e),
        });
    })
}

/// Set a host's status (and cause), save, and say so.
fn host_done(ctx: &Ctx<'_>, host: &str, status: HostStatus, cause: Option<String>) {
    let mut s = ctx.lock();
    let Some(h) = s.rec.host_mut(host) else {
        return;
    };
    h.status = status;
    h.cause = cause;
    let h = h.clone();
    ctx.save(&mut s);
    drop(s);
    ctx.sink.emit(Event::HostFinished {
        fanout_id: ctx.lock().rec.fanout_id.clone(),
        host: h.name,
        status: h.status.as_str().into(),
        run_ids: h.run_ids,
        cause: h.cause,
    });
}

/// Replicate mode: every point on this host, in one run (the host's earlier run resumed).
async fn replicate(ctx: &Ctx<'_>, host: &HostConfig) -> Option<Outcome> {
    let hcfg = super::on_host(ctx.cfg, host);
    let resume = {
        let mut s = ctx.lock();
        let h = s.rec.host_mut(&host.name)?;
        if matches!(h.status, HostStatus::Ok | HostStatus::PointsFailed) {
            return None;
        }
        h.status = HostStatus::Running;
        let last = h.run_ids.last().cloned();
        ctx.save(&mut s);
        last
    };
    let mut o = host_options(ctx.opts, host, Some(ctx.cancel.clone()));
    o.sweeps = Some(ctx.sweeps.clone());
    o.resume = resume;
    let out = pipeline::run(&hcfg, &o, tap(ctx, &host.name, None)).await;
    match ended(out, &hcfg) {
        Ended::Ran {
            status, verdict, ..
        } => {
            host_done(ctx, &host.name, status, None);
            verdict
        }
        Ended::HostFailed { cause, .. } => {
            host_done(ctx, &host.name, HostStatus::Failed, Some(cause));
            None
        }
        Ended::Interrupted { .. } => {
            host_done(ctx, &host.name, HostStatus::Interrupted, None);
            None
        }
    }
}

/// Shard mode: take the next unit while there is one; wait while another host still runs
/// one (it may hand it back); hand ours back if this host fails.
async fn shard(ctx: &Ctx<'_>, host: &HostConfig) -> Option<Outcome> {
    let hcfg = super::on_host(ctx.cfg, host);
    {
        let mut s = ctx.lock();
        s.rec.host_mut(&host.name)?.status = HostStatus::Running;
        ctx.save(&mut s);
    }
    let mut first = true;
    let mut points_failed = false;
    loop {
        let next = loop {
            let changed = ctx.changed.notified();
            {
                let mut s = ctx.lock();
                if ctx.cancel.is_cancelled() {
                    break None;
                }
                if let Some(i) = s.queue.pop_front() {
                    s.in_flight += 1;
                    let u = &mut s.rec.units[i];
                    u.status = UnitStatus::Running;
                    u.host = Some(host.name.clone());
                    u.run_id = None;
                    ctx.save(&mut s);
                    break Some(i);
                }
                if s.in_flight == 0 {
                    break None;
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = ctx.cancel.cancelled() => {}
            }
        };
        let Some(i) = next else {
            break;
        };
        let unit = ctx.lock().rec.units[i].clone();
        let Some(sweep) = unit_sweep(ctx, &unit) else {
            // A unit of a sweep the record no longer has: nothing to run.
            let mut s = ctx.lock();
            s.in_flight -= 1;
            s.rec.units[i].status = UnitStatus::PointsFailed;
            ctx.save(&mut s);
            ctx.changed.notify_waiters();
            continue;
        };
        let mut o = host_options(ctx.opts, host, Some(ctx.cancel.clone()));
        o.sweeps = Some(vec![sweep]);
        // Each unit is its own run: restart a mismatching server once, leave it up between
        // units (the fan-out stops it at the end with --down), judge only the whole.
        o.restart = ctx.opts.restart && first;
        o.down = false;
        o.baseline = None;
        first = false;
        let out = pipeline::run(&hcfg, &o, tap(ctx, &host.name, Some(i))).await;
        let ended = ended(out, &hcfg);
        let mut s = ctx.lock();
        s.in_flight -= 1;
        match ended {
            Ended::Ran { run_id, status, .. } => {
                points_failed |= status == HostStatus::PointsFailed;
                let u = &mut s.rec.units[i];
                u.status = if status == HostStatus::Ok {
                    UnitStatus::Ok
                } else {
                    UnitStatus::PointsFailed
                };
                u.run_id = Some(run_id.clone());
                if let Some(h) = s.rec.host_mut(&host.name)
                    && !h.run_ids.contains(&run_id)
                {
                    h.run_ids.push(run_id);
                }
                ctx.save(&mut s);
                drop(s);
                ctx.changed.notify_waiters();
            }
            Ended::HostFailed { cause, run_id } => {
                requeue(&mut s, i, &host.name, true);
                // The failed run's points stay in its manifest but are not this host's
                // results: the unit is run again elsewhere.
                if let (Some(id), Some(h)) = (run_id, s.rec.host_mut(&host.name)) {
                    h.run_ids.retain(|r| *r != id);
                }
                let label = s.rec.units[i].label();
                let fanout_id = s.rec.fanout_id.clone();
                ctx.save(&mut s);
                drop(s);
                ctx.changed.notify_waiters();
                ctx.sink.emit(Event::UnitRequeued {
                    fanout_id,
                    host: host.name.clone(),
                    unit: label,
                    cause: cause.clone(),
                });
                host_done(ctx, &host.name, HostStatus::Failed, Some(cause));
                return None;
            }
            Ended::Interrupted { run_id } => {
                requeue(&mut s, i, &host.name, false);
                if let (Some(id), Some(h)) = (run_id, s.rec.host_mut(&host.name)) {
                    h.run_ids.retain(|r| *r != id);
                }
                ctx.save(&mut s);
                drop(s);
                ctx.changed.notify_waiters();
                host_done(ctx, &host.name, HostStatus::Interrupted, None);
                return None;
            }
        }
    }
    let status = if ctx.cancel.is_cancelled() {
        HostStatus::Interrupted
    } else if points_failed {
        HostStatus::PointsFailed
    } else {
        HostStatus::Ok
    };
    host_done(ctx, &host.name, status, None);
    None
}

/// Put unit `i` back in the queue (at the back when its host failed: the others take it).
fn requeue(s: &mut Shared, i: usize, host: &str, failed: bool) {
    let u = &mut s.rec.units[i];
    u.status = UnitStatus::Pending;
    u.host = None;
    u.run_id = None;
    if failed {
        u.failed_on.push(host.to_string());
        s.queue.push_back(i);
    } else {
        s.queue.push_front(i);
    }
}

//! Experiments over server settings: a run's sweeps measured once per combination of the
//! configuration's `matrix:` (image, tensor parallelism, memory, context, eager mode, extra
//! `vllm serve` arguments, environment). Each combination is an ordinary run of
//! `crate::pipeline` — readiness, diagnosis, manifest, reports — in its own results directory
//! `<results_dir>/<combination>/` (the manual layout inside); between combinations `vllm
//! serve` is restarted with the new arguments, and the server container recreated when its
//! image or environment changes. A combination whose server cannot start is recorded with
//! the cause and the matrix goes on. The matrix holds the results directory's lock for its
//! whole length and keeps its state in `<results_dir>/matrix/<id>/matrix.json`, so
//! `--resume` continues it; its report compares the combinations.
//!
//! Submodules: `record` (the state on disk), `plan` (the dry run and each combination's
//! configuration), `container` (recreating the server container between combinations),
//! `report` (the report across combinations).

pub mod container;
pub mod plan;
pub mod record;
pub mod report;

use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::config::{Config, SweepConfig};
use crate::docker::Docker;
use crate::events::{self, Event, Sink};
use crate::pipeline::{self, RunOptions, RunOutcome};
use crate::report::verdict::{DEFAULT_THRESHOLD, Outcome};
use crate::sweep::lock::{Holder, RunLock};
use crate::sweep::plan::ContextLimit;
use crate::sweep::runner::RunEnd;
use crate::sweep::{self, RunError, session};

use record::{CombinationRecord, CombinationStatus, MatrixRecord};

/// How a matrix ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixOutcome {
    /// A dry run printed its plan.
    Planned,
    /// The combinations ran (or had all run, on a resume).
    Ran {
        matrix_id: String,
        /// Each combination's status, in order.
        statuses: Vec<(String, CombinationStatus)>,
        /// A signal stopped it; it is resumable.
        interrupted: bool,
        /// Verdicts: between image combinations, and each combination's against `--baseline`.
        verdicts: Vec<Outcome>,
    },
}

/// The sweeps asked for: the command's own, else the selection's.
fn select(cfg: &Config, opts: &RunOptions) -> Result<Vec<(String, SweepConfig)>, RunError> {
    match &opts.sweeps {
        Some(s) => Ok(s.clone()),
        None => session::select(cfg, &opts.selection).map_err(RunError::Usage),
    }
}

/// What decides whether a matrix may be resumed: every combination's run hash, by name.
fn matrix_hash(cfg: &Config, sweeps: &[(String, SweepConfig)]) -> Result<String, RunError> {
    let mut h = Sha256::new();
    for c in &cfg.matrix {
        let ccfg = plan::combination_config(cfg, c);
        let p =
            sweep::plan::build(&ccfg, sweeps, ContextLimit::Unknown).map_err(RunError::Usage)?;
        h.update(c.name.as_bytes());
        h.update(session::config_hash(&ccfg, &p).as_bytes());
    }
    Ok(h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// `vbench run` with a matrix: every combination in turn (or the dry run's plan).
pub async fn run(
    cfg: &Config,
    opts: &RunOptions,
    sink: Arc<dyn Sink>,
) -> Result<MatrixOutcome, RunError> {
    let sweeps = select(cfg, opts)?;
    if opts.dry_run {
        let view = plan::build(cfg, &sweeps, opts.standin).map_err(RunError::Usage)?;
        if view.points == 0 {
            return Err(RunError::usage("the sweep plan is empty: no point to run"));
        }
        sink.emit(Event::MatrixPlan(Box::new(view)));
        return Ok(MatrixOutcome::Planned);
    }
    let mut lock = RunLock::acquire(&cfg.results_dir, &Holder::me("(matrix, starting)"))?;
    let (mut rec, sweeps) = resolve(cfg, opts, sweeps, sink.as_ref())?;
    let _ = lock.update(&Holder::me(&format!("matrix {}", rec.matrix_id)));
    let dir = record::matrix_dir(&cfg.results_dir, &rec.matrix_id);
    let save = |rec: &mut MatrixRecord| {
        rec.save(&dir)
            .map_err(RunError::state("write the matrix record"))
    };
    rec.status = "running".into();
    save(&mut rec)?;
    let cancel = sweep::signals::install(sink.clone(), opts.exit_now);
    let docker = Docker::connect_endpoint(&opts.endpoint())
        .await
        .map(|d| d.with_labels(opts.labels.clone()))
        .map_err(|source| RunError::Docker {
            op: "connect to the Docker Engine".into(),
            source,
        })?;
    let n = rec.combinations.len();
    let mut verdicts = Vec::new();
    let mut interrupted = false;
    let mut halted = false;
    for i in 0..n {
        if rec.combinations[i].status.done() {
            continue;
        }
        if cancel.is_cancelled() {
            interrupted = true;
            break;
        }
        let c = cfg.matrix[i].clone();
        let ccfg = plan::combination_config(cfg, &c);
        let resume = rec.combinations[i].run_id.clone();
        {
            let r = &mut rec.combinations[i];
            r.status = CombinationStatus::Running;
            r.started = Some(jiff::Timestamp::now().to_string());
            r.finished = None;
            r.cause = None;
        }
        save(&mut rec)?;
        sink.emit(Event::CombinationStarted {
            matrix_id: rec.matrix_id.clone(),
            i: i + 1,
            n,
            name: c.name.clone(),
            settings: c.settings(),
            results_dir: ccfg.results_dir.display().to_string(),
            resumed: resume.is_some(),
        });
        let ended = run_one(
            &docker,
            &ccfg,
            opts,
            &sweeps,
            resume,
            &cancel,
            &sink,
            (&dir, &mut rec, i),
        )
        .await;
        let r = &mut rec.combinations[i];
        r.finished = Some(jiff::Timestamp::now().to_string());
        match ended {
            Ok(Ran {
                run_id,
                end,
                verdict,
            }) => {
                r.run_id = Some(run_id);
                r.status = match &end {
                    RunEnd::Finished => CombinationStatus::Ok,
                    RunEnd::PointsFailed => CombinationStatus::PointsFailed,
                    RunEnd::Interrupted => CombinationStatus::Interrupted,
                    RunEnd::ServerFailed(why)
                    | RunEnd::ClientLost(why)
                    | RunEnd::EngineLost(why)
                    | RunEnd::ServerUnreachable(why) => {
                        r.cause = Some(format!("{}: {why}", end.status()));
                        CombinationStatus::Stopped
                    }
                };
                // Without the engine no further combination can run.
                halted = matches!(end, RunEnd::EngineLost(_));
                verdicts.extend(verdict);
            }
            Err(Stop::Failed(cause)) => {
                r.status = CombinationStatus::Failed;
                r.cause = Some(ccfg.scrub(&cause));
            }
            Err(Stop::Interrupted) => {
                r.status = CombinationStatus::Interrupted;
            }
            Err(Stop::Abort(e)) => {
                r.status = CombinationStatus::Pending;
                rec.status = "interrupted".into();
                save(&mut rec)?;
                return Err(e);
            }
        }
        let r = rec.combinations[i].clone();
        sink.emit(Event::CombinationFinished {
            matrix_id: rec.matrix_id.clone(),
            i: i + 1,
            n,
            name: r.name.clone(),
            status: r.status.as_str().to_string(),
            run_id: r.run_id.clone(),
            cause: r.cause.clone(),
        });
        if halted {
            events::warn(
                sink.as_ref(),
                format!(
                    "combination {} lost the Docker Engine; the matrix stops (`vbench run --resume {}` continues it)",
                    r.name, rec.matrix_id
                ),
            );
        } else if r.status == CombinationStatus::Failed || r.status == CombinationStatus::Stopped {
            events::warn(
                sink.as_ref(),
                format!(
                    "combination {} {}; going on with the next",
                    r.name,
                    if r.status == CombinationStatus::Failed {
                        "could not start"
                    } else {
                        "stopped before its points were done (resumable)"
                    }
                ),
            );
        }
        save(&mut rec)?;
        if r.status == CombinationStatus::Interrupted {
            interrupted = true;
            break;
        }
        if halted {
            break;
        }
    }
    rec.status = if interrupted {
        "interrupted"
    } else if halted {
        "stopped"
    } else if rec.combinations.iter().any(|c| {
        !matches!(
            c.status,
            CombinationStatus::Ok | CombinationStatus::PointsFailed
        )
    }) {
        "combinations_failed"
    } else {
        "finished"
    }
    .into();
    save(&mut rec)?;
    let threshold = opts.threshold.unwrap_or(DEFAULT_THRESHOLD);
    let judged =
        report::publish(cfg, &rec, threshold, sink.as_ref()).map_err(|e| RunError::State {
            op: format!("write the report of matrix {}", rec.matrix_id),
            source: e.into(),
        })?;
    if interrupted {
        events::warn(
            sink.as_ref(),
            format!(
                "interrupted; `vbench run --resume {}` continues the matrix",
                rec.matrix_id
            ),
        );
    } else if !halted {
        verdicts.extend(judged.iter().map(|v| v.outcome));
        if opts.down
            && let Some(last) = cfg.matrix.last()
        {
            let lcfg = plan::combination_config(cfg, last);
            crate::server::down(&docker, &lcfg, &Default::default(), sink.as_ref()).await?;
        }
    }
    drop(lock);
    Ok(MatrixOutcome::Ran {
        matrix_id: rec.matrix_id.clone(),
        statuses: rec
            .combinations
            .iter()
            .map(|c| (c.name.clone(), c.status))
            .collect(),
        interrupted,
        verdicts,
    })
}

/// A new matrix, or the one to resume (its own sweeps; the configuration must still match).
fn resolve(
    cfg: &Config,
    opts: &RunOptions,
    sweeps: Vec<(String, SweepConfig)>,
    sink: &dyn Sink,
) -> Result<(MatrixRecord, Vec<(String, SweepConfig)>), RunError> {
    let Some(id) = &opts.resume else {
        let hash = matrix_hash(cfg, &sweeps)?;
        let now = jiff::ZonedDateTime::now();
        let rec = MatrixRecord {
            schema_version: record::SCHEMA_VERSION,
            matrix_id: sweep::new_run_id(&now, &hash),
            created: now.timestamp().to_string(),
            updated: String::new(),
            status: "planned".into(),
            config_hash: hash,
            standin: opts.standin,
            sweeps: sweeps.iter().map(|(n, _)| n.clone()).collect(),
            sweep_configs: sweeps.iter().cloned().collect(),
            combinations: cfg
                .matrix
                .iter()
                .map(|c| CombinationRecord {
                    name: c.name.clone(),
                    settings: c.settings(),
                    status: CombinationStatus::Pending,
                    run_id: None,
                    started: None,
                    finished: None,
                    cause: None,
                })
                .collect(),
        };
        return Ok((rec, sweeps));
    };
    if !opts.selection.sweeps.is_empty()
        || sweep::presets::has_custom(&opts.selection)
        || opts.selection.repeats.is_some()
    {
        return Err(RunError::usage(
            "--resume runs the sweeps of the matrix it resumes; name no sweep with it",
        ));
    }
    let id = record::find(&cfg.results_dir, Some(id)).map_err(RunError::Usage)?;
    let rec = MatrixRecord::load(&record::matrix_dir(&cfg.results_dir, &id))
        .map_err(RunError::state(format!("read matrix {id}")))?;
    let sweeps: Vec<(String, SweepConfig)> = rec
        .sweeps
        .iter()
        .filter_map(|n| Some((n.clone(), rec.sweep_configs.get(n)?.clone())))
        .collect();
    let names: Vec<&str> = cfg.matrix.iter().map(|c| c.name.as_str()).collect();
    let had: Vec<&str> = rec.combinations.iter().map(|c| c.name.as_str()).collect();
    if names != had {
        return Err(RunError::usage(format!(
            "matrix {id} has the combinations {}, the configuration {}; resume it with the configuration it started with, or start a new matrix",
            had.join(", "),
            names.join(", ")
        )));
    }
    let hash = matrix_hash(cfg, &sweeps)?;
    if hash != rec.config_hash {
        if !opts.force {
            return Err(RunError::usage(format!(
                "the configuration changed since matrix {id} was planned (config hash {} → {hash}); its results would not be comparable. Use --force to resume anyway, or start a new matrix",
                rec.config_hash
            )));
        }
        events::warn(
            sink,
            format!("matrix {id}: configuration changed; resuming anyway (--force)"),
        );
    }
    if rec.combinations.iter().all(|c| c.status.done()) {
        events::info(
            sink,
            format!("matrix {id}: every combination is done; nothing to resume"),
        );
    }
    Ok((rec, sweeps))
}

/// How a combination's run went, when it got going.
struct Ran {
    run_id: String,
    end: RunEnd,
    verdict: Option<Outcome>,
}

/// Why a combination did not run to its end.
enum Stop {
    /// The server could not be brought up, the container not prepared: recorded, skipped.
    Failed(String),
    /// A signal during set-up.
    Interrupted,
    /// Something that stops the whole matrix (usage, lock, state on disk).
    Abort(RunError),
}

/// One combination: its server container made to fit, then its run (a new one, or the one
/// to resume). The run's id is recorded as soon as the run starts, so a killed vbench
/// resumes the right run.
#[allow(clippy::too_many_arguments)]
async fn run_one(
    docker: &Docker,
    ccfg: &Config,
    opts: &RunOptions,
    sweeps: &[(String, SweepConfig)],
    resume: Option<String>,
    cancel: &tokio_util::sync::CancellationToken,
    sink: &Arc<dyn Sink>,
    (dir, rec, i): (&std::path::Path, &mut MatrixRecord, usize),
) -> Result<Ran, Stop> {
    if let Err(why) = container::prepare(docker, ccfg, opts.standin, sink.as_ref()).await {
        return Err(Stop::Failed(why));
    }
    // Record the run id the moment the run announces it.
    let shared = Arc::new(Mutex::new(rec.clone()));
    let tap: Arc<dyn Sink> = {
        let inner = sink.clone();
        let shared = shared.clone();
        let dir = dir.to_path_buf();
        Arc::new(move |e: Event| {
            if let Event::RunStarted { run_id, .. } = &e {
                let mut r = shared.lock().unwrap_or_else(|p| p.into_inner());
                if r.combinations[i].run_id.as_deref() != Some(run_id) {
                    r.combinations[i].run_id = Some(run_id.clone());
                    if let Err(err) = r.save(&dir) {
                        events::warn(
                            inner.as_ref(),
                            format!("cannot record run {run_id}: {err:#}"),
                        );
                    }
                }
            }
            inner.emit(e);
        })
    };
    let ropts = RunOptions {
        sweeps: Some(sweeps.to_vec()),
        selection: Default::default(),
        dry_run: false,
        resume,
        force: opts.force,
        restart_server: opts.restart_server,
        down: false,
        // Each combination serves other arguments than the one before: replace it.
        restart: true,
        standin: opts.standin,
        docker_host: opts.docker_host.clone(),
        tls_cert_path: opts.tls_cert_path.clone(),
        labels: opts.labels.clone(),
        exit_now: opts.exit_now,
        baseline: opts.baseline.clone(),
        threshold: opts.threshold,
        cancel: Some(cancel.clone()),
    };
    let out = pipeline::run(ccfg, &ropts, tap).await;
    if let Some(id) = shared
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .combinations[i]
        .run_id
        .clone()
    {
        rec.combinations[i].run_id = Some(id);
    }
    match out {
        Ok(RunOutcome::Ran {
            run_id,
            end,
            verdict,
        }) => Ok(Ran {
            run_id,
            end,
            verdict,
        }),
        Ok(RunOutcome::Planned) => Err(Stop::Abort(RunError::usage(
            "a combination was only planned",
        ))),
        Err(RunError::InterruptedDuringSetup) => Err(Stop::Interrupted),
        Err(
            e @ (RunError::Usage(_)
            | RunError::Lock(_)
            | RunError::ClientBusy { .. }
            | RunError::Storage { .. }
            | RunError::State { .. }),
        ) => Err(Stop::Abort(e)),
        Err(e) => Err(Stop::Failed(crate::error_text::chain(&e))),
    }
}

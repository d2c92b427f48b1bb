//! The per-point loop: for each point not yet done, check the server, run `vllm bench serve`
//! in the client (through the run's channel, else an exec: `execute`), keep its console
//! output on the host, bring the result JSON to the host as soon as it exists (never
//! overwriting a file), validate it, and record the point in the run's journal. Ctrl-C stops
//! the benchmark inside the client (no orphan) and leaves a resumable run; a dead server
//! stops the run resumably or, if asked, is restarted and the point retried once.
//!
//! A point that did not produce a valid result is only recorded as failed once the
//! infrastructure is cleared, in this order: the client container still the one the run
//! started with, and the engine answering (`infra`); the server serving (checked from the
//! host); the server reachable from the client (`ServerControl::reach`). Each of those
//! failing ends the run resumably with its own `RunEnd`, the point left to run again.
//!
//! The server is reached through `ServerControl` so this loop does not depend on how the
//! server is brought up (the real lifecycle, or a test's).

use std::future::Future;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::argv::{BenchContext, bench_argv};
use super::error::RunError;
use super::execute::{ClientLink, Executed, Job};
use super::infra::{self, Fault};
use super::journal::Journal;
use super::manifest::{Manifest, PointRecord, PointStatus, ServerSnapshot};
use super::validate::{self, Expect};
use crate::config::ClientMode;
use crate::docker::{Docker, ExecSpec, OutputLine};
use crate::durable;
use crate::events::{self, Event, Sink};
use crate::telemetry::Telemetry;

pub use super::execute::STOP_GRACE;

/// Pause before confirming that the server is down.
pub const RECHECK_AFTER: Duration = Duration::from_secs(2);

/// What the runner needs from the server lifecycle.
pub trait ServerControl: Sync {
    /// `Ok(None)` when the server serves; `Ok(Some(why))` when it does not.
    fn check(&self) -> impl Future<Output = anyhow::Result<Option<String>>> + Send;
    /// Bring the server back after it died (`--restart-server`).
    fn restart(&self) -> impl Future<Output = anyhow::Result<ServerSnapshot>> + Send;
    /// Asked when a point failed while the server serves: `Ok(Some(why))` when the client
    /// cannot reach the server (a network problem, not a measurement). The default knows no
    /// way to tell and says reachable.
    fn reach(&self) -> impl Future<Output = anyhow::Result<Option<String>>> + Send {
        async { Ok(None) }
    }
}

/// Everything the loop needs.
pub struct Runner<'a, S: ServerControl> {
    pub docker: &'a Docker,
    /// Client container name.
    pub client: String,
    pub results_dir: PathBuf,
    pub run_dir: PathBuf,
    /// `result_dir` is the client's base result directory; each point writes to
    /// `<result_dir>/<point.dir>/` so the client mirrors the host layout.
    pub bench: BenchContext,
    /// `KEY=VALUE` for the bench (client env).
    pub env: Vec<String>,
    pub server: S,
    pub restart_server: bool,
    pub cancel: CancellationToken,
    pub sink: &'a dyn Sink,
    /// How points run in the client (worker, process, auto).
    pub client_mode: ClientMode,
    /// The run's samplers (GPU, `/metrics`): per-point aggregates go into the manifest.
    pub telemetry: Option<&'a Telemetry>,
    /// The channel into the client (opened by `prepare_client`).
    pub link: ClientLink,
    /// The run's journal while `run` works.
    pub journal: Mutex<Option<Journal>>,
    /// Points to add once every point so far is done (an SLO search picks its next level
    /// from the results so far); `None`, or an empty answer: the plan is all there is.
    pub more: Option<&'a MorePoints<'a>>,
}

/// What `Runner::more` asks: the points to add, given the run so far.
pub type MorePoints<'a> = dyn Fn(&Manifest) -> Vec<super::plan::Point> + Sync + 'a;

/// How the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every point done and passed (skipped points aside).
    Finished,
    /// Every point done; some failed validation.
    PointsFailed,
    /// Ctrl-C/SIGTERM: the in-flight point is pending again, the run is resumable.
    Interrupted,
    /// The server is gone; the run is resumable.
    ServerFailed(String),
    /// The client container stopped (or was killed, removed, restarted) under a point; the
    /// point runs again on resume, which starts the container again.
    ClientLost(String),
    /// The Docker Engine stopped answering; resumable once it answers again.
    EngineLost(String),
    /// The client cannot reach the server, which serves (checked from the host): a network
    /// problem. Resumable.
    ServerUnreachable(String),
}

impl RunEnd {
    pub fn status(&self) -> &'static str {
        match self {
            RunEnd::Finished => "finished",
            RunEnd::PointsFailed => "points_failed",
            RunEnd::Interrupted => "interrupted",
            RunEnd::ServerFailed(_) => "server_failed",
            RunEnd::ClientLost(_) => "client_lost",
            RunEnd::EngineLost(_) => "engine_lost",
            RunEnd::ServerUnreachable(_) => "server_unreachable",
        }
    }

    /// The run stopped before its points were done and `--resume` continues it.
    pub fn resumable(&self) -> bool {
        !matches!(self, RunEnd::Finished | RunEnd::PointsFailed)
    }
}

impl From<Fault> for RunEnd {
    fn from(f: Fault) -> Self {
        match f {
            Fault::ClientLost(why) => RunEnd::ClientLost(why),
            Fault::EngineLost(why) => RunEnd::EngineLost(why),
        }
    }
}

/// The PID file of a run's benchmark in the client (one benchmark at a time per run).
pub fn pidfile(run_id: &str) -> String {
    format!("/tmp/vbench-bench-{run_id}.pid")
}

enum Attempt {
    Done,
    Interrupted,
    ServerDied(String),
    /// The run cannot go on (client or engine lost, server unreachable).
    Stop(RunEnd),
}

impl<S: ServerControl> Runner<'_, S> {
    fn client_dir(&self, r: &PointRecord) -> String {
        format!(
            "{}/{}",
            self.bench.result_dir.trim_end_matches('/'),
            r.point.dir
        )
    }

    /// Write the whole manifest (compaction: the journal goes).
    fn save(&self, m: &mut Manifest) -> Result<(), RunError> {
        m.save(&self.run_dir)
            .map_err(RunError::state("write the run manifest"))
    }

    /// Record point `idx`'s new state: one journal line while the run runs, else the whole
    /// manifest.
    fn record(&self, m: &mut Manifest, idx: usize) -> Result<(), RunError> {
        let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        match j.as_mut() {
            Some(j) => j.point(idx, &m.points[idx]).map_err(|e| RunError::State {
                op: format!("append to {}", j.path().display()),
                source: e.into(),
            }),
            None => {
                drop(j);
                self.save(m)
            }
        }
    }

    /// Make sure the client has its directories (the PID file is written before the
    /// benchmark creates its result directory), and open the channel into it.
    pub async fn prepare_client(&self, m: &mut Manifest) -> Result<(), RunError> {
        // A results directory (or a sweep's) that is a symlink is refused, never followed:
        // results are copied out of real directories only, so a link cannot send them (or
        // take them) anywhere else. A fixed script; the directories are its arguments.
        const PREPARE: &str = r#"for d in "$@"; do if [ -L "$d" ]; then printf '%s -> %s\n' "$d" "$(readlink "$d")"; exit 3; fi; done; mkdir -p /tmp "$@""#;
        let mut argv = vec![
            "sh".to_string(),
            "-c".into(),
            PREPARE.into(),
            "vbench-prepare".into(),
            self.bench.result_dir.trim_end_matches('/').to_string(),
        ];
        let mut dirs: Vec<String> = m.points.iter().map(|r| self.client_dir(r)).collect();
        dirs.dedup();
        argv.extend(dirs);
        let (out, stdout, err) = self
            .docker
            .exec_capture(
                &self.client,
                &ExecSpec {
                    argv,
                    deadline: Some(Duration::from_secs(60)),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| RunError::setup(format!("prepare directories in {}", self.client), e))?;
        if out.exit_code == Some(3)
            && let Some((link, target)) = stdout.trim().split_once(" -> ")
        {
            return Err(RunError::setup(
                format!("use the results directory {link} in {}", self.client),
                format!(
                    "it is a symlink to {target}, and vbench copies results only out of a real directory (a link could send them anywhere): make {link} a directory, or set client.result_dir to one"
                ),
            ));
        }
        if out.exit_code != Some(0) {
            return Err(RunError::setup(
                format!("prepare directories in {}", self.client),
                format!("mkdir exited with {:?}: {}", out.exit_code, err.trim()),
            ));
        }
        let logs = self.run_dir.join("logs");
        std::fs::create_dir_all(&logs)
            .map_err(|e| RunError::setup(format!("create {}", logs.display()), e))?;
        let used = self
            .link
            .open(
                self.docker,
                &self.client,
                &self.env,
                self.client_mode,
                self.sink,
            )
            .await?;
        m.client_mode = Some(used);
        Ok(())
    }

    /// After a crash (or a lost engine): a point still marked `running` either finished in
    /// the client (its result file is there under its known name) or must run again. A
    /// benchmark still running from the earlier vbench is stopped first (its result would
    /// arrive unobserved).
    pub async fn recover(&self, m: &mut Manifest) -> Result<(), RunError> {
        let pid = pidfile(&m.run_id);
        for i in 0..m.points.len() {
            if m.points[i].status != PointStatus::Running {
                continue;
            }
            let id = m.points[i].point.id.clone();
            if self
                .client_restarted_since(m.points[i].started.as_deref())
                .await
            {
                // After a restart (of the machine or the container) the PID file names a
                // process of the container's earlier life, and that pid may now be another
                // process's: never signal it.
                events::info(
                    self.sink,
                    format!(
                        "{id}: {} restarted since the point began, so its benchmark is gone; ignoring its stale PID file",
                        self.client
                    ),
                );
                let _ = self
                    .docker
                    .exec_capture(
                        &self.client,
                        &ExecSpec {
                            argv: vec!["rm".into(), "-f".into(), pid.clone()],
                            deadline: Some(Duration::from_secs(30)),
                            ..Default::default()
                        },
                    )
                    .await;
            } else if self
                .docker
                .tracked_alive(&self.client, &pid)
                .await
                .unwrap_or(false)
            {
                events::warn(
                    self.sink,
                    format!(
                        "{id}: a benchmark of the interrupted run is still running in {}; stopping it",
                        self.client
                    ),
                );
                self.docker
                    .stop_tracked(&self.client, &pid, STOP_GRACE)
                    .await
                    .map_err(|source| RunError::Docker {
                        op: format!("stop the leftover benchmark in {}", self.client),
                        source,
                    })?;
            }
            let recovered = match m.points[i].file_name.clone() {
                Some(name) => self.collect(&mut m.points[i], &name).await?,
                None => false,
            };
            if recovered {
                events::info(
                    self.sink,
                    format!(
                        "{id}: its result file, written in the client after vbench lost sight of it, is recovered ({})",
                        m.points[i].status.as_str()
                    ),
                );
            } else {
                let r = &mut m.points[i];
                r.status = PointStatus::Pending;
                r.reason =
                    Some("interrupted before its result reached the host; runs again".into());
            }
            self.save(m)?;
        }
        Ok(())
    }

    /// Whether the client container (re)started after `since` (a point's start time).
    async fn client_restarted_since(&self, since: Option<&str>) -> bool {
        let Some(since) = since.and_then(|s| s.parse::<jiff::Timestamp>().ok()) else {
            return false;
        };
        match self.docker.inspect_container(&self.client).await {
            Ok(Some(state)) => state
                .started_at
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| t > since),
            _ => false,
        }
    }

    /// Look for the point's result (host first, then the client), copy it to the host if
    /// needed and judge it. False when no result exists anywhere.
    async fn collect(&self, r: &mut PointRecord, name: &str) -> Result<bool, RunError> {
        let rel = format!("{}/{name}", r.point.dir);
        let host = self.results_dir.join(&rel);
        let io = |what: &str, p: &std::path::Path| {
            let op = format!("{what} {}", p.display());
            move |e: std::io::Error| RunError::State {
                op,
                source: e.into(),
            }
        };
        let bytes = if host.is_file() {
            std::fs::read(&host).map_err(io("read", &host))?
        } else {
            let client_path = format!("{}/{name}", self.client_dir(r));
            match self.docker.read_file(&self.client, &client_path).await {
                Ok(Some(b)) => {
                    if !durable::write_new(&host, &b).map_err(io("write", &host))? {
                        return Err(RunError::State {
                            op: format!("copy {}", host.display()),
                            source: "it appeared while copying it: refusing to overwrite it".into(),
                        });
                    }
                    b
                }
                Ok(None) => return Ok(false),
                Err(source) => {
                    return Err(RunError::Docker {
                        op: format!("read {client_path} from {}", self.client),
                        source,
                    });
                }
            }
        };
        // A reference in the run directory: a hard link (same file system), else a copy.
        let in_run = self.run_dir.join("results").join(&rel);
        if !in_run.exists() && durable::link_new(&host, &in_run).is_err() {
            durable::write_new(&in_run, &bytes).map_err(io("write", &in_run))?;
        }
        let verdict = validate::check(
            &bytes,
            &rel,
            Expect {
                num_prompts: r.point.num_prompts,
                input_len: r.point.input_len,
                output_len: r.point.output_len,
            },
        );
        r.result_file = Some(rel);
        r.metrics = verdict.metrics.clone();
        if verdict.ok() {
            r.status = PointStatus::Ok;
            r.reason = None;
        } else {
            r.status = PointStatus::Failed;
            r.reason = Some(verdict.problems.join("; "));
        }
        Ok(true)
    }

    /// `Some(why)` when the server does not serve, confirmed by a second check after
    /// `RECHECK_AFTER` so one slow probe does not end a long sweep.
    async fn server_down(&self) -> Result<Option<String>, RunError> {
        let check = RunError::state("check the server's health");
        if self.server.check().await.map_err(check)?.is_none() {
            return Ok(None);
        }
        tokio::time::sleep(RECHECK_AFTER).await;
        self.server
            .check()
            .await
            .map_err(RunError::state("check the server's health"))
    }

    /// Run every point not yet done; each point's record is appended to the run's journal,
    /// and the manifest is written whole at the start and the end.
    pub async fn run(&self, m: &mut Manifest) -> Result<RunEnd, RunError> {
        let end = loop {
            let end = self.run_batch(m).await;
            // Points decided by the results so far (an SLO search) join the run; the
            // manifest is written whole before they run, so the journal always addresses
            // points the manifest has.
            match (&end, self.more) {
                (Ok(RunEnd::Finished | RunEnd::PointsFailed), Some(more)) => {
                    let next = more(m);
                    if next.is_empty() {
                        break end;
                    }
                    m.points.extend(next.into_iter().map(PointRecord::new));
                }
                _ => break end,
            }
        };
        // Whatever happened, the channel is closed and the manifest written whole.
        self.link.close().await;
        let end = end?;
        m.status = end.status().into();
        self.save(m)?;
        Ok(end)
    }

    /// Every point not yet done, with the journal open while they run.
    async fn run_batch(&self, m: &mut Manifest) -> Result<RunEnd, RunError> {
        let todo: Vec<usize> = (0..m.points.len())
            .filter(|&i| !m.points[i].status.done())
            .collect();
        let n = todo.len();
        m.status = "running".into();
        self.save(m)?;
        let journal = Journal::open(&self.run_dir).map_err(|e| RunError::State {
            op: format!("open the journal in {}", self.run_dir.display()),
            source: e.into(),
        })?;
        *self.journal.lock().unwrap_or_else(|e| e.into_inner()) = Some(journal);
        let end = self.points(m, &todo, n).await;
        // The manifest is written whole (the journal then goes) whatever happened.
        *self.journal.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let end = end?;
        self.save(m)?;
        Ok(end)
    }

    async fn points(&self, m: &mut Manifest, todo: &[usize], n: usize) -> Result<RunEnd, RunError> {
        for (k, &idx) in todo.iter().enumerate() {
            let i = k + 1;
            let mut restarted = false;
            loop {
                if self.cancel.is_cancelled() {
                    return Ok(RunEnd::Interrupted);
                }
                let down = match self.server_down().await {
                    Ok(down) => down,
                    // The health check needs the engine (it inspects the server container).
                    Err(e) => match infra::engine_gone(self.docker).await {
                        Some(f) => return Ok(f.into()),
                        None => return Err(e),
                    },
                };
                if let Some(why) = down {
                    if self.restart_server && !restarted {
                        restarted = true;
                        events::warn(
                            self.sink,
                            format!("server not serving ({why}); restarting it (--restart-server)"),
                        );
                        match self.server.restart().await {
                            Ok(snap) => {
                                m.server = Some(snap);
                                continue;
                            }
                            Err(e) => {
                                return Ok(RunEnd::ServerFailed(format!("restart failed: {e:#}")));
                            }
                        }
                    }
                    return Ok(RunEnd::ServerFailed(why));
                }
                match self.attempt(m, idx, i, n).await? {
                    Attempt::Done => break,
                    Attempt::Interrupted => return Ok(RunEnd::Interrupted),
                    Attempt::ServerDied(why) if self.restart_server && !restarted => {
                        events::warn(
                            self.sink,
                            format!(
                                "{}: the server died during the point ({why}); retrying it once",
                                m.points[idx].point.id
                            ),
                        );
                        continue;
                    }
                    Attempt::ServerDied(why) => return Ok(RunEnd::ServerFailed(why)),
                    Attempt::Stop(end) => return Ok(end),
                }
            }
        }
        Ok(if m.count(PointStatus::Failed) > 0 {
            RunEnd::PointsFailed
        } else {
            RunEnd::Finished
        })
    }

    /// The telemetry of the point that just ended: its aggregates into the record, and the
    /// latest GPU sample into the run's samples.
    async fn keep_telemetry(&self, m: &mut Manifest, idx: usize) -> Result<(), RunError> {
        let Some(t) = self.telemetry else {
            return Ok(());
        };
        let seen = t.end_point().await;
        if !seen.series.is_empty() {
            m.points[idx].telemetry = Some(seen.series);
        }
        if let Some((ts, gpus)) = seen.gpus.filter(|(_, g)| !g.is_empty()) {
            let sample = serde_json::json!({
                "during_point": m.points[idx].point.id,
                "ts": ts,
                "gpus": gpus,
            });
            let mut j = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(j) = j.as_mut() {
                j.gpu_sample(&sample).map_err(|e| RunError::State {
                    op: format!("append to {}", j.path().display()),
                    source: e.into(),
                })?;
            }
            m.gpu_samples.push(sample);
        }
        Ok(())
    }

    async fn attempt(
        &self,
        m: &mut Manifest,
        idx: usize,
        i: usize,
        n: usize,
    ) -> Result<Attempt, RunError> {
        let started = Instant::now();
        let now = jiff::ZonedDateTime::now();
        let file_name = {
            let r = &m.points[idx];
            let mut name = r.point.file_name(&super::timestamp(&now));
            // Same second as an earlier file of this stem (a quick retry): never overwrite.
            let mut k = 1;
            while self.results_dir.join(&r.point.dir).join(&name).exists() {
                name = r
                    .point
                    .file_name(&format!("{}-{k}", super::timestamp(&now)));
                k += 1;
            }
            name
        };
        let log_rel = format!("logs/{}.log", m.points[idx].point.id.replace('/', "__"));
        {
            let r = &mut m.points[idx];
            r.status = PointStatus::Running;
            r.reason = None;
            r.file_name = Some(file_name.clone());
            // A result of an earlier attempt that did not count stays on the host: keep its name.
            if let Some(earlier) = r.result_file.take() {
                r.superseded.push(earlier);
            }
            r.metrics = None;
            r.telemetry = None;
            r.log_file = Some(log_rel.clone());
            r.started = Some(now.timestamp().to_string());
            r.finished = None;
            r.attempts += 1;
        }
        self.record(m, idx)?;
        let p = m.points[idx].point.clone();
        self.sink.emit(Event::PointStarted {
            i,
            n,
            name: p.id.clone(),
            input_len: p.input_len,
            output_len: p.output_len,
            concurrency: p.concurrency,
            num_prompts: p.num_prompts,
        });
        let mut bench = self.bench.clone();
        bench.result_dir = self.client_dir(&m.points[idx]);
        let argv = bench_argv(&p, &bench, &file_name);
        let pid = pidfile(&m.run_id);
        let log_path = self.run_dir.join(&log_rel);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| RunError::State {
                op: format!("open {}", log_path.display()),
                source: e.into(),
            })?;
        let _ = writeln!(
            log,
            "# {} attempt {}: {}",
            now.timestamp(),
            m.points[idx].attempts,
            crate::config::redact_args(&argv).join(" ")
        );
        let mut tail: Vec<String> = Vec::new();
        let mut on_line = |l: OutputLine| {
            // A full disk must not abort the benchmark: the log is best effort.
            let _ = writeln!(log, "{}", l.text);
            if !l.text.trim().is_empty() {
                if tail.len() == 5 {
                    tail.remove(0);
                }
                tail.push(l.text);
            }
        };
        let client_path = format!("{}/{file_name}", bench.result_dir);
        let host_path = self.results_dir.join(&p.dir).join(&file_name);
        let job = Job {
            argv: &argv,
            env: &self.env,
            result_in_client: &client_path,
            result_on_host: &host_path,
            pidfile: &pid,
            deadline: Duration::from_secs(p.timeout_s),
        };
        if let Some(t) = self.telemetry {
            t.begin_point().await;
        }
        let executed = self
            .link
            .execute(
                self.docker,
                &self.client,
                &job,
                &mut on_line,
                &self.cancel,
                self.sink,
            )
            .await;
        let finish = |m: &mut Manifest| {
            let r = &mut m.points[idx];
            r.finished = Some(jiff::Timestamp::now().to_string());
            r.elapsed_s = Some(started.elapsed().as_secs_f64());
        };
        let (exit_code, timed_out) = match executed {
            Ok(Executed::Ran {
                exit_code,
                timed_out,
                ..
            }) => (exit_code, timed_out),
            Ok(Executed::Interrupted) => {
                // What the GPUs and the server did until the stop is kept with the point.
                self.keep_telemetry(m, idx).await?;
                let r = &mut m.points[idx];
                r.status = PointStatus::Pending;
                r.reason = Some("interrupted; runs again on --resume".into());
                finish(m);
                self.record(m, idx)?;
                self.emit_finished(m, idx, i, n);
                return Ok(Attempt::Interrupted);
            }
            Ok(Executed::Lost(f)) => {
                self.keep_telemetry(m, idx).await?;
                finish(m);
                return self.lost(m, idx, i, n, f);
            }
            Err(e) if durable::refusal_in(&e).is_some() => {
                // The result came back but the results directory refused it (full or
                // read-only): it waits in the client under its known name, so the point
                // stays `running` and `--resume` collects it rather than running it again
                // (a second result would leave the first one unrecorded). Best effort: the
                // journal may be refused too, and says `running` already.
                let r = &mut m.points[idx];
                r.reason = Some(
                    "its result could not be written on the host (the results directory refused it); --resume collects it from the client"
                        .into(),
                );
                finish(m);
                let _ = self.record(m, idx);
                return Err(e);
            }
            Err(e) => {
                // A failed Docker call under a point: the container or the engine gone?
                if let Some(f) = self.link.fault(self.docker, &self.client).await {
                    finish(m);
                    return self.lost(m, idx, i, n, f);
                }
                let r = &mut m.points[idx];
                r.status = PointStatus::Pending;
                r.reason = Some(format!("could not run it: {e}"));
                finish(m);
                self.record(m, idx)?;
                return Err(e);
            }
        };
        self.keep_telemetry(m, idx).await?;
        let found = if timed_out {
            false
        } else {
            match self.collect(&mut m.points[idx], &file_name).await {
                Ok(found) => found,
                Err(e) => match self.link.fault(self.docker, &self.client).await {
                    Some(f) => {
                        finish(m);
                        return self.lost(m, idx, i, n, f);
                    }
                    None => return Err(e),
                },
            }
        };
        if !found {
            let r = &mut m.points[idx];
            r.status = PointStatus::Failed;
            r.reason = Some(if timed_out {
                format!(
                    "no result within the point deadline {}s (benchmark stopped)",
                    p.timeout_s
                )
            } else {
                format!(
                    "vllm bench serve exited with {} and wrote no result file{}",
                    exit_code
                        .map(|c| format!("code {c}"))
                        .unwrap_or_else(|| "no code".into()),
                    tail.last().map(|t| format!(": {t}")).unwrap_or_default()
                )
            });
        }
        finish(m);
        if m.points[idx].status == PointStatus::Failed
            && let Some(a) = self.not_a_measurement(m, idx, i, n).await?
        {
            return Ok(a);
        }
        self.record(m, idx)?;
        self.emit_finished(m, idx, i, n);
        Ok(Attempt::Done)
    }

    /// A failed point is a measurement only when the infrastructure under it held: the
    /// client container (and the engine), the server, the network between them — checked in
    /// that order. `Some` when one did not: the point is left to run again.
    async fn not_a_measurement(
        &self,
        m: &mut Manifest,
        idx: usize,
        i: usize,
        n: usize,
    ) -> Result<Option<Attempt>, RunError> {
        if let Some(f) = self.link.fault(self.docker, &self.client).await {
            return self.lost(m, idx, i, n, f).map(Some);
        }
        let down = match self.server_down().await {
            Ok(down) => down,
            Err(e) => match infra::engine_gone(self.docker).await {
                Some(f) => return self.lost(m, idx, i, n, f).map(Some),
                None => return Err(e),
            },
        };
        if let Some(why) = down {
            let r = &mut m.points[idx];
            r.status = PointStatus::Pending;
            r.reason = Some(format!(
                "the server died during this point ({why}); runs again on --resume"
            ));
            self.record(m, idx)?;
            self.emit_finished(m, idx, i, n);
            return Ok(Some(Attempt::ServerDied(why)));
        }
        let unreachable = match self.server.reach().await {
            Ok(u) => u,
            Err(e) => {
                events::warn(
                    self.sink,
                    format!("could not check that the client reaches the server: {e:#}"),
                );
                None
            }
        };
        if let Some(why) = unreachable {
            let r = &mut m.points[idx];
            r.status = PointStatus::Pending;
            r.reason = Some(format!(
                "the client could not reach the server during this point ({why}); runs again on --resume"
            ));
            self.record(m, idx)?;
            self.emit_finished(m, idx, i, n);
            return Ok(Some(Attempt::Stop(RunEnd::ServerUnreachable(why))));
        }
        Ok(None)
    }

    /// The client container or the engine went away under point `idx`. A lost client's
    /// point runs again on resume. With the engine gone the benchmark may still run in the
    /// client and finish: the point stays `running`, so `--resume` (`recover`) stops what is
    /// left of it and collects its result, or runs it again.
    fn lost(
        &self,
        m: &mut Manifest,
        idx: usize,
        i: usize,
        n: usize,
        f: Fault,
    ) -> Result<Attempt, RunError> {
        let r = &mut m.points[idx];
        match &f {
            Fault::ClientLost(why) => {
                r.status = PointStatus::Pending;
                r.reason = Some(format!("{why} during this point; runs again on --resume"));
            }
            Fault::EngineLost(_) => {
                r.status = PointStatus::Running;
                r.reason = Some(
                    "the Docker Engine was lost during this point; --resume collects its result or runs it again"
                        .into(),
                );
            }
        }
        self.record(m, idx)?;
        if m.points[idx].status != PointStatus::Running {
            self.emit_finished(m, idx, i, n);
        }
        Ok(Attempt::Stop(f.into()))
    }

    fn emit_finished(&self, m: &Manifest, idx: usize, i: usize, n: usize) {
        let r = &m.points[idx];
        let mx = r.metrics.as_ref();
        self.sink.emit(Event::PointFinished {
            i,
            n,
            name: r.point.id.clone(),
            status: r.status.as_str().into(),
            ttft_ms: mx.and_then(|x| x.mean_ttft_ms),
            tpot_ms: mx.and_then(|x| x.mean_tpot_ms),
            throughput: mx.and_then(|x| x.request_throughput),
            elapsed_s: r.elapsed_s.unwrap_or(0.0),
            file: r.result_file.clone(),
            reason: r.reason.clone(),
            metrics: r.metrics.clone(),
        });
    }
}

/// `vllm bench` processes running in the client: (pid, command line). Read from /proc by a
/// fixed script (works with busybox and full images alike; nothing user-given is spliced in).
pub async fn bench_processes(docker: &Docker, client: &str) -> anyhow::Result<Vec<(u32, String)>> {
    const LIST: &str = r#"for d in /proc/[0-9]*; do c=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null) || continue; [ -n "$c" ] && echo "${d#/proc/} $c"; done; exit 0"#;
    let spec = ExecSpec {
        argv: vec!["sh".into(), "-c".into(), LIST.into()],
        deadline: Some(Duration::from_secs(30)),
        ..Default::default()
    };
    let (out, stdout, stderr) = docker
        .exec_capture(client, &spec)
        .await
        .map_err(|e| anyhow::anyhow!("cannot list processes in {client}: {e}"))?;
    if out.exit_code != Some(0) {
        anyhow::bail!(
            "listing processes in {client} failed ({:?}): {}",
            out.exit_code,
            stderr.trim()
        );
    }
    Ok(parse_processes(&stdout))
}

/// Keep the lines of `pid cmdline` that are a `vllm bench serve` (or its tracking wrapper).
pub fn parse_processes(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let (pid, cmd) = l.trim().split_once(' ')?;
            let cmd = cmd.trim();
            (cmd.contains("vllm") && cmd.contains("bench serve"))
                .then(|| Some((pid.parse().ok()?, cmd.to_string())))?
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bench_processes_only() {
        let listing = "1 /sbin/docker-init -- sleep infinity\n\
            7 sleep infinity\n\
            42 /usr/bin/python3 /usr/local/bin/vllm bench serve --backend openai \n\
            43 vllm bench serve --model m \n\
            44 vllm serve facebook/opt-125m \n\
            bad line\n";
        let p = parse_processes(listing);
        assert_eq!(p.iter().map(|x| x.0).collect::<Vec<_>>(), vec![42, 43]);
        assert!(p[0].1.ends_with("--backend openai"));
    }
}

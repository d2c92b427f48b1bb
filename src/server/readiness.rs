//! Readiness: a pure state machine (`Machine`) over observations, with a deadline per stage:
//! launch → log milestone (`Application startup complete.`) → `GET /health` 200 →
//! `GET /v1/models` lists the model → `GET /version`. It fails at once when the process exits,
//! the container stops, or a fatal signature stays in the log past a short grace. The async
//! driver that gathers observations lives in `wait`; this file has no I/O.

use std::time::Duration;

use super::diagnose::{self, Outcome};

/// Readiness stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The launcher ran; the process must show up alive.
    Launch,
    /// Waiting for `Application startup complete.` in the log (model loading).
    LogMilestone,
    /// Waiting for `GET /health` → 200.
    Health,
    /// Waiting for `GET /v1/models` to list the model.
    Models,
    /// One completion of one token: the engine really generates (a hung engine still
    /// answers `/health`).
    Generate,
    /// Reading `GET /version`.
    Version,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Launch => "launch",
            Stage::LogMilestone => "log milestone",
            Stage::Health => "health",
            Stage::Models => "models",
            Stage::Generate => "test request",
            Stage::Version => "version",
        }
    }

    /// What the live status line says while in this stage.
    pub fn doing(self) -> &'static str {
        match self {
            Stage::Launch => "starting vllm serve",
            Stage::LogMilestone => {
                "loading the model (waiting for `Application startup complete.`)"
            }
            Stage::Health => "waiting for GET /health = 200",
            Stage::Models => "waiting for GET /v1/models to list the model",
            Stage::Generate => "sending one test request (1 token)",
            Stage::Version => "reading GET /version",
        }
    }

    /// The stage's own deadline; every stage is also capped by the overall deadline. Model
    /// loading has no own limit: it takes 1–25 minutes and only the overall deadline fits it.
    pub fn limit(self) -> Option<Duration> {
        match self {
            Stage::Launch => Some(Duration::from_secs(30)),
            Stage::LogMilestone => None,
            Stage::Health => Some(Duration::from_secs(120)),
            Stage::Models => Some(Duration::from_secs(60)),
            Stage::Generate => Some(Duration::from_secs(120)),
            Stage::Version => Some(Duration::from_secs(30)),
        }
    }

    fn next(self) -> Option<Stage> {
        match self {
            Stage::Launch => Some(Stage::LogMilestone),
            Stage::LogMilestone => Some(Stage::Health),
            Stage::Health => Some(Stage::Models),
            Stage::Models => Some(Stage::Generate),
            Stage::Generate => Some(Stage::Version),
            Stage::Version => None,
        }
    }
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ModelCard {
    pub id: String,
    #[serde(default)]
    pub root: Option<String>,
    #[serde(default)]
    pub max_model_len: Option<u64>,
}

/// Whether the container is still up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ContainerLife {
    Running,
    Stopped {
        exit_code: Option<i64>,
        oom_killed: bool,
    },
}

/// What the driver saw in one tick. Probes not made this tick are `None`.
#[derive(Debug, Clone)]
pub struct Observation {
    pub container: ContainerLife,
    pub process_alive: bool,
    /// New complete log lines since the last tick, ANSI-stripped.
    pub new_lines: Vec<String>,
    pub health_ok: Option<bool>,
    /// `Some(Ok(list))` when `/v1/models` answered, `Some(Err(why))` when it did not.
    pub models: Option<Result<Vec<ModelCard>, String>>,
    /// `/v1/models` refused the API key (HTTP 401/403).
    pub refused: Option<u16>,
    /// `Some(Ok(()))` when the test completion succeeded.
    pub generated: Option<Result<(), String>>,
    /// `Some(Some(v))` when `/version` answered, `Some(None)` when the probe failed.
    pub version: Option<Option<String>>,
}

impl Observation {
    pub fn new(container: ContainerLife, process_alive: bool, new_lines: Vec<String>) -> Self {
        Self {
            container,
            process_alive,
            new_lines,
            health_ok: None,
            models: None,
            refused: None,
            generated: None,
            version: None,
        }
    }
}

/// What the machine decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Still in the same stage.
    Wait,
    /// Moved from one stage to the next (`how` says what proved it).
    Advanced { from: Stage, to: Stage, how: String },
    /// Every stage passed.
    Ready,
    /// Stop waiting: the start failed.
    Failed(Outcome),
}

/// How long a fatal signature may sit in the log while the process is still alive (vLLM
/// shuts its workers down after the traceback) before we stop waiting anyway.
pub const FATAL_GRACE: Duration = Duration::from_secs(10);

/// Log lines kept whole; past this, the middle is thinned (`Machine::keep_lines`).
pub const KEEP_LINES: usize = 20_000;
const KEEP_HEAD: usize = 2_000;
const KEEP_TAIL: usize = 2_000;

/// The readiness state machine. `now` is time since the launch.
#[derive(Debug)]
pub struct Machine {
    pub stage: Stage,
    stage_since: Duration,
    overall: Duration,
    expected_model: String,
    /// The log lines seen (ANSI-stripped), for the milestone and the diagnosis: every one
    /// until there are `KEEP_LINES`, then the first and last ones and every line a check
    /// looks for (`keep_lines`), so a log of hundreds of MB costs bounded memory.
    pub lines: Vec<String>,
    fatal_since: Option<Duration>,
    pub model: Option<ModelCard>,
    pub version: Option<String>,
    /// The last reason `/v1/models` did not satisfy us (for the deadline message).
    pub models_note: Option<String>,
    /// Whether the probes send an API key (for the diagnosis of a refusal).
    pub key_sent: bool,
    done: bool,
}

impl Machine {
    pub fn new(expected_model: impl Into<String>, overall: Duration) -> Self {
        Self {
            stage: Stage::Launch,
            stage_since: Duration::ZERO,
            overall,
            expected_model: expected_model.into(),
            lines: Vec::new(),
            fatal_since: None,
            model: None,
            version: None,
            models_note: None,
            key_sent: false,
            done: false,
        }
    }

    /// Time left before the current stage's deadline (own limit or overall, the earlier).
    pub fn remaining(&self, now: Duration) -> Duration {
        let overall_left = self.overall.saturating_sub(now);
        match self.stage.limit() {
            Some(l) => overall_left.min((self.stage_since + l).saturating_sub(now)),
            None => overall_left,
        }
    }

    /// Add log lines; past `KEEP_LINES` the middle is dropped but for the lines the
    /// checks look for (a fatal signature, the start-up milestone, the version, the exit
    /// status — each with the line after it, where a wrapped message continues).
    pub fn keep_lines(&mut self, new: impl IntoIterator<Item = String>) {
        self.lines.extend(new);
        if self.lines.len() <= KEEP_LINES {
            return;
        }
        let n = self.lines.len();
        let tail_from = n - KEEP_TAIL;
        let mut keep = vec![false; n];
        for (i, k) in keep.iter_mut().enumerate() {
            *k = i < KEEP_HEAD || i >= tail_from;
        }
        for i in KEEP_HEAD..tail_from {
            let w = &self.lines[i..(i + 2).min(n)];
            if diagnose::classify(w).is_some()
                || diagnose::startup_complete(w).is_some()
                || diagnose::logged_version(&w[..1]).is_some()
                || super::argv::logged_exit_status(&w[..1]).is_some()
            {
                keep[i] = true;
                if i + 1 < n {
                    keep[i + 1] = true;
                }
            }
        }
        let mut i = 0;
        self.lines.retain(|_| {
            let k = keep[i];
            i += 1;
            k
        });
    }

    /// Feed one observation. After `Ready` or `Failed` the machine stays put.
    /// The process was already seen running before the wait began (a reused server): skip
    /// the launch stage, so that its disappearance counts as an exit at once instead of
    /// waiting out the launch deadline for a PID file that will not come back.
    pub fn seen_running(&mut self) {
        if self.stage == Stage::Launch {
            self.stage = Stage::LogMilestone;
        }
    }

    pub fn observe(&mut self, now: Duration, obs: Observation) -> Step {
        if self.done {
            return Step::Wait;
        }
        self.keep_lines(obs.new_lines.iter().cloned());
        if let ContainerLife::Stopped {
            exit_code,
            oom_killed,
        } = obs.container
        {
            return self.fail(Outcome::ContainerDied {
                exit_code,
                oom_killed,
            });
        }
        let exit_status = super::argv::logged_exit_status(&self.lines);
        // Right after launch the PID file may not be written yet: "not alive" only counts
        // once the process was seen, or when the launcher logged its exit.
        if !obs.process_alive && (self.stage > Stage::Launch || exit_status.is_some()) {
            return self.fail(Outcome::Exited {
                status: exit_status,
            });
        }
        if diagnose::classify(&self.lines).is_some() {
            let since = *self.fatal_since.get_or_insert(now);
            if now.saturating_sub(since) >= FATAL_GRACE {
                return self.fail(Outcome::FatalLogged);
            }
        }
        // A refused key stays refused: no point waiting out the deadline.
        if let Some(status) = obs.refused {
            return self.fail(Outcome::Unauthorized {
                status,
                key_sent: self.key_sent,
            });
        }
        if let Some(step) = self.progress(now, &obs) {
            return step;
        }
        if self.remaining(now).is_zero() {
            let after = if now >= self.overall {
                self.overall
            } else {
                self.stage.limit().unwrap_or(self.overall)
            };
            return self.fail(Outcome::Deadline {
                stage: self.stage.name().to_string(),
                after,
            });
        }
        Step::Wait
    }

    fn progress(&mut self, now: Duration, obs: &Observation) -> Option<Step> {
        let how = match self.stage {
            Stage::Launch => obs.process_alive.then(|| "process running".to_string()),
            Stage::LogMilestone => {
                if diagnose::startup_complete(&self.lines).is_some() {
                    Some(format!("log says `{}`", diagnose::STARTUP_COMPLETE))
                } else if obs.health_ok == Some(true) {
                    // A logging setup that hides uvicorn's line must not hang us: /health is
                    // the proof that matters.
                    Some(
                        "GET /health answered 200 (milestone line not seen in the log)".to_string(),
                    )
                } else {
                    None
                }
            }
            Stage::Health => (obs.health_ok == Some(true)).then(|| "GET /health = 200".to_string()),
            Stage::Models => match &obs.models {
                Some(Ok(list)) => match list.iter().find(|m| m.id == self.expected_model) {
                    Some(card) => {
                        self.model = Some(card.clone());
                        Some(format!(
                            "GET /v1/models lists {} (max_model_len {})",
                            card.id,
                            card.max_model_len
                                .map_or("unknown".to_string(), |l| l.to_string())
                        ))
                    }
                    None => {
                        let ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
                        self.models_note = Some(format!(
                            "/v1/models lists {ids:?}, not {:?}",
                            self.expected_model
                        ));
                        None
                    }
                },
                Some(Err(e)) => {
                    self.models_note = Some(e.clone());
                    None
                }
                None => None,
            },
            Stage::Generate => match &obs.generated {
                Some(Ok(())) => Some("POST /v1/completions answered".to_string()),
                Some(Err(e)) => {
                    self.models_note = Some(e.clone());
                    None
                }
                None => None,
            },
            Stage::Version => match &obs.version {
                Some(Some(v)) => {
                    self.version = Some(v.clone());
                    Some(format!("version {v}"))
                }
                Some(None) => {
                    // Old servers have no /version: the banner line still names it.
                    let v = diagnose::logged_version(&self.lines)
                        .unwrap_or_else(|| "unknown".to_string());
                    self.version = Some(v.clone());
                    Some(format!("version {v} (GET /version failed)"))
                }
                None => None,
            },
        }?;
        let from = self.stage;
        match from.next() {
            Some(to) => {
                self.stage = to;
                self.stage_since = now;
                Some(Step::Advanced { from, to, how })
            }
            None => {
                self.done = true;
                Some(Step::Ready)
            }
        }
    }

    fn fail(&mut self, outcome: Outcome) -> Step {
        self.done = true;
        Step::Failed(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(alive: bool, lines: &[&str]) -> Observation {
        Observation::new(
            ContainerLife::Running,
            alive,
            lines.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_huge_log_keeps_bounded_lines_and_every_line_a_check_needs() {
        let mut m = Machine::new("m", secs(600));
        let spam =
            |n: usize| (0..n).map(|i| format!("INFO Engine 000: Avg prompt throughput: {i}"));
        m.keep_lines(["INFO vLLM API server version 0.33.0".to_string()]);
        m.keep_lines(spam(30_000));
        m.keep_lines(["INFO:     Application startup complete.".to_string()]);
        m.keep_lines(spam(30_000));
        m.keep_lines(["ValueError: No available memory for the cache blocks. Try".to_string()]);
        for _ in 0..10 {
            m.keep_lines(spam(30_000));
        }
        assert!(m.lines.len() <= KEEP_LINES, "{}", m.lines.len());
        assert_eq!(
            diagnose::logged_version(&m.lines).as_deref(),
            Some("0.33.0")
        );
        assert!(diagnose::startup_complete(&m.lines).is_some());
        assert_eq!(
            diagnose::classify(&m.lines).map(|f| f.cause),
            Some(diagnose::LogCause::NoKvCacheMemory)
        );
        assert!(m.lines.last().is_some_and(|l| l.ends_with(": 29999")));
    }

    #[test]
    fn a_reused_process_that_disappears_has_exited() {
        let mut m = Machine::new("m", secs(600));
        m.seen_running();
        assert!(matches!(
            m.observe(secs(0), obs(false, &[])),
            Step::Failed(_)
        ));
        // Without the flag, a missing process right after launch is only "not started yet".
        let mut fresh = Machine::new("m", secs(600));
        assert!(matches!(
            fresh.observe(secs(0), obs(false, &[])),
            Step::Wait
        ));
    }

    #[test]
    fn walks_every_stage_to_ready() {
        let mut m = Machine::new("m", secs(600));
        assert!(matches!(m.observe(secs(0), obs(false, &[])), Step::Wait));
        assert!(matches!(
            m.observe(secs(1), obs(true, &["INFO loading"])),
            Step::Advanced {
                to: Stage::LogMilestone,
                ..
            }
        ));
        assert_eq!(m.observe(secs(2), obs(true, &[])), Step::Wait);
        let s = m.observe(
            secs(3),
            obs(
                true,
                &["(APIServer pid=1) INFO:     Application startup complete."],
            ),
        );
        assert!(
            matches!(
                s,
                Step::Advanced {
                    to: Stage::Health,
                    ..
                }
            ),
            "{s:?}"
        );
        let mut o = obs(true, &[]);
        o.health_ok = Some(false);
        assert_eq!(m.observe(secs(4), o), Step::Wait);
        let mut o = obs(true, &[]);
        o.health_ok = Some(true);
        assert!(matches!(
            m.observe(secs(5), o),
            Step::Advanced {
                to: Stage::Models,
                ..
            }
        ));
        let mut o = obs(true, &[]);
        o.models = Some(Ok(vec![ModelCard {
            id: "other".into(),
            root: None,
            max_model_len: None,
        }]));
        assert_eq!(m.observe(secs(6), o), Step::Wait);
        assert!(m.models_note.as_deref().unwrap_or("").contains("other"));
        let mut o = obs(true, &[]);
        o.models = Some(Ok(vec![ModelCard {
            id: "m".into(),
            root: Some("/models/m".into()),
            max_model_len: Some(2048),
        }]));
        assert!(matches!(
            m.observe(secs(7), o),
            Step::Advanced {
                to: Stage::Generate,
                ..
            }
        ));
        let mut o = obs(true, &[]);
        o.generated = Some(Err("timed out".into()));
        assert_eq!(m.observe(secs(7), o), Step::Wait);
        let mut o = obs(true, &[]);
        o.generated = Some(Ok(()));
        assert!(matches!(
            m.observe(secs(7), o),
            Step::Advanced {
                to: Stage::Version,
                ..
            }
        ));
        let mut o = obs(true, &[]);
        o.version = Some(Some("0.33.0".into()));
        assert_eq!(m.observe(secs(8), o), Step::Ready);
        assert_eq!(m.model.as_ref().and_then(|c| c.max_model_len), Some(2048));
        assert_eq!(m.version.as_deref(), Some("0.33.0"));
    }

    #[test]
    fn a_refused_api_key_fails_at_once_and_maps_to_exit_3() {
        let mut m = Machine::new("m", secs(600));
        m.key_sent = true;
        m.seen_running();
        let mut o = obs(
            true,
            &["(APIServer pid=1) INFO:     Application startup complete."],
        );
        o.health_ok = Some(true);
        m.observe(secs(1), o);
        let mut o = obs(true, &[]);
        o.health_ok = Some(true);
        m.observe(secs(2), o);
        assert_eq!(m.stage, Stage::Models);
        let mut o = obs(true, &[]);
        o.models = Some(Err("GET /v1/models: HTTP 401".into()));
        o.refused = Some(401);
        let s = m.observe(secs(3), o);
        let outcome = Outcome::Unauthorized {
            status: 401,
            key_sent: true,
        };
        assert_eq!(s, Step::Failed(outcome.clone()));
        let d = diagnose::diagnose(outcome, &m.lines);
        assert_eq!(d.failure, diagnose::StartFailure::Unauthorized);
        assert_eq!(
            crate::exit::code_for_start(d.failure),
            crate::exit::Code::Setup
        );
        let msg = d.message();
        assert!(
            msg.contains("refused vbench's API key") && msg.contains("server.api_key"),
            "{msg}"
        );
        let none = diagnose::diagnose(
            Outcome::Unauthorized {
                status: 401,
                key_sent: false,
            },
            &[],
        );
        assert!(none.summary.contains("vbench has none"), "{}", none.summary);
    }

    #[test]
    fn process_exit_fails_at_once_with_logged_status() {
        let mut m = Machine::new("m", secs(600));
        m.observe(secs(0), obs(true, &[]));
        let s = m.observe(
            secs(1),
            obs(false, &["boom", "[vbench] vllm serve exited with status 1"]),
        );
        assert_eq!(s, Step::Failed(Outcome::Exited { status: Some(1) }));
    }

    #[test]
    fn instant_exit_before_the_pidfile_is_seen_is_still_an_exit() {
        let mut m = Machine::new("m", secs(600));
        let s = m.observe(
            secs(0),
            obs(
                false,
                &[
                    "vllm: error: unrecognized arguments: --bogus",
                    "[vbench] vllm serve exited with status 2",
                ],
            ),
        );
        assert_eq!(s, Step::Failed(Outcome::Exited { status: Some(2) }));
    }

    #[test]
    fn container_death_wins() {
        let mut m = Machine::new("m", secs(600));
        m.observe(secs(0), obs(true, &[]));
        let mut o = obs(false, &[]);
        o.container = ContainerLife::Stopped {
            exit_code: Some(137),
            oom_killed: false,
        };
        assert_eq!(
            m.observe(secs(1), o),
            Step::Failed(Outcome::ContainerDied {
                exit_code: Some(137),
                oom_killed: false
            })
        );
    }

    #[test]
    fn overall_deadline_names_the_stage() {
        let mut m = Machine::new("m", secs(10));
        m.observe(secs(0), obs(true, &[]));
        assert_eq!(m.observe(secs(9), obs(true, &[])), Step::Wait);
        assert_eq!(
            m.observe(secs(10), obs(true, &[])),
            Step::Failed(Outcome::Deadline {
                stage: "log milestone".into(),
                after: secs(10)
            })
        );
    }

    #[test]
    fn stage_deadline_before_overall() {
        let mut m = Machine::new("m", secs(3600));
        m.observe(secs(0), obs(true, &[]));
        m.observe(
            secs(1),
            obs(true, &["INFO:     Application startup complete."]),
        );
        let mut o = obs(true, &[]);
        o.health_ok = Some(false);
        assert_eq!(m.observe(secs(100), o.clone()), Step::Wait);
        assert_eq!(
            m.observe(secs(121), o),
            Step::Failed(Outcome::Deadline {
                stage: "health".into(),
                after: secs(120)
            })
        );
    }

    #[test]
    fn launch_that_never_shows_up_hits_the_launch_deadline() {
        let mut m = Machine::new("m", secs(3600));
        assert_eq!(m.observe(secs(5), obs(false, &[])), Step::Wait);
        assert_eq!(
            m.observe(secs(30), obs(false, &[])),
            Step::Failed(Outcome::Deadline {
                stage: "launch".into(),
                after: secs(30)
            })
        );
    }

    #[test]
    fn fatal_signature_with_live_process_fails_after_grace() {
        let mut m = Machine::new("m", secs(3600));
        m.observe(secs(0), obs(true, &[]));
        assert_eq!(
            m.observe(
                secs(1),
                obs(
                    true,
                    &["ValueError: No available memory for the cache blocks. Try"]
                )
            ),
            Step::Wait
        );
        assert_eq!(m.observe(secs(5), obs(true, &[])), Step::Wait);
        assert_eq!(
            m.observe(secs(11), obs(true, &[])),
            Step::Failed(Outcome::FatalLogged)
        );
    }

    #[test]
    fn health_200_without_the_milestone_line_still_advances() {
        let mut m = Machine::new("m", secs(3600));
        m.observe(secs(0), obs(true, &[]));
        let mut o = obs(true, &[]);
        o.health_ok = Some(true);
        assert!(matches!(
            m.observe(secs(1), o),
            Step::Advanced {
                from: Stage::LogMilestone,
                to: Stage::Health,
                ..
            }
        ));
    }

    #[test]
    fn version_falls_back_to_the_banner() {
        let mut m = Machine::new("m", secs(3600));
        m.observe(secs(0), obs(true, &["(APIServer pid=1) INFO 09-04 01:28:28 [api_server.py:1805] vLLM API server version 0.10.1.1", "INFO:     Application startup complete."]));
        m.observe(secs(0), obs(true, &[]));
        let mut o = obs(true, &[]);
        o.health_ok = Some(true);
        m.observe(secs(1), o);
        let mut o = obs(true, &[]);
        o.models = Some(Ok(vec![ModelCard {
            id: "m".into(),
            root: None,
            max_model_len: Some(1),
        }]));
        m.observe(secs(1), o);
        let mut o = obs(true, &[]);
        o.generated = Some(Ok(()));
        m.observe(secs(1), o);
        let mut o = obs(true, &[]);
        o.version = Some(None);
        assert_eq!(m.observe(secs(2), o), Step::Ready);
        assert_eq!(m.version.as_deref(), Some("0.10.1.1"));
    }
}

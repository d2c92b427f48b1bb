//! The process exit codes vbench promises (the README's table), and the one place that
//! decides them: `code_of` for an error chain, `code_for_end` for how a run ended. The layers
//! below return typed errors and outcomes and never choose a code themselves.

use crate::commands::CommandError;
use crate::config::{ConfigError, template::InitError};
use crate::docker::DockerError;
use crate::pipeline::RunOutcome;
use crate::server::ServerError;
use crate::server::diagnose::{LogCause, StartFailure};
use crate::sweep::RunError;
use crate::sweep::lock::LockError;
use crate::sweep::runner::RunEnd;

/// Exit codes. Stable: cron jobs and CI scripts branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Everything asked for was done and every sweep point passed validation.
    Ok = 0,
    /// A bug or an unexpected error vbench could not classify.
    Internal = 1,
    /// Bad command line or configuration (also: an empty sweep plan).
    Usage = 2,
    /// Set-up failed: Docker unreachable, image missing, container could not be created.
    Setup = 3,
    /// The vLLM server failed mid-sweep (died, stopped answering).
    Server = 4,
    /// The sweep ran but some points failed validation.
    PointsFailed = 5,
    /// Another vbench run holds the lock (or a benchmark already runs in the client).
    LockHeld = 6,
    /// The results directory cannot be written: its file system is full or read-only (any
    /// write vbench must make that the file system refuses). What was written before is kept;
    /// free space (or make it writable), then `--resume`.
    Storage = 7,
    /// The verdict: a point's metric got worse beyond the threshold and the noise.
    Regressed = 8,
    /// The verdict: the runs cannot be judged (a point failed or is missing, or the set-up
    /// differs) — an outage or a configuration change is neither a regression nor a pass.
    CannotJudge = 9,
    /// `vllm serve` failed to start: no memory for the KV cache.
    NoKvCacheMemory = 10,
    /// `vllm serve` failed to start: GPU out of memory (CUDA or HIP).
    GpuOutOfMemory = 11,
    /// `vllm serve` failed to start: `--max-model-len` larger than the model's.
    MaxModelLenTooLarge = 12,
    /// `vllm serve` failed to start: model not found or gated.
    ModelNotFound = 13,
    /// `vllm serve` failed to start: port in use.
    PortInUse = 14,
    /// `vllm serve` failed to start: unrecognised arguments.
    BadServeArguments = 15,
    /// `vllm serve` failed to start: no GPU visible.
    NoGpu = 16,
    /// A readiness stage did not finish before its deadline (server hanging or too slow).
    StartupDeadline = 17,
    /// `vllm serve` exited during start-up and no known signature explains it.
    ServeExited = 18,
    /// The server container stopped or was OOM-killed.
    ContainerDied = 19,
    /// The server is serving a different model or arguments and `--restart` was not given.
    ServerMismatch = 20,
    /// The client container died or was stopped mid-run; the run is saved, and `--resume`
    /// runs the interrupted point again.
    ClientLost = 21,
    /// The Docker Engine stopped answering mid-run; the run is saved, `--resume` once it
    /// answers again.
    EngineLost = 22,
    /// The client cannot reach the server, which is alive (a network problem); the run is
    /// saved and resumable.
    ServerUnreachable = 23,
    /// A matrix ran, but one or more of its combinations could not (the server did not
    /// start, or died); each cause is in the matrix's summary.
    CombinationsFailed = 24,
    /// `--host NAME` / `--hosts` names no entry of the configuration's `hosts:`.
    UnknownHost = 27,
    /// A named host's Docker Engine cannot be reached (`--host`, `doctor --all-hosts`).
    HostUnreachable = 28,
    /// A fan-out run (`run --hosts`) lost one or more hosts (unreachable, server not
    /// starting or dying, engine lost); in shard mode their points ran on the others, and
    /// points no host was left for are listed in the summary (`--resume` runs them).
    HostsFailed = 29,
    /// Interrupted by SIGINT/SIGTERM; the run is saved and resumable.
    Interrupted = 130,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Every documented code, in the README's order (a test checks the README lists exactly
    /// these, each produced by its cause).
    pub const ALL: [Code; 29] = [
        Code::Ok,
        Code::Internal,
        Code::Usage,
        Code::Setup,
        Code::Server,
        Code::PointsFailed,
        Code::LockHeld,
        Code::Storage,
        Code::Regressed,
        Code::CannotJudge,
        Code::NoKvCacheMemory,
        Code::GpuOutOfMemory,
        Code::MaxModelLenTooLarge,
        Code::ModelNotFound,
        Code::PortInUse,
        Code::BadServeArguments,
        Code::NoGpu,
        Code::StartupDeadline,
        Code::ServeExited,
        Code::ContainerDied,
        Code::ServerMismatch,
        Code::ClientLost,
        Code::EngineLost,
        Code::ServerUnreachable,
        Code::CombinationsFailed,
        Code::UnknownHost,
        Code::HostUnreachable,
        Code::HostsFailed,
        Code::Interrupted,
    ];
}

/// The exit code for an error chain: the first typed error found decides; anything else is
/// an internal error (a bug).
pub fn code_of(err: &anyhow::Error) -> Code {
    if err.chain().any(is_storage) {
        return Code::Storage;
    }
    err.chain().find_map(code_of_one).unwrap_or(Code::Internal)
}

/// A write the file system refused (full or read-only) anywhere in the chain decides before
/// the layer that met it: whichever file it was, the fix is the storage's.
fn is_storage(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .and_then(crate::durable::refusal)
        .is_some()
}

/// The exit code for a typed error and its sources (the same rule as `code_of`).
pub fn code_of_error(e: &(dyn std::error::Error + 'static)) -> Code {
    if crate::durable::refusal_in(e).is_some() {
        return Code::Storage;
    }
    let mut link = Some(e);
    while let Some(e) = link {
        if let Some(c) = code_of_one(e) {
            return c;
        }
        link = e.source();
    }
    Code::Internal
}

fn code_of_one(e: &(dyn std::error::Error + 'static)) -> Option<Code> {
    if e.is::<ConfigError>() {
        return Some(Code::Usage);
    }
    if let Some(e) = e.downcast_ref::<crate::hosts::HostError>() {
        use crate::hosts::HostError;
        return Some(match e {
            HostError::Unknown { .. } => Code::UnknownHost,
            HostError::Unreachable { .. } => Code::HostUnreachable,
        });
    }
    if let Some(e) = e.downcast_ref::<InitError>() {
        return Some(match e {
            InitError::Exists { .. } | InitError::Create { .. } => Code::Usage,
            InitError::Write { .. } => Code::Setup,
        });
    }
    if e.is::<DockerError>() {
        return Some(Code::Setup);
    }
    // An image that is absent (`pull: never`) or cannot be pulled: nothing could start.
    if e.is::<crate::pull::PullError>() {
        return Some(Code::Setup);
    }
    if let Some(e) = e.downcast_ref::<ServerError>() {
        return Some(code_for_server(e));
    }
    if let Some(e) = e.downcast_ref::<RunError>() {
        return Some(code_for_run(e));
    }
    if let Some(e) = e.downcast_ref::<LockError>() {
        return Some(code_for_lock(e));
    }
    if let Some(e) = e.downcast_ref::<crate::archive::ArchiveError>() {
        use crate::archive::ArchiveError;
        return Some(match e {
            ArchiveError::NotFound(_) => Code::Usage,
            ArchiveError::Read { .. } | ArchiveError::Write { .. } => Code::Internal,
        });
    }
    if let Some(e) = e.downcast_ref::<CommandError>() {
        return Some(match e {
            CommandError::Usage(_) => Code::Usage,
            CommandError::Setup(_) => Code::Setup,
            CommandError::Docker { .. } => Code::Setup,
            CommandError::ChecksFailed { .. } => Code::Setup,
            CommandError::Output { .. } => Code::Internal,
        });
    }
    None
}

fn code_for_lock(e: &LockError) -> Code {
    match e {
        LockError::Held { .. } => Code::LockHeld,
        LockError::Io { .. } => Code::Setup,
    }
}

fn code_for_server(e: &ServerError) -> Code {
    match e {
        ServerError::Config(_) => Code::Usage,
        ServerError::Setup { .. } | ServerError::Docker { .. } => Code::Setup,
        ServerError::StartFailed { diagnosis, .. } => code_for_start(diagnosis.failure),
        ServerError::Mismatch { .. } => Code::ServerMismatch,
        // The cluster did not form before its deadline: the start's deadline code.
        ServerError::NodesMissing { .. } => Code::StartupDeadline,
        ServerError::Other { .. } => Code::Internal,
    }
}

fn code_for_run(e: &RunError) -> Code {
    match e {
        RunError::Usage(_) => Code::Usage,
        RunError::Lock(l) => code_for_lock(l),
        RunError::ClientBusy { .. } => Code::LockHeld,
        RunError::Docker { .. } | RunError::Setup { .. } => Code::Setup,
        RunError::Server(s) => code_for_server(s),
        RunError::InterruptedDuringSetup => Code::Interrupted,
        RunError::Storage { .. } => Code::Storage,
        RunError::State { .. } => Code::Internal,
    }
}

/// The code of a failed start: the diagnosed cause, or what happened instead.
pub fn code_for_start(f: StartFailure) -> Code {
    match f {
        StartFailure::Logged(cause) => match cause {
            LogCause::NoKvCacheMemory => Code::NoKvCacheMemory,
            LogCause::GpuOutOfMemory => Code::GpuOutOfMemory,
            LogCause::MaxModelLenTooLarge => Code::MaxModelLenTooLarge,
            LogCause::ModelNotFound => Code::ModelNotFound,
            LogCause::PortInUse => Code::PortInUse,
            LogCause::BadServeArguments => Code::BadServeArguments,
            LogCause::NoGpu => Code::NoGpu,
        },
        StartFailure::Deadline => Code::StartupDeadline,
        StartFailure::Exited => Code::ServeExited,
        StartFailure::ContainerDied => Code::ContainerDied,
        // A wrong or missing API key is the set-up's, not the server's: fix the key.
        StartFailure::Unauthorized => Code::Setup,
    }
}

/// The code for how a run's points ended.
pub fn code_for_end(end: &RunEnd) -> Code {
    match end {
        RunEnd::Finished => Code::Ok,
        RunEnd::PointsFailed => Code::PointsFailed,
        RunEnd::Interrupted => Code::Interrupted,
        RunEnd::ServerFailed(_) => Code::Server,
        RunEnd::ClientLost(_) => Code::ClientLost,
        RunEnd::EngineLost(_) => Code::EngineLost,
        RunEnd::ServerUnreachable(_) => Code::ServerUnreachable,
    }
}

/// The code for a pipeline outcome: how the points ended, unless the run was judged — then
/// the verdict, which already says "cannot judge" for failed points.
pub fn code_for_outcome(o: &RunOutcome) -> Code {
    match o {
        RunOutcome::Planned => Code::Ok,
        RunOutcome::Ran {
            verdict: Some(v), ..
        } => code_for_verdict(*v),
        RunOutcome::Ran { end, .. } => code_for_end(end),
    }
}

/// The code for a matrix: interrupted (130), else a combination that could not run (24),
/// else points that failed validation (5), else the verdicts (8 regressed, 9 cannot judge),
/// else 0.
pub fn code_for_matrix(o: &crate::matrix::MatrixOutcome) -> Code {
    use crate::matrix::MatrixOutcome;
    use crate::matrix::record::CombinationStatus as S;
    use crate::report::verdict::Outcome;
    let MatrixOutcome::Ran {
        statuses,
        interrupted,
        verdicts,
        ..
    } = o
    else {
        return Code::Ok;
    };
    if *interrupted || statuses.iter().any(|(_, s)| *s == S::Interrupted) {
        return Code::Interrupted;
    }
    if statuses
        .iter()
        .any(|(_, s)| matches!(s, S::Failed | S::Stopped | S::Pending | S::Running))
    {
        return Code::CombinationsFailed;
    }
    if statuses.iter().any(|(_, s)| *s == S::PointsFailed) {
        return Code::PointsFailed;
    }
    if verdicts.contains(&Outcome::Regressed) {
        return Code::Regressed;
    }
    if verdicts.contains(&Outcome::CannotJudge) {
        return Code::CannotJudge;
    }
    Code::Ok
}

/// The code for a fan-out: interrupted (130), else a host that failed (29), else points that
/// failed validation (5), else the verdicts (8 regressed, 9 cannot judge), else 0.
pub fn code_for_fanout(o: &crate::hosts::fanout::FanoutOutcome) -> Code {
    use crate::hosts::fanout::FanoutOutcome;
    use crate::hosts::record::HostStatus as S;
    use crate::report::verdict::Outcome;
    let FanoutOutcome::Ran {
        hosts,
        units_left,
        interrupted,
        verdicts,
        ..
    } = o
    else {
        return Code::Ok;
    };
    if *interrupted || hosts.iter().any(|(_, s)| *s == S::Interrupted) {
        return Code::Interrupted;
    }
    if *units_left > 0
        || hosts
            .iter()
            .any(|(_, s)| !matches!(s, S::Ok | S::PointsFailed))
    {
        return Code::HostsFailed;
    }
    if hosts.iter().any(|(_, s)| *s == S::PointsFailed) {
        return Code::PointsFailed;
    }
    if verdicts.contains(&Outcome::Regressed) {
        return Code::Regressed;
    }
    if verdicts.contains(&Outcome::CannotJudge) {
        return Code::CannotJudge;
    }
    Code::Ok
}

/// The code for a verdict.
pub fn code_for_verdict(v: crate::report::verdict::Outcome) -> Code {
    use crate::report::verdict::Outcome;
    match v {
        Outcome::Pass => Code::Ok,
        Outcome::Regressed => Code::Regressed,
        Outcome::CannotJudge => Code::CannotJudge,
    }
}

/// The error chain as one message, each cause once: layers that put their source's text in
/// their own message (for a readable `to_string()`) are not repeated by the chain.
pub fn render_error(err: &anyhow::Error) -> String {
    crate::error_text::chain(err.as_ref())
}

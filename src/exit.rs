//! The process exit codes vbench promises (documented in the README), and the error type
//! that carries one up to `main`.

use std::fmt;

/// Exit codes. Stable: cron jobs and CI scripts branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Everything asked for was done and every sweep point passed validation.
    Ok = 0,
    /// A bug or an unexpected error vbench could not classify.
    Internal = 1,
    /// Bad command line or configuration (also: an empty sweep plan).
    Usage = 2,
    /// Set-up failed: Docker unreachable, image missing, container could not be created.
    Setup = 3,
    /// The vLLM server failed (could not start, died, stopped answering).
    Server = 4,
    /// The sweep ran but some points failed validation.
    PointsFailed = 5,
    /// Another vbench run holds the lock.
    LockHeld = 6,
    /// The server failed to start: a cause was diagnosed from its log (see `Cause`).
    NoKvCacheMemory = 10,
    GpuOutOfMemory = 11,
    MaxModelLenTooLarge = 12,
    ModelNotFound = 13,
    PortInUse = 14,
    BadServeArguments = 15,
    NoGpu = 16,
    /// A readiness stage did not finish before its deadline (server hanging or too slow).
    StartupDeadline = 17,
    /// `vllm serve` exited during start-up and no known signature explains it.
    ServeExited = 18,
    /// The server container stopped or was OOM-killed.
    ContainerDied = 19,
    /// The server is serving a different model or arguments and `--restart` was not given.
    ServerMismatch = 20,
    /// Interrupted by SIGINT/SIGTERM; the run is saved and resumable.
    Interrupted = 130,
}

impl Code {
    pub fn as_u8(self) -> u8 {
        self as u8
    }
}

/// An error that knows which exit code it deserves. Anything else maps to `Code::Internal`.
#[derive(Debug)]
pub struct Failure {
    pub code: Code,
    pub message: String,
}

impl Failure {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit code for any error chain: the first `Failure` found in it decides, else `Internal`.
pub fn code_of(err: &anyhow::Error) -> Code {
    err.chain()
        .find_map(|e| e.downcast_ref::<Failure>().map(|f| f.code))
        .unwrap_or(Code::Internal)
}

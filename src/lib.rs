//! vbench: run the whole vLLM serving benchmark on a GPU host in one command, through the
//! Docker Engine API.
//!
//! Layers, top down: `cli` (clap types) → `commands` (one module per subcommand, glue only) →
//! the engine (`server` lifecycle, `sweep` planner/runner, `results`, `report`) → `docker`
//! (the only place that talks to the Docker Engine). The engine reports through `events`;
//! `render` turns events into terminal, plain or JSON output; `exit` decides exit codes at
//! the edge. ARCHITECTURE.md draws the whole picture.

pub mod archive;
pub mod channel;
pub mod cli;
pub mod commands;
pub mod config;
pub mod docker;
pub mod durable;
pub mod events;
pub mod exit;
pub mod gpu;
pub mod gpu_doctor;
pub mod matrix;
pub mod pipeline;
pub mod pull;
pub mod render;
pub mod report;
pub mod results;
pub mod server;
pub mod slo;
pub mod standin;
pub mod sweep;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod test_fixtures;

use std::process::ExitCode;

/// Run one invocation and return the process exit code. Errors are printed here, once.
pub fn run(cli: cli::Cli) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::Code::Internal.as_u8());
        }
    };
    let code = match runtime.block_on(commands::dispatch(cli)) {
        Ok(commands::Outcome::Done) => exit::Code::Ok,
        Ok(commands::Outcome::Run(outcome)) => exit::code_for_outcome(&outcome),
        Ok(commands::Outcome::Judged(verdict)) => exit::code_for_verdict(verdict),
        Ok(commands::Outcome::Matrix(outcome)) => exit::code_for_matrix(&outcome),
        Err(err) => {
            // Not `eprintln!`: a terminal gone with a closed ssh session must not turn the
            // exit code into a panic's.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: {}",
                exit::render_error(&err)
            );
            exit::code_of(&err)
        }
    };
    // Do not wait for stray blocking tasks (a follow stream, a signal listener) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code.as_u8())
}

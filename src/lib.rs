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
pub mod error_text;
pub mod events;
pub mod exit;
pub mod gpu;
pub mod gpu_doctor;
pub mod hosts;
pub mod json_record;
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

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

/// Parse the process's command line. clap parses `--color` only as it parses everything, so
/// the choice is read ahead from the arguments and given to clap too: its help and usage
/// errors follow `--color` like the rest of the output.
pub fn parse_args() -> cli::Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    let matches = cli::Cli::command()
        .color(clap_color(&args))
        .get_matches_from(args);
    cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The last `--color WHEN` / `--color=WHEN` before `--`, as clap's choice (`auto` otherwise:
/// clap's own detection honours NO_COLOR).
fn clap_color(args: &[OsString]) -> clap::ColorChoice {
    let mut last = None;
    let mut it = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--color" {
            last = it.next().map(|v| v.into_owned());
        } else if let Some(v) = a.strip_prefix("--color=") {
            last = Some(v.to_string());
        }
    }
    match last.as_deref() {
        Some("always") => clap::ColorChoice::Always,
        Some("never") => clap::ColorChoice::Never,
        _ => clap::ColorChoice::Auto,
    }
}

/// Run one invocation and return the process exit code. Errors are printed here, once.
pub fn run(cli: cli::Cli) -> ExitCode {
    render::color::apply(commands::color(&cli.global));
    // Two workers whatever the host: vbench waits on sockets and the engine, and a GPU host's
    // 100+ cores would otherwise give it 100+ threads (and their malloc arenas) to idle.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
        Ok(commands::Outcome::Fanout(outcome)) => exit::code_for_fanout(&outcome),
        Err(err) => {
            // Not `eprintln!`: a terminal gone with a closed ssh session must not turn the
            // exit code into a panic's.
            use std::io::Write as _;
            let prefix = render::color::paint("error:", console::Style::new().red().bold());
            let _ = writeln!(
                std::io::stderr().lock(),
                "{prefix} {}",
                exit::render_error(&err)
            );
            exit::code_of(&err)
        }
    };
    // Do not wait for stray blocking tasks (a follow stream, a signal listener) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code.as_u8())
}

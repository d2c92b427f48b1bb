//! Subcommand glue: load the configuration, connect what is needed, call the engine, pick the
//! exit code. One module per subcommand; no engine logic here.

mod config_cmd;
mod demo;
mod doctor;
mod down;
mod gpu;
mod images;
mod init;
mod logs;
mod report;
mod run;
mod status;
mod up;

use crate::cli::{Cli, Command, Global, OutputMode};
use crate::exit::Code;

/// Run the parsed command line.
pub async fn dispatch(cli: Cli) -> anyhow::Result<Code> {
    let g = &cli.global;
    match cli.command {
        Command::Init { path, force } => init::cmd(g, &path, force).await,
        Command::Config { overrides } => config_cmd::cmd(g, &overrides).await,
        Command::Doctor { overrides } => doctor::cmd(g, &overrides).await,
        Command::Images { action } => images::cmd(g, action).await,
        Command::Up(args) => up::cmd(g, args).await,
        Command::Status { overrides } => status::cmd(g, &overrides).await,
        Command::Logs(args) => logs::cmd(g, args).await,
        Command::Gpu { watch, overrides } => gpu::cmd(g, watch, &overrides).await,
        Command::Down(args) => down::cmd(g, args).await,
        Command::Run(args) => run::cmd(g, args).await,
        Command::Demo(args) => demo::cmd(g, args).await,
        Command::Report(args) => report::cmd(g, args).await,
    }
}

/// The effective output mode (`--json` wins).
pub fn output_mode(g: &Global) -> OutputMode {
    if g.json { OutputMode::Json } else { g.output }
}

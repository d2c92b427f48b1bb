//! The `vbench` binary: parse the command line, hand it to the library, exit with its code.
//! Everything else lives in the library so tests can drive it in-process.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = vbench::cli::Cli::parse();
    vbench::run(cli)
}

//! The `vbench` binary: parse the command line, hand it to the library, exit with its code.
//! Everything else lives in the library so tests can drive it in-process.

fn main() -> std::process::ExitCode {
    let cli = vbench::parse_args();
    vbench::run(cli)
}

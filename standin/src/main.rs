//! The CPU stand-in for vLLM: a test double and demo backend, never a measurement of a GPU.
//! One binary, dispatching on the name it was called by (`vllm`, `nvidia-smi`, `rocm-smi`)
//! or on its first argument.

mod argparse;
mod bench;
mod devices;
mod serve;
mod smi;
mod tokens;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "vllm".into());
    let code = match prog.as_str() {
        "nvidia-smi" => smi::nvidia(&args[1..]),
        "rocm-smi" => smi::rocm(&args[1..]),
        _ => match args.get(1).map(String::as_str) {
            Some("serve") => serve::main(&args[2..]),
            Some("bench") if args.get(2).map(String::as_str) == Some("serve") => {
                bench::main(&args[3..])
            }
            Some("nvidia-smi") => smi::nvidia(&args[2..]),
            Some("rocm-smi") => smi::rocm(&args[2..]),
            Some("--version") | Some("-v") => {
                println!("{}", serve::VERSION);
                0
            }
            _ => {
                eprintln!("usage: vllm [-h] [-v] {{serve,bench}} ...");
                eprintln!(
                    "CPU stand-in for vLLM {} (a test double: it does not run a model or use a GPU)",
                    serve::VERSION
                );
                2
            }
        },
    };
    std::process::exit(code);
}

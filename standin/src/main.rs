//! The CPU stand-in for vLLM: a test double and demo backend, never a measurement of a GPU.
//! One binary, dispatching on the name it was called by (`vllm`, `nvidia-smi`, `rocm-smi`)
//! or on its first argument.

mod argparse;
mod tokens;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let _ = args;
    eprintln!("vllm stand-in: not implemented yet");
    std::process::exit(2);
}

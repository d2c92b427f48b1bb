//! The CPU stand-in for vLLM: a test double and demo backend, never a measurement of a GPU.
//! One binary, dispatching on the name it was called by (`vllm`, `nvidia-smi`, `rocm-smi`, `ray`)
//! or on its first argument.

mod argparse;
mod bench;
mod devices;
mod ray;
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
        "ray" => ray::main(&args[1..]),
        _ => match args.get(1).map(String::as_str) {
            Some("serve") => {
                raise_fd_limit();
                serve::main(&args[2..])
            }
            Some("bench") if args.get(2).map(String::as_str) == Some("serve") => {
                raise_fd_limit();
                bench::main(&args[3..])
            }
            Some("nvidia-smi") => smi::nvidia(&args[2..]),
            Some("rocm-smi") => smi::rocm(&args[2..]),
            Some("ray") => ray::main(&args[2..]),
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

/// Lift the soft limit on open files to the hard limit. A benchmark at an infinite rate opens
/// one connection per request at once (100 000 requests → 100 000 sockets on both sides);
/// vLLM's server raises its own limit (`set_ulimit`) and Docker containers usually start with
/// a soft limit of 1 048 576, so the real pair does not run out of descriptors where a shell's
/// default of 1024 would. Failure leaves the limit as it was.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass, which lives on our stack.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

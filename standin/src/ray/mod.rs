//! Just enough Ray for the CPU stand-in to rehearse a multi-node vLLM deployment: `ray start
//! --head` (a small TCP registry, `head`), `ray start --address HEAD:PORT` (a worker that
//! registers its stand-in GPUs and heartbeats), `ray status` and `ray list nodes` in the shape
//! of the real commands (`report`), `ray stop`, and the placement group `vllm serve
//! --distributed-executor-backend ray` asks for (`placement`). No task ever runs: the cluster
//! is a registry of nodes and stand-in GPUs, a test double like the rest of the stand-in.
//!
//! A node's GPUs: `--num-gpus`, else the GPUs the stand-in's process sees (`VLLM_STANDIN_GPUS`
//! narrowed by `NVIDIA_VISIBLE_DEVICES`/`AMD_VISIBLE_DEVICES` and `CUDA_VISIBLE_DEVICES`, as
//! Ray honours the latter), one when nothing says. Its IP: `--node-ip-address`, else
//! `RAY_OVERRIDE_NODE_IP_ADDRESS` / `RAY_NODE_IP_ADDRESS` (what vLLM's `run_cluster.sh` sets),
//! else the address of the default route. Fault knob: `VLLM_STANDIN_RAY_NEVER_JOIN=1` makes a
//! worker start and never register (a node that never joins).

mod head;
pub mod placement;
mod report;
pub mod wire;

use std::io::BufReader;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::argparse::{self, Flag, Kind};
use wire::{Node, Request};

const USAGE: &str = "ray [-h] {start,stop,status,list} ...";

/// How long a worker keeps trying to reach its head before giving up.
const CONNECT_FOR: Duration = Duration::from_secs(60);

const START_FLAGS: &[Flag] = &[
    Flag {
        names: &["--head"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--address"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--port"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--num-gpus"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--num-cpus"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--node-ip-address"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--node-name"],
        kind: Kind::Value,
    },
    Flag {
        names: &["--block"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--disable-usage-stats"],
        kind: Kind::Switch,
    },
    Flag {
        names: &["--dashboard-host"],
        kind: Kind::Value,
    },
];

pub fn main(args: &[String]) -> i32 {
    match args.first().map(String::as_str) {
        Some("start") => start(&args[1..]),
        Some("status") => status(&args[1..]),
        Some("list") if args.get(1).map(String::as_str) == Some("nodes") => list(&args[2..]),
        Some("stop") => stop(),
        Some("--version") => {
            println!("ray, version 2.49.0+standin (CPU stand-in: a registry of nodes, no tasks)");
            0
        }
        _ => {
            eprintln!("Usage: {USAGE}");
            eprintln!(
                "CPU stand-in for Ray (start --head | start --address, status, list nodes, stop)"
            );
            2
        }
    }
}

fn fail(msg: &str) -> i32 {
    eprintln!("{msg}");
    1
}

/// The address of the default route (no packet is sent), else loopback.
fn default_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("10.254.254.254:1")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

fn node_ip(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("RAY_OVERRIDE_NODE_IP_ADDRESS").ok())
        .or_else(|| std::env::var("RAY_NODE_IP_ADDRESS").ok())
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(default_ip)
}

/// The stand-in GPUs this process sees (`ray start`'s autodetection).
fn detected_gpus() -> Result<u32, String> {
    let vendor = crate::serve::knobs::gpu_kind()?;
    let host = crate::devices::host_gpus_knob()?.unwrap_or(1);
    let container = crate::devices::container_visible(vendor, host)?;
    Ok(crate::devices::process_visible(vendor, &container).len() as u32)
}

fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024 * 7 / 10)
        .unwrap_or(8 << 30)
}

fn start(args: &[String]) -> i32 {
    let p = match argparse::parse(args, START_FLAGS, 0) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Usage: ray start [OPTIONS]");
            eprintln!("Try 'ray start --help' for help.");
            eprintln!();
            eprintln!("Error: {}", e.message);
            return 2;
        }
    };
    let is_head = p.has("--head");
    if is_head == p.has("--address") {
        return fail("ray start: give either --head or --address HEAD:PORT (stand-in)");
    }
    let port = match p.parse::<u16>("--port", "integer") {
        Ok(v) => v.unwrap_or(wire::DEFAULT_PORT),
        Err(e) => return fail(&e.message),
    };
    let gpus = match p.parse::<f64>("--num-gpus", "integer") {
        Ok(Some(n)) if n >= 0.0 => n.floor(),
        Ok(Some(_)) => return fail("--num-gpus must be at least 0"),
        Ok(None) => match detected_gpus() {
            Ok(n) => f64::from(n),
            Err(m) => return fail(&format!("ray start (CPU stand-in): invalid knob {m}")),
        },
        Err(e) => return fail(&e.message),
    };
    let cpus = match p.parse::<f64>("--num-cpus", "integer") {
        Ok(v) => v.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() as f64)
                .unwrap_or(1.0)
        }),
        Err(e) => return fail(&e.message),
    };
    let ip = node_ip(p.get("--node-ip-address"));
    let name = p.get("--node-name").unwrap_or(&ip).to_string();
    let never_join = std::env::var("VLLM_STANDIN_RAY_NEVER_JOIN")
        .map(|v| v == "1" || v.eq_ignore_ascii_case("true"))
        .unwrap_or(false);

    if !p.has("--block") {
        return start_detached(args, p.get("--address"));
    }
    let _ = std::fs::create_dir_all(wire::standin_dir());
    let _ = std::fs::write(wire::standin_dir().join(std::process::id().to_string()), "");
    let me = Node {
        node_id: String::new(),
        node_ip: ip.clone(),
        is_head_node: is_head,
        state: "ALIVE".into(),
        node_name: name,
        gpus,
        cpus,
        memory: memory_bytes(),
        gpus_used: 0.0,
    };
    if is_head {
        run_head(me, port)
    } else {
        run_worker(me, p.get("--address").unwrap_or_default(), never_join)
    }
}

fn banner_started(ip: &str) {
    println!("Local node IP: {ip}");
    println!();
    println!("--------------------");
    println!("Ray runtime started.");
    println!("--------------------");
    println!();
}

fn banner_block() {
    println!("--block");
    println!("  This command will now block forever until terminated by a signal.");
    println!(
        "  Running subprocesses are monitored and a message will be printed if any of them terminate unexpectedly. Subprocesses exit with SIGTERM will be treated as graceful, thus NOT reported."
    );
    println!("  (CPU stand-in for Ray: a registry of nodes and stand-in GPUs; no task runs.)");
}

fn head_next_steps(ip: &str, port: u16) {
    println!("Next steps");
    println!("  To add another node to this Ray cluster, run");
    println!("    ray start --address='{ip}:{port}'");
    println!();
    println!("  To connect to this Ray cluster:");
    println!("    import ray");
    println!("    ray.init()");
    println!();
    println!("  To terminate the Ray runtime, run");
    println!("    ray stop");
    println!();
    println!("  To view the status of the cluster, use");
    println!("    ray status");
}

fn run_head(mut me: Node, port: u16) -> i32 {
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(l) => l,
        Err(e) => {
            return fail(&format!(
                "ValueError: Ray component gcs_server is trying to use a port number {port} that is used by other components (stand-in: {e})."
            ));
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    me.node_id = head::node_id(&me.node_name);
    let _ = std::fs::write(wire::current_cluster(), format!("{}:{port}", me.node_ip));
    banner_started(&me.node_ip);
    head_next_steps(&me.node_ip, port);
    println!();
    banner_block();
    head::serve(listener, me);
    0
}

fn run_worker(me: Node, address: &str, never_join: bool) -> i32 {
    let _ = std::fs::write(wire::current_cluster(), address);
    if never_join {
        banner_started(&me.node_ip);
        println!(
            "(CPU stand-in fault injection: VLLM_STANDIN_RAY_NEVER_JOIN: this node will never register with the head at {address}.)"
        );
        banner_block();
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let deadline = Instant::now() + CONNECT_FOR;
    let mut stream = loop {
        match wire::connect(address, Duration::from_secs(5)) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => {
                return fail(&format!(
                    "ConnectionError: Failed to connect to GCS at address {address} within {} seconds: {e}",
                    CONNECT_FOR.as_secs()
                ));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let registered = wire::send(
        &mut stream,
        &Request::Register {
            node_name: me.node_name.clone(),
            node_ip: me.node_ip.clone(),
            gpus: me.gpus,
            cpus: me.cpus,
            memory: me.memory,
        },
    )
    .and_then(|()| {
        let mut reader = BufReader::new(stream.try_clone()?);
        wire::receive::<wire::Reply>(&mut reader)
    });
    if let Err(e) = registered {
        return fail(&format!(
            "ConnectionError: the Ray head at {address} refused this node: {e}"
        ));
    }
    banner_started(&me.node_ip);
    println!("To terminate the Ray runtime, run");
    println!("  ray stop");
    println!();
    banner_block();
    loop {
        std::thread::sleep(wire::HEARTBEAT);
        if let Err(e) = wire::send(&mut stream, &Request::Heartbeat) {
            return fail(&format!(
                "The node lost its connection to the GCS at {address} ({e}); the raylet exits."
            ));
        }
    }
}

/// `ray start` without `--block`: run the node in the background (its own session, output in
/// `/tmp/ray/standin/start-<pid>.log`), print what Ray prints, return once the node is up.
fn start_detached(args: &[String], address: Option<&str>) -> i32 {
    use std::os::unix::process::CommandExt;
    let _ = std::fs::create_dir_all(wire::standin_dir());
    let exe = std::env::current_exe().unwrap_or_else(|_| "/bin/vllm".into());
    let log = wire::standin_dir().join(format!("start-{}.log", std::process::id()));
    let Some((out, err)) = std::fs::File::create(&log)
        .and_then(|f| Ok((f.try_clone()?, f)))
        .ok()
    else {
        return fail("ray start (stand-in): cannot write its log under the Ray directory");
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("ray")
        .arg("start")
        .args(args)
        .arg("--block")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid only detaches the child from our session; it touches no memory.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    if let Err(e) = cmd.spawn() {
        return fail(&format!("ray start (stand-in): cannot start the node: {e}"));
    }
    // Up once the node printed Ray's banner (a head listens, a worker registered by then):
    // show what it printed, up to its `--block` notice.
    let deadline = Instant::now() + CONNECT_FOR + Duration::from_secs(5);
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(i) = text.find("--block\n") {
            print!("{}", &text[..i]);
            return 0;
        }
        if text.contains("Error") {
            eprint!("{text}");
            return 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    fail(&format!(
        "ray start (stand-in): the node did not come up within {}s (head {}); see {}",
        (CONNECT_FOR + Duration::from_secs(5)).as_secs(),
        address.unwrap_or("this node"),
        log.display()
    ))
}

fn stop() -> i32 {
    let mut n = 0;
    for e in std::fs::read_dir(wire::standin_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: kill sends a signal to a pid this stand-in recorded; no memory involved.
        if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
            n += 1;
        }
        let _ = std::fs::remove_file(e.path());
    }
    println!("Stopped all {n} Ray processes.");
    0
}

fn connect_error() -> i32 {
    fail(
        "ConnectionError: Could not find any running Ray instance. Please specify the one to connect to by setting `--address` flag or `RAY_ADDRESS` environment variable.",
    )
}

fn status(args: &[String]) -> i32 {
    const FLAGS: &[Flag] = &[
        Flag {
            names: &["--address"],
            kind: Kind::Value,
        },
        Flag {
            names: &["--verbose", "-v"],
            kind: Kind::Switch,
        },
    ];
    let p = match argparse::parse(args, FLAGS, 0) {
        Ok(p) => p,
        Err(e) => return fail(&format!("Error: {}", e.message)),
    };
    let Some(addr) = wire::resolve_address(p.get("--address")) else {
        return connect_error();
    };
    match wire::nodes(&addr) {
        Ok(nodes) => {
            print!("{}", report::status(&nodes, p.has("--verbose")));
            0
        }
        Err(e) => fail(&format!(
            "ConnectionError: Could not connect to the GCS at {addr} (stand-in: {e})."
        )),
    }
}

fn list(args: &[String]) -> i32 {
    const FLAGS: &[Flag] = &[
        Flag {
            names: &["--address"],
            kind: Kind::Value,
        },
        Flag {
            names: &["--format"],
            kind: Kind::Value,
        },
    ];
    let p = match argparse::parse(args, FLAGS, 0) {
        Ok(p) => p,
        Err(e) => return fail(&format!("Error: {}", e.message)),
    };
    let Some(addr) = wire::resolve_address(p.get("--address")) else {
        return connect_error();
    };
    let nodes = match wire::nodes(&addr) {
        Ok(n) => n,
        Err(e) => {
            return fail(&format!(
                "ConnectionError: Could not connect to the GCS at {addr} (stand-in: {e})."
            ));
        }
    };
    match p.get("--format").unwrap_or("table") {
        "json" => {
            println!("{}", report::list_json(&nodes));
            0
        }
        "table" | "default" => {
            print!("{}", report::list_table(&nodes));
            0
        }
        f => fail(&format!(
            "Error: Invalid value for '--format': '{f}' is not one of 'default', 'json', 'table' (stand-in)."
        )),
    }
}

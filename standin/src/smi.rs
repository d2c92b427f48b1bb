//! `nvidia-smi` and `rocm-smi` stand-ins: the queries vbench's GPU sampler makes, in the real
//! tools' output formats, with values that follow the stand-in server's load (read from the
//! state file it keeps, see `serve::state`). The GPU name says what it is:
//! `Stand-in GPU (CPU test double)`. With no server running they show an idle GPU.

use crate::serve::knobs::{self, GpuKind};
use crate::serve::state::State;

const NAME: &str = "Stand-in GPU (CPU test double)";
const NVIDIA_DRIVER: &str = "570.00-standin";
const ROCM_DRIVER: &str = "6.10.5-standin";
const MEM_TOTAL_MIB: u64 = 81_559;
const POWER_IDLE_W: f64 = 62.0;
const POWER_MAX_W: f64 = 700.0;

/// One sampled GPU.
#[derive(Debug, Clone)]
struct Gpu {
    index: u32,
    util: u32,
    mem_used_mib: u64,
    power_w: f64,
    temp_c: u32,
}

/// The vendor the stand-in imitates: `VLLM_STANDIN_GPU` if set, else the running server's,
/// else NVIDIA. The other vendor's tool then fails as it does on a host without its driver.
fn vendor(st: Option<&State>) -> Result<GpuKind, String> {
    match std::env::var("VLLM_STANDIN_GPU")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(_) => knobs::gpu_kind(),
        None => Ok(match st.map(|s| s.gpu.as_str()) {
            Some("amd") => GpuKind::Amd,
            _ => GpuKind::Nvidia,
        }),
    }
}

/// Sample every GPU: busy while the server has running requests, memory reserved by the
/// server (`gpu_memory_utilization` of the total, like vLLM's pre-allocation) while it is up.
fn sample() -> Vec<Gpu> {
    let st = State::read(&knobs::state_path());
    let count = std::env::var("VLLM_STANDIN_GPUS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .or(st.as_ref().map(|s| s.gpus))
        .unwrap_or(1);
    (0..count)
        .map(|index| {
            let (util, mem) = match &st {
                Some(s) if s.running > 0 => {
                    let load = (s.running as f64 / s.max_num_seqs.max(1) as f64).min(1.0);
                    (
                        (88.0 + 12.0 * load.sqrt()).round() as u32,
                        s.gpu_memory_utilization,
                    )
                }
                Some(s) => (0, s.gpu_memory_utilization),
                None => (0, 0.0),
            };
            let mem_used_mib = if mem > 0.0 {
                (MEM_TOTAL_MIB as f64 * mem).round() as u64
            } else {
                1
            };
            let power_w =
                POWER_IDLE_W + (POWER_MAX_W - POWER_IDLE_W) * f64::from(util) / 100.0 * 0.8;
            let temp_c = 34 + util * 40 / 100 + index % 3;
            Gpu {
                index,
                util,
                mem_used_mib,
                power_w,
                temp_c,
            }
        })
        .collect()
}

fn uuid(i: u32) -> String {
    format!(
        "GPU-5a4d0000-0000-4000-8000-{:012x}",
        0x5747_0000u64 + u64::from(i)
    )
}

// ---------------------------------------------------------------------------------------------
// nvidia-smi

/// (field, header with unit, value with unit, value without unit)
fn nvidia_field(g: &Gpu, count: usize, field: &str) -> Option<(String, String, String)> {
    let f = field.trim();
    let (hdr, val, bare): (String, String, String) = match f {
        "index" => (f.into(), g.index.to_string(), g.index.to_string()),
        "name" | "gpu_name" => ("name".into(), NAME.into(), NAME.into()),
        "uuid" | "gpu_uuid" => ("uuid".into(), uuid(g.index), uuid(g.index)),
        "count" => (f.into(), count.to_string(), count.to_string()),
        "driver_version" => (f.into(), NVIDIA_DRIVER.into(), NVIDIA_DRIVER.into()),
        "pci.bus_id" | "gpu_bus_id" => (
            f.into(),
            format!("00000000:{:02X}:00.0", 0x18 + g.index),
            format!("00000000:{:02X}:00.0", 0x18 + g.index),
        ),
        "utilization.gpu" => (
            format!("{f} [%]"),
            format!("{} %", g.util),
            g.util.to_string(),
        ),
        "utilization.memory" => {
            let m = g.util * 6 / 10;
            (format!("{f} [%]"), format!("{m} %"), m.to_string())
        }
        "memory.used" => (
            format!("{f} [MiB]"),
            format!("{} MiB", g.mem_used_mib),
            g.mem_used_mib.to_string(),
        ),
        "memory.total" => (
            format!("{f} [MiB]"),
            format!("{MEM_TOTAL_MIB} MiB"),
            MEM_TOTAL_MIB.to_string(),
        ),
        "memory.free" => {
            let free = MEM_TOTAL_MIB - g.mem_used_mib;
            (
                format!("{f} [MiB]"),
                format!("{free} MiB"),
                free.to_string(),
            )
        }
        "power.draw" | "power.draw.instant" | "power.draw.average" => (
            format!("{f} [W]"),
            format!("{:.2} W", g.power_w),
            format!("{:.2}", g.power_w),
        ),
        "power.limit" => (
            format!("{f} [W]"),
            format!("{POWER_MAX_W:.2} W"),
            format!("{POWER_MAX_W:.2}"),
        ),
        "temperature.gpu" => (f.into(), g.temp_c.to_string(), g.temp_c.to_string()),
        "fan.speed" => (format!("{f} [%]"), "[N/A]".into(), "[N/A]".into()),
        "pstate" => (
            f.into(),
            if g.util > 0 { "P0" } else { "P8" }.into(),
            if g.util > 0 { "P0" } else { "P8" }.into(),
        ),
        _ => return None,
    };
    Some((hdr, val, bare))
}

fn nvidia_table(gpus: &[Gpu]) {
    let line = "+-----------------------------------------------------------------------------------------+";
    println!("{line}");
    println!(
        "| NVIDIA-SMI {NVIDIA_DRIVER:<17} Driver Version: {NVIDIA_DRIVER:<14} CUDA Version: 12.8     |"
    );
    println!(
        "|-----------------------------------------+------------------------+----------------------+"
    );
    println!(
        "| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |"
    );
    println!(
        "| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |"
    );
    println!(
        "|=========================================+========================+======================|"
    );
    for g in gpus {
        let name: String = NAME.chars().take(20).collect();
        println!(
            "|   {:<2} {:<20}            On | 00000000:{:02X}:00.0 Off |                    0 |",
            g.index,
            name,
            0x18 + g.index
        );
        let perf = if g.util > 0 { "P0" } else { "P8" };
        let pwr = format!("{:.0}W / {:.0}W", g.power_w, POWER_MAX_W);
        let mem = format!("{}MiB / {}MiB", g.mem_used_mib, MEM_TOTAL_MIB);
        println!(
            "| N/A   {:>2}C    {perf} {pwr:>26} | {mem:>22} | {:>7}%      Default |",
            g.temp_c, g.util
        );
        println!(
            "|-----------------------------------------+------------------------+----------------------+"
        );
    }
    println!();
    println!(
        "+-----------------------------------------------------------------------------------------+"
    );
    println!(
        "| Processes:                                                                              |"
    );
    println!(
        "|  (CPU stand-in for vLLM: no real GPU processes)                                         |"
    );
    println!(
        "+-----------------------------------------------------------------------------------------+"
    );
}

pub fn nvidia(args: &[String]) -> i32 {
    match vendor(State::read(&knobs::state_path()).as_ref()) {
        Err(m) => {
            eprintln!("nvidia-smi (CPU stand-in): {m}");
            return 2;
        }
        Ok(GpuKind::Amd) => {
            println!(
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
            );
            println!();
            return 9;
        }
        Ok(GpuKind::Nvidia) => {}
    }
    let mut query: Option<String> = None;
    let mut format: Option<String> = None;
    let mut ids: Option<Vec<u32>> = None;
    let mut loop_secs: Option<f64> = None;
    let mut list = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let mut value = || {
            inline.clone().or_else(|| {
                i += 1;
                args.get(i).cloned()
            })
        };
        match flag {
            "--query-gpu" => query = value(),
            "--format" => format = value(),
            "-i" | "--id" => {
                ids = value().map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
            }
            "-l" | "--loop" => loop_secs = value().and_then(|v| v.parse().ok()),
            "-L" | "--list-gpus" => list = true,
            "-h" | "--help" => {
                println!(
                    "NVIDIA System Management Interface -- CPU stand-in for vLLM (test double, no real GPU)"
                );
                println!(
                    "    --query-gpu=FIELDS --format=csv[,noheader][,nounits]  -i ID  -l SEC  -L"
                );
                return 0;
            }
            _ => {
                println!(
                    "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help."
                );
                return 2;
            }
        }
        i += 1;
    }
    loop {
        let mut gpus = sample();
        let count = gpus.len();
        if let Some(ids) = &ids {
            if let Some(bad) = ids.iter().find(|id| **id as usize >= count) {
                println!("No devices were found (stand-in has GPUs 0..{count}, asked for {bad})");
                return 6;
            }
            gpus.retain(|g| ids.contains(&g.index));
        }
        if list {
            for g in &gpus {
                println!("GPU {}: {NAME} (UUID: {})", g.index, uuid(g.index));
            }
        } else if let Some(q) = &query {
            let opts: Vec<&str> = format
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .collect();
            if !opts.contains(&"csv") {
                println!(
                    "'--format' option is required with '--query-gpu'. Please run 'nvidia-smi -h' for help."
                );
                return 2;
            }
            let (noheader, nounits) = (opts.contains(&"noheader"), opts.contains(&"nounits"));
            let fields: Vec<&str> = q
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .collect();
            if let Some(bad) = fields
                .iter()
                .find(|f| nvidia_field(&gpus[0], count, f).is_none())
            {
                println!("Field \"{bad}\" is not a valid field to query.");
                println!();
                return 2;
            }
            if !noheader {
                let hdr: Vec<String> = fields
                    .iter()
                    .filter_map(|f| nvidia_field(&gpus[0], count, f))
                    .map(|x| if nounits { strip_unit(&x.0) } else { x.0 })
                    .collect();
                println!("{}", hdr.join(", "));
            }
            for g in &gpus {
                let row: Vec<String> = fields
                    .iter()
                    .filter_map(|f| nvidia_field(g, count, f))
                    .map(|x| if nounits { x.2 } else { x.1 })
                    .collect();
                println!("{}", row.join(", "));
            }
        } else {
            nvidia_table(&gpus);
        }
        match loop_secs {
            Some(s) if s > 0.0 => std::thread::sleep(std::time::Duration::from_secs_f64(s)),
            _ => return 0,
        }
    }
}

fn strip_unit(h: &str) -> String {
    h.split(" [").next().unwrap_or(h).to_string()
}

// ---------------------------------------------------------------------------------------------
// rocm-smi

const ROCM_RULE: &str =
    "==========================================================================================";

fn banner(title: &str) -> String {
    let t = format!(" {title} ");
    let pad = ROCM_RULE.len().saturating_sub(t.len());
    format!("{}{t}{}", "=".repeat(pad / 2), "=".repeat(pad - pad / 2))
}

pub fn rocm(args: &[String]) -> i32 {
    match vendor(State::read(&knobs::state_path()).as_ref()) {
        Err(m) => {
            eprintln!("rocm-smi (CPU stand-in): {m}");
            return 2;
        }
        Ok(GpuKind::Nvidia) => {
            println!("ERROR:root:Driver not initialized (amdgpu not found in modules)");
            return 1;
        }
        Ok(GpuKind::Amd) => {}
    }
    let mut json = false;
    let mut shows: Vec<&str> = Vec::new();
    for a in args {
        match a.as_str() {
            "--json" => json = true,
            "-u" | "--showuse" => shows.push("use"),
            "--showmemuse" => shows.push("memuse"),
            "-P" | "--showpower" => shows.push("power"),
            "-t" | "--showtemp" => shows.push("temp"),
            "--showproductname" => shows.push("product"),
            "--showdriverversion" => shows.push("driver"),
            "--showmeminfo" | "vram" => shows.push("meminfo"),
            "-a" | "--showallinfo" => shows.extend([
                "product", "use", "memuse", "power", "temp", "meminfo", "driver",
            ]),
            "-h" | "--help" => {
                println!(
                    "ROCm System Management Interface -- CPU stand-in for vLLM (test double, no real GPU)"
                );
                println!(
                    "  --showuse --showmemuse --showpower --showtemp --showproductname --showdriverversion --showmeminfo vram --json"
                );
                return 0;
            }
            other => {
                eprintln!(
                    "usage: rocm-smi [-h] ... \nrocm-smi: error: unrecognized arguments: {other}"
                );
                return 2;
            }
        }
    }
    shows.dedup();
    let gpus = sample();
    let fields = |g: &Gpu, what: &str| -> Vec<(String, String)> {
        let mem_pct = g.mem_used_mib * 100 / MEM_TOTAL_MIB;
        match what {
            "use" => vec![("GPU use (%)".into(), g.util.to_string())],
            "memuse" => vec![
                ("GPU Memory Allocated (VRAM%)".into(), mem_pct.to_string()),
                (
                    "GPU Memory Read/Write Activity (%)".into(),
                    (g.util * 6 / 10).to_string(),
                ),
            ],
            "power" => vec![(
                "Current Socket Graphics Package Power (W)".into(),
                format!("{:.1}", g.power_w),
            )],
            "temp" => vec![
                (
                    "Temperature (Sensor edge) (C)".into(),
                    format!("{:.1}", g.temp_c as f64),
                ),
                (
                    "Temperature (Sensor junction) (C)".into(),
                    format!("{:.1}", g.temp_c as f64 + 6.0),
                ),
                (
                    "Temperature (Sensor memory) (C)".into(),
                    format!("{:.1}", g.temp_c as f64 + 3.0),
                ),
            ],
            "product" => vec![
                ("Card Series".into(), NAME.into()),
                ("Card Model".into(), "0x74a1".into()),
                ("Card Vendor".into(), "CPU stand-in for vLLM".into()),
                ("Card SKU".into(), "STANDIN".into()),
            ],
            "meminfo" => vec![
                (
                    "VRAM Total Memory (B)".into(),
                    (MEM_TOTAL_MIB * 1_048_576).to_string(),
                ),
                (
                    "VRAM Total Used Memory (B)".into(),
                    (g.mem_used_mib * 1_048_576).to_string(),
                ),
            ],
            _ => vec![],
        }
    };
    if shows.is_empty() {
        shows = vec!["use", "memuse", "power", "temp"];
        if !json {
            println!("\n\n{}", banner("ROCm System Management Interface"));
            println!("{}", banner("Concise Info"));
            println!(
                "Device  Node  Temp (Edge)  Power (Socket)  Partitions  SCLK  MCLK  Fan  Perf  PwrCap  VRAM%  GPU%"
            );
            println!("{ROCM_RULE}");
            for g in &gpus {
                println!(
                    "{:<7} {:<5} {:>10.1}°C  {:>12.1}W  N/A         N/A   N/A   0%   auto  {:.1}W  {:>4}%  {:>3}%",
                    g.index,
                    g.index + 1,
                    g.temp_c as f64,
                    g.power_w,
                    POWER_MAX_W,
                    g.mem_used_mib * 100 / MEM_TOTAL_MIB,
                    g.util
                );
            }
            println!("{ROCM_RULE}");
            println!("{}", banner("End of ROCm SMI Log"));
            return 0;
        }
    }
    if json {
        let mut root = serde_json::Map::new();
        for g in &gpus {
            let mut card = serde_json::Map::new();
            for w in shows.iter().filter(|w| **w != "driver") {
                for (k, v) in fields(g, w) {
                    card.insert(k, serde_json::Value::String(v));
                }
            }
            if !card.is_empty() {
                root.insert(format!("card{}", g.index), serde_json::Value::Object(card));
            }
        }
        if shows.contains(&"driver") {
            root.insert(
                "system".into(),
                serde_json::json!({"Driver version": ROCM_DRIVER}),
            );
        }
        println!("{}", serde_json::Value::Object(root));
        return 0;
    }
    println!("\n\n{}", banner("ROCm System Management Interface"));
    for w in &shows {
        let title = match *w {
            "use" => "% time GPU is busy",
            "memuse" => "Current Memory Use",
            "power" => "Power Consumption",
            "temp" => "Temperature",
            "product" => "Product Info",
            "meminfo" => "Memory Usage (Bytes)",
            _ => "Version of System Component",
        };
        println!("{}", banner(title));
        if *w == "driver" {
            println!("Driver version: {ROCM_DRIVER}");
        } else {
            for g in &gpus {
                for (k, v) in fields(g, w) {
                    println!("GPU[{}]\t\t: {k}: {v}", g.index);
                }
            }
        }
        println!("{ROCM_RULE}");
    }
    println!("{}", banner("End of ROCm SMI Log"));
    0
}

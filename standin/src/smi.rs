//! `nvidia-smi` and `rocm-smi` stand-ins: the queries vbench's GPU sampler makes, in the real
//! tools' output formats, with values that follow the stand-in server's load (read from the
//! state file it keeps, see `serve::state`). The GPU name says what it is:
//! `Stand-in GPU (CPU test double)`. With no server running they show an idle GPU.
//!
//! They list the GPUs of the container (`devices::container_visible`: the host's
//! `VLLM_STANDIN_GPUS`, narrowed by `NVIDIA_VISIBLE_DEVICES` / `AMD_VISIBLE_DEVICES`), indexed
//! 0..k−1 with each physical GPU's own UUID and bus id; only the GPUs the server runs on are
//! busy and hold memory. `nvidia-smi -l SEC` / `-lms MS` keep sampling until killed, one
//! flushed block per sample, so a caller can keep one process open and read lines.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::devices;
use crate::serve::knobs::{self, GpuKind};
use crate::serve::state::State;

const NAME: &str = "Stand-in GPU (CPU test double)";
const NVIDIA_DRIVER: &str = "570.00-standin";
const ROCM_DRIVER: &str = "6.10.5-standin";
const MEM_TOTAL_MIB: u64 = 81_559;
const POWER_IDLE_W: f64 = 62.0;
const POWER_MAX_W: f64 = 700.0;

/// Exit status of a monitor whose reader went away (what a shell reports for death by SIGPIPE).
const EXIT_SIGPIPE: i32 = 141;

/// One sampled GPU.
#[derive(Debug, Clone)]
struct Gpu {
    /// Index inside the container (0..k−1).
    index: u32,
    /// The host's index: UUID and bus id derive from it.
    physical: u32,
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

/// Sample the container's GPUs: busy while the server has running requests and runs on them,
/// memory reserved (`gpu_memory_utilization` of the total, like vLLM's pre-allocation) on the
/// GPUs the server holds while it is up. `Err` is an invalid knob.
fn sample(vendor: GpuKind) -> Result<Vec<Gpu>, String> {
    let st = State::read(&knobs::state_path());
    let host = devices::host_gpus_knob()?
        .or(st.as_ref().map(|s| s.host_gpus.clamp(1, devices::MAX_GPUS)))
        .unwrap_or(1);
    let visible = devices::container_visible(vendor, host)?;
    Ok(visible
        .iter()
        .enumerate()
        .map(|(index, &physical)| {
            let (util, mem) = match &st {
                Some(s) if s.used_gpus.contains(&physical) => {
                    let util = if s.running > 0 {
                        let load = (s.running as f64 / s.max_num_seqs.max(1) as f64).min(1.0);
                        (88.0 + 12.0 * load.sqrt()).round() as u32
                    } else {
                        0
                    };
                    (util, s.gpu_memory_utilization)
                }
                _ => (0, 0.0),
            };
            let mem_used_mib = if mem > 0.0 {
                (MEM_TOTAL_MIB as f64 * mem).round() as u64
            } else {
                1
            };
            let power_w =
                POWER_IDLE_W + (POWER_MAX_W - POWER_IDLE_W) * f64::from(util) / 100.0 * 0.8;
            let temp_c = 34 + util * 40 / 100 + physical % 3;
            Gpu {
                index: index as u32,
                physical,
                util,
                mem_used_mib,
                power_w,
                temp_c,
            }
        })
        .collect())
}

/// Write one sample's text and flush it; `Err(exit code)` when the reader is gone (EPIPE:
/// Rust ignores SIGPIPE, so the write fails instead of killing us) — then exit quietly.
fn emit(text: &str) -> Result<(), i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|_| EXIT_SIGPIPE)
}

/// `2024/11/28 13:40:00.123`: nvidia-smi's `timestamp` field (UTC, the containers' time zone).
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = crate::serve::log::civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

// ---------------------------------------------------------------------------------------------
// nvidia-smi

/// (field, header with unit, value with unit, value without unit)
fn nvidia_field(g: &Gpu, count: usize, field: &str) -> Option<(String, String, String)> {
    let f = field.trim();
    let same = |v: String| (f.to_string(), v.clone(), v);
    let (hdr, val, bare): (String, String, String) = match f {
        "timestamp" => same(timestamp()),
        "index" => same(g.index.to_string()),
        "name" | "gpu_name" => ("name".into(), NAME.into(), NAME.into()),
        "uuid" | "gpu_uuid" => (
            "uuid".into(),
            devices::uuid(g.physical),
            devices::uuid(g.physical),
        ),
        "count" => same(count.to_string()),
        "driver_version" => same(NVIDIA_DRIVER.into()),
        "pci.bus_id" | "gpu_bus_id" => same(devices::bus_id(g.physical)),
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
        "temperature.gpu" => same(g.temp_c.to_string()),
        "fan.speed" => (format!("{f} [%]"), "[N/A]".into(), "[N/A]".into()),
        "pstate" => same(if g.util > 0 { "P0" } else { "P8" }.into()),
        _ => return None,
    };
    Some((hdr, val, bare))
}

/// A field list is checked against an idle GPU, so a bad field fails even with no GPU visible.
fn idle_gpu() -> Gpu {
    Gpu {
        index: 0,
        physical: 0,
        util: 0,
        mem_used_mib: 1,
        power_w: POWER_IDLE_W,
        temp_c: 34,
    }
}

fn nvidia_table(gpus: &[Gpu]) -> String {
    let mut o = String::new();
    let rule = "+-----------------------------------------------------------------------------------------+";
    let sep = "|-----------------------------------------+------------------------+----------------------+";
    o.push_str(&format!("{rule}\n"));
    o.push_str(&format!(
        "| NVIDIA-SMI {NVIDIA_DRIVER:<17} Driver Version: {NVIDIA_DRIVER:<14} CUDA Version: 12.8     |\n"
    ));
    o.push_str(&format!("{sep}\n"));
    o.push_str("| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |\n");
    o.push_str("| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |\n");
    o.push_str("|=========================================+========================+======================|\n");
    for g in gpus {
        let name: String = NAME.chars().take(20).collect();
        o.push_str(&format!(
            "|   {:<2} {:<20}            On | {} Off |                    0 |\n",
            g.index,
            name,
            devices::bus_id(g.physical)
        ));
        let perf = if g.util > 0 { "P0" } else { "P8" };
        let pwr = format!("{:.0}W / {:.0}W", g.power_w, POWER_MAX_W);
        let mem = format!("{}MiB / {}MiB", g.mem_used_mib, MEM_TOTAL_MIB);
        o.push_str(&format!(
            "| N/A   {:>2}C    {perf} {pwr:>26} | {mem:>22} | {:>7}%      Default |\n",
            g.temp_c, g.util
        ));
        o.push_str(&format!("{sep}\n"));
    }
    o.push('\n');
    o.push_str(&format!("{rule}\n"));
    o.push_str("| Processes:                                                                              |\n");
    o.push_str("|  (CPU stand-in for vLLM: no real GPU processes)                                         |\n");
    o.push_str(&format!("{rule}\n"));
    o
}

const INVALID_ARGS: &str =
    "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.";

/// A loop interval: a positive number of seconds (`-l`) or milliseconds (`-lms`).
fn interval(v: &str, unit_ms: bool) -> Option<Duration> {
    let n: f64 = v.trim().parse().ok()?;
    (n.is_finite() && n > 0.0)
        .then(|| Duration::from_secs_f64(if unit_ms { n / 1000.0 } else { n }))
}

pub fn nvidia(args: &[String]) -> i32 {
    let vendor_kind = match vendor(State::read(&knobs::state_path()).as_ref()) {
        Err(m) => {
            eprintln!("nvidia-smi (CPU stand-in): invalid knob {m}");
            return 2;
        }
        Ok(v) => v,
    };
    if vendor_kind == GpuKind::Amd {
        println!(
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."
        );
        println!();
        return 9;
    }
    let mut query: Option<String> = None;
    let mut format: Option<String> = None;
    let mut ids: Option<Vec<u32>> = None;
    let mut every: Option<Duration> = None;
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
            // `-l` takes an optional interval (default 5 s, as the real tool's man page says).
            "-l" | "--loop" => {
                let next = inline
                    .clone()
                    .or_else(|| args.get(i + 1).filter(|v| !v.starts_with('-')).cloned());
                every = match next {
                    None => Some(Duration::from_secs(5)),
                    Some(v) => {
                        if inline.is_none() {
                            i += 1;
                        }
                        match interval(&v, false) {
                            Some(d) => Some(d),
                            None => {
                                println!("{INVALID_ARGS}");
                                return 2;
                            }
                        }
                    }
                };
            }
            "-lms" | "--loop-ms" => match value().as_deref().and_then(|v| interval(v, true)) {
                Some(d) => every = Some(d),
                None => {
                    println!("{INVALID_ARGS}");
                    return 2;
                }
            },
            "-L" | "--list-gpus" => list = true,
            "-h" | "--help" => {
                println!(
                    "NVIDIA System Management Interface -- CPU stand-in for vLLM (test double, no real GPU)"
                );
                println!(
                    "    --query-gpu=FIELDS --format=csv[,noheader][,nounits]  -i ID  -l [SEC]  -lms MS  -L"
                );
                return 0;
            }
            _ => {
                println!("{INVALID_ARGS}");
                return 2;
            }
        }
        i += 1;
    }
    let (mut noheader, mut nounits) = (false, false);
    let mut fields: Vec<String> = Vec::new();
    if let Some(q) = &query {
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
        (noheader, nounits) = (opts.contains(&"noheader"), opts.contains(&"nounits"));
        fields = q
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(bad) = fields
            .iter()
            .find(|f| nvidia_field(&idle_gpu(), 1, f).is_none())
        {
            println!("Field \"{bad}\" is not a valid field to query.");
            println!();
            return 2;
        }
    }
    // Samples keep to a fixed schedule (start + k·interval), so a slow sample does not make
    // the series drift; one that falls a whole interval behind skips ahead.
    let start = Instant::now();
    let mut next = start;
    let mut first = true;
    loop {
        let mut gpus = match sample(GpuKind::Nvidia) {
            Ok(g) => g,
            Err(m) => {
                eprintln!("nvidia-smi (CPU stand-in): invalid knob {m}");
                return 2;
            }
        };
        let count = gpus.len();
        if count == 0 {
            let _ = emit("No devices were found\n");
            return 6;
        }
        if let Some(ids) = &ids {
            if let Some(bad) = ids.iter().find(|id| **id as usize >= count) {
                let _ = emit(&format!(
                    "No devices were found (stand-in has GPUs 0..{count}, asked for {bad})\n"
                ));
                return 6;
            }
            gpus.retain(|g| ids.contains(&g.index));
        }
        let mut text = String::new();
        if list {
            for g in &gpus {
                text.push_str(&format!(
                    "GPU {}: {NAME} (UUID: {})\n",
                    g.index,
                    devices::uuid(g.physical)
                ));
            }
        } else if query.is_some() {
            // In a loop the header comes once, as with the real tool.
            if !noheader && first {
                let hdr: Vec<String> = fields
                    .iter()
                    .filter_map(|f| nvidia_field(&gpus[0], count, f))
                    .map(|x| if nounits { strip_unit(&x.0) } else { x.0 })
                    .collect();
                text.push_str(&hdr.join(", "));
                text.push('\n');
            }
            for g in &gpus {
                let row: Vec<String> = fields
                    .iter()
                    .filter_map(|f| nvidia_field(g, count, f))
                    .map(|x| if nounits { x.2 } else { x.1 })
                    .collect();
                text.push_str(&row.join(", "));
                text.push('\n');
            }
        } else {
            text = nvidia_table(&gpus);
        }
        if let Err(code) = emit(&text) {
            return code;
        }
        first = false;
        let Some(every) = every else {
            return 0;
        };
        next += every;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
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
            eprintln!("rocm-smi (CPU stand-in): invalid knob {m}");
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
            "--showbus" => shows.push("bus"),
            "--showuniqueid" => shows.push("uniqueid"),
            "-a" | "--showallinfo" => shows.extend([
                "product", "use", "memuse", "power", "temp", "meminfo", "driver",
            ]),
            "-h" | "--help" => {
                println!(
                    "ROCm System Management Interface -- CPU stand-in for vLLM (test double, no real GPU)"
                );
                println!(
                    "  --showuse --showmemuse --showpower --showtemp --showproductname --showdriverversion --showmeminfo vram --showbus --showuniqueid --json"
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
    let gpus = match sample(GpuKind::Amd) {
        Ok(g) => g,
        Err(m) => {
            eprintln!("rocm-smi (CPU stand-in): invalid knob {m}");
            return 2;
        }
    };
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
            "bus" => vec![(
                "PCI Bus".into(),
                format!("0000:{:02X}:00.0", 0x18 + g.physical),
            )],
            "uniqueid" => vec![(
                "Unique ID".into(),
                format!("0x5a4d{:012x}", 0x5747_0000u64 + u64::from(g.physical)),
            )],
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
        // One write: a reader that went away ends the call quietly (no "Broken pipe" panic).
        return match emit(&format!("{}\n", serde_json::Value::Object(root))) {
            Ok(()) => 0,
            Err(code) => code,
        };
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
            "bus" => "PCI Bus ID",
            "uniqueid" => "Unique ID",
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

//! The GPU sampler: `nvidia-smi` or `rocm-smi` run inside the server container (fallback: on
//! the host), parsed into `GpuSample`s; the pure parsers of both outputs; a table renderer.
//! `vbench gpu`, `vbench status`, the server record and the sweep (between points) use it.

use std::time::Duration;

use serde::Serialize;

use crate::docker::{Docker, ExecSpec};

/// One GPU at one moment. Fields a tool could not report are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuSample {
    pub index: u32,
    pub name: String,
    pub util_pct: Option<f64>,
    pub mem_used_mib: Option<f64>,
    pub mem_total_mib: Option<f64>,
    pub power_w: Option<f64>,
    pub temp_c: Option<f64>,
    /// Driver version (nvidia-smi reports it per GPU).
    pub driver: Option<String>,
    /// Which tool and where: `nvidia-smi (container)`, `rocm-smi (host)`.
    pub source: String,
}

/// The `nvidia-smi` query (CSV, no header, no units), in `parse_nvidia_csv`'s column order.
pub const NVIDIA_ARGS: &[&str] = &[
    "nvidia-smi",
    "--query-gpu=index,name,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu,driver_version",
    "--format=csv,noheader,nounits",
];

/// The `rocm-smi` query (JSON; memory in bytes, product name and driver included).
pub const ROCM_ARGS: &[&str] = &[
    "rocm-smi",
    "--showuse",
    "--showmemuse",
    "--showpower",
    "--showtemp",
    "--showproductname",
    "--showdriverversion",
    "--showmeminfo",
    "vram",
    "--json",
];

/// `[N/A]`, `[Not Supported]`, empty → None.
fn num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parse `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total,
/// power.draw,temperature.gpu,driver_version --format=csv,noheader,nounits`.
pub fn parse_nvidia_csv(text: &str, source: &str) -> anyhow::Result<Vec<GpuSample>> {
    let mut out = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 7 {
            anyhow::bail!(
                "{source}: output line {}: expected at least 7 comma-separated fields, got {}: {line:?}",
                n + 1,
                f.len()
            );
        }
        let index = f[0].parse().map_err(|_| {
            anyhow::anyhow!(
                "{source}: output line {}: GPU index {:?} is not a number",
                n + 1,
                f[0]
            )
        })?;
        out.push(GpuSample {
            index,
            name: f[1].to_string(),
            util_pct: num(f[2]),
            mem_used_mib: num(f[3]),
            mem_total_mib: num(f[4]),
            power_w: num(f[5]),
            temp_c: num(f[6]),
            driver: f
                .get(7)
                .filter(|d| !d.is_empty() && !d.starts_with('['))
                .map(|d| d.to_string()),
            source: source.to_string(),
        });
    }
    Ok(out)
}

/// Parse `rocm-smi … --json`: `{"card0": {"GPU use (%)": "3", …}, …}`. Key wordings differ
/// across ROCm releases, so each value is looked up by several names or a prefix.
pub fn parse_rocm_json(text: &str, source: &str) -> anyhow::Result<Vec<GpuSample>> {
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .map_err(|e| anyhow::anyhow!("{source}: output is not JSON: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("{source}: output is not a JSON object"))?;
    // `--showdriverversion` puts the driver under `system`, not per card.
    let system_driver = obj
        .get("system")
        .and_then(|s| s.get("Driver version"))
        .and_then(|d| d.as_str())
        .map(str::to_string);
    let mut out = Vec::new();
    for (key, card) in obj {
        let Some(index) = key.strip_prefix("card").and_then(|i| i.parse::<u32>().ok()) else {
            continue;
        };
        let Some(card) = card.as_object() else {
            continue;
        };
        let get = |names: &[&str]| -> Option<f64> {
            names
                .iter()
                .find_map(|n| card.get(*n))
                .and_then(|x| match x {
                    serde_json::Value::String(s) => num(s),
                    serde_json::Value::Number(n) => n.as_f64(),
                    _ => None,
                })
        };
        let prefixed = |prefix: &str| -> Option<f64> {
            card.iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .find_map(|(_, x)| x.as_str().and_then(num))
        };
        let total_b = get(&["VRAM Total Memory (B)"]);
        let used_b = get(&["VRAM Total Used Memory (B)"]);
        let mem_pct = get(&[
            "GPU Memory Allocated (VRAM%)",
            "GPU memory use (%)",
            "GPU Memory use (%)",
        ]);
        let mib = |b: f64| b / (1024.0 * 1024.0);
        let mem_total_mib = total_b.map(mib);
        let mem_used_mib = used_b
            .map(mib)
            .or_else(|| Some(mem_total_mib? * mem_pct? / 100.0))
            .filter(|v| v.is_finite());
        let name = [
            "Card Series",
            "Card series",
            "Card Model",
            "Card model",
            "Device Name",
        ]
        .iter()
        .find_map(|n| card.get(*n).and_then(|x| x.as_str()))
        .unwrap_or("AMD GPU")
        .to_string();
        out.push(GpuSample {
            index,
            name,
            util_pct: get(&["GPU use (%)"]),
            mem_used_mib,
            mem_total_mib,
            power_w: get(&[
                "Current Socket Graphics Package Power (W)",
                "Average Graphics Package Power (W)",
                "Socket Graphics Package Power (W)",
            ])
            .or_else(|| prefixed("Average Graphics Package Power"))
            .or_else(|| prefixed("Current Socket Graphics Package Power")),
            temp_c: get(&[
                "Temperature (Sensor edge) (C)",
                "Temperature (Sensor junction) (C)",
            ])
            .or_else(|| prefixed("Temperature")),
            driver: card
                .get("Driver version")
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .or_else(|| system_driver.clone()),
            source: source.to_string(),
        });
    }
    out.sort_by_key(|g| g.index);
    Ok(out)
}

/// Which tool answered.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Nvidia,
    Rocm,
}

impl Tool {
    fn args(self) -> &'static [&'static str] {
        match self {
            Tool::Nvidia => NVIDIA_ARGS,
            Tool::Rocm => ROCM_ARGS,
        }
    }
    fn parse(self, text: &str, source: &str) -> anyhow::Result<Vec<GpuSample>> {
        match self {
            Tool::Nvidia => parse_nvidia_csv(text, source),
            Tool::Rocm => parse_rocm_json(text, source),
        }
    }
}

const PROBE_DEADLINE: Duration = Duration::from_secs(15);

/// Sample every GPU: the tools inside `container` first (what the server sees), then on the
/// host. Empty when no tool answers (a CPU host, or the stand-in without a GPU). An error only
/// when a tool answered with output we cannot parse.
pub async fn sample(docker: &Docker, container: &str) -> anyhow::Result<Vec<GpuSample>> {
    for tool in [Tool::Nvidia, Tool::Rocm] {
        let spec = ExecSpec {
            argv: tool.args().iter().map(|s| s.to_string()).collect(),
            deadline: Some(PROBE_DEADLINE),
            ..Default::default()
        };
        // A missing binary is an exec error or exit 126/127: try the next tool.
        if let Ok((outcome, stdout, _)) = docker.exec_capture(container, &spec).await
            && outcome.exit_code == Some(0)
            && !stdout.trim().is_empty()
        {
            let name = tool.args()[0];
            return tool.parse(&stdout, &format!("{name} (container {container})"));
        }
    }
    sample_host().await
}

/// Sample with the tools installed on the host (vbench runs on the GPU host itself).
pub async fn sample_host() -> anyhow::Result<Vec<GpuSample>> {
    for tool in [Tool::Nvidia, Tool::Rocm] {
        let args = tool.args();
        let run = tokio::process::Command::new(args[0])
            .args(&args[1..])
            .kill_on_drop(true)
            .output();
        if let Ok(Ok(out)) = tokio::time::timeout(PROBE_DEADLINE, run).await
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            if !text.trim().is_empty() {
                return tool.parse(&text, &format!("{} (host)", args[0]));
            }
        }
    }
    Ok(vec![])
}

/// A table of samples (plain text, fixed columns).
pub fn render_table(samples: &[GpuSample]) -> String {
    if samples.is_empty() {
        return "no GPU found (neither nvidia-smi nor rocm-smi answered in the server container or on the host)".to_string();
    }
    let f = |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    let mut t = comfy_table::Table::new();
    t.set_header([
        "GPU",
        "name",
        "util %",
        "mem used MiB",
        "mem total MiB",
        "power W",
        "temp °C",
    ]);
    for s in samples {
        t.add_row([
            s.index.to_string(),
            s.name.clone(),
            f(s.util_pct, 0),
            f(s.mem_used_mib, 0),
            f(s.mem_total_mib, 0),
            f(s.power_w, 1),
            f(s.temp_c, 0),
        ]);
    }
    format!("{t}\nsource: {}", samples[0].source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvidia_csv_with_na_fields() {
        let text = "0, NVIDIA H100 80GB HBM3, 87, 71234, 81559, 512.34, 64, 550.54.15\n\
                    1, NVIDIA H100 80GB HBM3, [N/A], 3, 81559, [Not Supported], 31, 550.54.15\n";
        let s = parse_nvidia_csv(text, "t").expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(s[0].util_pct, Some(87.0));
        assert_eq!(s[0].mem_used_mib, Some(71234.0));
        assert_eq!(s[0].power_w, Some(512.34));
        assert_eq!(s[0].driver.as_deref(), Some("550.54.15"));
        assert_eq!(s[1].util_pct, None);
        assert_eq!(s[1].power_w, None);
        assert_eq!(s[1].temp_c, Some(31.0));
    }

    #[test]
    fn nvidia_csv_garbage_is_an_error_naming_the_line() {
        let e = parse_nvidia_csv("0, A100\n", "t").expect_err("too few fields");
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = parse_nvidia_csv("x, A, 1, 2, 3, 4, 5\n", "t").expect_err("bad index");
        assert!(e.to_string().contains("index"), "{e}");
    }

    #[test]
    fn rocm_json_of_two_releases() {
        // ROCm 6.x style: power as "Current Socket …", memory only as a percentage.
        let text = r#"{"card0": {"Temperature (Sensor edge) (C)": "45.0", "Temperature (Sensor junction) (C)": "50.0",
            "Current Socket Graphics Package Power (W)": "350.0", "GPU use (%)": "99", "GPU Memory Allocated (VRAM%)": "91",
            "Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": "206141652992"},
            "card1": {"Average Graphics Package Power (W)": "120.5", "GPU use (%)": "0", "GPU memory use (%)": "0",
            "Temperature (Sensor junction) (C)": "38.0"}, "system": {"Driver version": "6.7.0"}}"#;
        let s = parse_rocm_json(text, "t").expect("parses");
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].index, 0);
        assert_eq!(s[0].name, "AMD Instinct MI300X");
        assert_eq!(s[0].util_pct, Some(99.0));
        assert_eq!(s[0].power_w, Some(350.0));
        assert_eq!(s[0].temp_c, Some(45.0));
        let total = s[0].mem_total_mib.expect("total");
        assert!((total - 196592.0).abs() < 1.0, "{total}");
        assert!((s[0].mem_used_mib.expect("used") - total * 0.91).abs() < 1.0);
        assert_eq!(s[1].power_w, Some(120.5));
        assert_eq!(s[1].temp_c, Some(38.0));
        assert_eq!(s[1].mem_used_mib, None);
        assert_eq!(s[0].driver.as_deref(), Some("6.7.0"), "from `system`");
    }

    #[test]
    fn rocm_non_json_is_an_error() {
        let e = parse_rocm_json("WARNING: no AMD GPU", "rocm-smi (host)").expect_err("not JSON");
        assert!(
            e.to_string()
                .starts_with("rocm-smi (host): output is not JSON: "),
            "{e}"
        );
        assert!(e.to_string().contains("line 1 column 1"), "{e}");
    }

    #[test]
    fn errors_name_the_source_and_values_stay_finite() {
        // Both found by tests/fuzz_smi.rs: errors did not say which output (container or
        // host) they came from, and a huge total times a huge percentage gave `inf` MiB.
        let e = parse_nvidia_csv("0, A\n", "nvidia-smi (container s)").expect_err("short");
        assert!(
            e.to_string()
                .starts_with("nvidia-smi (container s): output line 1: expected at least 7"),
            "{e}"
        );
        let e = parse_rocm_json("[1]", "rocm-smi (host)").expect_err("not an object");
        assert_eq!(
            e.to_string(),
            "rocm-smi (host): output is not a JSON object"
        );
        let s = parse_rocm_json(
            r#"{"card0": {"VRAM Total Memory (B)": "1e308", "GPU Memory Allocated (VRAM%)": "1e300"}}"#,
            "t",
        )
        .expect("parses");
        assert_eq!(
            s[0].mem_used_mib, None,
            "an overflowing product is not a reading"
        );
    }

    #[test]
    fn table_has_every_gpu() {
        let s = parse_nvidia_csv(
            "0, A, 1, 2, 3, 4, 5\n1, B, 1, 2, 3, 4, 5\n",
            "nvidia-smi (host)",
        )
        .expect("parses");
        let t = render_table(&s);
        assert!(
            t.contains("A") && t.contains("B") && t.contains("nvidia-smi (host)"),
            "{t}"
        );
        assert!(render_table(&[]).contains("no GPU"));
    }
}

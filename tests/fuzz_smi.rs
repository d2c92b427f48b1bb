//! Generated inputs for the GPU tools' output parsers, `vbench::gpu::parse_nvidia_csv`
//! (`nvidia-smi --query-gpu=… --format=csv,noheader,nounits`) and `vbench::gpu::parse_rocm_json`
//! (`rocm-smi … --json`): what a tool run in the server container prints is untrusted.
//!
//! Generated:
//! - **nvidia-smi rows**: 0–6 GPU lines plus blank lines, each with 1–10 fields joined by
//!   `,` / `, ` / ` , `; indexes valid or not (`x`, `-1`, `4294967296`, `0.0`, `[N/A]`), names
//!   with commas and non-ASCII, measurements as numbers, `[N/A]`, `[Not Supported]`, `nan`,
//!   `inf`, `1e999`, words; `\n`, `\r\n` or lone `\r` line ends; sometimes the CSV header
//!   line that `noheader` should have removed;
//! - **rocm-smi objects**: `cardN` keys (and near misses: `card`, `cardX`, `card-1`, `Card0`,
//!   `card4294967296`) holding objects of the keys of several ROCm releases (values as
//!   numeric strings, numbers, `N/A`, booleans, null, lists, huge magnitudes) or non-objects,
//!   a `system` entry with a driver version; written compact or indented, sometimes after a
//!   warning line as rocm-smi prints on hosts without a GPU;
//! - byte mutations of real-looking outputs of both tools, and raw noise.
//!
//! Asserted: no panic, an answer within [`fuzz_support::CASE_LIMIT`]; the outcome is
//! predicted — nvidia-smi: one sample per non-blank line, index and name as written, or an
//! error naming the source, the first bad line's number and its text (or its index field);
//! rocm-smi: one sample per `card<u32>` key holding an object, sorted by index, or an error
//! naming the source and what it could not read (JSON errors with line and column); every
//! measurement is absent or a finite number, and every sample names the source.

mod fuzz_support;

use fuzz_support::{CASE_LIMIT, bounded, config, mutated, noise};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vbench::gpu::{GpuSample, parse_nvidia_csv, parse_rocm_json};

const SOURCE: &str = "nvidia-smi (container vllm-server)";
const ROCM_SOURCE: &str = "rocm-smi (host)";

const NVIDIA_ROWS_CASES: u32 = 14_000;
const NVIDIA_MUTATED_CASES: u32 = 8_000;
const ROCM_OBJECT_CASES: u32 = 12_000;
const ROCM_MUTATED_CASES: u32 = 8_000;
const NOISE_CASES: u32 = 6_000;

const NVIDIA_REAL: &str = "0, NVIDIA H100 80GB HBM3, 87, 71234, 81559, 512.34, 64, 550.54.15\n\
1, NVIDIA H100 80GB HBM3, [N/A], 3, 81559, [Not Supported], 31, 550.54.15\n\
2, NVIDIA A100-SXM4-80GB, 0, 0, 81920, 61.07, 33, 535.104.05\n";

const ROCM_REAL: &str = r#"{"card0": {"Temperature (Sensor edge) (C)": "45.0", "Temperature (Sensor junction) (C)": "50.0",
 "Current Socket Graphics Package Power (W)": "350.0", "GPU use (%)": "99", "GPU Memory Allocated (VRAM%)": "91",
 "Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": "206141652992", "VRAM Total Used Memory (B)": "1234567"},
 "card1": {"Average Graphics Package Power (W)": "120.5", "GPU use (%)": "0", "GPU memory use (%)": "0",
 "Temperature (Sensor junction) (C)": "38.0", "Card model": "0x74a1"}, "system": {"Driver version": "6.7.0"}}"#;

const CSV_DICT: &[&[u8]] = &[
    b",",
    b", ",
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"[N/A]",
    b"[Not Supported]",
    b"nan",
    b"inf",
    b"-inf",
    b"1e999",
    b"-1",
    b"0",
    b"4294967296",
    b"\xff",
    b"\xc3\xa9",
    b"\t",
    b"\"",
    b"index, name, utilization.gpu [%]",
];

const JSON_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\n",
    b"null",
    b"true",
    b"1e308",
    b"-1",
    b"\"card0\": ",
    b"\"card7\": {}",
    b"\"system\": ",
    b"\"N/A\"",
    b"\"1e308\"",
    b"\"VRAM Total Memory (B)\": ",
    b"\"GPU Memory Allocated (VRAM%)\": ",
    b"\"GPU use (%)\": ",
    b"\"Temperature\": ",
    b"\\u0000",
    b"\\ud800",
    b"WARNING: ",
    b"\xff",
];

fn measurement() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0.0f64..1e6).prop_map(|f| format!("{f:.2}")),
        2 => (0u32..100_000).prop_map(|i| i.to_string()),
        3 => proptest::sample::select(&[
            "[N/A]", "[Not Supported]", "", "nan", "NaN", "inf", "-inf", "1e999", "-1e999", "-5",
            "0x10", "1e-400", "12 W", "fast", "1,5", "+3", ".5", "5.",
        ][..]).prop_map(str::to_string),
        1 => "\\PC{0,6}",
    ]
}

fn index_field() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0u32..16).prop_map(|i| i.to_string()),
        1 => any::<u32>().prop_map(|i| i.to_string()),
        2 => proptest::sample::select(&[
            "x", "-1", "4294967296", "0.0", "[N/A]", "", "+1", "01", "1e2", "٣",
        ][..]).prop_map(str::to_string),
    ]
}

fn gpu_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "NVIDIA H100 80GB HBM3",
                "Tesla T4",
                "NVIDIA GeForce RTX 4090",
                "",
                "A,B",
                "ünï",
                "[N/A]",
                "  padded  ",
            ][..]
        )
        .prop_map(str::to_string),
        "[ -~]{0,24}".prop_map(|s| s.replace(',', ";")),
    ]
}

/// One nvidia-smi line: the index, the name, then the other fields (any count).
fn nvidia_line() -> impl Strategy<Value = Vec<String>> {
    (
        index_field(),
        gpu_name(),
        proptest::collection::vec(measurement(), 0..8),
        prop::option::weighted(
            0.7,
            proptest::sample::select(&["550.54.15", "[N/A]", "", "535.104.05"][..]),
        ),
    )
        .prop_map(|(i, n, mut rest, driver)| {
            let mut f = vec![i, n];
            f.append(&mut rest);
            if let Some(d) = driver {
                f.push(d.to_string());
            }
            f
        })
}

#[derive(Debug, Clone)]
struct NvidiaText {
    /// Each line: `Some(fields)`, or `None` for a blank line.
    lines: Vec<Option<Vec<String>>>,
    sep: &'static str,
    eol: &'static str,
    blank: &'static str,
    header: bool,
}

fn nvidia_text() -> impl Strategy<Value = NvidiaText> {
    (
        proptest::collection::vec(prop::option::weighted(0.85, nvidia_line()), 0..7),
        proptest::sample::select(&[", ", ", ", ",", " , "][..]),
        proptest::sample::select(&["\n", "\n", "\r\n", "\r"][..]),
        proptest::sample::select(&["", "   ", "\t"][..]),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(lines, sep, eol, blank, header)| NvidiaText {
            lines,
            sep,
            eol,
            blank,
            header,
        })
}

fn render_nvidia(t: &NvidiaText) -> String {
    let mut out = String::new();
    if t.header {
        out.push_str("index, name, utilization.gpu [%], memory.used [MiB], memory.total [MiB], power.draw [W], temperature.gpu, driver_version");
        out.push_str(t.eol);
    }
    for l in &t.lines {
        match l {
            Some(f) => out.push_str(&f.join(t.sep)),
            None => out.push_str(t.blank),
        }
        out.push_str(t.eol);
    }
    out
}

fn run_nvidia(text: &str) -> anyhow::Result<Vec<GpuSample>> {
    let owned = text.to_string();
    bounded(
        CASE_LIMIT,
        || format!("parse_nvidia_csv of {text:?}"),
        move || parse_nvidia_csv(&owned, SOURCE),
    )
}

fn run_rocm(text: &str) -> anyhow::Result<Vec<GpuSample>> {
    let owned = text.to_string();
    bounded(
        CASE_LIMIT,
        || format!("parse_rocm_json of {text:?}"),
        move || parse_rocm_json(&owned, ROCM_SOURCE),
    )
}

fn measurements_finite(s: &GpuSample) -> Result<(), TestCaseError> {
    for (what, v) in [
        ("util", s.util_pct),
        ("mem used", s.mem_used_mib),
        ("mem total", s.mem_total_mib),
        ("power", s.power_w),
        ("temp", s.temp_c),
    ] {
        prop_assert!(v.is_none_or(f64::is_finite), "{} is {:?}", what, v);
    }
    Ok(())
}

/// The outcome predicted independently: one sample per non-blank line, or an error at the
/// first line with fewer than 7 fields or an index that is not a `u32`.
fn check_nvidia(text: &str) -> Result<(), TestCaseError> {
    let got = run_nvidia(text);
    let mut want_rows = Vec::new();
    let mut want_err = None;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() < 7 {
            want_err = Some((n + 1, format!("{line:?}")));
            break;
        }
        match f[0].parse::<u32>() {
            Ok(i) => want_rows.push((i, f[1].to_string())),
            Err(_) => {
                want_err = Some((n + 1, format!("{:?}", f[0])));
                break;
            }
        }
    }
    match (got, want_err) {
        (Ok(samples), None) => {
            prop_assert_eq!(samples.len(), want_rows.len());
            for (s, (i, name)) in samples.iter().zip(&want_rows) {
                prop_assert_eq!(s.index, *i);
                prop_assert_eq!(&s.name, name);
                prop_assert_eq!(&s.source, SOURCE);
                measurements_finite(s)?;
                if let Some(d) = &s.driver {
                    prop_assert!(!d.is_empty() && !d.starts_with('['), "driver {:?}", d);
                }
            }
        }
        (Err(e), Some((line, what))) => {
            let msg = e.to_string();
            prop_assert!(
                msg.contains(SOURCE),
                "error does not name the source: {}",
                msg
            );
            prop_assert!(
                msg.contains(&format!("line {line}:")),
                "error does not name line {}: {}",
                line,
                msg
            );
            prop_assert!(
                msg.contains(&what),
                "error does not quote {}: {}",
                what,
                msg
            );
        }
        (Ok(s), Some((line, what))) => {
            prop_assert!(false, "accepted a bad line {} ({}): {:?}", line, what, s)
        }
        (Err(e), None) => prop_assert!(false, "refused good output: {}", e),
    }
    Ok(())
}

/// The keys rocm-smi writes per card, across releases.
const ROCM_KEYS: &[&str] = &[
    "GPU use (%)",
    "VRAM Total Memory (B)",
    "VRAM Total Used Memory (B)",
    "GPU Memory Allocated (VRAM%)",
    "GPU memory use (%)",
    "GPU Memory use (%)",
    "Current Socket Graphics Package Power (W)",
    "Average Graphics Package Power (W)",
    "Socket Graphics Package Power (W)",
    "Average Graphics Package Power (W) (node 0)",
    "Temperature (Sensor edge) (C)",
    "Temperature (Sensor junction) (C)",
    "Temperature (Sensor memory) (C)",
    "Card Series",
    "Card series",
    "Card Model",
    "Card model",
    "Device Name",
    "Driver version",
    "Card SKU",
    "",
];

fn rocm_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0.0f64..1e12).prop_map(|f| json!(format!("{f}"))),
        2 => (0u64..1 << 40).prop_map(|i| json!(i)),
        2 => proptest::sample::select(&[
            "N/A", "", "1e308", "-1e308", "1e999", "nan", "inf", "AMD Instinct MI300X", "0x74a1",
            "99 %",
        ][..]).prop_map(|s| json!(s)),
        1 => proptest::sample::select(&[1e308, -1e308, f64::MAX, f64::MIN_POSITIVE, -0.0][..])
            .prop_map(|f| json!(f)),
        1 => prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            Just(json!([1, "2"])),
            Just(json!({"x": "1"})),
        ],
    ]
}

fn rocm_card() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => proptest::collection::vec(
            (proptest::sample::select(ROCM_KEYS), rocm_value()), 0..12
        ).prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        1 => prop_oneof![
            Just(json!("card")),
            Just(json!([])),
            Just(json!(3)),
            Just(Value::Null),
        ],
    ]
}

fn rocm_key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (0u32..8).prop_map(|i| format!("card{i}")),
        1 => any::<u32>().prop_map(|i| format!("card{i}")),
        2 => proptest::sample::select(&[
            "card", "cardX", "card-1", "Card0", "card4294967296", "card 1", "card01", "system",
            "", "card+2",
        ][..]).prop_map(str::to_string),
    ]
}

#[derive(Debug, Clone)]
struct RocmText {
    object: Map<String, Value>,
    pretty: bool,
    warning: bool,
}

fn rocm_text() -> impl Strategy<Value = RocmText> {
    (
        proptest::collection::vec((rocm_key(), rocm_card()), 0..6),
        prop::option::weighted(
            0.5,
            prop_oneof![
                Just(json!({"Driver version": "6.7.0"})),
                Just(json!({"Driver version": 6})),
                Just(json!("6.7.0")),
            ],
        ),
        any::<bool>(),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(cards, system, pretty, warning)| {
            let mut object: Map<String, Value> = cards.into_iter().collect();
            if let Some(s) = system {
                object.insert("system".into(), s);
            }
            RocmText {
                object,
                pretty,
                warning,
            }
        })
}

fn render_rocm(t: &RocmText) -> String {
    let body = if t.pretty {
        serde_json::to_string_pretty(&t.object)
    } else {
        serde_json::to_string(&t.object)
    }
    .expect("serialize");
    if t.warning {
        format!("WARNING: AMD GPU device(s) is/are in a low-power state.\n{body}")
    } else {
        body
    }
}

/// General properties of any rocm-smi outcome; with `object` (the JSON written), the exact
/// set of samples is predicted.
fn check_rocm(text: &str, object: Option<&Map<String, Value>>) -> Result<(), TestCaseError> {
    match run_rocm(text) {
        Ok(samples) => {
            prop_assert!(samples.is_sorted_by_key(|s| s.index), "not sorted");
            for s in &samples {
                prop_assert_eq!(&s.source, ROCM_SOURCE);
                measurements_finite(s)?;
            }
            if let Some(obj) = object {
                let mut want: Vec<u32> = obj
                    .iter()
                    .filter(|(_, v)| v.is_object())
                    .filter_map(|(k, _)| k.strip_prefix("card")?.parse::<u32>().ok())
                    .collect();
                want.sort();
                let got: Vec<u32> = samples.iter().map(|s| s.index).collect();
                prop_assert_eq!(got, want);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(
                msg.contains(ROCM_SOURCE),
                "error does not name the source: {}",
                msg
            );
            let not_json = serde_json::from_str::<Value>(text.trim()).is_err();
            if not_json {
                prop_assert!(
                    msg.contains("not JSON") && msg.contains(" line ") && msg.contains(" column "),
                    "a JSON error without its position: {}",
                    msg
                );
            } else {
                prop_assert!(msg.contains("not a JSON object"), "{}", msg);
            }
            if let Some(obj) = object {
                prop_assert!(false, "refused {:?}: {}", obj, msg);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(NVIDIA_ROWS_CASES, 0x5_0001))]

    /// Generated nvidia-smi CSV: the outcome is predicted line by line.
    #[test]
    fn nvidia_rows_parse_as_predicted(t in nvidia_text()) {
        check_nvidia(&render_nvidia(&t))?;
    }
}

proptest! {
    #![proptest_config(config(NVIDIA_MUTATED_CASES, 0x5_0002))]

    /// Real-looking nvidia-smi output, byte-edited (read lossily, as the sampler does).
    #[test]
    fn nvidia_mutated_output_parses_as_predicted(
        input in mutated(vec![NVIDIA_REAL.as_bytes().to_vec()], CSV_DICT, 8)
    ) {
        check_nvidia(&String::from_utf8_lossy(&input.0))?;
    }
}

proptest! {
    #![proptest_config(config(ROCM_OBJECT_CASES, 0x5_0003))]

    /// Generated rocm-smi JSON: one sample per `card<u32>` object.
    #[test]
    fn rocm_objects_parse_as_predicted(t in rocm_text()) {
        let text = render_rocm(&t);
        check_rocm(&text, (!t.warning).then_some(&t.object))?;
    }
}

proptest! {
    #![proptest_config(config(ROCM_MUTATED_CASES, 0x5_0004))]

    /// Real-looking rocm-smi output, byte-edited.
    #[test]
    fn rocm_mutated_output_fails_with_a_reason(
        input in mutated(vec![ROCM_REAL.as_bytes().to_vec()], JSON_DICT, 8)
    ) {
        check_rocm(&String::from_utf8_lossy(&input.0), None)?;
    }
}

proptest! {
    #![proptest_config(config(NOISE_CASES, 0x5_0005))]

    /// Noise into both parsers.
    #[test]
    fn noise_into_both_parsers(a in noise(CSV_DICT, 512), b in noise(JSON_DICT, 512)) {
        check_nvidia(&String::from_utf8_lossy(&a.0))?;
        check_rocm(&String::from_utf8_lossy(&b.0), None)?;
    }
}

#[test]
fn the_seeds_parse() {
    assert_eq!(
        parse_nvidia_csv(NVIDIA_REAL, SOURCE).expect("nvidia").len(),
        3
    );
    assert_eq!(
        parse_rocm_json(ROCM_REAL, ROCM_SOURCE).expect("rocm").len(),
        2
    );
}

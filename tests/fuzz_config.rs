//! Generated inputs for the configuration loader, `vbench::config::from_text` (YAML through
//! serde-saphyr, then merge, `${VAR}` expansion, command-line overrides and validation): the
//! user's `vbench.yaml` is untrusted text.
//!
//! Generated:
//! - **template edits**: `vbench init`'s commented default file (`config::template::TEMPLATE`)
//!   edited line by line — values replaced from a pool of near-misses (out-of-range and
//!   overflowing integers, `.nan`, `yes`, `~`, units such as `0s` / `99999999999t` / `1.5h`,
//!   `${UNSET}`, `${`, `$$`, lists where scalars belong, anchors, aliases, tags, block
//!   scalars, unterminated quotes), lines deleted, duplicated, swapped, re-indented or
//!   uncommented (the example sweep), hostile lines inserted (unknown and misspelled keys,
//!   `---`, directives, merge keys, tabs, redefined presets, secrets in env maps);
//! - **sweeps**: named sweeps (valid, preset and invalid names) with every sweep key drawn from
//!   valid and invalid values, selected or not by `run.sweeps`, in block or flow style;
//! - **bombs**: alias fan-out (billion laughs), deep flow and block nesting, long scalars,
//!   many documents — each must be answered in bounded time;
//! - byte mutations of the template and raw noise of YAML tokens;
//! - with each of those: random command-line overrides (valid and invalid `--gpu`,
//!   `--startup-timeout`, `--tp 0`, …) and an environment that is a fixed map, or none.
//!
//! Asserted: no panic, an answer within [`fuzz_support::CASE_LIMIT`]; every error names its
//! location — `vbench.yaml:line:column` inside the text (rendered as the first thing), or the
//! field path, or the flag that was given — and a flag is only blamed if it was given; a
//! loaded configuration holds the invariants validation promises (names Docker accepts,
//! ranges, absolute `result_dir`, every `run.sweeps` entry defined) and the overrides given.

mod fuzz_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use fuzz_support::{CASE_LIMIT, bounded, config, mutated, noise};
use proptest::prelude::*;
use proptest::sample::Index;
use vbench::config::template::TEMPLATE;
use vbench::config::{Config, ConfigError, Origin, Overrides, PRESETS, from_text, is_docker_name};

const FILE: &str = "vbench.yaml";

const TEMPLATE_EDIT_CASES: u32 = 12_000;
const SWEEP_CASES: u32 = 6_000;
const BOMB_CASES: u32 = 400;
const MUTATED_CASES: u32 = 8_000;
const NOISE_CASES: u32 = 4_000;

/// Values dropped into `key: <value>` lines.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "8000",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "-9223372036854775808",
    "0x10",
    "0o17",
    "1_000",
    "+5",
    "0.5",
    "1.0",
    "1.5",
    "-0.1",
    "1e-300",
    ".nan",
    ".inf",
    "-.inf",
    "1e400",
    "NaN",
    "true",
    "false",
    "yes",
    "no",
    "True",
    "null",
    "~",
    "",
    "vllm-server",
    "vllm-bench-client",
    "x",
    "a b",
    "'quoted'",
    "\"dq\\n\"",
    "\"\\ud800\"",
    "\"\\x00\"",
    "ünï",
    "${HOME}",
    "${UNSET}",
    "${UNSET:-d}",
    "${EMPTY}",
    "${",
    "${1X}",
    "${A-B}",
    "$$",
    "$HOME",
    "${HF_TOKEN}",
    "1K",
    "96K",
    "0K",
    "1k",
    "18014398509481984K",
    "16g",
    "16GiB",
    "1t",
    "99999999999t",
    "0b",
    "30m",
    "0s",
    "1h30m",
    "500ms",
    "99999999999999999999h",
    "213503982334601d",
    "1.5h",
    "inf",
    "-3",
    "auto",
    "nvidia",
    "amd",
    "none",
    "cuda",
    "production",
    "scaling",
    "custom",
    "[]",
    "[a, b]",
    "[1, 2]",
    "[1K, 0]",
    "{}",
    "{a: 1}",
    "[production]",
    "[scaling-200, production]",
    "[nope]",
    "[[1]]",
    "[/a:/b]",
    "[a:b]",
    "[\"/h:/c:ro\", \"x\"]",
    "&a x",
    "*a",
    "*undefined",
    "!!binary aGVsbG8=",
    "!!str 5",
    "!!int x",
    "!!float 1",
    "!custom x",
    "|",
    ">",
    "|-\n    multi\n    line",
    "'unterminated",
    "\"unterminated",
    "- item",
    "? x",
    ": x",
    "@x",
    "`x",
    "%x",
    "a: b",
    "# comment",
    "\t",
    "[",
    "{",
    "]",
    "}",
    "/root/bench_results",
    "relative/dir",
];

/// Whole lines inserted into the file.
const LINES: &[&str] = &[
    "---",
    "...",
    "%YAML 1.2",
    "%TAG ! tag:example.com,2000:",
    "<<: *a",
    "anchors: &a {x: 1}",
    "extra: 1",
    "server:",
    "client:",
    "run:",
    "  bogus_key: 1",
    "  tensor_paralel_size: 4",
    "  modle: m",
    "  port: 0",
    "  publish_port: 70000",
    "  gpu_memory_utilization: 0",
    "  startup_timeout: 0s",
    "  sweeps: [long-context]",
    "  sweeps: []",
    "  container: vllm-server",
    "  result_dir: relative",
    "sweeps:",
    "sweeps: {production: {input_lens: [1], output_len: 1, concurrency: [1]}}",
    "sweeps: {x: {}}",
    "run: {sweeps: [x]}",
    "\tserver: tab",
    "server: &s {model: m}",
    "client: *s",
    "? [complex]",
    ": key",
    "!!map",
    "- list",
    "\u{feff}",
    "  env:",
    "    HF_TOKEN: hf_secret_value",
    "    BAD KEY: x",
    "    \"A=B\": x",
    "    \"\": x",
    "    X: [1]",
    "  volumes: [\"/a\"]",
    "  extra_args: [--api-key, sk-secret]",
    "network: a",
    "results_dir: ''",
    "results_dir: ~",
    "",
    "#",
    "   ",
    "server: null",
    "server: []",
    "server: 5",
];

/// The environment `${VAR}` reads (never the process's).
fn lookup(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "HF_TOKEN" => Some("hf_secret123".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum LineOp {
    SetValue {
        line: Index,
        value: Index,
    },
    Delete {
        line: Index,
    },
    Duplicate {
        line: Index,
    },
    Swap {
        a: Index,
        b: Index,
    },
    Indent {
        line: Index,
        by: i8,
    },
    Insert {
        at: Index,
        text: Index,
    },
    Uncomment {
        line: Index,
    },
    /// Replace `sweeps: {}` by `sweeps:` and uncomment the example sweep under it.
    EnableExampleSweep,
}

fn line_op() -> impl Strategy<Value = LineOp> {
    let i = any::<Index>;
    prop_oneof![
        8 => (i(), i()).prop_map(|(line, value)| LineOp::SetValue { line, value }),
        2 => i().prop_map(|line| LineOp::Delete { line }),
        1 => i().prop_map(|line| LineOp::Duplicate { line }),
        1 => (i(), i()).prop_map(|(a, b)| LineOp::Swap { a, b }),
        1 => (i(), -4i8..=4).prop_map(|(line, by)| LineOp::Indent { line, by }),
        3 => (i(), i()).prop_map(|(at, text)| LineOp::Insert { at, text }),
        1 => i().prop_map(|line| LineOp::Uncomment { line }),
        1 => Just(LineOp::EnableExampleSweep),
    ]
}

/// `(indent, key)` of a `key: value` / `key:` line that is not a comment.
fn key_line(l: &str) -> Option<(usize, &str)> {
    let t = l.trim_start_matches([' ', '-']);
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let colon = t.find(':')?;
    Some((l.len() - t.len(), &t[..colon]))
}

fn apply_line_ops(ops: &[LineOp]) -> String {
    let mut lines: Vec<String> = TEMPLATE.lines().map(str::to_string).collect();
    for op in ops {
        let n = lines.len();
        match op {
            LineOp::SetValue { line, value } => {
                // Aim at the nearest key line at or after the chosen one.
                let start = if n == 0 { 0 } else { line.index(n) };
                let Some(at) = (start..n)
                    .chain(0..start)
                    .find(|&k| key_line(&lines[k]).is_some())
                else {
                    continue;
                };
                let (indent, key) = key_line(&lines[at]).expect("key line");
                let v = VALUES[value.index(VALUES.len())];
                lines[at] = format!("{}{key}: {v}", &lines[at][..indent]);
            }
            LineOp::Delete { line } if n > 0 => {
                lines.remove(line.index(n));
            }
            LineOp::Duplicate { line } if n > 0 => {
                let k = line.index(n);
                lines.insert(k, lines[k].clone());
            }
            LineOp::Swap { a, b } if n > 0 => lines.swap(a.index(n), b.index(n)),
            LineOp::Indent { line, by } if n > 0 => {
                let k = line.index(n);
                if *by >= 0 {
                    lines[k] = format!("{}{}", " ".repeat(*by as usize), lines[k]);
                } else {
                    let cut = lines[k].len() - lines[k].trim_start_matches(' ').len();
                    lines[k] = lines[k][cut.min(by.unsigned_abs() as usize)..].to_string();
                }
            }
            LineOp::Insert { at, text } => {
                lines.insert(at.index(n + 1), LINES[text.index(LINES.len())].to_string())
            }
            LineOp::Uncomment { line } if n > 0 => {
                let k = line.index(n);
                if let Some(rest) = lines[k].strip_prefix('#') {
                    lines[k] = rest.to_string();
                }
            }
            LineOp::EnableExampleSweep => {
                let mut in_example = false;
                for l in &mut lines {
                    if l == "sweeps: {}" {
                        *l = "sweeps:".into();
                        in_example = true;
                    } else if in_example && l.starts_with("#  ") {
                        *l = l[1..].to_string();
                    } else if in_example {
                        in_example = false;
                    }
                }
            }
            LineOp::Delete { .. }
            | LineOp::Duplicate { .. }
            | LineOp::Swap { .. }
            | LineOp::Indent { .. }
            | LineOp::Uncomment { .. } => {}
        }
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

fn overrides() -> impl Strategy<Value = Overrides> {
    let s = |pool: &'static [&'static str]| {
        prop::option::weighted(
            0.08,
            proptest::sample::select(pool).prop_map(str::to_string),
        )
    };
    (
        (
            s(&["org/model", "", " "]),
            prop::option::weighted(0.05, prop_oneof![Just(0u32), 1u32..8, Just(u32::MAX)]),
            prop::option::weighted(
                0.05,
                prop_oneof![
                    Just(0.0f64),
                    Just(0.5),
                    Just(1.0),
                    Just(1.5),
                    Just(f64::NAN)
                ],
            ),
            prop::option::weighted(0.05, prop_oneof![Just(0u64), 1u64..100_000]),
            prop::option::weighted(0.05, any::<bool>()),
            s(&["auto", "nvidia", "amd", "none", "cuda", ""]),
        ),
        (
            s(&["vllm/vllm-openai:v1", "", "has space"]),
            s(&["img:1", "bad image"]),
            s(&["srv-1", "vllm-bench-client", "-bad", "x"]),
            s(&["cli-1", "vllm-server", "bad name"]),
            s(&["net-1", "n", ""]),
            prop::option::weighted(
                0.05,
                prop_oneof![Just(PathBuf::from("out")), Just(PathBuf::new())],
            ),
            s(&["90s", "0s", "1h30m", "soon", "99999999999999999999h", ""]),
        ),
        (
            s(&["auto", "worker", "process", "fast", ""]),
            s(&["all", "2", "0", "4,5", "[1]", "0,0", "-1", "x", ""]),
            s(&["missing", "always", "never", "sometimes", ""]),
        ),
    )
        .prop_map(
            |(
                (
                    model,
                    tensor_parallel_size,
                    gpu_memory_utilization,
                    max_model_len,
                    enforce_eager,
                    gpu,
                ),
                (
                    server_image,
                    client_image,
                    server_container,
                    client_container,
                    network,
                    results_dir,
                    startup_timeout,
                ),
                (client_mode, gpus, pull),
            )| Overrides {
                model,
                tensor_parallel_size,
                gpu_memory_utilization,
                max_model_len,
                enforce_eager,
                gpu,
                server_image,
                client_image,
                server_container,
                client_container,
                network,
                results_dir,
                startup_timeout,
                client_mode,
                gpus,
                pull,
                matrix_set: vec![],
            },
        )
}

/// The flags `o` sets, as `ConfigError` names them.
fn flags_given(o: &Overrides) -> Vec<&'static str> {
    let mut f = Vec::new();
    let mut add = |set: bool, flag| {
        if set {
            f.push(flag)
        }
    };
    add(o.model.is_some(), "--model");
    add(o.tensor_parallel_size.is_some(), "--tp");
    add(
        o.gpu_memory_utilization.is_some(),
        "--gpu-memory-utilization",
    );
    add(o.max_model_len.is_some(), "--max-model-len");
    add(o.enforce_eager.is_some(), "--enforce-eager");
    add(o.gpu.is_some(), "--gpu");
    add(o.server_image.is_some(), "--server-image");
    add(o.client_image.is_some(), "--client-image");
    add(o.server_container.is_some(), "--server-container");
    add(o.client_container.is_some(), "--client-container");
    add(o.network.is_some(), "--network");
    add(o.results_dir.is_some(), "--results-dir");
    add(o.startup_timeout.is_some(), "--startup-timeout");
    add(o.client_mode.is_some(), "--client-mode");
    add(o.gpus.is_some(), "--gpus");
    add(o.pull.is_some(), "--pull");
    f
}

/// The environment a case loads with.
#[derive(Debug, Clone, Copy)]
enum Env {
    /// No expansion at all.
    None,
    /// [`lookup`].
    Full,
    /// [`lookup`] without `HOME`, which the defaults use (an error in a built-in default).
    NoHome,
}

fn env() -> impl Strategy<Value = Env> {
    prop_oneof![1 => Just(Env::None), 6 => Just(Env::Full), 1 => Just(Env::NoHome)]
}

/// The bound for the bombs: each is answered in well under 0.2 s in the debug profile; a
/// merge-key bomb took ~4 s before the loader capped merge keys.
const BOMB_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Load `text` under a time bound.
fn load_within(
    limit: std::time::Duration,
    text: &str,
    o: &Overrides,
    env: Env,
) -> Result<Config, ConfigError> {
    let (t, o2) = (text.to_string(), o.clone());
    bounded(
        limit,
        || format!("from_text of {text:?} with {o:?}, {env:?}"),
        move || {
            let full: &dyn Fn(&str) -> Option<String> = &lookup;
            let no_home: &dyn Fn(&str) -> Option<String> =
                &|n: &str| (n != "HOME").then(|| lookup(n)).flatten();
            let f = match env {
                Env::None => None,
                Env::Full => Some(full),
                Env::NoHome => Some(no_home),
            };
            from_text(t, Some(PathBuf::from(FILE)), &o2, f)
        },
    )
}

/// The properties of any outcome.
fn check(text: &str, o: &Overrides, env: Env) -> Result<(), TestCaseError> {
    check_within(CASE_LIMIT, text, o, env)
}

fn check_within(
    limit: std::time::Duration,
    text: &str,
    o: &Overrides,
    env: Env,
) -> Result<(), TestCaseError> {
    match load_within(limit, text, o, env) {
        Err(e) => error_is_located(&e, text, o),
        Ok(cfg) => config_holds(&cfg, o),
    }
}

/// The lines of `text` as YAML counts them: `\r\n`, `\r` and `\n` each end one.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        out.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    out.push(rest);
    out
}

fn error_is_located(e: &ConfigError, text: &str, o: &Overrides) -> Result<(), TestCaseError> {
    let shown = e.to_string();
    prop_assert!(!e.message.is_empty(), "empty message: {}", shown);
    match (&e.origin, e.position()) {
        (Origin::File { line, column }, Some(_)) => {
            let lines = yaml_lines(text);
            let (line, column) = (*line as usize, *column as usize);
            prop_assert!(
                line >= 1 && line <= lines.len(),
                "line {} outside the text ({} lines): {}",
                line,
                lines.len(),
                shown
            );
            let width = lines[line - 1].chars().count();
            prop_assert!(
                column >= 1 && column <= width + 1,
                "column {} outside line {} ({} chars): {}",
                column,
                line,
                width,
                shown
            );
            let head = format!("{FILE}:{line}:{column}: ");
            prop_assert!(shown.starts_with(&head), "{}", shown);
        }
        (Origin::Flag(flag), None) => {
            prop_assert!(
                flags_given(o).contains(flag),
                "blames {} which was not given: {}",
                flag,
                shown
            );
            prop_assert!(shown.starts_with(&format!("{flag}: ")), "{}", shown);
        }
        (Origin::Default, None) => {
            prop_assert!(
                !e.field.is_empty(),
                "an error with neither position nor field: {}",
                shown
            );
            prop_assert!(
                shown.starts_with(&format!("{FILE}: {}: ", e.field)),
                "{}",
                shown
            );
        }
        (origin, pos) => prop_assert!(false, "{:?} with position {:?}: {}", origin, pos, shown),
    }
    Ok(())
}

fn config_holds(c: &Config, o: &Overrides) -> Result<(), TestCaseError> {
    let s = &c.server;
    prop_assert!(is_docker_name(&s.container), "{:?}", s.container);
    prop_assert!(is_docker_name(&c.client.container));
    prop_assert!(s.container != c.client.container);
    prop_assert!(is_docker_name(&c.network));
    prop_assert!(s.tensor_parallel_size >= 1);
    prop_assert!(s.gpu_memory_utilization > 0.0 && s.gpu_memory_utilization <= 1.0);
    prop_assert!(s.port >= 1);
    prop_assert!(s.max_model_len != Some(0));
    prop_assert!(s.publish_port != Some(0));
    prop_assert!(!s.startup_timeout.is_zero());
    prop_assert!(!s.model.trim().is_empty());
    prop_assert!(c.client.result_dir.starts_with('/'));
    prop_assert!(!c.results_dir.as_os_str().is_empty());
    prop_assert!(!c.run.sweeps.is_empty());
    prop_assert!(!c.run.point_timeout.is_zero());
    for n in &c.run.sweeps {
        prop_assert!(
            PRESETS.contains(&n.as_str()) || c.sweeps.contains_key(n),
            "{}",
            n
        );
    }
    for (n, sw) in &c.sweeps {
        prop_assert!(!PRESETS.contains(&n.as_str()) && is_docker_name(n), "{}", n);
        prop_assert!(!sw.input_lens.is_empty() && sw.input_lens.iter().all(|&l| l >= 1));
        prop_assert!(sw.output_len >= 1);
        // A sweep lists its levels, or (an `slo:` search) searches them within valid bounds.
        match &sw.slo {
            None => {
                prop_assert!(!sw.concurrency.is_empty() && sw.concurrency.iter().all(|&c| c >= 1))
            }
            Some(slo) => prop_assert!(sw.concurrency.is_empty() && slo.check().is_ok()),
        }
        prop_assert!(sw.repeats >= 1);
    }
    for (k, v) in s.env.iter().chain(&c.client.env) {
        prop_assert!(!k.is_empty() && !k.contains('=') && !k.contains(char::is_whitespace));
        let _ = v;
    }
    if let Some(m) = &o.model {
        prop_assert_eq!(&s.model, m);
    }
    if let Some(tp) = o.tensor_parallel_size {
        prop_assert_eq!(s.tensor_parallel_size, tp);
    }
    if let Some(n) = &o.server_container {
        prop_assert_eq!(&s.container, n);
    }
    if let Some(n) = &o.network {
        prop_assert_eq!(&c.network, n);
    }
    Ok(())
}

/// A sweep section with named sweeps and a `run.sweeps` choosing among them.
#[derive(Debug, Clone)]
struct Sweeps {
    sweeps: Vec<(String, BTreeMap<&'static str, &'static str>)>,
    run: Vec<String>,
    flow: bool,
}

const SWEEP_KEYS: &[(&str, &[&str])] = &[
    (
        "input_lens",
        &[
            "[1K, 4K]",
            "[128]",
            "[]",
            "[0]",
            "[1.5K]",
            "5",
            "[x]",
            "[18014398509481984K]",
        ],
    ),
    ("output_len", &["500", "1K", "0", "-1", "[1]", "1e3", "~"]),
    (
        "concurrency",
        &[
            "[1, 2, 5]",
            "[1]",
            "[]",
            "[0]",
            "[-1]",
            "[1.5]",
            "4",
            "[\"8\"]",
        ],
    ),
    ("prompts_per_concurrency", &["1", "0", "10", "x"]),
    ("num_prompts", &["null", "100", "0", "-5"]),
    (
        "request_rate",
        &["inf", "10", "0", "-1", "nan", "1e999", "fast", "\"5.5\""],
    ),
    ("warmups", &["0", "3", "-1"]),
    ("layout", &["custom", "production", "scaling", "other", "~"]),
    ("point_timeout", &["1h", "0s", "soon", "90", "1.5h"]),
    ("repeats", &["1", "3", "0", "1000", "1001"]),
    ("bogus", &["1"]),
];

const SWEEP_NAMES: &[&str] = &[
    "long-context",
    "mine",
    "a",
    "production",
    "scaling-200",
    "-x",
    "has space",
    "ünï",
    "x.y_z",
    "\"quoted\"",
];

fn sweeps() -> impl Strategy<Value = Sweeps> {
    let one = (
        proptest::sample::select(SWEEP_NAMES).prop_map(str::to_string),
        proptest::collection::vec((any::<Index>(), any::<Index>(), any::<bool>()), 0..8),
    )
        .prop_map(|(name, picks)| {
            let mut fields = BTreeMap::new();
            // Mostly the three required keys first, with a valid value.
            for (k, pool) in &SWEEP_KEYS[..3] {
                fields.insert(*k, pool[0]);
            }
            for (key, value, keep) in picks {
                let (k, pool) = SWEEP_KEYS[key.index(SWEEP_KEYS.len())];
                if keep {
                    fields.insert(k, pool[value.index(pool.len())]);
                } else {
                    fields.remove(k);
                }
            }
            (name, fields)
        });
    (
        proptest::collection::vec(one, 0..4),
        proptest::collection::vec(
            prop_oneof![
                proptest::sample::select(SWEEP_NAMES).prop_map(str::to_string),
                Just("production".to_string()),
                Just("scaling".to_string()),
            ],
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(|(sweeps, run, flow)| Sweeps { sweeps, run, flow })
}

fn render_sweeps(s: &Sweeps) -> String {
    let mut out = String::new();
    if s.flow {
        let items: Vec<String> = s
            .sweeps
            .iter()
            .map(|(n, f)| {
                let kv: Vec<String> = f.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{n}: {{{}}}", kv.join(", "))
            })
            .collect();
        out.push_str(&format!("sweeps: {{{}}}\n", items.join(", ")));
        out.push_str(&format!("run: {{sweeps: [{}]}}\n", s.run.join(", ")));
    } else {
        out.push_str("sweeps:\n");
        for (n, f) in &s.sweeps {
            out.push_str(&format!("  {n}:\n"));
            for (k, v) in f {
                out.push_str(&format!("    {k}: {v}\n"));
            }
        }
        out.push_str("run:\n  sweeps:\n");
        for r in &s.run {
            out.push_str(&format!("    - {r}\n"));
        }
    }
    // The rest of the file: the template's server and client sections.
    let head = TEMPLATE
        .split("\n# Named sweeps.")
        .next()
        .expect("template head");
    format!("{head}\n{out}")
}

/// Pathological documents, scaled by `n`.
fn bomb(kind: u8, n: usize) -> String {
    match kind % 9 {
        // Billion laughs, anchors in a place that takes lists: each level aliases the previous
        // ten times (the typed reader refuses the nesting; the parser must not expand first).
        0 => {
            let mut s = String::from("server:\n  extra_args: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
            s.push_str("client:\n  volumes:\n");
            for lvl in 1..=(n % 12 + 1) {
                let refs = vec![format!("*a{}", lvl - 1); 10].join(", ");
                s.push_str(&format!("    - &a{lvl} [{refs}]\n"));
            }
            s
        }
        // Many aliases of one anchor where strings are expected.
        1 => format!(
            "server:\n  extra_args: [&a x]\nclient:\n  extra_args: [{}]\n",
            vec!["*a"; n * 50].join(", ")
        ),
        // Sweeps merged from the previous one, level after level.
        2 => {
            let mut s = String::from(
                "sweeps:\n  s0: &s0 {input_lens: [1], output_len: 1, concurrency: [1]}\n",
            );
            for lvl in 1..=(n % 40 + 1) {
                s.push_str(&format!(
                    "  s{lvl}: &s{lvl} {{<<: [*s{}, *s{}], warmups: {lvl}}}\n",
                    lvl - 1,
                    lvl - 1
                ));
            }
            s.push_str(&format!("run:\n  sweeps: [s{}]\n", n % 40 + 1));
            s
        }
        3 => format!("server: {}{}", "[".repeat(n * 50), "]".repeat(n * 50)),
        4 => format!("server: {}x{}", "{a: ".repeat(n * 20), "}".repeat(n * 20)),
        5 => {
            let mut s = String::new();
            for d in 0..n * 4 {
                s.push_str(&" ".repeat(d));
                s.push_str("- \n");
            }
            s
        }
        6 => format!("server:\n  model: {}\n", "m".repeat(n * 10_000)),
        7 => "---\nserver: {}\n".repeat(n * 20),
        _ => {
            let mut s = String::from("server:\n  env:\n");
            for i in 0..n * 40 {
                s.push_str(&format!("    K{i}: v{i}\n"));
            }
            s
        }
    }
}

const YAML_DICT: &[&[u8]] = &[
    b":",
    b": ",
    b"- ",
    b"\n",
    b"\n  ",
    b"\t",
    b"#",
    b"&a ",
    b"*a",
    b"!!str ",
    b"!x ",
    b"|",
    b">",
    b"'",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"? ",
    b"---",
    b"...",
    b"%YAML 1.2\n",
    b"${",
    b"${HOME}",
    b"$$",
    b"~",
    b"null",
    b".nan",
    b"99999999999999999999",
    b"\\",
    b"\xef\xbb\xbf",
    b"\xff",
    b"server:",
    b"client:",
    b"sweeps:",
    b"run:",
    b"<<: ",
];

proptest! {
    #![proptest_config(config(TEMPLATE_EDIT_CASES, 0xc0_0001))]

    /// The commented default file, edited line by line.
    #[test]
    fn template_edits_load_or_fail_with_a_location(
        ops in proptest::collection::vec(line_op(), 1..6),
        o in overrides(),
        env in env(),
    ) {
        check(&apply_line_ops(&ops), &o, env)?;
    }
}

proptest! {
    #![proptest_config(config(SWEEP_CASES, 0xc0_0002))]

    /// Named sweeps of valid and invalid values, block and flow style.
    #[test]
    fn sweeps_load_or_fail_with_a_location(s in sweeps(), o in overrides()) {
        check(&render_sweeps(&s), &o, Env::Full)?;
    }
}

proptest! {
    #![proptest_config(config(BOMB_CASES, 0xc0_0003))]

    /// Alias fan-out, deep nesting, huge scalars, many documents: bounded time, located errors.
    #[test]
    fn bombs_are_answered_in_bounded_time(kind in 0u8..9, n in 1usize..200) {
        check_within(BOMB_LIMIT, &bomb(kind, n), &Overrides::default(), Env::Full)?;
    }
}

proptest! {
    #![proptest_config(config(MUTATED_CASES, 0xc0_0004))]

    /// The template, byte-edited (read lossily: the loader takes text).
    #[test]
    fn mutated_template_loads_or_fails_with_a_location(
        input in mutated(vec![TEMPLATE.as_bytes().to_vec()], YAML_DICT, 8),
        env in env(),
    ) {
        check(&String::from_utf8_lossy(&input.0), &Overrides::default(), env)?;
    }
}

proptest! {
    #![proptest_config(config(NOISE_CASES, 0xc0_0005))]

    /// Raw noise of YAML tokens.
    #[test]
    fn noise_fails_with_a_location(input in noise(YAML_DICT, 512)) {
        check(&String::from_utf8_lossy(&input.0), &Overrides::default(), Env::Full)?;
    }
}

#[test]
fn the_template_and_the_example_sweep_load() {
    let f: &dyn Fn(&str) -> Option<String> = &lookup;
    let o = Overrides::default();
    from_text(TEMPLATE.into(), Some(FILE.into()), &o, Some(f)).expect("template");
    let text = apply_line_ops(&[LineOp::EnableExampleSweep]);
    let cfg = from_text(text, Some(FILE.into()), &o, Some(f)).expect("example sweep");
    assert!(cfg.sweeps.contains_key("long-context"), "{:?}", cfg.sweeps);
    let s = Sweeps {
        sweeps: vec![(
            "mine".into(),
            SWEEP_KEYS[..3].iter().map(|(k, p)| (*k, p[0])).collect(),
        )],
        run: vec!["mine".into()],
        flow: true,
    };
    from_text(render_sweeps(&s), Some(FILE.into()), &o, Some(f)).expect("flow sweeps");
}

//! Generated inputs for the `/metrics` parser, `vbench::telemetry::metrics::parse`: the
//! Prometheus text a server in a container serves is untrusted.
//!
//! Generated:
//! - **structured scrapes**: families of vLLM's metric names (and others), each with optional
//!   HELP and TYPE lines and 0–4 samples with label sets and values (decimal, exponent, `NaN`,
//!   `+Inf`, `-Inf`, huge), LF or CRLF line ends, blank lines, and up to 6 bad lines
//!   (a bare `#`, a torn sample, control bytes, a brace left open) inserted anywhere;
//! - byte mutations of the stand-in's real-looking scrape (`tests/fixtures/metrics/`);
//! - raw noise.
//!
//! Asserted: no panic and an answer within [`fuzz_support::CASE_LIMIT`]; a structured scrape
//! parses to exactly the predicted snapshot — each series the sum of its finite samples, as
//! if the bad lines were absent; every error names `/metrics line L, column C` (or
//! `/metrics line L`) with L inside the input, and every value read is finite.

mod fuzz_support;

use fuzz_support::{CASE_LIMIT, bounded, config, fixture, mutated, noise};
use proptest::prelude::*;
use vbench::telemetry::metrics::{Snapshot, parse};

const STRUCTURED_CASES: u32 = 12_000;
const MUTATED_CASES: u32 = 10_000;
const NOISE_CASES: u32 = 6_000;

/// (family name, TYPE, which snapshot field it feeds).
const FAMILIES: &[(&str, &str, Field)] = &[
    ("vllm:num_requests_running", "gauge", Field::Running),
    ("vllm:num_requests_waiting", "gauge", Field::Waiting),
    ("vllm:kv_cache_usage_perc", "gauge", Field::Kv),
    ("vllm:prefix_cache_queries_total", "counter", Field::Queries),
    ("vllm:prefix_cache_hits_total", "counter", Field::Hits),
    ("vllm:num_preemptions_total", "counter", Field::Preemptions),
    ("vllm:prompt_tokens_total", "counter", Field::None),
    ("vllm:prefix_cache_queries_created", "gauge", Field::None),
    ("process_open_fds", "gauge", Field::None),
    ("python_gc_objects_collected_total", "counter", Field::None),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Running,
    Waiting,
    Kv,
    Queries,
    Hits,
    Preemptions,
    None,
}

/// Lines the Prometheus parser refuses (each one alone on its line).
const BAD_LINES: &[&str] = &[
    "#",
    "# ",
    "vllm:num_requests_running{engine=\"0\"",
    "{engine=\"0\"} 1",
    "\u{1}\u{2}zz",
    "vllm:x{a=\"1\"} one",
    "vllm:x 1 2 3 4",
];

#[derive(Debug, Clone)]
struct Family {
    which: usize,
    help: bool,
    type_line: bool,
    samples: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct Scrape {
    families: Vec<Family>,
    crlf: bool,
    /// (position among the lines, bad line).
    bad: Vec<(usize, &'static str)>,
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0.0f64..1e6).prop_map(|f| format!("{f}")),
        2 => (0u32..10_000).prop_map(|i| format!("{i}.0")),
        1 => (0.0f64..10.0).prop_map(|f| format!("{f:e}")),
        1 => proptest::sample::select(&["NaN", "+Inf", "-Inf", "1e308", "1.7976931348623157e308"][..])
            .prop_map(str::to_string),
    ]
}

fn labels() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0u8..4).prop_map(|e| format!("{{engine=\"{e}\",model_name=\"m\"}}")),
        (0u8..4).prop_map(|e| format!("{{engine=\"{e}\",model_name=\"a\\\"b\\\\c\"}}")),
    ]
}

fn family() -> impl Strategy<Value = (usize, Family)> {
    (
        0..FAMILIES.len(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec((labels(), value()), 0..4),
    )
        .prop_map(|(which, help, type_line, samples)| {
            (
                which,
                Family {
                    which,
                    help,
                    type_line,
                    samples,
                },
            )
        })
}

fn scrape() -> impl Strategy<Value = Scrape> {
    (
        proptest::collection::vec(family(), 0..8),
        any::<bool>(),
        proptest::collection::vec((0usize..64, proptest::sample::select(BAD_LINES)), 0..6),
    )
        .prop_map(|(fams, crlf, bad)| {
            // One block per family name, as exporters write them.
            let mut seen = std::collections::BTreeSet::new();
            let families = fams
                .into_iter()
                .filter(|(w, f)| seen.insert(*w) && !f.samples.is_empty())
                .map(|(_, f)| f)
                .collect();
            Scrape {
                families,
                crlf,
                bad,
            }
        })
}

/// The good lines of a scrape, one entry per line.
fn good_lines(s: &Scrape) -> Vec<String> {
    let mut lines = Vec::new();
    for f in &s.families {
        let (name, kind, _) = FAMILIES[f.which];
        if f.help {
            lines.push(format!("# HELP {name} Some help text."));
        }
        if f.type_line {
            lines.push(format!("# TYPE {name} {kind}"));
        }
        for (labels, v) in &f.samples {
            lines.push(format!("{name}{labels} {v}"));
        }
    }
    lines
}

fn render(s: &Scrape, with_bad: bool) -> String {
    let mut lines = good_lines(s);
    if with_bad {
        for (at, bad) in &s.bad {
            let at = (*at).min(lines.len());
            lines.insert(at, bad.to_string());
        }
    }
    let end = if s.crlf { "\r\n" } else { "\n" };
    let mut text = lines.join(end);
    if !text.is_empty() {
        text.push_str(end);
    }
    text
}

/// What `parse` must return: each field the sum of its family's finite samples.
fn predicted(s: &Scrape) -> Snapshot {
    let sum = |field: Field| -> Option<f64> {
        let values: Vec<f64> = s
            .families
            .iter()
            .filter(|f| FAMILIES[f.which].2 == field)
            .flat_map(|f| f.samples.iter())
            .filter_map(|(_, v)| v.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .collect();
        Some(values.iter().sum::<f64>()).filter(|v| !values.is_empty() && v.is_finite())
    };
    Snapshot {
        running: sum(Field::Running),
        waiting: sum(Field::Waiting),
        kv_cache_usage: sum(Field::Kv),
        prefix_queries: sum(Field::Queries),
        prefix_hits: sum(Field::Hits),
        preemptions: sum(Field::Preemptions),
    }
}

fn run(text: String) -> Result<Snapshot, String> {
    let shown = text.clone();
    bounded(
        CASE_LIMIT,
        move || format!("{shown:?}"),
        move || parse(&text),
    )
}

/// Every error names a line inside the text; every value is finite.
fn check_any(text: &str, got: &Result<Snapshot, String>) -> Result<(), TestCaseError> {
    match got {
        Ok(s) => {
            for v in [
                s.running,
                s.waiting,
                s.kv_cache_usage,
                s.prefix_queries,
                s.prefix_hits,
                s.preemptions,
            ]
            .into_iter()
            .flatten()
            {
                prop_assert!(v.is_finite(), "{v} from {text:?}");
            }
        }
        Err(e) => {
            let rest = e.strip_prefix("/metrics line ");
            prop_assert!(rest.is_some(), "error names no line: {e:?} for {text:?}");
            let digits: String = rest
                .unwrap()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let line: usize = digits.parse().unwrap_or(0);
            let lines = text.split('\n').count();
            prop_assert!(
                (1..=lines).contains(&line),
                "line {line} outside 1..={lines}: {e:?} for {text:?}"
            );
            prop_assert!(e.chars().count() < 400, "error too long: {e:?}");
        }
    }
    Ok(())
}

const DICT: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"#",
    b"# TYPE ",
    b"# HELP ",
    b" gauge",
    b" counter",
    b" histogram",
    b"{",
    b"}",
    b"=\"",
    b"\"",
    b",",
    b" ",
    b"NaN",
    b"+Inf",
    b"1e308",
    b"_total",
    b"vllm:num_requests_running",
    b"\\",
    b"\0",
];

proptest! {
    #![proptest_config(config(STRUCTURED_CASES, 0x6d65_7472))]

    #[test]
    fn structured_scrapes_parse_as_predicted(s in scrape()) {
        let want = predicted(&s);
        let clean = run(render(&s, false));
        prop_assert_eq!(clean.as_ref(), Ok(&want), "clean scrape {:?}", render(&s, false));
        let text = render(&s, true);
        let got = run(text.clone());
        check_any(&text, &got)?;
        if want != Snapshot::default() {
            // The bad lines cost only themselves.
            prop_assert_eq!(got, Ok(want), "with bad lines {:?}", text);
        }
    }
}

proptest! {
    #![proptest_config(config(MUTATED_CASES, 0x6d75_7461))]

    #[test]
    fn mutated_scrapes_never_panic_and_errors_name_the_line(
        b in mutated(vec![fixture("metrics/standin-idle.txt")], DICT, 12)
    ) {
        let text = String::from_utf8_lossy(&b.0).into_owned();
        let got = run(text.clone());
        check_any(&text, &got)?;
    }
}

proptest! {
    #![proptest_config(config(NOISE_CASES, 0x6e6f_6973))]

    #[test]
    fn noise_never_panics_and_errors_name_the_line(b in noise(DICT, 2048)) {
        let text = String::from_utf8_lossy(&b.0).into_owned();
        let got = run(text.clone());
        check_any(&text, &got)?;
    }
}

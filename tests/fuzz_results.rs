//! Generated inputs for the result parser, `vbench::results::parse` / `parse_all`: what a
//! client container hands back as its result file is untrusted.
//!
//! Generated:
//! - **structured**: the real result files of every era under `tests/fixtures/` (2024
//!   LambdaLabs, early-2025, 0.25.1, 0.33 and the real-client-made ones, one- and two-object
//!   JSON lines) read as JSON, edited key by key — a value vbench reads replaced by a
//!   well-typed one (integers, integral floats, digit strings, `"inf"`, bare `NaN` /
//!   `Infinity` / `-Infinity`, null) or by a wrongly typed one (booleans, negative or
//!   fractional counts, words, lists, objects, bad list elements), keys removed, unknown keys
//!   added — and written back compact, indented by 2 or 4, as JSON lines with several objects,
//!   with CRLF line ends, a byte-order mark and trailing blanks;
//! - **mutated**: those files and the real console output / `--help=all` / request log,
//!   byte-edited (flips, JSON tokens, deletions, repeats, splices, truncation);
//! - **noise**: random bytes, and random runs of JSON tokens.
//!
//! Asserted for every input: no panic, an answer within [`fuzz_support::CASE_LIMIT`]; an error
//! carries the origin and a 1-based line and column that lie inside the input, renders as
//! `origin:line:column: [field `x`: ]message`, and is the same error from `parse` and
//! `parse_all`; a success has at least one object, each with the origin and its starting
//! line, `parse` returns the last, every key vbench reads as a number is readable through
//! the typed accessors (the module's promise: a wrong type fails at parse time, so accessors
//! never fail), and every accessor and `validate` run without panicking. For structured
//! inputs the outcome is also predicted: no wrongly typed edit → the parse succeeds and the
//! objects are exactly the ones written (bare tokens read as strings); a wrongly typed edit →
//! the error names that field and points at its key, in the original bytes.

mod fuzz_support;

use std::collections::BTreeMap;

use fuzz_support::{Bytes, CASE_LIMIT, bounded, config, fixture, mutated, noise, offset_of};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vbench::results::{BenchResult, Expect, ParseError, parse, parse_all, validate};

const ORIGIN: &str = "client:/root/bench_results/x.json";

/// Cases per property.
const STRUCTURED_CASES: u32 = 16_000;
const MUTATED_CASES: u32 = 16_000;
const NOISE_CASES: u32 = 8_000;

const RESULT_FIXTURES: &[&str] = &[
    "results/LambdaLabsML-vllm-benchmark__Mistral-7B-Instruct-v0.3_tp1_len2048.json",
    "results/er0080-vllm-benchmarking__bench_serve_all_requests_failed_v0.25.1.json",
    "results/er0080-vllm-benchmarking__bench_serve_v0.25.1.json",
    "results/zhangxinyuehfad-vllm-benchmarks__serving_llama8B_tp1_qps_inf.json",
    "real-client-made/all-failed.json",
    "real-client-made/append-two-runs.json",
    "real-client-made/clamped-max-model-len.json",
    "real-client-made/clamped-with-vbench-metadata.json",
    "real-client-made/partial-errors.json",
    "vllm-0.33/real_client_random.json",
];

const TEXT_FIXTURES: &[&str] = &[
    "vllm-0.33/real_client_random.stdout.txt",
    "vllm-0.33/requests_real_client_random.jsonl",
    "vllm-0.33/vllm_bench_serve_help_all.txt",
];

const JSON_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b" ",
    b"\n",
    b"\r\n",
    b"\t",
    b"NaN",
    b"Infinity",
    b"-Infinity",
    b"-NaN",
    b"null",
    b"true",
    b"false",
    b"0",
    b"-1",
    b"1e999",
    b"-0",
    b"1.5",
    b"18446744073709551616",
    b"9007199254740993",
    b"\"inf\"",
    b"\"nan\"",
    b"\"x\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\\\"",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\"completed\": ",
    b"\"failed\": ",
    b"\"num_prompts\": ",
    b"\"mean_ttft_ms\": ",
    b"\"p99.9_itl_ms\": ",
    b"\"latencies\": ",
    b"\"errors\": ",
    b"\"request_goodput:\": ",
    b"\"duration\": ",
    b"\"max_concurrency\": ",
    b"{\"a\": ",
    b"[[[[[[[[[[[[[[[[",
    b"]]]]]]]]",
    b"{}",
    b"[]",
    b"\"\"",
    b"/*",
];

/// Keys vbench reads as non-negative integers (results::parse's INT_KEYS).
const INT_KEYS: &[&str] = &[
    "completed",
    "failed",
    "num_prompts",
    "total_input_tokens",
    "total_output_tokens",
    "max_concurrency",
    "max_concurrent_requests",
];

/// Keys vbench reads as floats: the fixed ones and a sample of the statistics.
const FLOAT_KEYS: &[&str] = &[
    "duration",
    "request_rate",
    "burstiness",
    "request_throughput",
    "request_goodput",
    "request_goodput:",
    "output_throughput",
    "total_token_throughput",
    "input_throughput",
    "max_output_tokens_per_s",
    "mean_ttft_ms",
    "median_ttft_ms",
    "std_ttft_ms",
    "p99_ttft_ms",
    "p99.9_itl_ms",
    "p50_e2el_ms",
    "mean_client_queue_time_ms",
    "p90_tpot_ms",
    "mean_latency_ms",
];

/// Keys vbench does not type-check (some look like statistics but are not).
const OTHER_KEYS: &[&str] = &[
    "date",
    "backend",
    "model_id",
    "tokenizer_id",
    "input_lens",
    "output_lens",
    "ttfts",
    "generated_texts",
    "p_ms",
    "mean_ms",
    "pX_ttft_ms",
    "latency_ms",
    "",
    "ünïcødé",
    "a\"quote",
    "back\\slash",
    "new\nline",
    "NaN",
];

/// Whether a written value should parse (`Good`) or be refused for its key (`Bad`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Good,
    Bad,
}

#[derive(Debug, Clone)]
enum Edit {
    Remove(String),
    Set(String, Value, Kind),
}

/// A bare token (`NaN`, …) is carried as this string and written without quotes.
fn bare(tok: &str) -> Value {
    Value::String(format!("\u{1}BARE:{tok}\u{1}"))
}

const BARE: &[&str] = &["NaN", "Infinity", "-Infinity"];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<u64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        proptest::sample::select(BARE).prop_map(bare),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn good_float() -> impl Strategy<Value = Value> {
    prop_oneof![8 => number_like(), 1 => Just(Value::Null)]
}

/// A value every float reader accepts (not null: a list of latencies has no holes).
fn number_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        (0.0f64..1e6).prop_map(|f| json!(f)),
        proptest::sample::select(&["inf", "-inf", "nan", "Infinity", " 12.5 ", "1e3", "-0"][..])
            .prop_map(|s| json!(s)),
        proptest::sample::select(BARE).prop_map(bare),
    ]
}

fn good_int() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(|i| json!(i)),
        (0u64..1 << 53).prop_map(|i| json!(i as f64)),
        any::<u32>().prop_map(|i| json!(format!(" {i} "))),
        Just(Value::Null),
    ]
}

/// Values no number reader accepts.
fn not_a_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        "[a-zA-Z ]{0,8}x".prop_map(Value::String),
        Just(json!([])),
        Just(json!([1, 2])),
        Just(json!({})),
        Just(json!({"mean": 1.0})),
    ]
}

fn bad_int() -> impl Strategy<Value = Value> {
    prop_oneof![
        not_a_number(),
        (i64::MIN..0).prop_map(|i| json!(i)),
        (0.0f64..1e6)
            .prop_filter("fractional", |f| f.fract() != 0.0)
            .prop_map(|f| json!(f)),
        (-1e6f64..-0.5).prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!("1.5")),
        Just(json!("-3")),
        proptest::sample::select(BARE).prop_map(bare),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let int_key = proptest::sample::select(INT_KEYS).prop_map(str::to_string);
    let float_key = proptest::sample::select(FLOAT_KEYS).prop_map(str::to_string);
    let other_key = proptest::sample::select(OTHER_KEYS).prop_map(str::to_string);
    let any_key = prop_oneof![
        int_key.clone(),
        float_key.clone(),
        other_key.clone(),
        Just("latencies".to_string()),
        Just("errors".to_string()),
    ];
    prop_oneof![
        2 => any_key.prop_map(Edit::Remove),
        4 => (int_key.clone(), good_int()).prop_map(|(k, v)| Edit::Set(k, v, Kind::Good)),
        4 => (float_key.clone(), good_float()).prop_map(|(k, v)| Edit::Set(k, v, Kind::Good)),
        3 => (other_key, any_json()).prop_map(|(k, v)| Edit::Set(k, v, Kind::Good)),
        1 => proptest::collection::vec(number_like(), 0..8)
            .prop_map(|v| Edit::Set("latencies".into(), Value::Array(v), Kind::Good)),
        1 => proptest::collection::vec(
                prop_oneof![Just(Value::Null), "\\PC{0,10}".prop_map(Value::String)], 0..8)
            .prop_map(|v| Edit::Set("errors".into(), Value::Array(v), Kind::Good)),
        1 => (int_key, bad_int()).prop_map(|(k, v)| Edit::Set(k, v, Kind::Bad)),
        1 => (float_key, not_a_number()).prop_map(|(k, v)| Edit::Set(k, v, Kind::Bad)),
        1 => prop_oneof![
                not_a_number().prop_filter("not a list", |v| !v.is_array()),
                (proptest::collection::vec(number_like(), 0..4), not_a_number(), any::<prop::sample::Index>())
                    .prop_map(|(mut v, bad, at)| { v.insert(at.index(v.len() + 1), bad); Value::Array(v) }),
            ].prop_map(|v| Edit::Set("latencies".into(), v, Kind::Bad)),
        1 => prop_oneof![
                Just(json!("oops")),
                Just(json!({"0": ""})),
                Just(json!(["", 1])),
                Just(json!([true])),
                Just(json!([["nested"]])),
            ].prop_map(|v| Edit::Set("errors".into(), v, Kind::Bad)),
    ]
}

/// How the objects are written back.
#[derive(Debug, Clone)]
struct Layout {
    indent: Option<usize>,
    separator: &'static str,
    crlf: bool,
    bom: bool,
    trailing: &'static str,
    /// Extra copies of the last object appended (JSON lines of several runs).
    copies: usize,
}

fn layout() -> impl Strategy<Value = Layout> {
    (
        prop_oneof![Just(None), Just(Some(2)), Just(Some(4))],
        proptest::sample::select(&["\n", "\n", "\r\n", " ", "\n\n", ""][..]),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.2),
        proptest::sample::select(&["", "\n", "  \n", "\n\n\t"][..]),
        prop_oneof![4 => Just(0usize), 1 => 1usize..3],
    )
        .prop_map(|(indent, separator, crlf, bom, trailing, copies)| Layout {
            indent,
            separator,
            crlf,
            bom,
            trailing,
            copies,
        })
}

/// The objects of each result fixture, as strict JSON.
fn fixture_objects() -> Vec<Vec<Map<String, Value>>> {
    RESULT_FIXTURES
        .iter()
        .map(|rel| {
            serde_json::Deserializer::from_slice(&fixture(rel))
                .into_iter::<Value>()
                .map(|v| match v.expect("fixture is strict JSON") {
                    Value::Object(m) => m,
                    other => panic!("{rel}: not an object: {other}"),
                })
                .collect()
        })
        .collect()
}

/// One structured case: the objects written, which one was edited, and how.
#[derive(Debug, Clone)]
struct Structured {
    objects: Vec<Map<String, Value>>,
    edited: usize,
    /// Final kind of each key set by an edit (later edits win; a removal forgets the key).
    kinds: BTreeMap<String, Kind>,
    layout: Layout,
}

fn structured() -> impl Strategy<Value = Structured> {
    let fixtures = fixture_objects();
    (
        proptest::sample::select(fixtures),
        any::<prop::sample::Index>(),
        proptest::collection::vec(edit(), 0..6),
        layout(),
    )
        .prop_map(|(mut objects, which, edits, layout)| {
            let last = objects.last().expect("an object").clone();
            objects.extend(std::iter::repeat_n(last, layout.copies));
            let edited = which.index(objects.len());
            let mut kinds = BTreeMap::new();
            let obj = &mut objects[edited];
            for e in edits {
                match e {
                    Edit::Remove(k) => {
                        obj.shift_remove(&k);
                        kinds.remove(&k);
                    }
                    Edit::Set(k, v, kind) => {
                        obj.insert(k.clone(), v);
                        kinds.insert(k, kind);
                    }
                }
            }
            Structured {
                objects,
                edited,
                kinds,
                layout,
            }
        })
}

fn to_text(v: &Map<String, Value>, indent: Option<usize>) -> String {
    let mut out = Vec::new();
    match indent {
        None => serde_json::to_writer(&mut out, v).expect("serialize"),
        Some(n) => {
            let ind = " ".repeat(n);
            let fmt = serde_json::ser::PrettyFormatter::with_indent(ind.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(v, &mut ser).expect("serialize");
        }
    }
    let mut s = String::from_utf8(out).expect("utf-8");
    for tok in BARE {
        s = s.replace(&format!("\"\\u0001BARE:{tok}\\u0001\""), tok);
    }
    s
}

/// What the parser should return for a bare token: its name as a string.
fn unbare(v: &mut Value) {
    match v {
        Value::String(s) => {
            if let Some(t) = s
                .strip_prefix("\u{1}BARE:")
                .and_then(|r| r.strip_suffix('\u{1}'))
            {
                *s = t.to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(unbare),
        Value::Object(m) => m.values_mut().for_each(unbare),
        _ => {}
    }
}

/// The bytes of a structured case and the (first, last) line of each object.
fn render(s: &Structured) -> (Vec<u8>, Vec<(usize, usize)>) {
    let l = &s.layout;
    let mut text = String::new();
    let mut spans = Vec::new();
    let nl = if l.crlf { "\r\n" } else { "\n" };
    for (i, o) in s.objects.iter().enumerate() {
        if i > 0 {
            text.push_str(l.separator);
        }
        let first = text.matches('\n').count() + 1;
        let body = to_text(o, l.indent).replace('\n', nl);
        text.push_str(&body);
        spans.push((first, text.matches('\n').count() + 1));
    }
    text.push_str(l.trailing);
    let mut bytes = Vec::new();
    if l.bom {
        bytes.extend_from_slice("\u{feff}".as_bytes());
    }
    bytes.extend_from_slice(text.as_bytes());
    (bytes, spans)
}

fn run_parse_all(bytes: &[u8]) -> Result<Vec<BenchResult>, ParseError> {
    let owned = bytes.to_vec();
    bounded(
        CASE_LIMIT,
        || format!("parse_all of {:?}", Bytes(bytes.to_vec())),
        move || parse_all(&owned, ORIGIN),
    )
}

/// The properties every input must satisfy; returns the outcome for further checks.
fn check(bytes: &[u8]) -> Result<Result<Vec<BenchResult>, ParseError>, TestCaseError> {
    let all = run_parse_all(bytes);
    let one = parse(bytes, ORIGIN);
    match &all {
        Err(e) => {
            prop_assert_eq!(&e.origin, ORIGIN);
            prop_assert!(
                offset_of(bytes, e.line, e.column).is_some(),
                "error position {}:{} is not in the input: {}",
                e.line,
                e.column,
                e
            );
            let shown = e.to_string();
            let head = format!("{ORIGIN}:{}:{}: ", e.line, e.column);
            prop_assert!(shown.starts_with(&head), "{}", shown);
            if let Some(f) = &e.field {
                prop_assert!(
                    shown[head.len()..].starts_with(&format!("field `{f}`: ")),
                    "{}",
                    shown
                );
            }
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(one.as_ref().err(), Some(e), "parse and parse_all disagree");
        }
        Ok(results) => {
            prop_assert!(!results.is_empty(), "Ok with no object");
            let lines = bytes.iter().filter(|&&c| c == b'\n').count() + 1;
            let mut prev = 1;
            for r in results {
                prop_assert_eq!(r.origin(), ORIGIN);
                prop_assert!(
                    r.line() >= prev && r.line() <= lines,
                    "line {} (previous {}, {} lines)",
                    r.line(),
                    prev,
                    lines
                );
                prev = r.line();
                accessors_hold(r)?;
            }
            prop_assert_eq!(
                one.as_ref().ok(),
                results.last(),
                "parse is not the last of parse_all"
            );
        }
    }
    Ok(all)
}

/// The typed accessors read every key the parser let through, and nothing panics.
fn accessors_hold(r: &BenchResult) -> Result<(), TestCaseError> {
    for (k, v) in r.raw() {
        if v.is_null() {
            continue;
        }
        if INT_KEYS.contains(&k.as_str()) {
            prop_assert!(
                r.get_u64(k).is_some(),
                "`{}` = {} passed but reads as None",
                k,
                v
            );
        }
        if FLOAT_KEYS.contains(&k.as_str()) {
            prop_assert!(
                r.get_f64(k).is_some(),
                "`{}` = {} passed but reads as None",
                k,
                v
            );
        }
    }
    let _ = (
        r.completed(),
        r.failed(),
        r.num_prompts(),
        r.total_input_tokens(),
        r.total_output_tokens(),
        r.duration_s(),
        r.request_rate(),
        r.max_concurrency(),
        r.request_throughput(),
        r.request_goodput(),
        r.output_throughput(),
        r.total_token_throughput(),
    );
    let _ = (
        r.mean_ttft_ms(),
        r.median_ttft_ms(),
        r.p99_ttft_ms(),
        r.mean_tpot_ms(),
        r.median_tpot_ms(),
        r.p99_tpot_ms(),
        r.mean_itl_ms(),
        r.mean_e2el_ms(),
        r.p99_e2el_ms(),
        r.errors(),
    );
    let reasons = validate(
        r,
        &Expect {
            num_prompts: 8,
            input_len: 128,
            output_len: 32,
        },
    );
    for why in reasons {
        prop_assert!(!why.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(STRUCTURED_CASES, 0x7e5_0001))]

    /// Real files of every era, edited key by key: the outcome is predicted exactly.
    #[test]
    fn structured_results_parse_as_predicted(case in structured()) {
        let (bytes, spans) = render(&case);
        let outcome = check(&bytes)?;
        let bad: Vec<&String> = case
            .kinds
            .iter()
            .filter(|(_, k)| **k == Kind::Bad)
            .map(|(key, _)| key)
            .collect();
        match outcome {
            Ok(results) => {
                prop_assert!(bad.is_empty(), "accepted wrongly typed {:?}", bad);
                prop_assert_eq!(results.len(), case.objects.len());
                for ((r, want), (first, _)) in results.iter().zip(&case.objects).zip(&spans) {
                    let mut want = Value::Object(want.clone());
                    unbare(&mut want);
                    prop_assert_eq!(&Value::Object(r.raw().clone()), &want);
                    prop_assert_eq!(r.line(), *first);
                }
            }
            Err(e) => {
                prop_assert!(!bad.is_empty(), "refused a well-typed file: {}", e);
                let field = e.field.clone().unwrap_or_default();
                prop_assert!(bad.contains(&&field), "error names {:?}, wrongly typed: {:?}: {}", field, bad, e);
                let (first, last) = spans[case.edited];
                prop_assert!(
                    (first..=last).contains(&e.line),
                    "error on line {}, the edited object spans {}..={}: {}", e.line, first, last, e
                );
                let at = offset_of(&bytes, e.line, e.column).expect("checked");
                let key = serde_json::to_string(&field).expect("key");
                prop_assert!(
                    bytes[at..].starts_with(key.as_bytes()),
                    "{} does not point at the key {}: {:?}", e, key,
                    String::from_utf8_lossy(&bytes[at..(at + 40).min(bytes.len())])
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config(MUTATED_CASES, 0x7e5_0002))]

    /// Real files (results, console output, help text, request log), byte-edited.
    #[test]
    fn mutated_files_fail_with_a_location_or_parse_consistently(
        input in mutated(
            RESULT_FIXTURES.iter().chain(TEXT_FIXTURES).map(|r| fixture(r)).collect(),
            JSON_DICT,
            8,
        )
    ) {
        let _ = check(&input.0)?;
    }
}

proptest! {
    #![proptest_config(config(NOISE_CASES, 0x7e5_0003))]

    /// Random bytes and random runs of JSON tokens.
    #[test]
    fn noise_fails_with_a_location(input in noise(JSON_DICT, 1024)) {
        let _ = check(&input.0)?;
    }
}

#[test]
fn offsets_of_positions() {
    assert_eq!(offset_of(b"ab\ncd", 1, 1), Some(0));
    assert_eq!(offset_of(b"ab\ncd", 1, 3), Some(2));
    assert_eq!(offset_of(b"ab\ncd", 2, 3), Some(5));
    assert_eq!(offset_of(b"ab\ncd", 2, 4), None);
    assert_eq!(offset_of(b"ab\ncd", 3, 1), None);
    assert_eq!(offset_of(b"", 1, 1), Some(0));
}

#[test]
fn every_structured_fixture_reads() {
    for objs in fixture_objects() {
        let s = Structured {
            objects: objs,
            edited: 0,
            kinds: BTreeMap::new(),
            layout: Layout {
                indent: Some(4),
                separator: "\n",
                crlf: true,
                bom: false,
                trailing: "\n",
                copies: 1,
            },
        };
        let (bytes, _) = render(&s);
        parse_all(&bytes, ORIGIN).expect("a re-written fixture parses");
    }
}

/// The per-case time bound itself: a case that does not answer fails, naming the input.
#[test]
#[should_panic(expected = "no answer within 50ms")]
fn a_case_over_its_time_bound_fails() {
    bounded(
        std::time::Duration::from_millis(50),
        || "a sleeper".to_string(),
        || std::thread::sleep(std::time::Duration::from_secs(2)),
    )
}

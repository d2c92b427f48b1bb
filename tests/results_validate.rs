//! Validation of one sweep point's result against what the point asked for.

mod common;

use vbench::results::{Expect, parse, validate};

fn fixture(rel: &str) -> vbench::results::BenchResult {
    let path = common::fixture(rel);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    parse(&bytes, &path.display().to_string()).expect("fixture parses")
}

const REAL_033: &str = "vllm-0.33/real_client_random.json";

#[test]
fn good_fixture_with_matching_expect_passes() {
    // The real run: 8 prompts, input 128, output 32.
    let r = fixture(REAL_033);
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 8,
            input_len: 128,
            output_len: 32,
        },
    );
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn all_failed_fixture_fails() {
    let r =
        fixture("results/er0080-vllm-benchmarking__bench_serve_all_requests_failed_v0.25.1.json");
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 8,
            input_len: 32,
            output_len: 16,
        },
    );
    assert_eq!(problems, vec!["every request failed (8)".to_string()]);
}

#[test]
fn all_failed_quotes_first_distinct_errors() {
    let text = br#"{"num_prompts": 3, "completed": 0, "failed": 3,
        "errors": ["Bad Request", "Traceback (most recent call last):\n  File \"x.py\"\naiohttp.ClientConnectorError: refused\n", "Bad Request"]}"#;
    let r = parse(text, "f.json").unwrap();
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 3,
            input_len: 1,
            output_len: 1,
        },
    );
    assert_eq!(
        problems,
        vec![
            "every request failed (3): Bad Request; aiohttp.ClientConnectorError: refused"
                .to_string()
        ]
    );
}

#[test]
fn clamped_outputs_fail_with_explanation() {
    // vLLM 0.33 near the context limit: 4 requests asked for 500 tokens, got 380 each.
    let text = br#"{"num_prompts": 4, "completed": 4, "failed": 0, "total_input_tokens": 4096, "total_output_tokens": 1520}"#;
    let r = parse(text, "clamped.json").unwrap();
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 4,
            input_len: 1024,
            output_len: 500,
        },
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("outputs shortened: 1520 of 2000 tokens"),
        "{problems:?}"
    );
    assert!(problems[0].contains("clamps max_tokens"), "{problems:?}");

    // Within 1% is fine.
    let text = br#"{"num_prompts": 4, "completed": 4, "failed": 0, "total_output_tokens": 1985}"#;
    let r = parse(text, "close.json").unwrap();
    assert!(
        validate(
            &r,
            &Expect {
                num_prompts: 4,
                input_len: 1024,
                output_len: 500
            }
        )
        .is_empty()
    );
}

#[test]
fn mismatched_num_prompts_fails() {
    let r = fixture(REAL_033);
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 16,
            input_len: 128,
            output_len: 32,
        },
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("is for 8 prompts, this point asked for 16")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("only 8 of 16 requests completed")),
        "{problems:?}"
    );
}

#[test]
fn partial_failure_and_missing_completed() {
    let r = parse(
        br#"{"num_prompts": 8, "completed": 6, "failed": 2, "total_output_tokens": 192}"#,
        "p.json",
    )
    .unwrap();
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 8,
            input_len: 128,
            output_len: 32,
        },
    );
    assert_eq!(
        problems,
        vec!["only 6 of 8 requests completed (2 failed)".to_string()]
    );

    let r = parse(br#"{"num_prompts": 8}"#, "n.json").unwrap();
    let problems = validate(
        &r,
        &Expect {
            num_prompts: 8,
            input_len: 128,
            output_len: 32,
        },
    );
    assert_eq!(
        problems,
        vec!["n.json has no `completed` count".to_string()]
    );
}

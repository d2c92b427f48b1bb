//! Whether one sweep point's result is trustworthy: every request completed, the file describes
//! the run we asked for, and the outputs have the length we asked for. The real client exits 0
//! even when every request fails, so this is the only place such a point is caught.

use super::BenchResult;

/// What the point asked `vllm bench serve` for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub num_prompts: u64,
    pub input_len: u64,
    pub output_len: u64,
}

/// Tolerance on `total_output_tokens` against `completed × output_len`.
const OUTPUT_TOLERANCE: f64 = 0.01;
/// How many distinct error strings to quote in a failure reason.
const MAX_QUOTED_ERRORS: usize = 3;

/// Problems with a result, each a human-readable reason; empty means the point passed.
pub fn validate(r: &BenchResult, e: &Expect) -> Vec<String> {
    let mut problems = Vec::new();
    let origin = r.origin();

    if let Some(n) = r.num_prompts()
        && n != e.num_prompts
    {
        problems.push(format!(
            "{origin} is for {n} prompts, this point asked for {}",
            e.num_prompts
        ));
    }

    let Some(completed) = r.completed() else {
        problems.push(format!("{origin} has no `completed` count"));
        return problems;
    };

    if completed == 0 {
        let n = r.failed().or(r.num_prompts()).unwrap_or(e.num_prompts);
        let mut msg = format!("every request failed ({n})");
        let quoted = first_distinct_errors(r);
        if !quoted.is_empty() {
            msg.push_str(": ");
            msg.push_str(&quoted.join("; "));
        }
        problems.push(msg);
        return problems;
    }

    let failed = r.failed().unwrap_or(0);
    if completed != e.num_prompts {
        let mut msg = format!("only {completed} of {} requests completed", e.num_prompts);
        if failed > 0 {
            msg.push_str(&format!(" ({failed} failed)"));
        }
        let quoted = first_distinct_errors(r);
        if !quoted.is_empty() {
            msg.push_str(": ");
            msg.push_str(&quoted.join("; "));
        }
        problems.push(msg);
    } else if failed > 0 {
        problems.push(format!(
            "{failed} requests failed although {completed} completed"
        ));
    }

    if let Some(total) = r.total_output_tokens() {
        let expected = completed.saturating_mul(e.output_len);
        let (t, x) = (total as f64, expected as f64);
        if t < x * (1.0 - OUTPUT_TOLERANCE) {
            problems.push(format!(
                "outputs shortened: {total} of {expected} tokens — vLLM 0.33 clamps max_tokens near the context limit"
            ));
        } else if t > x * (1.0 + OUTPUT_TOLERANCE) {
            problems.push(format!(
                "outputs longer than asked: {total} tokens, expected {expected} ({completed} × {})",
                e.output_len
            ));
        }
    }
    problems
}

/// Up to `MAX_QUOTED_ERRORS` distinct error strings, each cut to its last non-empty line.
fn first_distinct_errors(r: &BenchResult) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for err in r.errors() {
        // Tracebacks end with the exception line; HTTP errors are a single reason phrase.
        let line = err
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .unwrap_or("")
            .to_string();
        let short: String = line.chars().take(200).collect();
        if !out.contains(&short) {
            out.push(short);
        }
        if out.len() == MAX_QUOTED_ERRORS {
            break;
        }
    }
    out
}

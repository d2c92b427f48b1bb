//! The built-in sweeps (`production`, `scaling`, `scaling-200`, `demo`), 1-2-5 concurrency
//! ladders, and the custom sweep built from command-line flags.
//!
//! Token counts: K = 1024 tokens, so `32K` is 32768 input tokens. Presets keep
//! `prompts_per_concurrency = 1` (one wave of C requests at max concurrency C), exactly what
//! the manual scripts measured, so results stay comparable with the historical files.

use super::selection::Selection;
use crate::config::SweepConfig;

/// One K in the file names and on the command line: 1024 tokens.
pub const K: u64 = 1024;

/// Names of the built-in sweeps.
pub const PRESET_NAMES: [&str; 4] = ["production", "scaling", "scaling-200", "demo"];

/// The denser ladder of `scaling-200` (1…200): the 1-2-5 steps up to 20, then every 10 up to
/// 50, then every 25 up to 200, where the curve bends on the hosts we know.
pub const SCALING_200_LEVELS: [u64; 14] =
    [1, 2, 5, 10, 20, 30, 40, 50, 75, 100, 125, 150, 175, 200];

/// Name of the sweep built from `--input-len/--concurrency/…` flags.
pub const CUSTOM: &str = "custom";

/// The built-in sweep `name`, if it is one.
pub fn preset(name: &str) -> Option<SweepConfig> {
    let sweep = |input_lens: Vec<u64>, output_len, concurrency, layout: &str| SweepConfig {
        input_lens,
        output_len,
        concurrency,
        prompts_per_concurrency: 1,
        num_prompts: None,
        request_rate: "inf".into(),
        warmups: 0,
        layout: Some(layout.into()),
        point_timeout: None,
        repeats: 1,
        slo: None,
    };
    match name {
        "production" => Some(sweep(
            [1, 2, 4, 8, 10, 32, 64, 96].iter().map(|k| k * K).collect(),
            500,
            vec![1, 2, 5, 10, 20],
            "production",
        )),
        "scaling" => Some(sweep(vec![K], 128, ladder_125(1, 1000), "scaling")),
        "scaling-200" => Some(sweep(vec![K], 128, SCALING_200_LEVELS.to_vec(), "scaling")),
        // Small enough for the CPU stand-in to finish the whole pipeline in well under 2 minutes.
        "demo" => Some(sweep(vec![128, 256], 32, vec![1, 2, 4], "custom")),
        _ => None,
    }
}

/// The 1-2-5 ladder (1, 2, 5, 10, 20, 50, …) restricted to `min..=max`.
pub fn ladder_125(min: u64, max: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut decade: u64 = 1;
    'outer: loop {
        for step in [1, 2, 5] {
            let Some(v) = decade.checked_mul(step) else {
                break 'outer;
            };
            if v > max {
                break 'outer;
            }
            if v >= min {
                out.push(v);
            }
        }
        match decade.checked_mul(10) {
            Some(d) => decade = d,
            None => break,
        }
    }
    out
}

/// Does the selection ask for a custom sweep (any of the custom flags given)?
pub fn has_custom(sel: &Selection) -> bool {
    !sel.input_len.is_empty()
        || sel.output_len.is_some()
        || sel.min_concurrency.is_some()
        || sel.max_concurrency.is_some()
        || !sel.concurrency.is_empty()
        || sel.single.is_some()
}

/// The custom sweep the flags describe, `None` when no custom flag was given. Errors name the
/// flag at fault.
pub fn custom(sel: &Selection) -> Result<Option<SweepConfig>, String> {
    if !has_custom(sel) {
        return Ok(None);
    }
    let mut input_lens = Vec::new();
    for s in &sel.input_len {
        input_lens
            .push(crate::config::parse_token_count(s).map_err(|e| format!("--input-len: {e}"))?);
    }
    if input_lens.is_empty() {
        return Err("a custom sweep needs --input-len (e.g. --input-len 1K,4K)".into());
    }
    let output_len = sel
        .output_len
        .ok_or("a custom sweep needs --output-len (e.g. --output-len 128)")?;
    let given = [
        sel.single.is_some(),
        !sel.concurrency.is_empty(),
        sel.min_concurrency.is_some() || sel.max_concurrency.is_some(),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(
            "give only one of --single, --concurrency, --min-concurrency/--max-concurrency".into(),
        );
    }
    let concurrency = if let Some(c) = sel.single {
        vec![c]
    } else if !sel.concurrency.is_empty() {
        sel.concurrency.clone()
    } else {
        let min = sel.min_concurrency.unwrap_or(1);
        let max = sel
            .max_concurrency
            .ok_or("--min-concurrency needs --max-concurrency (the top of the 1-2-5 ladder)")?;
        if min > max {
            return Err(format!(
                "--min-concurrency {min} is above --max-concurrency {max}"
            ));
        }
        let l = ladder_125(min, max);
        if l.is_empty() {
            return Err(format!("no 1-2-5 ladder step lies between {min} and {max}"));
        }
        l
    };
    if let Some(c) = concurrency.iter().find(|c| **c == 0) {
        return Err(format!("concurrency {c}: levels must be at least 1"));
    }
    Ok(Some(SweepConfig {
        input_lens,
        output_len,
        concurrency,
        prompts_per_concurrency: 1,
        num_prompts: sel.num_prompts,
        request_rate: "inf".into(),
        warmups: 0,
        layout: Some("custom".into()),
        point_timeout: None,
        repeats: 1,
        slo: None,
    }))
}

/// `1024` → `1K`, `10240` → `10K`, `1000` → `1000`: the manual workflow's file-name form.
pub fn tokens_label(n: u64) -> String {
    if n >= K && n.is_multiple_of(K) {
        format!("{}K", n / K)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_is_eight_lengths_by_five_levels() {
        let p = preset("production").expect("preset");
        assert_eq!(
            p.input_lens,
            vec![1024, 2048, 4096, 8192, 10240, 32768, 65536, 98304]
        );
        assert_eq!(p.concurrency, vec![1, 2, 5, 10, 20]);
        assert_eq!(p.output_len, 500);
        assert_eq!(p.input_lens.len() * p.concurrency.len(), 40);
        assert_eq!(p.prompts_per_concurrency, 1);
    }

    #[test]
    fn scaling_ladders() {
        assert_eq!(
            preset("scaling").expect("preset").concurrency,
            vec![1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
        );
        assert_eq!(
            preset("scaling-200").expect("preset").concurrency,
            SCALING_200_LEVELS.to_vec()
        );
        assert!(preset("nope").is_none());
    }

    #[test]
    fn ladder_bounds() {
        assert_eq!(ladder_125(1, 1), vec![1]);
        assert_eq!(ladder_125(3, 60), vec![5, 10, 20, 50]);
        assert_eq!(ladder_125(2, 2), vec![2]);
        assert!(ladder_125(3, 4).is_empty());
        assert_eq!(ladder_125(1, u64::MAX).len(), 58);
    }

    #[test]
    fn labels() {
        assert_eq!(tokens_label(1024), "1K");
        assert_eq!(tokens_label(98304), "96K");
        assert_eq!(tokens_label(1000), "1000");
        assert_eq!(tokens_label(128), "128");
    }

    #[test]
    fn custom_from_flags() {
        let sel = Selection {
            input_len: vec!["1K".into(), "4096".into()],
            output_len: Some(64),
            min_concurrency: Some(2),
            max_concurrency: Some(50),
            ..Default::default()
        };
        let c = custom(&sel).expect("ok").expect("some");
        assert_eq!(c.input_lens, vec![1024, 4096]);
        assert_eq!(c.concurrency, vec![2, 5, 10, 20, 50]);
        let single = Selection {
            input_len: vec!["2K".into()],
            output_len: Some(8),
            single: Some(7),
            ..Default::default()
        };
        assert_eq!(
            custom(&single).expect("ok").expect("some").concurrency,
            vec![7]
        );
        let both = Selection {
            single: Some(1),
            concurrency: vec![2],
            ..single.clone()
        };
        assert!(custom(&both).unwrap_err().contains("only one"));
        let no_out = Selection {
            input_len: vec!["1K".into()],
            single: Some(1),
            ..Default::default()
        };
        assert!(custom(&no_out).unwrap_err().contains("--output-len"));
        let bad = Selection {
            input_len: vec!["1M".into()],
            output_len: Some(1),
            single: Some(1),
            ..Default::default()
        };
        assert!(custom(&bad).unwrap_err().contains("--input-len"));
        assert!(custom(&Selection::default()).expect("ok").is_none());
    }
}

//! The `random` dataset of `vllm bench serve` 0.33, built with the stand-in tokenizer:
//! per request an input length and an output length sampled uniformly from
//! `[floor(L·(1−r)), ceil(L·(1+r))]`, a shared random prefix of `--random-prefix-len` tokens,
//! then consecutive vocabulary ids from a random offset, decoded to text (one word per token).

use super::rng::Rng;
use crate::tokens;

/// One request of the workload (`SampleRequest`).
#[derive(Debug, Clone)]
pub struct Sample {
    pub prompt: String,
    pub prompt_len: usize,
    pub expected_output_len: usize,
    pub request_id: String,
}

/// The per-direction range ratios of `--random-range-ratio`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeRatio {
    pub input: f64,
    pub output: f64,
}

/// Parse `--random-range-ratio` as 0.33 does: a float for both directions or a JSON object
/// `{"input": r, "output": r}`; each must be in [0, 1). Errors carry the real wording.
pub fn parse_range_ratio(raw: &str) -> Result<RangeRatio, String> {
    let trimmed = raw.trim();
    let (input, output) = if trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|e| format!("ValueError: Invalid --random-range-ratio JSON {raw:?}: {e}"))?;
        let get = |k: &str| -> Result<f64, String> {
            match v.get(k) {
                None => Ok(0.0),
                Some(x) => x.as_f64().ok_or_else(|| {
                    format!("ValueError: --random-range-ratio key {k:?} must be a number, got {x}")
                }),
            }
        };
        (get("input")?, get("output")?)
    } else {
        let r: f64 = trimmed
            .parse()
            .map_err(|_| format!("ValueError: could not convert string to float: '{raw}'"))?;
        (r, r)
    };
    for r in [input, output] {
        if !(0.0..1.0).contains(&r) {
            return Err("ValueError: range_ratio must be in [0, 1).".into());
        }
    }
    Ok(RangeRatio { input, output })
}

/// Inclusive length range for a target length and ratio.
pub fn length_range(len: usize, ratio: f64) -> (usize, usize) {
    let l = len as f64;
    (
        (l * (1.0 - ratio)).floor() as usize,
        (l * (1.0 + ratio)).ceil() as usize,
    )
}

/// Everything the random dataset needs.
pub struct RandomSpec {
    pub num_requests: usize,
    pub input_len: usize,
    pub output_len: usize,
    pub ratio: RangeRatio,
    pub prefix_len: usize,
    pub request_id_prefix: String,
}

impl RandomSpec {
    pub fn input_range(&self) -> (usize, usize) {
        length_range(self.input_len, self.ratio.input)
    }

    /// Output lengths never go below 1: a request for 0 tokens measures nothing.
    pub fn output_range(&self) -> (usize, usize) {
        let (lo, hi) = length_range(self.output_len, self.ratio.output);
        (lo.max(1), hi.max(1))
    }

    /// Sample the workload deterministically from `rng`.
    pub fn sample(&self, rng: &mut Rng) -> Vec<Sample> {
        let vocab = tokens::VOCAB_SIZE as u64;
        let prefix: Vec<u32> = (0..self.prefix_len)
            .map(|_| rng.int_inclusive(0, vocab - 1) as u32)
            .collect();
        let (in_lo, in_hi) = self.input_range();
        let (out_lo, out_hi) = self.output_range();
        let input_lens: Vec<usize> = (0..self.num_requests)
            .map(|_| rng.int_inclusive(in_lo as u64, in_hi as u64) as usize)
            .collect();
        let output_lens: Vec<usize> = (0..self.num_requests)
            .map(|_| rng.int_inclusive(out_lo as u64, out_hi as u64) as usize)
            .collect();
        let offsets: Vec<u64> = (0..self.num_requests)
            .map(|_| rng.int_inclusive(0, vocab - 1))
            .collect();
        (0..self.num_requests)
            .map(|i| {
                let mut ids = prefix.clone();
                ids.extend(
                    (0..input_lens[i] as u64).map(|j| ((offsets[i] + i as u64 + j) % vocab) as u32),
                );
                Sample {
                    prompt: tokens::decode(&ids),
                    prompt_len: ids.len(),
                    expected_output_len: output_lens[i],
                    request_id: format!("{}{}", self.request_id_prefix, i),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_ratio_accepts_float_and_json_and_rejects_out_of_range() {
        assert_eq!(
            parse_range_ratio("0.0").unwrap(),
            RangeRatio {
                input: 0.0,
                output: 0.0
            }
        );
        assert_eq!(
            parse_range_ratio(r#"{"input": 0.3, "output": 0.5}"#).unwrap(),
            RangeRatio {
                input: 0.3,
                output: 0.5
            }
        );
        assert_eq!(
            parse_range_ratio("1.0").unwrap_err(),
            "ValueError: range_ratio must be in [0, 1)."
        );
        assert!(parse_range_ratio("x").is_err());
    }

    #[test]
    fn lengths_stay_in_range_and_prompts_have_that_many_tokens() {
        let spec = RandomSpec {
            num_requests: 50,
            input_len: 100,
            output_len: 10,
            ratio: RangeRatio {
                input: 0.25,
                output: 0.5,
            },
            prefix_len: 5,
            request_id_prefix: "p-".into(),
        };
        assert_eq!(spec.input_range(), (75, 125));
        let samples = spec.sample(&mut Rng::new(0));
        let again = spec.sample(&mut Rng::new(0));
        for (i, s) in samples.iter().enumerate() {
            assert!((80..=130).contains(&s.prompt_len), "{}", s.prompt_len);
            assert_eq!(tokens::count(&s.prompt), s.prompt_len);
            assert!((5..=15).contains(&s.expected_output_len));
            assert_eq!(s.request_id, format!("p-{i}"));
            assert_eq!(s.prompt, again[i].prompt, "seeded sampling is reproducible");
        }
    }
}

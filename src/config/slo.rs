//! The `slo:` kind of sweep: instead of a fixed list of levels, search for the highest
//! concurrency (or request rate) at which every given p99 latency limit holds. Only the
//! settings live here; the search itself is `crate::slo`'s.

use serde::{Deserialize, Serialize};

/// What an SLO search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SloBy {
    /// `--max-concurrency C` (integer levels).
    #[default]
    Concurrency,
    /// `--request-rate R` requests per second (Poisson arrivals), no concurrency cap.
    Rate,
}

impl SloBy {
    pub fn parse(s: &str) -> Option<SloBy> {
        Some(match s {
            "concurrency" => SloBy::Concurrency,
            "rate" => SloBy::Rate,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SloBy::Concurrency => "concurrency",
            SloBy::Rate => "rate",
        }
    }
}

/// An SLO search: the limits (p99, in milliseconds) and the bounds of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloConfig {
    /// p99 time to first token must not exceed this (ms).
    #[serde(default, with = "ms_text", skip_serializing_if = "Option::is_none")]
    pub ttft_p99: Option<u64>,
    /// p99 time per output token must not exceed this (ms).
    #[serde(default, with = "ms_text", skip_serializing_if = "Option::is_none")]
    pub tpot_p99: Option<u64>,
    /// p99 end-to-end latency must not exceed this (ms).
    #[serde(default, with = "ms_text", skip_serializing_if = "Option::is_none")]
    pub e2el_p99: Option<u64>,
    #[serde(default)]
    pub by: SloBy,
    /// The first level probed; the search doubles from here.
    #[serde(default = "one")]
    pub start: f64,
    /// The highest level probed.
    #[serde(default = "max_level")]
    pub max: f64,
    /// At most this many points per searched input length, repeats included.
    #[serde(default = "max_points")]
    pub max_points: u32,
    /// Runs of the last level that meets the SLO and of the first that does not, before the
    /// search ends (the majority of a level's runs decides it).
    #[serde(default = "boundary_repeats")]
    pub boundary_repeats: u32,
    /// Rate search only: stop when the failing rate is within this fraction of the passing
    /// one (0.1: 10 %).
    #[serde(default = "precision")]
    pub precision: f64,
}

fn one() -> f64 {
    1.0
}
fn max_level() -> f64 {
    DEFAULT_MAX
}
fn max_points() -> u32 {
    DEFAULT_MAX_POINTS
}
fn boundary_repeats() -> u32 {
    DEFAULT_BOUNDARY_REPEATS
}
fn precision() -> f64 {
    DEFAULT_PRECISION
}

pub const DEFAULT_MAX: f64 = 1024.0;
pub const DEFAULT_MAX_POINTS: u32 = 20;
pub const DEFAULT_BOUNDARY_REPEATS: u32 = 3;
pub const DEFAULT_PRECISION: f64 = 0.1;
/// An SLO sweep's default `prompts_per_concurrency`: several waves per level, so a level
/// measures sustained load rather than one burst.
pub const DEFAULT_PROMPTS_PER_CONCURRENCY: u64 = 4;

impl Default for SloConfig {
    fn default() -> Self {
        SloConfig {
            ttft_p99: None,
            tpot_p99: None,
            e2el_p99: None,
            by: SloBy::Concurrency,
            start: 1.0,
            max: DEFAULT_MAX,
            max_points: DEFAULT_MAX_POINTS,
            boundary_repeats: DEFAULT_BOUNDARY_REPEATS,
            precision: DEFAULT_PRECISION,
        }
    }
}

impl SloConfig {
    /// The limits given, as `(metric key in the result file, goodput key, ms)`.
    pub fn limits(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut v = Vec::new();
        if let Some(t) = self.ttft_p99 {
            v.push(("p99_ttft_ms", "ttft", t));
        }
        if let Some(t) = self.tpot_p99 {
            v.push(("p99_tpot_ms", "tpot", t));
        }
        if let Some(t) = self.e2el_p99 {
            v.push(("p99_e2el_ms", "e2el", t));
        }
        v
    }

    /// What is wrong with these settings, if anything (the field and why).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.limits().is_empty() {
            return Err((
                "slo",
                "give at least one limit: ttft_p99, tpot_p99 or e2el_p99".into(),
            ));
        }
        for (k, _, v) in self.limits() {
            if v == 0 {
                return Err((key_of(k), "must be longer than 0ms".into()));
            }
        }
        let int = self.by == SloBy::Concurrency;
        if !(self.start.is_finite() && self.start > 0.0) || (int && self.start.fract() != 0.0) {
            return Err((
                "start",
                format!(
                    "must be {} > 0, got {}",
                    if int { "an integer" } else { "a number" },
                    self.start
                ),
            ));
        }
        if !(self.max.is_finite() && self.max >= self.start) || (int && self.max.fract() != 0.0) {
            return Err((
                "max",
                format!(
                    "must be {} >= start ({}), got {}",
                    if int { "an integer" } else { "a number" },
                    self.start,
                    self.max
                ),
            ));
        }
        if !(2..=1000).contains(&self.max_points) {
            return Err((
                "max_points",
                format!("must be 2..=1000, got {}", self.max_points),
            ));
        }
        if !(1..=50).contains(&self.boundary_repeats) {
            return Err((
                "boundary_repeats",
                format!("must be 1..=50, got {}", self.boundary_repeats),
            ));
        }
        if !(self.precision > 0.0 && self.precision < 1.0) {
            return Err((
                "precision",
                format!("must be in (0, 1), got {}", self.precision),
            ));
        }
        Ok(())
    }
}

fn key_of(metric: &str) -> &'static str {
    match metric {
        "p99_ttft_ms" => "ttft_p99",
        "p99_tpot_ms" => "tpot_p99",
        _ => "e2el_p99",
    }
}

/// Limits written as durations (`2s`, `50ms`) and kept as whole milliseconds.
mod ms_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(ms) => s.serialize_str(&format!("{ms}ms")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        crate::config::parse_duration(&text)
            .map(|t| Some(t.as_millis() as u64))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_round_trip_as_durations() {
        let s = SloConfig {
            ttft_p99: Some(2000),
            tpot_p99: Some(50),
            ..Default::default()
        };
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains("\"ttft_p99\":\"2000ms\""), "{j}");
        assert!(!j.contains("e2el_p99"), "{j}");
        let back: SloConfig = serde_json::from_str(&j).unwrap();
        assert_eq!(back, s);
        assert!(s.check().is_ok());
        assert_eq!(SloConfig::default().check().unwrap_err().0, "slo");
        let frac = SloConfig {
            start: 1.5,
            ..s.clone()
        };
        assert_eq!(frac.check().unwrap_err().0, "start");
        let rate = SloConfig {
            by: SloBy::Rate,
            ..frac
        };
        assert!(rate.check().is_ok());
    }
}

//! The verdict of a comparison, for cron: did the new run regress against the baseline?
//! Three outcomes, never confused: `Pass`, `Regressed` (naming each point and metric), and
//! `CannotJudge` (a point failed or is missing in either run, or the runs differ in model,
//! image digest, serve arguments or GPU — an outage or a configuration change is neither a
//! regression nor a pass).

use serde::Serialize;

use super::compare::COMPARE_METRICS;
use super::{Row, RunMeta, group};

/// The three outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Regressed,
    CannotJudge,
}

/// One metric of one point that got worse beyond both the threshold and the noise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `production input 1K output 500 conc 5`.
    pub point: String,
    /// Metric id (`output_throughput`, `p99_ttft_ms`, …).
    pub metric: String,
    /// Medians over the repeats.
    pub baseline: f64,
    pub current: f64,
    /// How much worse, relative to the baseline (0.12 = 12 % worse).
    pub worse_by: f64,
    /// The relative spread seen between repeats (the larger of the two runs); 0 without
    /// repeats.
    pub noise: f64,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The baseline's and the new run's titles (run ids or import names).
    pub baseline: String,
    pub current: String,
    /// Relative change that counts (0.05 = 5 %).
    pub threshold: f64,
    /// Every regression (empty unless `Regressed`).
    pub regressions: Vec<Finding>,
    /// Why the runs cannot be judged (empty unless `CannotJudge`).
    pub reasons: Vec<String>,
    /// How many points were compared.
    pub compared: usize,
}

/// Default threshold: a change must exceed 10 % (and the noise) to count.
pub const DEFAULT_THRESHOLD: f64 = 0.10;

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Regressed => "regressed",
            Outcome::CannotJudge => "cannot judge",
        }
    }
}

/// Things both runs must share for their numbers to be comparable: `(what, base, new)`;
/// unknown on either side (an import says little) is not a difference.
fn set_up_differences(base: &RunMeta, new: &RunMeta) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, b: Option<String>, n: Option<String>| {
        if let (Some(b), Some(n)) = (b, n)
            && b != n
        {
            out.push(format!("the runs differ in {what}: {b} vs {n}"));
        }
    };
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    check("model", nonempty(&base.model), nonempty(&new.model));
    check(
        "image digest",
        nonempty(&base.image_digest),
        nonempty(&new.image_digest),
    );
    check(
        "serve arguments",
        base.serve_args
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a.join(" ")),
        new.serve_args
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|a| a.join(" ")),
    );
    let gpus = |m: &RunMeta| (!m.gpus.is_empty()).then(|| m.gpus.join(", "));
    check("GPU", gpus(base), gpus(new));
    if base.standin != new.standin {
        out.push(format!(
            "one run is on the CPU stand-in, the other is not ({} vs {})",
            base.title, new.title
        ));
    }
    out
}

/// Judge `new` against `base`. Points match on sweep, input, output and concurrency. A
/// metric regresses when its median got worse by more than `threshold` and by more than
/// the spread seen between repeats in either run.
pub fn judge(base: (&RunMeta, &[Row]), new: (&RunMeta, &[Row]), threshold: f64) -> Verdict {
    let (bm, brows) = base;
    let (nm, nrows) = new;
    let mut reasons = set_up_differences(bm, nm);
    let (bg, ng) = (group(brows), group(nrows));
    let mut regressions = Vec::new();
    let mut compared = 0;
    for g in &ng {
        let label = point_label(&g.key);
        let Some(b) = bg.iter().find(|b| b.key == g.key) else {
            reasons.push(format!("{label} is not in the baseline {}", bm.title));
            continue;
        };
        // Points skipped in both (over the context length) have nothing to compare.
        if g.status() == "skipped" && b.status() == "skipped" {
            continue;
        }
        let mut bad = false;
        for (side, grp) in [(&nm.title, g), (&bm.title, b)] {
            if grp.status() != "ok" {
                bad = true;
                let why = grp.reasons().join("; ");
                reasons.push(format!(
                    "{label} is {} in {side}{}",
                    grp.status(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {why}")
                    }
                ));
            }
        }
        if bad {
            continue;
        }
        compared += 1;
        for m in COMPARE_METRICS {
            let (Some(bs), Some(ns)) = (b.metric(*m), g.metric(*m)) else {
                continue;
            };
            if !(bs.median.is_finite() && ns.median.is_finite()) || bs.median <= 0.0 {
                continue;
            }
            let worse_by = if m.higher_is_better {
                (bs.median - ns.median) / bs.median
            } else {
                (ns.median - bs.median) / bs.median
            };
            let noise = bs.relative().max(ns.relative());
            if worse_by > threshold && worse_by > noise {
                regressions.push(Finding {
                    point: label.clone(),
                    metric: m.id.to_string(),
                    baseline: bs.median,
                    current: ns.median,
                    worse_by,
                    noise,
                });
            }
        }
    }
    for b in &bg {
        if b.status() != "skipped" && !ng.iter().any(|g| g.key == b.key) {
            reasons.push(format!(
                "{} is in the baseline but not in {}",
                point_label(&b.key),
                nm.title
            ));
        }
    }
    let outcome = if !reasons.is_empty() {
        Outcome::CannotJudge
    } else if !regressions.is_empty() {
        Outcome::Regressed
    } else {
        Outcome::Pass
    };
    Verdict {
        outcome,
        baseline: bm.title.clone(),
        current: nm.title.clone(),
        threshold,
        regressions,
        reasons,
        compared,
    }
}

/// `production input 1K output 500 conc 5`.
pub fn point_label(k: &super::Key) -> String {
    format!(
        "{} input {} output {} conc {}",
        k.sweep,
        super::fmt_tokens(k.input_len),
        super::fmt_tokens(k.output_len),
        k.concurrency
    )
}

impl Verdict {
    /// The verdict as text: the outcome, then each finding or reason on its own line.
    pub fn render(&self) -> String {
        let mut s = format!(
            "verdict: {} ({} against {}, threshold {:.0}%, {} point(s) compared)\n",
            self.outcome.as_str(),
            self.current,
            self.baseline,
            self.threshold * 100.0,
            self.compared
        );
        for r in &self.reasons {
            s.push_str(&format!("  cannot judge: {r}\n"));
        }
        for f in &self.regressions {
            s.push_str(&format!(
                "  regressed: {}: {} {} → {} ({:.1}% worse; noise {:.1}%)\n",
                f.point,
                f.metric,
                super::fmt_num(Some(f.baseline)),
                super::fmt_num(Some(f.current)),
                f.worse_by * 100.0,
                f.noise * 100.0
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::parse;

    fn row(conc: u64, status: &str, tput: f64, repeat: u32) -> Row {
        let text = format!(
            r#"{{"completed": {conc}, "failed": 0, "num_prompts": {conc}, "output_throughput": {tput}, "mean_ttft_ms": 100.0}}"#
        );
        Row {
            sweep: "s".into(),
            name: format!("n{conc}"),
            input_len: 1024,
            output_len: 100,
            concurrency: conc,
            num_prompts: conc,
            status: status.into(),
            reason: (status != "ok").then(|| "every request failed (2)".into()),
            result: Some(parse(text.as_bytes(), "x.json").expect("parse")),
            file: None,
            repeat,
            log: None,
            telemetry: Default::default(),
        }
    }

    fn meta(title: &str) -> RunMeta {
        RunMeta {
            title: title.into(),
            model: Some("m".into()),
            ..Default::default()
        }
    }

    #[test]
    fn three_outcomes() {
        let base = vec![row(1, "ok", 100.0, 1), row(2, "ok", 200.0, 1)];
        let same = vec![row(1, "ok", 97.0, 1), row(2, "ok", 205.0, 1)];
        let v = judge((&meta("a"), &base), (&meta("b"), &same), 0.05);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.render());
        assert_eq!(v.compared, 2);

        let slow = vec![row(1, "ok", 80.0, 1), row(2, "ok", 200.0, 1)];
        let v = judge((&meta("a"), &base), (&meta("b"), &slow), 0.05);
        assert_eq!(v.outcome, Outcome::Regressed);
        assert_eq!(v.regressions.len(), 1);
        assert_eq!(v.regressions[0].metric, "output_throughput");
        assert!(v.regressions[0].point.contains("conc 1"));

        // A failing point is an outage, never a regression, even beside a real slowdown.
        let broken = vec![row(1, "ok", 80.0, 1), row(2, "failed", 0.0, 1)];
        let v = judge((&meta("a"), &base), (&meta("b"), &broken), 0.05);
        assert_eq!(v.outcome, Outcome::CannotJudge);
        assert!(
            v.reasons[0].contains("conc 2 is failed in b"),
            "{:?}",
            v.reasons
        );

        let mut other = meta("b");
        other.model = Some("other".into());
        let v = judge((&meta("a"), &base), (&other, &same), 0.05);
        assert_eq!(v.outcome, Outcome::CannotJudge);
        assert!(v.reasons[0].contains("model"), "{:?}", v.reasons);

        let missing = vec![row(1, "ok", 100.0, 1)];
        let v = judge((&meta("a"), &base), (&meta("b"), &missing), 0.05);
        assert_eq!(v.outcome, Outcome::CannotJudge);
    }

    #[test]
    fn noise_between_repeats_raises_the_bar() {
        // The baseline's repeats spread by 30 %: a 20 % drop is within the noise.
        let base = vec![row(1, "ok", 85.0, 1), row(1, "ok", 115.0, 2)];
        let new = vec![row(1, "ok", 80.0, 1), row(1, "ok", 80.0, 2)];
        let v = judge((&meta("a"), &base), (&meta("b"), &new), 0.05);
        assert_eq!(v.outcome, Outcome::Pass, "{}", v.render());
        // Without repeats the same drop is a regression.
        let v = judge(
            (&meta("a"), &base[..1]),
            (&meta("b"), &[row(1, "ok", 60.0, 1)]),
            0.05,
        );
        assert_eq!(v.outcome, Outcome::Regressed);
    }
}

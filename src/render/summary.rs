//! The end-of-run summary: one row per point with its status and headline figures, read from
//! a run's manifest (so `vbench report` re-renders exactly what `vbench run` printed), and an
//! optional comparison column against a baseline run.

use std::collections::BTreeMap;

use comfy_table::Table;

use crate::sweep::manifest::{Manifest, PointStatus};

fn num(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

/// The summary table. With a baseline, the TTFT and throughput change (%) of each point that
/// both runs measured successfully.
pub fn table(m: &Manifest, baseline: Option<&Manifest>) -> String {
    let base: BTreeMap<&str, _> = baseline
        .map(|b| {
            b.points
                .iter()
                .filter(|r| r.status == PointStatus::Ok)
                .filter_map(|r| Some((r.point.id.as_str(), r.metrics.as_ref()?)))
                .collect()
        })
        .unwrap_or_default();
    let mut t = Table::new();
    t.load_style(comfy_table::presets::ASCII_FULL_CONDENSED);
    let mut header = vec![
        "point",
        "in",
        "out",
        "C",
        "prompts",
        "status",
        "TTFT ms",
        "TPOT ms",
        "E2EL ms",
        "req/s",
        "out tok/s",
    ];
    if baseline.is_some() {
        header.extend(["ΔTTFT", "Δreq/s"]);
    }
    header.push("file / reason");
    t.set_header(header);
    for r in &m.points {
        let mx = r.metrics.as_ref();
        let mut row = vec![
            r.point.id.clone(),
            r.point.input_len.to_string(),
            r.point.output_len.to_string(),
            r.point.concurrency.to_string(),
            r.point.num_prompts.to_string(),
            r.status.as_str().to_string(),
            num(mx.and_then(|x| x.mean_ttft_ms), 1),
            num(mx.and_then(|x| x.mean_tpot_ms), 2),
            num(mx.and_then(|x| x.mean_e2el_ms), 1),
            num(mx.and_then(|x| x.request_throughput), 2),
            num(mx.and_then(|x| x.output_throughput), 1),
        ];
        if baseline.is_some() {
            let pct = |now: Option<f64>, then: Option<f64>| match (now, then) {
                (Some(a), Some(b)) if b != 0.0 && r.status == PointStatus::Ok => {
                    format!("{:+.1}%", (a - b) / b * 100.0)
                }
                _ => "-".into(),
            };
            let b = base.get(r.point.id.as_str());
            row.push(pct(
                mx.and_then(|x| x.mean_ttft_ms),
                b.and_then(|x| x.mean_ttft_ms),
            ));
            row.push(pct(
                mx.and_then(|x| x.request_throughput),
                b.and_then(|x| x.request_throughput),
            ));
        }
        row.push(match (&r.reason, &r.result_file) {
            (Some(reason), _) => reason.clone(),
            (None, Some(f)) => f.clone(),
            (None, None) => String::new(),
        });
        t.add_row(row);
    }
    let mut s = format!("{t}\n");
    s.push_str(&format!(
        "run {}: {}; {} ok, {} failed, {} skipped, {} pending{}\n",
        m.run_id,
        m.status,
        m.count(PointStatus::Ok),
        m.count(PointStatus::Failed),
        m.count(PointStatus::Skipped),
        m.count(PointStatus::Pending) + m.count(PointStatus::Running),
        if m.standin {
            " — CPU stand-in, not a GPU measurement"
        } else {
            ""
        }
    ));
    if let Some(b) = baseline {
        s.push_str(&format!(
            "compared with run {} (Δ = change from that run)\n",
            b.run_id
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::manifest::{Metrics, PointRecord, SCHEMA_VERSION};
    use crate::sweep::plan::{self, ContextLimit};

    fn run(id: &str, ttft: f64) -> Manifest {
        let cfg = crate::config::Config::default();
        let s = crate::sweep::presets::preset("demo").expect("demo");
        let p = plan::build(&cfg, &[("demo".into(), s)], ContextLimit::Unknown).expect("plan");
        let mut points: Vec<PointRecord> = p.points.into_iter().map(PointRecord::new).collect();
        points[0].status = PointStatus::Ok;
        points[0].metrics = Some(Metrics {
            mean_ttft_ms: Some(ttft),
            request_throughput: Some(2.0),
            ..Default::default()
        });
        points[1].status = PointStatus::Failed;
        points[1].reason = Some("0 of 2 requests completed (2 failed)".into());
        Manifest {
            schema_version: SCHEMA_VERSION,
            run_id: id.into(),
            created: String::new(),
            updated: String::new(),
            status: "points_failed".into(),
            config_hash: String::new(),
            config: serde_json::Value::Null,
            sweeps: vec!["demo".into()],
            standin: true,
            server: None,
            points,
            gpu_samples: vec![],
        }
    }

    #[test]
    fn rows_reasons_and_comparison() {
        let t = table(&run("b", 110.0), Some(&run("a", 100.0)));
        assert!(t.contains("demo/input_128_out32_n1"), "{t}");
        assert!(t.contains("+10.0%"), "{t}");
        assert!(t.contains("0 of 2 requests completed"), "{t}");
        assert!(t.contains("1 ok, 1 failed, 0 skipped, 4 pending"), "{t}");
        assert!(t.contains("compared with run a"), "{t}");
    }
}

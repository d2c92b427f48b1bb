//! What the server and its GPUs did during each point, as report columns: the per-point
//! series the run recorded (`gpuN.*` from the GPU sampler, `vllm.*` from `/metrics`) folded
//! into a few figures a reader scans — GPUs averaged or summed, peaks as peaks.

use super::Row;

/// A telemetry column: its id (for sorting and JSON), its header, and how a row gives it.
pub struct Column {
    pub id: &'static str,
    pub header: &'static str,
    pub get: fn(&Row) -> Option<f64>,
}

/// The columns, in the order the tables show them.
pub const COLUMNS: &[Column] = &[
    Column {
        id: "gpu_util_mean",
        header: "GPU util % (mean)",
        get: |r| gpus(r, "util_pct", |s| s.mean, Fold::Mean),
    },
    Column {
        id: "gpu_util_max",
        header: "GPU util % (max)",
        get: |r| gpus(r, "util_pct", |s| s.max, Fold::Max),
    },
    Column {
        id: "gpu_mem_max",
        header: "GPU mem MiB (max)",
        get: |r| gpus(r, "mem_used_mib", |s| s.max, Fold::Max),
    },
    Column {
        id: "gpu_power_mean",
        header: "GPU power W (mean, all GPUs)",
        get: |r| gpus(r, "power_w", |s| s.mean, Fold::Sum),
    },
    Column {
        id: "running_max",
        header: "running (max)",
        get: |r| r.telemetry.get("vllm.running").map(|s| s.max),
    },
    Column {
        id: "waiting_max",
        header: "waiting (max)",
        get: |r| r.telemetry.get("vllm.waiting").map(|s| s.max),
    },
    Column {
        id: "kv_cache_max",
        header: "KV cache % (max)",
        get: |r| {
            r.telemetry
                .get("vllm.kv_cache_usage")
                .map(|s| s.max * 100.0)
        },
    },
    Column {
        id: "prefix_hit_mean",
        header: "prefix hit % (mean)",
        get: |r| {
            r.telemetry
                .get("vllm.prefix_cache_hit_rate")
                .map(|s| s.mean * 100.0)
        },
    },
    Column {
        id: "preemptions_max",
        header: "preemptions/s (max)",
        get: |r| r.telemetry.get("vllm.preemptions_per_s").map(|s| s.max),
    },
];

#[derive(Clone, Copy)]
enum Fold {
    Mean,
    Max,
    Sum,
}

/// One statistic of `gpuN.<series>` over all GPUs of the point.
fn gpus(
    r: &Row,
    series: &str,
    stat: fn(&crate::telemetry::SeriesStats) -> f64,
    fold: Fold,
) -> Option<f64> {
    let values: Vec<f64> = r
        .telemetry
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("gpu")
                .and_then(|rest| rest.split_once('.'))
                .is_some_and(|(i, s)| s == series && i.parse::<u32>().is_ok())
        })
        .map(|(_, s)| stat(s))
        .collect();
    if values.is_empty() {
        return None;
    }
    Some(match fold {
        Fold::Mean => values.iter().sum::<f64>() / values.len() as f64,
        Fold::Sum => values.iter().sum(),
        Fold::Max => values.iter().copied().fold(f64::MIN, f64::max),
    })
}

/// Whether any row has telemetry (else the reports leave the section out).
pub fn any(rows: &[Row]) -> bool {
    rows.iter().any(|r| !r.telemetry.is_empty())
}

/// The columns at least one row has a value for.
pub fn present(rows: &[Row]) -> Vec<&'static Column> {
    COLUMNS
        .iter()
        .filter(|c| rows.iter().any(|r| (c.get)(r).is_some()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::SeriesStats;

    fn stats(min: f64, mean: f64, max: f64) -> SeriesStats {
        SeriesStats {
            min,
            mean,
            max,
            n: 3,
        }
    }

    #[test]
    fn gpus_are_averaged_summed_or_peaked_and_vllm_series_scaled() {
        let mut row = Row {
            sweep: "s".into(),
            name: "p".into(),
            input_len: 1,
            output_len: 1,
            concurrency: 1,
            num_prompts: 1,
            status: "ok".into(),
            reason: None,
            result: None,
            file: None,
            repeat: 1,
            log: None,
            telemetry: Default::default(),
        };
        row.telemetry
            .insert("gpu0.util_pct".into(), stats(10.0, 50.0, 90.0));
        row.telemetry
            .insert("gpu1.util_pct".into(), stats(0.0, 30.0, 95.0));
        row.telemetry
            .insert("gpu0.power_w".into(), stats(100.0, 200.0, 300.0));
        row.telemetry
            .insert("gpu1.power_w".into(), stats(100.0, 150.0, 300.0));
        row.telemetry
            .insert("gpuX.util_pct".into(), stats(0.0, 99.0, 99.0));
        row.telemetry
            .insert("vllm.kv_cache_usage".into(), stats(0.0, 0.1, 0.25));
        let get = |id: &str| (COLUMNS.iter().find(|c| c.id == id).unwrap().get)(&row);
        assert_eq!(get("gpu_util_mean"), Some(40.0));
        assert_eq!(get("gpu_util_max"), Some(95.0));
        assert_eq!(get("gpu_power_mean"), Some(350.0));
        assert_eq!(get("kv_cache_max"), Some(25.0));
        assert_eq!(get("running_max"), None);
        let ids: Vec<&str> = present(std::slice::from_ref(&row))
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            ids,
            [
                "gpu_util_mean",
                "gpu_util_max",
                "gpu_power_mean",
                "kv_cache_max"
            ]
        );
    }
}

//! Telemetry of a run, without an exec per sample: one persistent GPU sampler in the server
//! container (`nvidia-smi`'s own loop mode `-lms`, or a `rocm-smi` loop inside one exec) and a
//! scrape of vLLM's `/metrics` at about 1 Hz (running and waiting requests, KV-cache usage,
//! prefix-cache hit rate, preemptions). Each value feeds running aggregates that the sweep
//! resets at a point's start and reads at its end: the min, mean and max of every series over
//! the point, in O(series) memory however long the run.
//!
//! Submodules: `gpu_loop` (the sampler's exec and its output), `metrics` (the scrape and the
//! Prometheus text, parsed with `prom_text_format_parser`).

pub mod gpu_loop;
pub mod metrics;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::docker::Docker;
use crate::gpu::GpuSample;

/// A series over one point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SeriesStats {
    pub min: f64,
    pub mean: f64,
    pub max: f64,
    /// How many samples.
    pub n: u64,
}

#[derive(Debug, Clone, Copy)]
struct Accum {
    min: f64,
    max: f64,
    sum: f64,
    n: u64,
}

impl Accum {
    fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.n += 1;
    }
}

/// What the samplers feed and the sweep reads.
#[derive(Debug, Default)]
pub struct Store {
    series: BTreeMap<String, Accum>,
    /// The latest sample of each GPU, by index, and when the last one came.
    last_gpus: BTreeMap<u32, GpuSample>,
    last_gpu_at: Option<String>,
    last_gpu_instant: Option<std::time::Instant>,
    /// A GPU sample arrived since the point began.
    gpu_in_point: bool,
}

impl Store {
    /// Add one value of `series` (non-finite values are dropped).
    pub fn add(&mut self, series: &str, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.series
            .entry(series.to_string())
            .and_modify(|a| a.add(v))
            .or_insert(Accum {
                min: v,
                max: v,
                sum: v,
                n: 1,
            });
    }

    /// GPU samples (all GPUs, or one at a time as `nvidia-smi`'s loop prints them): their
    /// values, each kept as its GPU's latest sample.
    pub fn add_gpus(&mut self, gpus: Vec<GpuSample>) {
        for g in &gpus {
            let i = g.index;
            for (name, v) in [
                ("util_pct", g.util_pct),
                ("mem_used_mib", g.mem_used_mib),
                ("power_w", g.power_w),
                ("temp_c", g.temp_c),
            ] {
                if let Some(v) = v {
                    self.add(&format!("gpu{i}.{name}"), v);
                }
            }
        }
        for g in gpus {
            self.last_gpus.insert(g.index, g);
        }
        self.last_gpu_at = Some(jiff::Timestamp::now().to_string());
        self.last_gpu_instant = Some(std::time::Instant::now());
        self.gpu_in_point = true;
    }

    /// A point begins: its aggregates start empty.
    pub fn begin(&mut self) {
        self.series.clear();
        self.gpu_in_point = false;
    }

    /// A point ends. One shorter than the sampler's period may have seen no GPU sample of its
    /// own; the latest one then stands for it if it is at most one period old (the sampler's
    /// window overlaps the point).
    fn close_point(&mut self) {
        if !self.gpu_in_point
            && self
                .last_gpu_instant
                .is_some_and(|t| t.elapsed() <= gpu_loop::PERIOD)
        {
            let gpus: Vec<GpuSample> = self.last_gpus.values().cloned().collect();
            self.add_gpus(gpus);
        }
    }

    /// The aggregates since the last reset, and start again.
    pub fn take(&mut self) -> BTreeMap<String, SeriesStats> {
        std::mem::take(&mut self.series)
            .into_iter()
            .map(|(k, a)| {
                (
                    k,
                    SeriesStats {
                        min: a.min,
                        mean: a.sum / a.n as f64,
                        max: a.max,
                        n: a.n,
                    },
                )
            })
            .collect()
    }

    /// The latest GPU sample (its time and the GPUs), if any arrived.
    pub fn last_gpus(&self) -> Option<(String, Vec<GpuSample>)> {
        let at = self.last_gpu_at.clone()?;
        Some((at, self.last_gpus.values().cloned().collect()))
    }
}

/// What the samplers saw during one point.
#[derive(Debug, Default)]
pub struct PointTelemetry {
    pub series: BTreeMap<String, SeriesStats>,
    /// The latest GPU sample: when, and every GPU.
    pub gpus: Option<(String, Vec<GpuSample>)>,
}

/// The samplers of one run.
pub struct Telemetry {
    store: Arc<Mutex<Store>>,
    gpu: Option<gpu_loop::GpuLoop>,
    scraper: Option<metrics::Scraper>,
    metrics: Option<tokio::task::JoinHandle<()>>,
}

impl Telemetry {
    /// Start the GPU sampler in `container` (when a tool answers there) and the `/metrics`
    /// scrape of `metrics_url` (when given). Never fails: a run without telemetry still runs,
    /// and `notes` says what could not start.
    pub async fn start(
        docker: &Docker,
        container: &str,
        metrics_url: Option<String>,
        run_id: &str,
        notes: &mut Vec<String>,
    ) -> Telemetry {
        let store = Arc::new(Mutex::new(Store::default()));
        let gpu = match gpu_loop::GpuLoop::start(docker, container, run_id, store.clone()).await {
            Ok(g) => g,
            Err(why) => {
                notes.push(format!("no GPU telemetry: {why}"));
                None
            }
        };
        let scraper = metrics_url.as_deref().and_then(metrics::Scraper::new);
        let metrics = scraper.clone().map(|s| s.spawn(store.clone()));
        Telemetry {
            store,
            gpu,
            scraper,
            metrics,
        }
    }

    /// A point starts: aggregates from here on, starting with a scrape of `/metrics` (a
    /// millisecond over HTTP), so even a point shorter than the sample period has the
    /// server's state at both of its ends.
    pub async fn begin_point(&self) {
        if let Ok(mut s) = self.store.lock() {
            s.begin();
        }
        if let Some(sc) = &self.scraper {
            sc.once(&self.store).await;
        }
    }

    /// A point ended: a last scrape, its aggregates, and the latest GPU sample.
    pub async fn end_point(&self) -> PointTelemetry {
        if let Some(sc) = &self.scraper {
            sc.once(&self.store).await;
        }
        match self.store.lock() {
            Ok(mut s) => {
                s.close_point();
                PointTelemetry {
                    series: s.take(),
                    gpus: s.last_gpus(),
                }
            }
            Err(_) => PointTelemetry::default(),
        }
    }

    /// Stop both samplers (the GPU loop's process in the container too).
    pub async fn stop(self) {
        if let Some(m) = self.metrics {
            m.abort();
        }
        if let Some(g) = self.gpu {
            g.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_reset_per_point() {
        let mut s = Store::default();
        for v in [1.0, 3.0, 2.0, f64::NAN] {
            s.add("x", v);
        }
        let t = s.take();
        assert_eq!(
            t["x"],
            SeriesStats {
                min: 1.0,
                mean: 2.0,
                max: 3.0,
                n: 3
            }
        );
        assert!(s.take().is_empty(), "taken: the next point starts empty");
    }
}

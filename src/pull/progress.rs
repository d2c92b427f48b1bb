//! Folding the engine's pull progress stream into layer states, pure (time is passed in).
//!
//! The stream mixes image-wide lines (`Pulling from …` whose id is the tag, `Digest: …`,
//! `Status: …`) with one line per layer update, and a big layer reports its bytes many times a
//! second. The fold keeps each layer's state and passes on a layer's update only when its
//! status changes (`Waiting` → `Downloading` → `Download complete` → `Extracting` →
//! `Pull complete`, or `Already exists`) or, within one status, at most every [`THROTTLE`]
//! and at the last byte: enough for a live bar, few enough for a JSON stream.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::docker::image::PullUpdate;

/// The least time between two byte-count updates of one layer in the same status.
pub const THROTTLE: Duration = Duration::from_millis(500);

/// A layer update worth passing on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerUpdate {
    pub layer: String,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Debug, Clone)]
struct Layer {
    status: String,
    last_emit: Instant,
    /// The download's size, once known (`Downloading` totals; extraction sizes differ).
    size: Option<u64>,
}

/// The state of one pull.
#[derive(Debug, Default)]
pub struct Fold {
    layers: BTreeMap<String, Layer>,
    /// From the `Digest: sha256:…` line.
    pub digest: Option<String>,
    /// The closing `Status: …` text (`Downloaded newer image for …`, `Image is up to date …`).
    pub status: Option<String>,
}

/// Statuses that end a layer.
fn is_final(status: &str) -> bool {
    matches!(status, "Pull complete" | "Already exists")
}

impl Fold {
    pub fn new() -> Self {
        Self::default()
    }

    /// Take one stream line; `Some` when it should be shown.
    pub fn update(&mut self, u: &PullUpdate, now: Instant) -> Option<LayerUpdate> {
        let status = u.status.trim();
        if let Some(d) = status.strip_prefix("Digest: ") {
            self.digest = Some(d.trim().to_string());
            return None;
        }
        if let Some(s) = status.strip_prefix("Status: ") {
            self.status = Some(s.trim().to_string());
            return None;
        }
        // `Pulling from repo` carries the tag (or digest) as its id: not a layer.
        if status.starts_with("Pulling from ") || status.is_empty() {
            return None;
        }
        let id = u.id.as_deref()?;
        let out = LayerUpdate {
            layer: id.to_string(),
            status: status.to_string(),
            current: u.current,
            total: u.total,
        };
        match self.layers.get_mut(id) {
            None => {
                self.layers.insert(
                    id.to_string(),
                    Layer {
                        status: out.status.clone(),
                        last_emit: now,
                        size: download_size(&out),
                    },
                );
                Some(out)
            }
            Some(l) => {
                if l.size.is_none() {
                    l.size = download_size(&out);
                }
                let changed = l.status != out.status;
                let done_bytes = matches!((out.current, out.total), (Some(c), Some(t)) if c >= t);
                if changed || done_bytes || now.duration_since(l.last_emit) >= THROTTLE {
                    l.status = out.status.clone();
                    l.last_emit = now;
                    Some(out)
                } else {
                    None
                }
            }
        }
    }

    /// Layers seen so far.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Layers that are finished (pulled or already present).
    pub fn done(&self) -> usize {
        self.layers.values().filter(|l| is_final(&l.status)).count()
    }

    /// Bytes downloaded in all (the sizes of the layers that were downloaded).
    pub fn downloaded(&self) -> u64 {
        self.layers.values().filter_map(|l| l.size).sum()
    }
}

fn download_size(u: &LayerUpdate) -> Option<u64> {
    (u.status == "Downloading").then_some(u.total).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(id: Option<&str>, status: &str, cur: Option<u64>, total: Option<u64>) -> PullUpdate {
        PullUpdate {
            id: id.map(str::to_string),
            status: status.to_string(),
            current: cur,
            total,
        }
    }

    /// A realistic stream: the engine's lines for a two-layer pull where one layer exists.
    #[test]
    fn folds_a_pull_into_state_changes_and_throttled_bytes() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut f = Fold::new();
        let mut shown = vec![];
        let mut feed = |f: &mut Fold, u: PullUpdate, at: Instant| {
            if let Some(x) = f.update(&u, at) {
                shown.push((x.layer, x.status, x.current));
            }
        };
        feed(
            &mut f,
            up(Some("t1"), "Pulling from vbt/standin", None, None),
            ms(0),
        );
        feed(&mut f, up(Some("aaa"), "Already exists", None, None), ms(1));
        feed(
            &mut f,
            up(Some("bbb"), "Pulling fs layer", None, None),
            ms(2),
        );
        feed(&mut f, up(Some("bbb"), "Waiting", None, None), ms(3));
        // 20 byte updates within 400 ms: the first (a status change) and the last byte show.
        for i in 1..=20u64 {
            let cur = i * 100;
            feed(
                &mut f,
                up(Some("bbb"), "Downloading", Some(cur), Some(2000)),
                ms(10 + i * 20),
            );
        }
        // A later update in the same status shows once THROTTLE has passed since the last.
        feed(
            &mut f,
            up(Some("bbb"), "Verifying Checksum", None, None),
            ms(500),
        );
        feed(
            &mut f,
            up(Some("bbb"), "Download complete", None, None),
            ms(501),
        );
        feed(
            &mut f,
            up(Some("bbb"), "Extracting", Some(10), Some(5000)),
            ms(502),
        );
        feed(
            &mut f,
            up(Some("bbb"), "Extracting", Some(20), Some(5000)),
            ms(600),
        );
        feed(
            &mut f,
            up(Some("bbb"), "Extracting", Some(30), Some(5000)),
            ms(1100),
        );
        feed(
            &mut f,
            up(Some("bbb"), "Pull complete", None, None),
            ms(1200),
        );
        feed(&mut f, up(None, "Digest: sha256:abc", None, None), ms(1201));
        feed(
            &mut f,
            up(None, "Status: Downloaded newer image for x:t1", None, None),
            ms(1202),
        );

        let statuses: Vec<(&str, &str, Option<u64>)> = shown
            .iter()
            .map(|(l, s, c)| (l.as_str(), s.as_str(), *c))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("aaa", "Already exists", None),
                ("bbb", "Pulling fs layer", None),
                ("bbb", "Waiting", None),
                ("bbb", "Downloading", Some(100)),
                ("bbb", "Downloading", Some(2000)),
                ("bbb", "Verifying Checksum", None),
                ("bbb", "Download complete", None),
                ("bbb", "Extracting", Some(10)),
                ("bbb", "Extracting", Some(30)),
                ("bbb", "Pull complete", None),
            ]
        );
        assert_eq!(f.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(f.status.as_deref(), Some("Downloaded newer image for x:t1"));
        assert_eq!((f.layers(), f.done(), f.downloaded()), (2, 2, 2000));
    }

    #[test]
    fn lines_without_a_layer_are_not_layers() {
        let mut f = Fold::new();
        let now = Instant::now();
        assert_eq!(
            f.update(&up(None, "Downloading", Some(1), Some(2)), now),
            None
        );
        assert_eq!(f.update(&up(Some("x"), "", None, None), now), None);
        assert_eq!(f.layers(), 0);
    }
}

//! Terminal renderer: a live status line for stages, and for sweeps a progress bar with
//! `[i/N]`, the current point, elapsed time and ETA, plus one result line per point; for an
//! image pull, a bar per layer under a header counting finished layers; result blocks (plan,
//! summary, comparison) on stdout once the bars are cleared.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::text;
use crate::events::{Event, Sink};

pub struct Terminal {
    status: Mutex<Option<ProgressBar>>,
    sweep: Mutex<Option<ProgressBar>>,
    pull: Mutex<Option<PullBars>>,
}

impl Terminal {
    pub fn new() -> Self {
        Self {
            status: Mutex::new(None),
            sweep: Mutex::new(None),
            pull: Mutex::new(None),
        }
    }
}

/// The bars of the pull under way: a header, and one bar per unfinished layer (finished ones
/// are dropped, so a 40-layer vLLM image does not outgrow the terminal).
struct PullBars {
    image: String,
    multi: MultiProgress,
    header: ProgressBar,
    layers: HashMap<String, ProgressBar>,
    seen: usize,
    done: usize,
}

impl PullBars {
    fn new(image: &str) -> Self {
        let multi = MultiProgress::new();
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        header.enable_steady_tick(std::time::Duration::from_millis(120));
        header.set_message(format!("pulling {image}"));
        Self {
            image: image.to_string(),
            multi,
            header,
            layers: HashMap::new(),
            seen: 0,
            done: 0,
        }
    }

    fn layer(&mut self, layer: &str, status: &str, current: Option<u64>, total: Option<u64>) {
        let finished = matches!(status, "Pull complete" | "Already exists");
        let bar = match self.layers.get(layer) {
            Some(b) => b.clone(),
            None if finished => {
                // Finished at first sight (`Already exists`): counted, never drawn.
                self.seen += 1;
                self.done += 1;
                self.header_text();
                return;
            }
            None => {
                self.seen += 1;
                let b = self.multi.add(ProgressBar::no_length());
                b.set_style(layer_style(false));
                b.set_prefix(layer.to_string());
                self.layers.insert(layer.to_string(), b.clone());
                b
            }
        };
        if finished {
            bar.finish_and_clear();
            self.multi.remove(&bar);
            self.layers.remove(layer);
            self.done += 1;
        } else {
            match (current, total) {
                (Some(c), Some(t)) => {
                    bar.set_style(layer_style(true));
                    bar.set_length(t);
                    bar.set_position(c.min(t));
                }
                // The download is whole (its last byte counts may have been throttled away).
                _ if matches!(status, "Verifying Checksum" | "Download complete")
                    && bar.length().is_some() =>
                {
                    bar.set_position(bar.length().unwrap_or(0));
                }
                _ => bar.set_style(layer_style(false)),
            }
            bar.set_message(status.to_string());
        }
        self.header_text();
    }

    fn header_text(&self) {
        self.header.set_message(format!(
            "pulling {}: {}/{} layer(s) done",
            self.image, self.done, self.seen
        ));
    }

    fn clear(self) {
        for b in self.layers.values() {
            b.finish_and_clear();
        }
        self.header.finish_and_clear();
        let _ = self.multi.clear();
    }
}

/// A layer's line: its id, status, and a byte bar once the size is known.
fn layer_style(bytes: bool) -> ProgressStyle {
    let t = if bytes {
        "  {prefix:12} {msg:18} [{bar:30}] {bytes}/{total_bytes}"
    } else {
        "  {prefix:12} {msg:18}"
    };
    ProgressStyle::with_template(t)
        .expect("valid template")
        .progress_chars("=> ")
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

fn sweep_bar(points: usize) -> ProgressBar {
    let b = ProgressBar::new(points as u64);
    // ETA from indicatif's rate over finished points: rough on mixed sweeps, honest as a range.
    let style =
        ProgressStyle::with_template("{spinner} {wide_msg} {elapsed_precise} elapsed, ETA {eta}")
            .expect("valid template");
    b.set_style(style);
    b.enable_steady_tick(std::time::Duration::from_millis(200));
    b
}

/// One line on stderr. Never panics (`eprintln!` would): after a hang-up (a closed ssh
/// session) the terminal is gone and every write fails, and the run must still be stopped
/// and saved.
fn say(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

impl Sink for Terminal {
    fn emit(&self, event: Event) {
        if let Some(block) = text::block(&event) {
            for bar in [&self.sweep, &self.status] {
                if let Some(b) = bar.lock().expect("terminal renderer poisoned").take() {
                    b.finish_and_clear();
                }
            }
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(block.as_bytes());
            let _ = out.flush();
            return;
        }
        let line = text::line(&event);
        {
            let mut pull = self.pull.lock().expect("terminal renderer poisoned");
            match &event {
                Event::PullStarted { image, .. } => {
                    if let Some(old) = pull.take() {
                        old.clear();
                    }
                    say(&line);
                    *pull = Some(PullBars::new(image));
                    return;
                }
                Event::PullProgress {
                    layer,
                    status,
                    current,
                    total,
                    ..
                } => {
                    match pull.as_mut() {
                        Some(p) => p.layer(layer, status, *current, *total),
                        None => say(&line),
                    }
                    return;
                }
                Event::PullFinished { .. } | Event::PullFailed { .. } => {
                    if let Some(p) = pull.take() {
                        p.clear();
                    }
                    let styled = if matches!(event, Event::PullFailed { .. }) {
                        console::style(line).red()
                    } else {
                        console::style(line).green()
                    };
                    say(styled);
                    return;
                }
                _ => {
                    if let Some(p) = pull.as_ref() {
                        let _ = p.multi.println(&line);
                        return;
                    }
                }
            }
        }
        let mut sweep = self.sweep.lock().expect("terminal renderer poisoned");
        match &event {
            Event::RunStarted { points, .. } => {
                if let Some(old) = sweep.take() {
                    old.finish_and_clear();
                }
                say(&line);
                *sweep = Some(sweep_bar(*points));
                return;
            }
            Event::PointStarted {
                i,
                n,
                name,
                num_prompts,
                concurrency,
                ..
            } => {
                if let Some(bar) = &*sweep {
                    // `[i/N]` is the point running now; the bar's position counts finished ones
                    // (the ETA comes from their rate).
                    bar.set_message(format!(
                        "[{i}/{n}] {name} ({num_prompts} prompt(s), C={concurrency})"
                    ));
                    return;
                }
            }
            Event::PointFinished { status, .. } => {
                let line = if status == "ok" {
                    console::style(line).green().to_string()
                } else {
                    console::style(line).red().to_string()
                };
                match &*sweep {
                    Some(bar) => {
                        bar.println(line);
                        bar.inc(1);
                    }
                    None => say(&line),
                }
                return;
            }
            Event::RunFinished { .. } => {
                if let Some(bar) = sweep.take() {
                    bar.finish_and_clear();
                }
                say(console::style(line).bold());
                return;
            }
            _ => {}
        }
        if let Some(bar) = &*sweep {
            bar.println(line);
            return;
        }
        drop(sweep);
        let mut status = self.status.lock().expect("terminal renderer poisoned");
        match &event {
            Event::StageStarted { .. } | Event::StageProgress { .. } => {
                let bar = status.get_or_insert_with(|| {
                    let b = ProgressBar::new_spinner();
                    b.set_style(
                        ProgressStyle::with_template("{spinner} {msg}").expect("valid template"),
                    );
                    b.enable_steady_tick(std::time::Duration::from_millis(120));
                    b
                });
                bar.set_message(line);
            }
            Event::StageFinished { .. } => {
                if let Some(bar) = status.take() {
                    bar.finish_and_clear();
                }
                say(console::style(line).green());
            }
            _ => match &*status {
                Some(bar) => bar.println(line),
                None => say(&line),
            },
        }
    }
}

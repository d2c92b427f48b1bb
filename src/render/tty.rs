//! Terminal renderer: a live status line for stages, and for sweeps a progress bar with
//! `[i/N]`, the current point, elapsed time and ETA, plus one result line per point; result
//! blocks (plan, summary, comparison) on stdout once the bars are cleared.

use std::io::Write as _;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use super::text;
use crate::events::{Event, Sink};

pub struct Terminal {
    status: Mutex<Option<ProgressBar>>,
    sweep: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    pub fn new() -> Self {
        Self {
            status: Mutex::new(None),
            sweep: Mutex::new(None),
        }
    }
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
        let mut sweep = self.sweep.lock().expect("terminal renderer poisoned");
        match &event {
            Event::RunStarted { points, .. } => {
                if let Some(old) = sweep.take() {
                    old.finish_and_clear();
                }
                eprintln!("{line}");
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
                    None => eprintln!("{line}"),
                }
                return;
            }
            Event::RunFinished { .. } => {
                if let Some(bar) = sweep.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{}", console::style(line).bold());
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
                eprintln!("{}", console::style(line).green());
            }
            _ => match &*status {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            },
        }
    }
}

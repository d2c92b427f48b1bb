//! Terminal renderer: a live status line for stages, and for sweeps a progress bar with
//! `[i/N]`, the current point, elapsed time and ETA, plus one result line per point.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

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
    let style = ProgressStyle::with_template(
        "{spinner} [{pos}/{len}] {wide_msg} {elapsed_precise} elapsed, ETA {eta}",
    )
    .expect("valid template");
    b.set_style(style);
    b.enable_steady_tick(std::time::Duration::from_millis(200));
    b
}

impl Sink for Terminal {
    fn emit(&self, event: Event) {
        let mut sweep = self.sweep.lock().expect("terminal renderer poisoned");
        match &event {
            Event::RunStarted { points, .. } => {
                if let Some(old) = sweep.take() {
                    old.finish_and_clear();
                }
                eprintln!("{event}");
                *sweep = Some(sweep_bar(*points));
                return;
            }
            Event::PointStarted {
                name,
                num_prompts,
                concurrency,
                ..
            } => {
                if let Some(bar) = &*sweep {
                    bar.set_message(format!("{name} ({num_prompts} prompts, C={concurrency})"));
                    return;
                }
            }
            Event::PointFinished { status, .. } => {
                let line = if status == "ok" {
                    console::style(event.to_string()).green().to_string()
                } else {
                    console::style(event.to_string()).red().to_string()
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
                eprintln!("{}", console::style(event.to_string()).bold());
                return;
            }
            _ => {}
        }
        if let Some(bar) = &*sweep {
            bar.println(event.to_string());
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
                bar.set_message(event.to_string());
            }
            Event::StageFinished { .. } => {
                if let Some(bar) = status.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{}", console::style(event.to_string()).green());
            }
            _ => match &*status {
                Some(bar) => bar.println(event.to_string()),
                None => eprintln!("{event}"),
            },
        }
    }
}

//! Terminal renderer: a live status line for stages, a progress bar for sweeps.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

use crate::events::{Event, Sink};

pub struct Terminal {
    status: Mutex<Option<ProgressBar>>,
}

impl Terminal {
    pub fn new() -> Self {
        Self { status: Mutex::new(None) }
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for Terminal {
    fn emit(&self, event: Event) {
        let mut status = self.status.lock().expect("terminal renderer poisoned");
        match &event {
            Event::StageStarted { .. } | Event::StageProgress { .. } => {
                let bar = status.get_or_insert_with(|| {
                    let b = ProgressBar::new_spinner();
                    b.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
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

//! The tqdm progress bar the real client draws on stderr unless `--disable-tqdm` (tqdm's
//! non-terminal layout: a 10-column bar, `n/total [elapsed<remaining, rate it/s]`, redrawn
//! with `\r` at most every 0.1 s and closed with a newline).

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    total: usize,
    start: Instant,
    state: Mutex<(usize, Option<Instant>)>,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        let p = Progress {
            total,
            start: Instant::now(),
            state: Mutex::new((0, None)),
        };
        p.draw(0);
        p
    }

    /// One request finished.
    pub fn update(&self) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        st.0 += 1;
        let now = Instant::now();
        let due =
            st.1.is_none_or(|last| now.duration_since(last) >= Duration::from_millis(100));
        if due || st.0 == self.total {
            st.1 = Some(now);
            self.draw(st.0);
        }
    }

    /// Final redraw and the newline tqdm prints on close.
    pub fn close(&self) {
        let n = self.state.lock().map(|s| s.0).unwrap_or(0);
        self.draw(n);
        eprintln!();
    }

    fn draw(&self, n: usize) {
        let line = render(n, self.total, self.start.elapsed().as_secs_f64());
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{line}");
        let _ = err.flush();
    }
}

fn interval(secs: f64) -> String {
    let t = secs.max(0.0) as u64;
    let (m, s) = (t / 60, t % 60);
    let (h, m) = (m / 60, m % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// One tqdm line: `100%|██████████| 8/8 [00:00<00:00, 19.16it/s]`.
pub fn render(n: usize, total: usize, elapsed: f64) -> String {
    const PARTIAL: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let frac = if total == 0 {
        1.0
    } else {
        (n as f64 / total as f64).min(1.0)
    };
    let eighths = (frac * 10.0 * 8.0) as usize;
    let mut bar: String = "█".repeat(eighths / 8);
    if eighths / 8 < 10 {
        bar.push(PARTIAL[eighths % 8]);
    }
    let bar = format!("{bar:<10}");
    let rate = if elapsed > 0.0 && n > 0 {
        Some(n as f64 / elapsed)
    } else {
        None
    };
    let remaining = match rate {
        Some(r) => interval((total.saturating_sub(n)) as f64 / r),
        None => "?".into(),
    };
    let rate_fmt = match rate {
        Some(r) if r < 1.0 => format!("{:5.2}s/it", 1.0 / r),
        Some(r) => format!("{r:5.2}it/s"),
        None => "?it/s".into(),
    };
    format!(
        "{:3.0}%|{bar}| {n}/{total} [{}<{remaining}, {rate_fmt}]",
        frac * 100.0,
        interval(elapsed)
    )
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn lines_look_like_tqdm_without_a_terminal() {
        assert_eq!(render(0, 8, 0.0), "  0%|          | 0/8 [00:00<?, ?it/s]");
        assert_eq!(
            render(8, 8, 0.4175),
            "100%|██████████| 8/8 [00:00<00:00, 19.16it/s]"
        );
        assert_eq!(
            render(1, 8, 2.0),
            " 12%|█▎        | 1/8 [00:02<00:14,  2.00s/it]"
        );
    }
}

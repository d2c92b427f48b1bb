//! Clocks as the real client reads them: `time.perf_counter()` (monotonic seconds, used for
//! `start_times`) and `datetime.now()` (for `date`, file names and log prefixes; the stand-in
//! formats UTC, which is the local time of the containers it runs in).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A monotonic clock whose readings look like `perf_counter()`: seconds since boot.
#[derive(Clone, Copy)]
pub struct PerfClock {
    base: Instant,
    base_secs: f64,
}

impl PerfClock {
    pub fn new() -> Self {
        // /proc/uptime gives the boot-relative origin CLOCK_MONOTONIC roughly shares; when it is
        // unreadable the readings simply start at 0, which changes nothing the client computes.
        let base_secs = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .unwrap_or(0.0);
        PerfClock {
            base: Instant::now(),
            base_secs,
        }
    }

    pub fn now(&self) -> f64 {
        self.base_secs + self.base.elapsed().as_secs_f64()
    }
}

/// Civil UTC time now: (year, month, day, hour, minute, second).
fn utc_now() -> (i64, u32, u32, u32, u32, u32) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `datetime.now().strftime("%Y%m%d-%H%M%S")`.
pub fn date_stamp() -> String {
    let (y, mo, d, h, mi, s) = utc_now();
    format!("{y:04}{mo:02}{d:02}-{h:02}{mi:02}{s:02}")
}

/// vLLM's log prefix time: `%m-%d %H:%M:%S`.
pub fn log_stamp() -> String {
    let (_, mo, d, h, mi, s) = utc_now();
    format!("{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

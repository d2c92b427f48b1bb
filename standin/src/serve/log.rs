//! Log lines in vLLM 0.33's shape, so log-based diagnostics written for real vLLM work on the
//! stand-in: vLLM's logger on stdout (`(APIServer pid=N) INFO MM-DD HH:MM:SS [file.py:N] msg`),
//! uvicorn's lines on stderr (`(APIServer pid=N) INFO:     msg`), tracebacks on stderr.
//! Colour codes only when stdout is a terminal and neither `NO_COLOR` nor
//! `VLLM_LOGGING_COLOR=0` is set, as vLLM does.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

struct Style {
    pid: u32,
    colour: bool,
}

static STYLE: OnceLock<Style> = OnceLock::new();

fn style() -> &'static Style {
    STYLE.get_or_init(|| {
        let no_colour = std::env::var_os("NO_COLOR").is_some()
            || std::env::var("VLLM_LOGGING_COLOR")
                .map(|v| v == "0")
                .unwrap_or(false);
        Style {
            pid: std::process::id(),
            colour: std::io::stdout().is_terminal() && !no_colour,
        }
    })
}

/// The process prefix vLLM puts on every line of a process (`APIServer`, `EngineCore_DP0`).
/// The stand-in is one process, so every prefix carries its one real pid.
#[derive(Debug, Clone, Copy)]
pub enum Proc {
    Api,
    Engine,
}

impl Proc {
    fn name(self) -> &'static str {
        match self {
            Proc::Api => "APIServer",
            Proc::Engine => "EngineCore_DP0",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }
    fn colour(self) -> &'static str {
        match self {
            Level::Info => "\x1b[32m",
            Level::Warning => "\x1b[33m",
            Level::Error => "\x1b[31m",
        }
    }
}

/// `MM-DD HH:MM:SS` in UTC (containers run in UTC; vLLM prints local time).
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (_, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A vLLM logger line on stdout: `(APIServer pid=N) INFO 11-28 13:40:00 [api_server.py:1805] msg`.
pub fn line(proc: Proc, level: Level, source: &str, msg: &str) {
    let s = style();
    let ts = timestamp();
    let text = if s.colour {
        format!(
            "({} pid={}) {}{}\x1b[0m \x1b[2m{ts} [{source}]\x1b[0m {msg}",
            proc.name(),
            s.pid,
            level.colour(),
            level.word()
        )
    } else {
        format!(
            "({} pid={}) {} {ts} [{source}] {msg}",
            proc.name(),
            s.pid,
            level.word()
        )
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

pub fn info(source: &str, msg: &str) {
    line(Proc::Api, Level::Info, source, msg);
}

/// A uvicorn line on stderr: `(APIServer pid=N) INFO:     Started server process [N]`.
pub fn uvicorn(msg: &str) {
    let s = style();
    let level = if s.colour {
        "\x1b[32mINFO\x1b[0m"
    } else {
        "INFO"
    };
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "(APIServer pid={}) {level}:     {msg}", s.pid);
    let _ = err.flush();
}

/// Raw lines on stderr under a process prefix (Python tracebacks are not logger lines).
pub fn raw(proc: Proc, lines: &[String]) {
    let s = style();
    let mut err = std::io::stderr().lock();
    for l in lines {
        let _ = writeln!(err, "({} pid={}) {l}", proc.name(), s.pid);
    }
    let _ = err.flush();
}

/// Error logger lines (stdout), one per text line, as vLLM's `logger.exception` prints them.
pub fn error_block(proc: Proc, source: &str, lines: &[String]) {
    for l in lines {
        line(proc, Level::Error, source, l);
    }
}

/// `VLLM_STANDIN_LOG_SPAM_MB`: at least `bytes` of filler on stdout, in the shape of vLLM's
/// periodic stats line (`Engine 000: Avg prompt throughput: …`, numbers varying per line, no
/// colour), written through one large buffer so hundreds of MB take about a second. Write
/// errors (a closed stdout) end it early, like any other log line.
pub fn spam(bytes: u64) {
    let s = style();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut written = 0u64;
    let mut i = 0u64;
    let mut prefix = String::new();
    while written < bytes {
        if i.is_multiple_of(4096) {
            prefix = format!(
                "({} pid={}) INFO {} [loggers.py:259] Engine 000: ",
                Proc::Api.name(),
                s.pid,
                timestamp()
            );
        }
        let running = (i * 7) % 257;
        let line = format!(
            "{prefix}Avg prompt throughput: {:.1} tokens/s, Avg generation throughput: {:.1} tokens/s, Running: {running} reqs, Waiting: {} reqs, GPU KV cache usage: {:.1}%, Prefix cache hit rate: {:.1}%\n",
            (i % 9973) as f64 * 3.7,
            (i % 7919) as f64 * 1.3,
            (i * 13) % 31,
            (running as f64 / 2.57).min(100.0),
            (i % 1000) as f64 / 10.0
        );
        if out.write_all(line.as_bytes()).is_err() {
            return;
        }
        written += line.len() as u64;
        i += 1;
    }
    let _ = out.flush();
}

pub fn pid() -> u32 {
    style().pid
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_420), (2025, 11, 28));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}

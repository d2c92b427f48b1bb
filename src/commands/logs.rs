//! `vbench logs server|client [-f] [--tail N] [--since …]` glue. Server: the serve log file
//! vbench's launcher writes in the container (what `vllm serve` printed); the container's own
//! log when there is no serve log or `--since` is given. Client: the container log. The log's
//! ANSI codes are stripped unless `--color always`.

use std::io::Write as _;
use std::time::Duration;

use futures_util::StreamExt as _;

use super::{CommandError, Outcome};
use crate::cli::{ColorMode, Global, LogsArgs, Which};
use crate::docker::logs::LogOptions;
use crate::docker::{Docker, ExecSpec};
use crate::server::argv::SERVE_LOG;
use crate::server::diagnose::clean_line;

/// Only an explicit `--color always` keeps the log's own colour codes: a log is often saved
/// or grepped, and `auto` keeps the plain text it always gave.
fn keep_ansi(g: &Global) -> bool {
    g.color == ColorMode::Always
}

pub async fn cmd(g: &Global, args: LogsArgs) -> anyhow::Result<Outcome> {
    let cfg = super::load(g, &args.overrides)?;
    let docker = super::connect(g, &cfg).await?;
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let container = match args.which {
        Which::Server => cfg.server.container.clone(),
        Which::Client => cfg.client.container.clone(),
    };
    if docker.inspect_container(&container).await?.is_none() {
        return Err(CommandError::Setup(format!("container {container} does not exist")).into());
    }
    if args.which == Which::Server
        && since.is_none()
        && let Some(bytes) = docker.read_file(&container, SERVE_LOG).await?
    {
        let keep = keep_ansi(g);
        return follow_file(
            &docker,
            &container,
            &bytes,
            &args,
            keep,
            &cfg.secret_values(),
        )
        .await;
    }
    let opts = LogOptions {
        follow: args.follow,
        tail: args.tail,
        since,
        strip_ansi: !keep_ansi(g),
    };
    let mut stream = docker.logs(&container, &opts);
    let mut out = std::io::stdout().lock();
    loop {
        tokio::select! {
            item = stream.next() => match item {
                Some(line) => {
                    if writeln!(out, "{}", cfg.scrub(&line?.text)).is_err() { return Ok(Outcome::Done) }
                }
                None => return Ok(Outcome::Done),
            },
            _ = tokio::signal::ctrl_c() => return Ok(Outcome::Done),
        }
    }
}

/// Print the serve log's last `--tail` lines, then (with `-f`) poll for new bytes every
/// second with `tail -c +N` until Ctrl-C or the container stops.
async fn follow_file(
    docker: &Docker,
    container: &str,
    initial: &[u8],
    args: &LogsArgs,
    keep_ansi: bool,
    secrets: &[String],
) -> anyhow::Result<Outcome> {
    let text = String::from_utf8_lossy(initial);
    let lines: Vec<&str> = text.lines().collect();
    let skip = args
        .tail
        .map_or(0, |n| lines.len().saturating_sub(n as usize));
    let show = |l: &str| {
        let l = crate::server::argv::scrub(l, secrets);
        if keep_ansi { l } else { clean_line(&l) }
    };
    let mut out = std::io::stdout();
    for l in &lines[skip..] {
        if writeln!(out, "{}", show(l)).is_err() {
            return Ok(Outcome::Done);
        }
    }
    if !args.follow {
        return Ok(Outcome::Done);
    }
    let _ = out.flush();
    let mut offset = initial.len() as u64;
    let mut partial = String::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(Outcome::Done),
        }
        if !matches!(docker.inspect_container(container).await?, Some(s) if s.running) {
            return Ok(Outcome::Done);
        }
        // First line: the file's size, so a log truncated by a restarted server is noticed
        // (then it is read again from its start); the rest: the bytes after `offset`.
        let spec = ExecSpec {
            argv: crate::server::argv::sh(
                r#"n=$(wc -c < "$2") || exit 1; echo "$n"; [ "$n" -lt "$1" ] || tail -c "+$(($1 + 1))" "$2""#,
                &[&offset.to_string(), SERVE_LOG],
            ),
            deadline: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        let (o, reply, _) = docker.exec_capture(container, &spec).await?;
        let Some((size, chunk)) = reply.split_once('\n').filter(|_| o.exit_code == Some(0)) else {
            continue;
        };
        if size.trim().parse::<u64>().is_ok_and(|n| n < offset) {
            let _ = writeln!(
                out,
                "--- the serve log was truncated (server restarted): from its start ---"
            );
            offset = 0;
            partial.clear();
            continue;
        }
        if chunk.is_empty() {
            continue;
        }
        offset += chunk.len() as u64;
        partial.push_str(chunk);
        let mut parts: Vec<String> = partial.split('\n').map(str::to_string).collect();
        partial = parts.pop().unwrap_or_default();
        for l in parts {
            if writeln!(out, "{}", show(&l)).is_err() {
                return Ok(Outcome::Done);
            }
        }
        let _ = out.flush();
    }
}

/// `--since`: RFC 3339, UNIX seconds, or a duration ago (`90s`, `10m`, `2h`, `1d`).
pub fn parse_since(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    let bad = || {
        CommandError::Usage(format!(
            "--since {s:?}: give RFC 3339 (2026-11-28T10:00:00Z), UNIX seconds, or a duration like 10m"
        ))
    };
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(bad().into()),
    };
    Ok(jiff::Timestamp::now().as_second() - secs)
}

#[cfg(test)]
mod tests {
    use super::parse_since;

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("1764000000").expect("unix"), 1_764_000_000);
        assert_eq!(
            parse_since("2026-11-28T10:00:00Z").expect("rfc3339"),
            1_795_860_000
        );
        let now = jiff::Timestamp::now().as_second();
        let ten_min = parse_since("10m").expect("duration");
        assert!((now - 600 - ten_min).abs() <= 2, "{ten_min}");
        assert!((now - 7200 - parse_since("2h").expect("hours")).abs() <= 2);
        for bad in ["", "10x", "m", "yesterday"] {
            let e = parse_since(bad).expect_err(bad);
            assert!(
                matches!(e.downcast_ref(), Some(super::CommandError::Usage(_))),
                "{bad}"
            );
        }
    }
}

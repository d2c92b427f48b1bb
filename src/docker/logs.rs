//! Container logs as lines: tail N, since, follow; ANSI colour codes strippable. Frames are
//! split into lines exactly as for exec (`lines`), stdout and stderr kept apart. A log read
//! without `follow` must keep coming: an engine that stops sending for `IDLE_DEADLINE` ends
//! the stream with `DockerError::Deadline` (a followed log may be quiet for hours).

use std::collections::VecDeque;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::lines::LineSplitter;
use super::{Docker, DockerError, OutputLine, Result, api, status_of};
use crate::docker::exec::Stream;

/// How long a log read without `follow` may wait for its next frame.
const IDLE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Last N lines (None: all).
    pub tail: Option<u64>,
    /// UNIX seconds.
    pub since: Option<i64>,
    pub strip_ansi: bool,
}

/// What the line stream carries between polls.
struct State {
    frames: BoxStream<'static, std::result::Result<LogOutput, bollard::errors::Error>>,
    splitter: LineSplitter,
    ready: VecDeque<Result<OutputLine>>,
    done: bool,
    /// Without `follow`: the longest wait for a frame.
    idle: Option<std::time::Duration>,
    container: String,
    strip: bool,
}

impl Docker {
    /// A stream of log lines; ends when the container stops (with `follow`) or the log ends.
    pub fn logs(
        &self,
        container: &str,
        opts: &LogOptions,
    ) -> BoxStream<'static, Result<OutputLine>> {
        let tail = opts
            .tail
            .map(|n| n.to_string())
            .unwrap_or_else(|| "all".into());
        // Both streams must be asked for: the API's default is neither.
        let mut builder = LogsOptionsBuilder::new()
            .follow(opts.follow)
            .stdout(true)
            .stderr(true)
            .tail(&tail);
        if let Some(since) = opts.since {
            builder = builder.since(since.clamp(0, i32::MAX as i64) as i32);
        }
        let inner = self.inner.clone();
        let name = container.to_string();
        let frames =
            futures_util::stream::once(async move { inner.logs(&name, Some(builder.build())) })
                .flatten()
                .boxed();
        let state = State {
            frames,
            splitter: LineSplitter::new(),
            ready: VecDeque::new(),
            done: false,
            idle: (!opts.follow).then_some(IDLE_DEADLINE),
            container: container.to_string(),
            strip: opts.strip_ansi,
        };
        futures_util::stream::unfold(state, |mut st| async move {
            loop {
                if let Some(item) = st.ready.pop_front() {
                    return Some((item, st));
                }
                if st.done {
                    return None;
                }
                let State {
                    frames,
                    splitter,
                    ready,
                    strip,
                    idle,
                    ..
                } = &mut st;
                let (strip, idle) = (*strip, *idle);
                let mut push = |mut l: OutputLine| {
                    if strip {
                        l.text = strip_ansi(&l.text).into_owned();
                    }
                    ready.push_back(Ok(l));
                };
                let next = match idle {
                    None => frames.next().await,
                    Some(d) => match tokio::time::timeout(d, frames.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            splitter.finish(&mut push);
                            st.ready.push_back(Err(DockerError::Deadline {
                                op: format!("read the logs of container {}", st.container),
                                after: d,
                            }));
                            st.done = true;
                            continue;
                        }
                    },
                };
                match next {
                    Some(Ok(LogOutput::StdErr { message })) => {
                        splitter.push(Stream::Stderr, &message, &mut push)
                    }
                    Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
                        splitter.push(Stream::Stdout, &message, &mut push)
                    }
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                    Some(Err(e)) => {
                        splitter.finish(&mut push);
                        let err = if status_of(&e) == Some(404) {
                            DockerError::NotFound {
                                what: format!("container {}", st.container),
                            }
                        } else {
                            api(format!("read the logs of container {}", st.container))(e)
                        };
                        st.ready.push_back(Err(err));
                        st.done = true;
                    }
                    None => {
                        splitter.finish(&mut push);
                        st.done = true;
                    }
                }
            }
        })
        .boxed()
    }
}

/// Remove ANSI escape sequences (colours, cursor moves) from a line: CSI (`ESC [ … final`),
/// OSC (`ESC ] … BEL` or `ESC ] … ESC \`), and other `ESC [intermediates] final` sequences.
pub fn strip_ansi(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\u{1b}') && !s.contains('\u{9b}') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    skip_csi(&mut chars);
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // `ESC`, intermediate bytes (`(`, `#`, …), one final byte: `ESC ( B`, `ESC 7`.
                Some(_) => {
                    while chars.next_if(|c| (' '..='/').contains(c)).is_some() {}
                    chars.next();
                }
                None => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parameter and intermediate bytes, then one final byte in `@`..=`~`.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn strips_colours_cursor_moves_and_titles() {
        assert_eq!(strip_ansi("\u{1b}[32mINFO\u{1b}[0m ready"), "INFO ready");
        assert_eq!(strip_ansi("a\u{1b}[2K\u{1b}[1Gb"), "ab");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(
            strip_ansi("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "link"
        );
        assert_eq!(strip_ansi("\u{1b}(Bplain"), "plain");
        assert_eq!(strip_ansi("100% ✓"), "100% ✓");
        assert!(matches!(
            strip_ansi("no escapes"),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}

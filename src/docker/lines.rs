//! Turning Docker's output frames into lines. With `tty: false` bollard yields one item per
//! multiplexed frame, not per line: a line can span frames and one frame can hold many lines.
//! Bytes are buffered per stream (stdout and stderr never mix) and decoded only once a whole
//! line is there, so a UTF-8 character split across frames survives.

use super::exec::{OutputLine, Stream};

/// Buffers the partial last line of each stream.
#[derive(Debug, Default)]
pub struct LineSplitter {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed one frame; every line it completes is passed to `out` in order.
    pub fn push(&mut self, stream: Stream, bytes: &[u8], out: &mut dyn FnMut(OutputLine)) {
        let buf = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            buf.extend_from_slice(&rest[..pos]);
            out(OutputLine {
                stream,
                text: take_line(buf),
            });
            rest = &rest[pos + 1..];
        }
        buf.extend_from_slice(rest);
    }

    /// End of output: a last line without a newline is still a line.
    pub fn finish(&mut self, out: &mut dyn FnMut(OutputLine)) {
        for (stream, buf) in [
            (Stream::Stdout, &mut self.stdout),
            (Stream::Stderr, &mut self.stderr),
        ] {
            if !buf.is_empty() {
                out(OutputLine {
                    stream,
                    text: take_line(buf),
                });
            }
        }
    }
}

/// Decode and clear the buffer; a CRLF line end loses its `\r` too.
fn take_line(buf: &mut Vec<u8>) -> String {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    let text = String::from_utf8_lossy(buf).into_owned();
    buf.clear();
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(frames: &[(Stream, &[u8])]) -> Vec<(Stream, String)> {
        let mut s = LineSplitter::new();
        let mut got = Vec::new();
        for (stream, bytes) in frames {
            s.push(*stream, bytes, &mut |l| got.push((l.stream, l.text)));
        }
        s.finish(&mut |l| got.push((l.stream, l.text)));
        got
    }

    #[test]
    fn line_spanning_frames_and_frame_with_many_lines() {
        let got = collect(&[
            (Stream::Stdout, b"hel"),
            (Stream::Stderr, b"err one\nerr "),
            (Stream::Stdout, b"lo\nsecond\nthird"),
            (Stream::Stderr, b"two\r\n"),
        ]);
        assert_eq!(
            got,
            vec![
                (Stream::Stderr, "err one".to_string()),
                (Stream::Stdout, "hello".to_string()),
                (Stream::Stdout, "second".to_string()),
                (Stream::Stderr, "err two".to_string()),
                (Stream::Stdout, "third".to_string()),
            ]
        );
    }

    #[test]
    fn utf8_split_across_frames_is_kept() {
        let bytes = "é\n".as_bytes();
        let got = collect(&[(Stream::Stdout, &bytes[..1]), (Stream::Stdout, &bytes[1..])]);
        assert_eq!(got, vec![(Stream::Stdout, "é".to_string())]);
    }

    #[test]
    fn empty_lines_are_lines() {
        let got = collect(&[(Stream::Stdout, b"\n\na\n")]);
        let texts: Vec<_> = got.into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, vec!["", "", "a"]);
    }
}

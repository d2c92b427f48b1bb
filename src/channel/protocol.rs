//! Protocol v1 of the channel into the client container, both directions, as pure code: the
//! request frames vbench sends (argv values escaped so the POSIX-sh agent can decode them with
//! `printf %b`, never interpret them) and a streaming decoder of what an agent answers,
//! binary-safe (a result file's bytes travel inside an `F` frame). `agent/vbench-agent.sh`
//! documents the frames.

/// Bytes that travel as themselves; everything else is `\0ooo`.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_./:=,+@%-".contains(&b)
}

/// Escape one value for an `A`, `E` or `R` frame.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if plain(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\0{b:03o}"));
        }
    }
    out
}

/// The frames of one request. `env` comes first: the sh agent runs `env K=V … argv`.
pub fn request(id: u64, argv: &[String], env: &[String], result: Option<&str>) -> String {
    let mut s = format!("RUN {id}\n");
    for e in env {
        s.push_str(&format!("E {}\n", escape(e)));
    }
    for a in argv {
        s.push_str(&format!("A {}\n", escape(a)));
    }
    if let Some(r) = result {
        s.push_str(&format!("R {}\n", escape(r)));
    }
    s.push_str("GO\n");
    s
}

/// What an agent said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `HELLO vbench-agent 1 <kind> [detail]`: ready.
    Hello {
        kind: String,
        detail: String,
    },
    /// `FAIL <text>`: the agent cannot work here (the worker could not import vLLM).
    Fail(String),
    Started {
        id: u64,
        pid: u32,
    },
    Line {
        id: u64,
        text: Vec<u8>,
    },
    Exit {
        id: u64,
        code: i64,
    },
    /// The result file follows: `size` bytes in `FileChunk`s, then `FileEnd`.
    FileStart {
        id: u64,
        size: u64,
    },
    FileChunk(Vec<u8>),
    FileEnd {
        id: u64,
    },
    NoFile {
        id: u64,
    },
    Done {
        id: u64,
    },
    Error {
        id: u64,
        text: String,
    },
    /// A line that is no frame of protocol v1 (kept, to say what went wrong).
    Unknown(Vec<u8>),
}

/// A streaming decoder: feed it the agent's stdout in chunks of any size.
#[derive(Debug, Default)]
pub struct Decoder {
    line: Vec<u8>,
    /// Inside an `F` frame: (id, bytes still to come).
    file: Option<(u64, u64)>,
    /// After a file's bytes, the `\n` that ends the frame.
    file_tail: Option<u64>,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Decode `chunk`, appending complete frames to `out`.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut Vec<Frame>) {
        while !chunk.is_empty() {
            if let Some((id, left)) = self.file {
                let n = (left as usize).min(chunk.len());
                if n > 0 {
                    out.push(Frame::FileChunk(chunk[..n].to_vec()));
                }
                chunk = &chunk[n..];
                let left = left - n as u64;
                if left == 0 {
                    self.file = None;
                    self.file_tail = Some(id);
                } else {
                    self.file = Some((id, left));
                }
                continue;
            }
            if let Some(id) = self.file_tail.take() {
                // The agent ends a file with `\n`; anything else would be a framing error,
                // reported on the next line instead of silently eaten.
                if chunk[0] == b'\n' {
                    chunk = &chunk[1..];
                }
                out.push(Frame::FileEnd { id });
                continue;
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.line.extend_from_slice(&chunk[..i]);
                    chunk = &chunk[i + 1..];
                    let line = std::mem::take(&mut self.line);
                    let frame = parse_line(line);
                    if let Frame::FileStart { id, size } = frame {
                        if size == 0 {
                            self.file_tail = Some(id);
                        } else {
                            self.file = Some((id, size));
                        }
                    }
                    out.push(frame);
                }
                None => {
                    self.line.extend_from_slice(chunk);
                    chunk = &[];
                }
            }
        }
    }

    /// True when nothing is half-received (a stream that ends now ended cleanly).
    pub fn idle(&self) -> bool {
        self.line.is_empty() && self.file.is_none() && self.file_tail.is_none()
    }
}

fn parse_line(line: Vec<u8>) -> Frame {
    let unknown = |l: Vec<u8>| Frame::Unknown(l);
    let Ok(text) = std::str::from_utf8(&line) else {
        // Only `L` carries arbitrary bytes: split it by hand.
        if let Some(rest) = line.strip_prefix(b"L ")
            && let Some(sp) = rest.iter().position(|&b| b == b' ')
            && let Some(id) = std::str::from_utf8(&rest[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
        {
            return Frame::Line {
                id,
                text: rest[sp + 1..].to_vec(),
            };
        }
        return unknown(line);
    };
    let (head, rest) = text.split_once(' ').unwrap_or((text, ""));
    fn num(s: &str) -> Option<u64> {
        s.parse::<u64>().ok()
    }
    fn two(s: &str) -> Option<(u64, &str)> {
        let (a, b) = s.split_once(' ')?;
        Some((num(a)?, b))
    }
    let frame = match head {
        "HELLO" => {
            // `vbench-agent 1 <kind> [detail…]`
            let mut it = rest.splitn(4, ' ');
            match (it.next(), it.next(), it.next()) {
                (Some("vbench-agent"), Some("1"), Some(kind)) => Some(Frame::Hello {
                    kind: kind.to_string(),
                    detail: it.next().unwrap_or("").to_string(),
                }),
                _ => None,
            }
        }
        "FAIL" => Some(Frame::Fail(rest.to_string())),
        "S" => two(rest).and_then(|(id, pid)| {
            Some(Frame::Started {
                id,
                pid: pid.trim().parse().ok()?,
            })
        }),
        "L" => {
            let (id, t) = match rest.split_once(' ') {
                Some((a, b)) => (num(a), b),
                None => (num(rest), ""),
            };
            id.map(|id| Frame::Line {
                id,
                text: t.as_bytes().to_vec(),
            })
        }
        "X" => two(rest).and_then(|(id, c)| {
            Some(Frame::Exit {
                id,
                code: c.trim().parse().ok()?,
            })
        }),
        "F" => two(rest).and_then(|(id, n)| {
            Some(Frame::FileStart {
                id,
                size: n.trim().parse().ok()?,
            })
        }),
        "N" => num(rest.trim()).map(|id| Frame::NoFile { id }),
        "D" => num(rest.trim()).map(|id| Frame::Done { id }),
        "ERR" => {
            let (id, t) = rest.split_once(' ').unwrap_or((rest, ""));
            num(id).map(|id| Frame::Error {
                id,
                text: t.to_string(),
            })
        }
        _ => None,
    };
    frame.unwrap_or_else(|| unknown(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Vec<Frame> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for c in bytes.chunks(piece) {
            d.push(c, &mut out);
        }
        assert!(d.idle());
        // Adjacent file chunks are one file, however the stream was cut.
        let mut merged: Vec<Frame> = Vec::new();
        for f in out {
            match (merged.last_mut(), f) {
                (Some(Frame::FileChunk(a)), Frame::FileChunk(b)) => a.extend(b),
                (_, f) => merged.push(f),
            }
        }
        merged
    }

    #[test]
    fn escaping_is_what_printf_b_decodes() {
        assert_eq!(escape("--model"), "--model");
        assert_eq!(escape("a b"), "a\\0040b");
        assert_eq!(escape("x\\y'\n"), "x\\0134y\\0047\\0012");
        assert_eq!(escape("é"), "\\0303\\0251");
        let r = request(
            7,
            &["vllm".into(), "a b".into()],
            &["K=V".into()],
            Some("/r x"),
        );
        assert_eq!(r, "RUN 7\nE K=V\nA vllm\nA a\\0040b\nR /r\\0040x\nGO\n");
    }

    #[test]
    fn frames_in_any_pieces_with_binary_file() {
        let body: &[u8] = b"{\"a\":1}\nL 1 not a frame\n\0\xff";
        let mut stream =
            b"HELLO vbench-agent 1 sh\nS 1 42\nL 1 hello world\nL 1 \nX 1 0\n".to_vec();
        stream.extend_from_slice(format!("F 1 {}\n", body.len()).as_bytes());
        stream.extend_from_slice(body);
        stream.extend_from_slice(
            b"\nD 1\nL 2 caf\xc3\xa9 \xff\nN 2\nERR 0 unknown frame\nFAIL no vllm\nwhat\n",
        );
        let want = vec![
            Frame::Hello {
                kind: "sh".into(),
                detail: String::new(),
            },
            Frame::Started { id: 1, pid: 42 },
            Frame::Line {
                id: 1,
                text: b"hello world".to_vec(),
            },
            Frame::Line {
                id: 1,
                text: vec![],
            },
            Frame::Exit { id: 1, code: 0 },
            Frame::FileStart {
                id: 1,
                size: body.len() as u64,
            },
            Frame::FileChunk(body.to_vec()),
            Frame::FileEnd { id: 1 },
            Frame::Done { id: 1 },
            Frame::Line {
                id: 2,
                text: b"caf\xc3\xa9 \xff".to_vec(),
            },
            Frame::NoFile { id: 2 },
            Frame::Error {
                id: 0,
                text: "unknown frame".into(),
            },
            Frame::Fail("no vllm".into()),
            Frame::Unknown(b"what".to_vec()),
        ];
        for piece in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(decode_in_pieces(&stream, piece), want, "pieces of {piece}");
        }
    }

    #[test]
    fn an_empty_file_and_a_cut_stream() {
        let f = decode_in_pieces(b"F 3 0\n\nD 3\n", 1);
        assert_eq!(
            f,
            vec![
                Frame::FileStart { id: 3, size: 0 },
                Frame::FileEnd { id: 3 },
                Frame::Done { id: 3 }
            ]
        );
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.push(b"F 1 10\nabc", &mut out);
        assert!(!d.idle(), "a stream cut inside a file is not a clean end");
    }
}

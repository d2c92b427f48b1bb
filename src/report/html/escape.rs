//! Text made safe for the page: HTML escaping for text nodes and quoted attribute values, and
//! cleaning of terminal output (colour codes, carriage-return progress bars, control
//! characters) before it is shown in a `<pre>`.

/// Escape `s` for a text node or a double- or single-quoted attribute value.
///
/// Besides the five markup characters, the `:` of every `://` becomes `&#58;`: the browser
/// shows the same text, but the page's source then holds no URL at all, not even one quoted
/// from a reason, a log or the configuration (a server URL). That keeps "the page references
/// nothing outside itself" checkable with a plain search of the file. User text never goes
/// into an attribute that loads something (`src`, `href`), so the decoded text cannot fetch
/// anything either.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            ':' if out_follows(&chars, "//") => out.push_str("&#58;"),
            // Control characters are parse errors in HTML and show as nothing useful.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn out_follows(chars: &std::iter::Peekable<std::str::Chars<'_>>, next: &str) -> bool {
    chars.clone().take(next.len()).eq(next.chars())
}

/// Terminal output as a reader of the terminal saw it: ANSI escape sequences removed, and of
/// a line redrawn with carriage returns (progress bars) only its last state kept.
pub fn clean_terminal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let last = line.rsplit('\r').next().unwrap_or(line);
        out.push_str(&strip_ansi(last));
    }
    out
}

/// Remove CSI sequences (`ESC [ … final byte`, colours and cursor moves) and other two-byte
/// escapes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // Parameters and intermediates, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC (`ESC ] … BEL` or `ESC ] … ESC \`): window titles, hyperlinks.
            Some(']') => {
                let mut prev = '\0';
                for c in chars.by_ref() {
                    if c == '\u{7}' || (prev == '\u{1b}' && c == '\\') {
                        break;
                    }
                    prev = c;
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_quotes_and_urls_are_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(
            esc("see http://vllm:8000/v1 or HTTPS://x"),
            "see http&#58;//vllm:8000/v1 or HTTPS&#58;//x"
        );
        // A lone colon or slash is left alone.
        assert_eq!(esc("a: b/c :/ d"), "a: b/c :/ d");
        assert_eq!(esc("bell\u{7}\ttab\nline"), "bell\u{FFFD}\ttab\nline");
    }

    #[test]
    fn terminal_output_is_cleaned() {
        let raw = "\u{1b}[0;36mINFO\u{1b}[0m ready\r\n 10%|#   \r 50%|#####\r100%|##########\n\u{1b}]0;title\u{7}done";
        assert_eq!(clean_terminal(raw), "INFO ready\n100%|##########\ndone");
    }
}

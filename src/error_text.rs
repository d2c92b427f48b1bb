//! An error and its sources as one line of text, each text once: layers often repeat their
//! source's text in their own, and a cause recorded in a matrix's or fan-out's record, a
//! storage error's message or the final error printed on exit should say each thing once.

/// `e` and its sources, joined by `: `, skipping empty texts and texts already said.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut link = Some(e);
    while let Some(e) = link {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        link = e.source();
    }
    out
}

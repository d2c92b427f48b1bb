//! SVG that plotters cannot write, added to its output before `</svg>`: marks with a `<title>`
//! child (a tooltip in browsers) for points without a value, hatched cells, rotated labels,
//! and the "CPU stand-in" watermark. Positions come from the chart's own coordinate mapping
//! (`ChartContext::backend_coord`), so the marks sit where plotters would have put them. All
//! inserted text is XML-escaped.

use plotters::style::RGBColor;

use super::style::{FAILED, FONT, NOT_RUN, hex};

/// Why a point has no value on a chart. The mark's colour says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// The point (or one of its repeats) failed.
    Failed,
    /// Skipped, pending or interrupted: never measured.
    NotRun,
    /// Measured, but the result lacks the value this chart shows.
    NoValue,
}

impl GapKind {
    pub fn color(self) -> RGBColor {
        match self {
            GapKind::Failed => FAILED,
            GapKind::NotRun | GapKind::NoValue => NOT_RUN,
        }
    }
}

/// Escape text for an XML text node or attribute value.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Tooltips show line breaks; other control characters are not allowed in XML 1.0.
            '\n' | '\t' => out.push(c),
            c if (c as u32) < 0x20 => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Elements to add to a plotters SVG.
#[derive(Default)]
pub struct Overlay {
    defs: Vec<String>,
    items: Vec<String>,
}

/// Pixel position in the SVG.
pub type Px = (i32, i32);

impl Overlay {
    /// A ✕ at `at` with the reason as its tooltip. The invisible disc under it makes the
    /// tooltip easy to hit with a pointer (a 2-px cross is not).
    pub fn gap_mark(&mut self, at: Px, kind: GapKind, title: &str) {
        let (x, y) = at;
        let c = hex(kind.color());
        self.items.push(format!(
            r##"<g class="vb-gap"><title>{}</title><circle cx="{x}" cy="{y}" r="8" fill="#fff" fill-opacity="0"/><path d="M{} {}L{} {}M{} {}L{} {}" stroke="{c}" stroke-width="2.5" stroke-linecap="round"/></g>"##,
            esc(title),
            x - 5,
            y - 5,
            x + 5,
            y + 5,
            x - 5,
            y + 5,
            x + 5,
            y - 5,
        ));
    }

    /// A hollow circle in `color` with a tooltip (an invalid night on a trend chart).
    pub fn hollow_mark(&mut self, at: Px, color: RGBColor, title: &str) {
        let (x, y) = at;
        self.items.push(format!(
            r##"<g class="vb-invalid"><title>{}</title><circle cx="{x}" cy="{y}" r="6" fill="#fff" fill-opacity="0.9" stroke="{}" stroke-width="2.5"/></g>"##,
            esc(title),
            hex(color),
        ));
    }

    /// An invisible target with a tooltip over a region (details of a drawn point or cell).
    pub fn tooltip_rect(&mut self, from: Px, to: Px, title: &str) {
        let (x, y, w, h) = rect(from, to);
        self.items.push(format!(
            r##"<g class="vb-tip"><title>{}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#fff" fill-opacity="0"/></g>"##,
            esc(title)
        ));
    }

    /// A cell without a value: grey, hatched, with a short word in it and the reason as its
    /// tooltip.
    pub fn hatched_cell(&mut self, from: Px, to: Px, kind: GapKind, word: &str, title: &str) {
        if self.defs.is_empty() {
            self.defs.push(
                r##"<pattern id="vb-hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#e6e6e6"/><line x1="0" y1="0" x2="0" y2="8" stroke="#b0b0b0" stroke-width="3"/></pattern>"##
                    .into(),
            );
        }
        let (x, y, w, h) = rect(from, to);
        let (cx, cy) = (x + w / 2, y + h / 2);
        self.items.push(format!(
            r##"<g class="vb-gap"><title>{}</title><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="url(#vb-hatch)" stroke="#fff"/><text x="{cx}" y="{cy}" dy="0.35em" text-anchor="middle" font-family="{FONT}" font-size="12" font-weight="bold" fill="{}">{}</text></g>"##,
            esc(title),
            hex(kind.color()),
            esc(word),
        ));
    }

    /// Text, optionally rotated (degrees, about its anchor) and with a tooltip.
    pub fn text(&mut self, at: Px, text: &str, style: TextStyle, title: Option<&str>) {
        let (x, y) = at;
        let rotate = style
            .rotate
            .map(|r| format!(r#" transform="rotate({r} {x} {y})""#))
            .unwrap_or_default();
        let body = format!(
            r#"<text x="{x}" y="{y}" dy="0.35em" text-anchor="{}" font-family="{FONT}" font-size="{}" fill="{}"{rotate}>{}</text>"#,
            style.anchor,
            style.size,
            hex(style.color),
            esc(text)
        );
        self.items.push(match title {
            Some(t) => format!("<g><title>{}</title>{body}</g>", esc(t)),
            None => body,
        });
    }

    /// The stand-in watermark: large, diagonal, semi-transparent, over the whole canvas and
    /// above the data (so it cannot be cropped or hidden), ignoring the pointer so tooltips
    /// under it still work.
    pub fn watermark(&mut self, size: (u32, u32)) {
        let (cx, cy) = (size.0 as i32 / 2, size.1 as i32 / 2);
        let angle = -((size.1 as f64).atan2(size.0 as f64).to_degrees()).round();
        self.items.push(format!(
            r##"<g class="vb-watermark" pointer-events="none" transform="rotate({angle} {cx} {cy})"><text x="{cx}" y="{cy}" text-anchor="middle" font-family="{FONT}" font-size="76" font-weight="bold" fill="#c00000" fill-opacity="0.13">CPU stand-in</text><text x="{cx}" y="{}" text-anchor="middle" font-family="{FONT}" font-size="24" fill="#c00000" fill-opacity="0.22">not a GPU measurement</text></g>"##,
            cy + 34
        ));
    }

    /// The SVG with the overlay inserted before its closing tag.
    pub fn apply(self, mut svg: String) -> String {
        if self.defs.is_empty() && self.items.is_empty() {
            return svg;
        }
        let mut add = String::new();
        if !self.defs.is_empty() {
            add.push_str("<defs>");
            add.extend(self.defs);
            add.push_str("</defs>\n");
        }
        for item in self.items {
            add.push_str(&item);
            add.push('\n');
        }
        match svg.rfind("</svg>") {
            Some(at) => svg.insert_str(at, &add),
            None => svg.push_str(&add),
        }
        svg
    }
}

/// How to write a piece of overlay text.
#[derive(Clone, Copy)]
pub struct TextStyle {
    pub size: u32,
    pub color: RGBColor,
    /// `start`, `middle` or `end`.
    pub anchor: &'static str,
    pub rotate: Option<i32>,
}

impl TextStyle {
    pub fn new(size: u32, color: RGBColor) -> TextStyle {
        TextStyle {
            size,
            color,
            anchor: "start",
            rotate: None,
        }
    }
    pub fn anchor(mut self, anchor: &'static str) -> TextStyle {
        self.anchor = anchor;
        self
    }
    pub fn rotate(mut self, degrees: i32) -> TextStyle {
        self.rotate = Some(degrees);
        self
    }
}

fn rect(a: Px, b: Px) -> (i32, i32, i32, i32) {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    (x0, y0, x1 - x0, y1 - y0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_inserts_before_the_end() {
        assert_eq!(
            esc("a<b & \"c\" 'd'\u{1}>\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos; &gt;\n"
        );
        let mut o = Overlay::default();
        o.gap_mark(
            (10, 20),
            GapKind::Failed,
            "input 8K, C=4: failed — <context>",
        );
        let svg = o.apply("<svg>\n<rect/>\n</svg>\n".into());
        assert!(
            svg.starts_with("<svg>\n<rect/>\n<g class=\"vb-gap\">"),
            "{svg}"
        );
        assert!(svg.contains("<title>input 8K, C=4: failed — &lt;context&gt;</title>"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("#c80000"), "failed marks are red: {svg}");
    }

    #[test]
    fn nothing_to_add_leaves_the_svg_alone() {
        assert_eq!(
            Overlay::default().apply("<svg></svg>".into()),
            "<svg></svg>"
        );
    }
}

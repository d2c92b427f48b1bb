//! The look shared by every chart: canvas size, fonts, the colour-blind-safe series palette
//! (Okabe–Ito), the colours of marks for points without a value, a sequential colour map for
//! heatmaps (viridis), and how numbers are written on axes and in cells.

use plotters::style::RGBColor;

/// Canvas of the x–y charts, pixels.
pub const SIZE: (u32, u32) = (1000, 560);

/// One family for all text: every viewer has a `sans-serif`, and no font file is needed.
pub const FONT: &str = "sans-serif";

/// Series colours, distinguishable with the common colour-vision deficiencies and in print
/// (Okabe–Ito). Yellow is last: it is hard to see on white, so it only shows up with 8 series.
pub const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// The colour of series `i`.
pub fn series_color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A failed point: a pure red, darker than the palette's vermillion so it is not read as a
/// series.
pub const FAILED: RGBColor = RGBColor(200, 0, 0);
/// A point that was not run (skipped, pending, interrupted) or has no value to draw.
pub const NOT_RUN: RGBColor = RGBColor(110, 110, 110);
/// Minor grid lines: light enough not to compete with the data.
pub const GRID: RGBColor = RGBColor(232, 232, 232);
/// Major grid lines.
pub const GRID_BOLD: RGBColor = RGBColor(200, 200, 200);

/// `#rrggbb` of a colour, for the SVG we write ourselves.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Viridis, sampled: perceptually uniform, readable in grey and with colour-vision
/// deficiencies. `t` in 0..=1, dark purple (low) to yellow (high).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = t * (STOPS.len() - 1) as f64;
    let i = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - i as f64;
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Black or white, whichever reads better on `bg` (relative luminance).
pub fn text_on(bg: RGBColor) -> RGBColor {
    let l = 0.2126 * bg.0 as f64 + 0.7152 * bg.1 as f64 + 0.0722 * bg.2 as f64;
    if l > 140.0 {
        RGBColor(0, 0, 0)
    } else {
        RGBColor(255, 255, 255)
    }
}

/// A series colour dark enough for small text on white: Okabe–Ito's yellow (and sky blue)
/// are fine as lines but faint as 10-px letters, so light colours are darkened.
pub fn readable(c: RGBColor) -> RGBColor {
    let l = 0.2126 * c.0 as f64 + 0.7152 * c.1 as f64 + 0.0722 * c.2 as f64;
    if l > 150.0 {
        let d = |v: u8| (v as f64 * 0.6).round() as u8;
        RGBColor(d(c.0), d(c.1), d(c.2))
    } else {
        c
    }
}

/// An axis or cell number: integers above 100, otherwise up to 3 significant digits, no
/// trailing zeros (`1`, `2.5`, `0.125`, `12000`).
pub fn fmt_value(v: f64) -> String {
    if !v.is_finite() {
        return super::super::fmt_num(Some(v));
    }
    let a = v.abs();
    let s = if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Rough width of `text` in pixels at `size` px (SVG text is measured by the viewer, not
/// here; this only has to be good enough to keep labels apart).
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_short() {
        assert_eq!(fmt_value(12000.0), "12000");
        assert_eq!(fmt_value(2.5), "2.5");
        assert_eq!(fmt_value(48.36), "48.4");
        assert_eq!(fmt_value(0.125), "0.125");
        assert_eq!(fmt_value(1.0), "1");
        assert_eq!(fmt_value(0.0), "0");
    }

    #[test]
    fn viridis_ends_and_contrast() {
        assert_eq!(viridis(0.0), RGBColor(68, 1, 84));
        assert_eq!(viridis(1.0), RGBColor(253, 231, 37));
        assert_eq!(viridis(f64::NAN), viridis(0.0));
        assert_eq!(text_on(viridis(0.0)), RGBColor(255, 255, 255));
        assert_eq!(text_on(viridis(1.0)), RGBColor(0, 0, 0));
        assert_eq!(readable(COLORS[0]), COLORS[0]);
        assert_ne!(
            readable(COLORS[7]),
            COLORS[7],
            "yellow is darkened for text"
        );
    }
}

//! What every x–y chart shares: rendering into an SVG string and adding the overlay and the
//! stand-in watermark afterwards, the frame (caption, axes with our ticks and unit labels,
//! light grid), legend entries for bands, whiskers and gap marks, and the strip under the plot
//! for points that have no place on it.

use anyhow::Context as _;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::ChartOptions;
use super::axis::{Axis, Coord, TICK_FONT};
use super::data::Gap;
use super::overlay::{GapKind, Overlay, TextStyle};
use super::style::{FONT, GRID, GRID_BOLD, text_width};
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The drawing area of a whole chart.
pub type Root<'b> = DrawingArea<SVGBackend<'b>, Shift>;
/// A chart on our axes.
pub type Plot<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Coord, Coord>>;

/// Margin around the plot, px.
pub const MARGIN: u32 = 16;
/// Width of the y axis area (labels and title), px.
pub const Y_AREA: u32 = 84;
/// Height of the x axis area, px.
pub const X_AREA: u32 = 52;
/// Width of the legend right of the plot, px: outside the plot, so it never hides data (a
/// production sweep has 8 lines that fill every corner).
pub const LEGEND_W: u32 = 210;
/// Font size of axis titles (plotters' size, as `TICK_FONT`).
pub const AXIS_FONT: f64 = 17.0;
/// Font size of captions and legends (plotters' sizes).
pub const CAPTION_FONT: f64 = 24.0;
const LEGEND_FONT: f64 = 15.0;

/// Height of the strip under the plot for points without a place on it, px.
pub const STRIP: u32 = 26;

/// Render a chart: `draw` paints on the root area and adds to the overlay; then the overlay
/// (and the watermark on stand-in runs) goes into the SVG.
pub fn render(
    size: (u32, u32),
    opts: &ChartOptions,
    draw: impl FnOnce(&Root, &mut Overlay) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    let mut svg = String::new();
    let mut overlay = Overlay::default();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root, &mut overlay)?;
        root.present()?;
    }
    if opts.standin {
        overlay.watermark(size);
    }
    Ok(overlay.apply(svg))
}

/// The SVG of a chart plotters refused to draw: the same size, saying so in its text, so a
/// report shows why instead of an empty box.
pub fn unrenderable(size: (u32, u32), title: &str, e: &anyhow::Error) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}"><text x="16" y="32" font-family="sans-serif" font-size="14">{}: cannot draw the chart: {}</text></svg>"#,
        size.0,
        size.1,
        super::overlay::esc(title),
        super::overlay::esc(&format!("{e:#}"))
    )
}

/// The width of the plotting area of an x–y chart on a canvas `width` wide (to thin ticks
/// before the chart exists).
pub fn plot_width(width: u32) -> f64 {
    (width - 2 * MARGIN - Y_AREA - LEGEND_W) as f64
}

/// A chart on `root` with our axes: caption, ticks where the axes put them, unit labels, a
/// light grid; no caption when `title` is empty. `below`: extra room under the x axis (for
/// [`strip`], rotated labels); `legend`: room for [`legend`] right of the plot.
pub fn frame<'a, 'b>(
    root: &'a Root<'b>,
    title: &str,
    x: &Axis,
    y: &Axis,
    below: u32,
    legend: bool,
) -> anyhow::Result<Plot<'a, 'b>> {
    let mut builder = ChartBuilder::on(root);
    if !title.is_empty() {
        builder.caption(title, (FONT, CAPTION_FONT));
    }
    let mut chart = builder
        .margin(MARGIN)
        .margin_bottom(MARGIN + below)
        .margin_right(MARGIN + if legend { LEGEND_W } else { 0 })
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(x.coord(), y.coord())
        .context("lay out the chart")?;
    let fx = |v: &f64| x.tick_label(*v);
    let fy = |v: &f64| y.tick_label(*v);
    chart
        .configure_mesh()
        .x_desc(x.label.as_str())
        .y_desc(y.label.as_str())
        .label_style((FONT, TICK_FONT))
        .axis_desc_style((FONT, AXIS_FONT))
        .bold_line_style(GRID_BOLD.stroke_width(1))
        .light_line_style(GRID.stroke_width(1))
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .draw()
        .context("draw the axes")?;
    Ok(chart)
}

/// A data series: a 2-px line through `pts` in order (when there are two or more) and a dot
/// on each. Legend icons are drawn 3 px wide, so 2-px polylines in the SVG are exactly the
/// data lines.
pub fn series<'a, 'b: 'a>(
    chart: &mut Plot<'a, 'b>,
    pts: &[(f64, f64)],
    color: RGBColor,
) -> anyhow::Result<()> {
    if pts.len() > 1 {
        chart.draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?;
    }
    chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    Ok(())
}

/// What a legend entry shows.
#[derive(Clone, Copy)]
pub enum Icon {
    /// A series: line and dot.
    Line(RGBColor),
    /// A shaded band.
    Band,
    /// A bar capped at its top (p50 to p99).
    Bar,
    /// A whisker capped at both ends (min–max over repeats).
    Whisker,
    /// A gap mark.
    Cross(GapKind),
    /// A hollow circle (an invalid run).
    Hollow(RGBColor),
}

/// The legend, drawn right of the plot (plotters can only put its legend inside the plot,
/// where a production sweep's 8 lines leave no free corner).
#[derive(Default)]
pub struct Legend(Vec<(Icon, String)>);

impl Legend {
    pub fn add(&mut self, icon: Icon, label: impl Into<String>) {
        self.0.push((icon, label.into()));
    }

    /// Entries for the kinds of gap marks present.
    pub fn gaps(&mut self, gaps: &[Gap]) {
        if gaps.iter().any(|g| g.kind == GapKind::Failed) {
            self.add(Icon::Cross(GapKind::Failed), "failed (hover ✕ for why)");
        }
        if gaps.iter().any(|g| g.kind != GapKind::Failed) {
            self.add(Icon::Cross(GapKind::NotRun), "not run / no value");
        }
    }

    /// Draw it beside `chart`'s plot, top-aligned.
    pub fn draw(&self, root: &Root, chart: &Plot) -> anyhow::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let (x0, y0) = (xs.end + 14, ys.start);
        let row = 20;
        // As wide as the longest label needs (text is measured by the viewer; estimate).
        let text = self
            .0
            .iter()
            .map(|(_, l)| text_width(l, LEGEND_FONT / 1.24))
            .fold(0.0, f64::max);
        let w = (text as i32 + 44).max(LEGEND_W as i32 - 14);
        let h = row * self.0.len() as i32 + 10;
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            WHITE.filled(),
        ))?;
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y0 + h)],
            RGBColor(170, 170, 170).stroke_width(1),
        ))?;
        let font = (FONT, LEGEND_FONT)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (i, (icon, label)) in self.0.iter().enumerate() {
            let (x, y) = (x0 + 8, y0 + 5 + row * i as i32 + row / 2);
            draw_icon(root, *icon, (x, y))?;
            root.draw(&Text::new(label.as_str(), (x + 26, y), font.clone()))?;
        }
        Ok(())
    }
}

/// An icon 20 px wide starting at `(x, y)` (vertically centred on `y`).
fn draw_icon(root: &Root, icon: Icon, (x, y): (i32, i32)) -> anyhow::Result<()> {
    let thin = BLACK.stroke_width(1);
    match icon {
        Icon::Line(c) => {
            root.draw(&PathElement::new(
                vec![(x, y), (x + 20, y)],
                c.stroke_width(3),
            ))?;
            root.draw(&Circle::new((x + 10, y), 4, c.filled()))?;
        }
        Icon::Band => root.draw(&Rectangle::new(
            [(x, y - 6), (x + 20, y + 6)],
            RGBColor(90, 90, 90).mix(0.25).filled(),
        ))?,
        Icon::Bar => {
            root.draw(&PathElement::new(
                vec![(x + 10, y - 7), (x + 10, y + 7)],
                thin,
            ))?;
            root.draw(&PathElement::new(
                vec![(x + 7, y - 7), (x + 15, y - 7)],
                thin,
            ))?;
        }
        Icon::Whisker => {
            root.draw(&PathElement::new(
                vec![(x + 10, y - 7), (x + 10, y + 7)],
                thin,
            ))?;
            for e in [y - 7, y + 7] {
                root.draw(&PathElement::new(vec![(x + 5, e), (x + 15, e)], thin))?;
            }
        }
        Icon::Cross(kind) => {
            let c = kind.color().stroke_width(3);
            root.draw(&PathElement::new(vec![(x + 5, y - 5), (x + 15, y + 5)], c))?;
            root.draw(&PathElement::new(vec![(x + 5, y + 5), (x + 15, y - 5)], c))?;
        }
        Icon::Hollow(c) => root.draw(&Circle::new((x + 10, y), 5, c.stroke_width(3)))?,
    }
    Ok(())
}

/// Gap marks on the x axis baseline, at the x of each gap (`x_of`, plot space); marks at the
/// same x stack upwards, each with the series' short name beside it in the series' colour.
pub fn baseline_marks(
    chart: &Plot,
    overlay: &mut Overlay,
    gaps: &[&Gap],
    x_of: impl Fn(&Gap) -> f64,
    label_of: impl Fn(&Gap) -> (String, RGBColor),
) {
    let y0 = chart.y_range().start;
    let mut stacked: Vec<(i32, i32)> = Vec::new();
    for g in gaps {
        let (px, py) = chart.backend_coord(&(x_of(g), y0));
        let n = match stacked.iter_mut().find(|(x, _)| *x == px) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                stacked.push((px, 0));
                0
            }
        };
        let at = (px, py - 10 - 14 * n);
        overlay.gap_mark(at, g.kind, &g.note);
        let (label, color) = label_of(g);
        overlay.text(
            (at.0 + 8, at.1),
            &label,
            TextStyle::new(10, color),
            Some(&g.note),
        );
    }
}

/// Room for a [`strip`] when there is something to list.
pub fn strip_room(needed: bool) -> u32 {
    if needed { STRIP } else { 0 }
}

/// A row under the plot listing points that have no place on it (✕ and a short label each,
/// the reason as tooltip); what does not fit is summed up as `+N more`, whose tooltip lists
/// them.
pub fn strip(overlay: &mut Overlay, size: (u32, u32), lead: &str, items: &[(String, &Gap)]) {
    if items.is_empty() {
        return;
    }
    let y = size.1 as i32 - (MARGIN as i32 + STRIP as i32 / 2) + 4;
    let mut x = (MARGIN + 8) as f64;
    let style = TextStyle::new(12, RGBColor(60, 60, 60));
    overlay.text((x as i32, y), lead, style, None);
    x += text_width(lead, 12.0) + 10.0;
    let right = (size.0 - MARGIN) as f64 - 70.0;
    for (i, (label, g)) in items.iter().enumerate() {
        let w = 14.0 + text_width(label, 12.0) + 20.0;
        if x + w > right {
            let rest: Vec<&str> = items[i..].iter().map(|(_, g)| g.note.as_str()).collect();
            overlay.text(
                (x as i32, y),
                &format!("+{} more", items.len() - i),
                style,
                Some(&rest.join("\n")),
            );
            return;
        }
        overlay.gap_mark((x as i32 + 5, y), g.kind, &g.note);
        overlay.text((x as i32 + 14, y), label, style, Some(&g.note));
        x += w;
    }
}

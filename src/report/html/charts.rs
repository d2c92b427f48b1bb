//! The "Charts" section: each chart's SVG markup embedded in the page (never an `<img>` of a
//! file, which would not travel with the page), after a check that it cannot load anything.

use super::escape::esc;

pub fn section(charts: &[(String, String)]) -> String {
    if charts.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("<section id=\"charts\">\n<h2>Charts</h2>\n<div class=\"charts\">\n");
    for (title, svg) in charts {
        let body = match inline_svg(svg) {
            Ok(svg) => svg,
            Err(why) => format!("<p class=\"bad\">This chart is left out: {why}.</p>"),
        };
        out.push_str(&format!(
            "<figure>\n{body}\n<figcaption>{}</figcaption>\n</figure>\n",
            esc(title)
        ));
    }
    out.push_str("</div>\n</section>\n");
    out
}

/// The namespace declarations a standalone SVG file carries. Inside HTML the parser puts
/// `<svg>` in the SVG namespace by itself, so they are dropped: they fetch nothing, but they
/// are the only URLs a chart holds, and the page is meant to hold none.
const NAMESPACES: [&str; 2] = [
    " xmlns=\"http://www.w3.org/2000/svg\"",
    " xmlns:xlink=\"http://www.w3.org/1999/xlink\"",
];

/// An SVG document as markup to embed: the XML declaration and doctype dropped, the
/// namespace declarations dropped. Refused (with the reason) when it is not an `<svg>`
/// element, or still names a URL or holds a script, which a chart never needs: the page
/// must stay self-contained whatever a chart module produces.
pub fn inline_svg(svg: &str) -> Result<String, &'static str> {
    let mut s = svg.trim();
    for prolog in ["<?xml", "<!DOCTYPE", "<!doctype"] {
        if s.starts_with(prolog)
            && let Some(end) = s.find('>')
        {
            s = s[end + 1..].trim_start();
        }
    }
    if !s.starts_with("<svg") {
        return Err("it is not SVG markup");
    }
    let mut s = s.to_string();
    for ns in NAMESPACES {
        s = s.replace(ns, "");
    }
    let lower = s.to_ascii_lowercase();
    if lower.contains("://") {
        return Err("it refers to something outside the page");
    }
    if lower.contains("<script")
        || lower.contains("javascript:")
        || lower.contains("<foreignobject")
    {
        return Err("it holds a script or foreign content");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plotters_svg_is_embedded_without_urls() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"9\" height=\"5\" viewBox=\"0 0 9 5\" xmlns=\"http://www.w3.org/2000/svg\">\n<text>a &lt; b</text>\n</svg>\n";
        let inline = inline_svg(svg).expect("embeds");
        assert!(inline.starts_with("<svg width=\"9\""));
        assert!(!inline.contains("://"));
        assert!(inline.contains("<text>a &lt; b</text>"));
    }

    #[test]
    fn svg_that_could_load_or_run_something_is_left_out() {
        for bad in [
            "<svg><image href=\"https://cdn.example/x.png\"/></svg>",
            "<svg><script>alert(1)</script></svg>",
            "<svg><a href=\"javascript:alert(1)\"/></svg>",
            "<img src=x>",
        ] {
            assert!(inline_svg(bad).is_err(), "{bad}");
        }
        let page = section(&[("t".into(), "<svg><script>x</script></svg>".into())]);
        assert!(page.contains("This chart is left out"));
        assert!(!page.contains("<script"));
    }
}

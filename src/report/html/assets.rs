//! The page's own stylesheet and script, inlined into every page, and the Content Security
//! Policy that lets exactly that script run and nothing load.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The stylesheet (system font stacks only).
pub const STYLE: &str = include_str!("style.css");

/// The table-sorting script; the page's only script.
pub const SCRIPT: &str = include_str!("sort.js");

/// The policy of the page's `<meta http-equiv="Content-Security-Policy">`. `default-src
/// 'none'` forbids every fetch (scripts, styles, images, fonts, frames, connections), so even
/// markup that slipped through escaping could not load anything; scripts run only when their
/// text hashes to our script's, so neither could an injected inline `<script>`. Styles may be
/// inline (our `<style>`, and the attributes of the charts' SVG): with every fetch forbidden,
/// CSS cannot reach out either.
pub fn csp() -> String {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SCRIPT));
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; \
         base-uri 'none'; form-action 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_cannot_close_their_own_elements_or_fetch() {
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        for text in [STYLE, SCRIPT] {
            assert!(!text.contains("://"), "no URL in the page's assets");
            assert!(!text.contains("url("), "no url() in the stylesheet");
            assert!(!text.contains("@import"));
        }
    }

    #[test]
    fn policy_names_the_hash_of_the_script() {
        // That the hash is the right one shows in tests/report_html.rs: Chromium runs the
        // script under this policy (a wrong hash is a console error there).
        let p = csp();
        assert!(p.starts_with("default-src 'none';"));
        let hash = p
            .split("'sha256-")
            .nth(1)
            .and_then(|s| s.split('\'').next());
        assert_eq!(hash.map(str::len), Some(44), "base64 of 32 bytes: {p}");
    }
}

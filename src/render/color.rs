//! Whether output is coloured: `--color auto|always|never` and `NO_COLOR` (no-color.org),
//! decided once at start for stdout and stderr and handed to `console`, whose setting every
//! styled line and indicatif's bars follow. `always` and `never` win over the environment;
//! `auto` colours a terminal unless `NO_COLOR` is set, even to `CLICOLOR_FORCE` (console's own
//! detection, with `CLICOLOR`, decides the rest; like console, an empty `NO_COLOR` counts as
//! set).

/// The colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

/// What to force, given the choice and whether `NO_COLOR` is set: `Some(on)` for
/// both streams, `None` to leave console's per-stream terminal detection alone.
pub fn decide(choice: Color, no_color: bool) -> Option<bool> {
    match choice {
        Color::Always => Some(true),
        Color::Never => Some(false),
        Color::Auto if no_color => Some(false),
        Color::Auto => None,
    }
}

/// `NO_COLOR` is set.
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some()
}

/// Apply the choice to console (stdout and stderr).
pub fn apply(choice: Color) {
    if let Some(on) = decide(choice, no_color_env()) {
        console::set_colors_enabled(on);
        console::set_colors_enabled_stderr(on);
    }
}

/// A line for stderr in a colour, or plain when stderr gets no colour.
pub fn paint(line: impl std::fmt::Display, style: console::Style) -> String {
    style.for_stderr().apply_to(line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_and_no_color_turns_auto_off() {
        assert_eq!(decide(Color::Always, true), Some(true));
        assert_eq!(decide(Color::Never, false), Some(false));
        assert_eq!(decide(Color::Auto, true), Some(false));
        assert_eq!(decide(Color::Auto, false), None);
    }
}

//! `${VAR}` expansion in string values: `${VAR}` (an error when unset), `${VAR:-default}`
//! (default when unset or empty) and `$$` for a literal `$`. Any other `$` is kept as is, so
//! shell-looking text such as `$HOME` is not silently rewritten. The environment is passed in
//! as a lookup function so tests need not mutate the process environment.

use std::fmt;

/// Why a string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${VAR}` with no default and VAR not set.
    Unset(String),
    /// `${` with no closing `}`.
    Unterminated,
    /// `${…}` whose name is not `[A-Za-z_][A-Za-z0-9_]*`.
    BadName(String),
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::Unset(v) => write!(
                f,
                "environment variable {v} is not set (used as ${{{v}}}); set it, or write ${{{v}:-default}}"
            ),
            ExpandError::Unterminated => {
                f.write_str("`${` without a closing `}` (write `$$` for a literal `$`)")
            }
            ExpandError::BadName(n) => write!(
                f,
                "`${{{n}}}` is not a variable reference: names are letters, digits and _ (write `$$` for a literal `$`)"
            ),
        }
    }
}

/// Names the expansion may read: the process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Expand `s` with `lookup`.
pub fn expand(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(body_and_rest) = after.strip_prefix('{') {
            let end = body_and_rest.find('}').ok_or(ExpandError::Unterminated)?;
            let body = &body_and_rest[..end];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if !valid_name(name) {
                return Err(ExpandError::BadName(body.to_string()));
            }
            match (lookup(name), default) {
                (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(ExpandError::Unset(name.to_string())),
            }
            rest = &body_and_rest[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "EMPTY" => Some(String::new()),
            "TP" => Some("8".into()),
            _ => None,
        }
    }

    #[test]
    fn set_variables_expand() {
        assert_eq!(expand("${HOME}/.cache", &env).unwrap(), "/home/u/.cache");
        assert_eq!(expand("a${TP}b${TP}", &env).unwrap(), "a8b8");
        assert_eq!(expand("${EMPTY}", &env).unwrap(), "");
        assert_eq!(expand("no dollars", &env).unwrap(), "no dollars");
    }

    #[test]
    fn unset_without_default_is_an_error() {
        assert_eq!(
            expand("x ${NOPE} y", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert!(
            ExpandError::Unset("NOPE".into())
                .to_string()
                .contains("NOPE is not set")
        );
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(expand("${NOPE:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(expand("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(expand("${TP:-4}", &env).unwrap(), "8");
        assert_eq!(expand("${NOPE:-a:b/c}", &env).unwrap(), "a:b/c");
    }

    #[test]
    fn dollar_escapes_and_plain_dollars() {
        assert_eq!(expand("$$", &env).unwrap(), "$");
        assert_eq!(expand("$${HOME}", &env).unwrap(), "${HOME}");
        assert_eq!(expand("cost: 5$", &env).unwrap(), "cost: 5$");
        assert_eq!(expand("$HOME", &env).unwrap(), "$HOME");
        assert_eq!(expand("$$$$", &env).unwrap(), "$$");
    }

    #[test]
    fn malformed_references() {
        assert_eq!(expand("${HOME", &env), Err(ExpandError::Unterminated));
        assert_eq!(
            expand("${1X}", &env),
            Err(ExpandError::BadName("1X".into()))
        );
        assert_eq!(
            expand("${}", &env),
            Err(ExpandError::BadName(String::new()))
        );
        assert_eq!(
            expand("${A B}", &env),
            Err(ExpandError::BadName("A B".into()))
        );
    }
}

//! Configuration errors that point at the cause: `file:line:column`, the field path
//! (`server.tensor_parallel_size`), what was wrong, what is accepted (valid keys or choices,
//! a "did you mean" suggestion) and the offending source line. Values that came from a
//! command-line flag or a built-in default are named as such instead of a file position.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The configuration file, 1-based line and column.
    File { line: u64, column: u64 },
    /// A command-line flag (`--tp`).
    Flag(&'static str),
    /// Built-in default.
    Default,
}

/// A configuration error. `Display` renders the whole diagnostic; the parts are reachable
/// through `Deref` (`err.field`, `err.origin`). Boxed to keep `Result`s small.
#[derive(Debug, Clone)]
pub struct ConfigError(Box<ErrorDetail>);

/// The parts of a `ConfigError`.
#[derive(Debug, Clone)]
pub struct ErrorDetail {
    /// The configuration file, when the error is in one.
    pub file: Option<PathBuf>,
    /// Where the bad value came from (file position, flag, default).
    pub origin: Origin,
    /// Dotted field path (`server.tensor_parallel_size`); empty when unknown.
    pub field: String,
    pub message: String,
    /// Extra lines: accepted values, valid keys, suggestions.
    pub help: Vec<String>,
    /// The source line with a caret under the column.
    pub snippet: Option<String>,
}

impl std::ops::Deref for ConfigError {
    type Target = ErrorDetail;
    fn deref(&self) -> &ErrorDetail {
        &self.0
    }
}

impl From<ErrorDetail> for ConfigError {
    fn from(d: ErrorDetail) -> Self {
        ConfigError(Box::new(d))
    }
}

impl ConfigError {
    /// An error with no help lines and no snippet.
    pub fn new(
        file: Option<PathBuf>,
        origin: Origin,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        ErrorDetail {
            file,
            origin,
            field: field.to_string(),
            message: message.into(),
            help: vec![],
            snippet: None,
        }
        .into()
    }

    /// The 1-based (line, column) when the error is in the file.
    pub fn position(&self) -> Option<(u64, u64)> {
        match self.origin {
            Origin::File { line, column } => Some((line, column)),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_ref().map(|p| p.display().to_string());
        match (&self.origin, file) {
            (Origin::File { line, column }, Some(file)) => write!(f, "{file}:{line}:{column}: ")?,
            (Origin::File { line, column }, None) => write!(f, "configuration:{line}:{column}: ")?,
            (Origin::Default, None) => f.write_str("configuration: ")?,
            (Origin::Default, Some(file)) => write!(f, "{file}: ")?,
            (Origin::Flag(flag), _) => write!(f, "{flag}: ")?,
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)?;
        if self.origin == Origin::Default {
            f.write_str(" (a built-in default; set it in the configuration file)")?;
        }
        for h in &self.help {
            write!(f, "\n  {h}")?;
        }
        if let Some(s) = &self.snippet {
            write!(f, "\n{s}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The file being loaded and where each effective value came from; builds located errors.
#[derive(Debug, Default, Clone)]
pub struct Ctx {
    pub file: Option<PathBuf>,
    pub text: String,
    pub origins: HashMap<String, Origin>,
}

impl Ctx {
    /// Record where `path`'s value came from.
    pub fn set_origin(&mut self, path: &str, origin: Origin) {
        self.origins.insert(path.to_string(), origin);
    }

    /// The origin of `path`, or of its nearest recorded parent (`server.volumes[1]` →
    /// `server.volumes`), else the built-in default.
    pub fn origin_of(&self, path: &str) -> Origin {
        let mut p = path;
        loop {
            if let Some(o) = self.origins.get(p) {
                return o.clone();
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
                None => return Origin::Default,
            }
        }
    }

    /// An error about the value at `path`.
    pub fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        self.error_at(self.origin_of(path), path, message)
    }

    /// An error at an explicit origin.
    pub fn error_at(&self, origin: Origin, path: &str, message: impl Into<String>) -> ConfigError {
        let snippet = match origin {
            Origin::File { line, column } => snippet(&self.text, line, column),
            _ => None,
        };
        ErrorDetail {
            file: self.file.clone(),
            origin,
            field: path.to_string(),
            message: message.into(),
            help: vec![],
            snippet,
        }
        .into()
    }
}

impl ConfigError {
    /// Add a help line.
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.0.help.push(h.into());
        self
    }
}

/// `   12 | source line` and a caret line under `column`. A line that sets a secret-named
/// key (`HF_TOKEN: hf_…`) or carries a secret flag is shown with its value hidden: error
/// output must not leak what `vbench config` would redact.
fn snippet(text: &str, line: u64, column: u64) -> Option<String> {
    let raw = text.lines().nth(line.checked_sub(1)? as usize)?;
    let src = hide_secret(raw);
    let num = line.to_string();
    let pad = " ".repeat(num.len());
    let caret_pad = " ".repeat(column.saturating_sub(1) as usize);
    Some(format!(" {num} | {src}\n {pad} | {caret_pad}^"))
}

fn hide_secret(raw: &str) -> String {
    let indent = raw.len() - raw.trim_start_matches([' ', '-']).len();
    let content = &raw[indent..];
    if let Some(key) = key_of(content)
        && super::redact::is_secret_name(&key)
        && let Some(colon) = content.find(':')
    {
        return format!(
            "{}{}: {}",
            &raw[..indent],
            &content[..colon],
            super::redact::REDACTED
        );
    }
    let lower = raw.to_ascii_lowercase();
    if ["key", "token", "secret", "password", "passwd"]
        .iter()
        .any(|w| lower.contains(w))
        && raw.contains("--")
    {
        // A list of argv items on one line: keep only the part before the first secret flag.
        let cut = ["key", "token", "secret", "password", "passwd"]
            .iter()
            .filter_map(|w| lower.find(w))
            .min()
            .unwrap_or(0);
        let cut = raw[..cut].rfind("--").unwrap_or(cut);
        return format!("{}{}", &raw[..cut], super::redact::REDACTED);
    }
    raw.to_string()
}

/// Where each value of a loaded `Config` came from, kept with it so that checks which need
/// the host (how many GPUs it has) can still point at `file:line:column`, a flag or the
/// default, like a load-time error. Not part of the configuration's value: two configurations
/// with the same values are equal wherever they came from, and it is never serialised.
#[derive(Clone, Default)]
pub struct Provenance(Option<std::sync::Arc<Ctx>>);

impl Provenance {
    pub(crate) fn new(ctx: Ctx) -> Self {
        Provenance(Some(std::sync::Arc::new(ctx)))
    }

    /// The loading context (an empty one for a configuration that was not loaded).
    pub(crate) fn ctx(&self) -> std::borrow::Cow<'_, Ctx> {
        match &self.0 {
            Some(ctx) => std::borrow::Cow::Borrowed(ctx),
            None => std::borrow::Cow::Owned(Ctx::default()),
        }
    }

    /// An error about the value at `path` (`server.gpus`), located where that value was set.
    pub fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        match &self.0 {
            Some(ctx) => ctx.error(path, message),
            None => ConfigError::new(None, Origin::Default, path, message),
        }
    }

    /// Where the value at `path` was set, in words: `vbench.yaml:5:3`, `--tp`, `the built-in
    /// default`.
    pub fn describe(&self, path: &str) -> String {
        let ctx = self.0.as_deref();
        let origin = ctx.map_or(Origin::Default, |c| c.origin_of(path));
        describe_origin(ctx.and_then(|c| c.file.as_deref()), &origin)
    }
}

/// `file:line:column` (or `line L, column C` without a file), the flag, or `the built-in default`.
pub fn describe_origin(file: Option<&std::path::Path>, origin: &Origin) -> String {
    match (origin, file) {
        (Origin::File { line, column }, Some(f)) => format!("{}:{line}:{column}", f.display()),
        (Origin::File { line, column }, None) => format!("line {line}, column {column}"),
        (Origin::Flag(flag), _) => (*flag).to_string(),
        (Origin::Default, _) => "the built-in default".to_string(),
    }
}

/// The file text may hold secrets: never print it.
impl fmt::Debug for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Provenance(..)")
    }
}

impl PartialEq for Provenance {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// The closest candidate to `word`, if close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The dotted key path at (`line`, `column`) of a block-style YAML text, found by a light
/// indentation scan (serde-saphyr reports positions but not paths). Best effort: flow-style
/// mappings spanning lines are not followed.
pub fn path_at(text: &str, line: u64, column: u64) -> String {
    let mut stack: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let ln = i as u64 + 1;
        if ln > line {
            break;
        }
        let mut indent = raw.len() - raw.trim_start_matches(' ').len();
        let mut content = &raw[indent..];
        // `- key: v` opens a mapping inside a sequence item, indented past the dash.
        while let Some(rest) = content.strip_prefix("- ") {
            let extra = 2 + rest.len() - rest.trim_start_matches(' ').len();
            indent += extra;
            content = &raw[indent..];
        }
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let key = key_of(content);
        stack.retain(|(ind, _)| *ind < indent);
        if let Some(k) = key
            && (ln < line || column as usize > indent)
        {
            stack.push((indent, k));
        }
        if ln == line {
            break;
        }
    }
    stack
        .into_iter()
        .map(|(_, k)| k)
        .collect::<Vec<_>>()
        .join(".")
}

/// The mapping key at the start of `content` (`key:` followed by a space or end of line).
fn key_of(content: &str) -> Option<String> {
    let (key, rest) = if let Some(q) = content
        .strip_prefix('"')
        .or_else(|| content.strip_prefix('\''))
    {
        let quote = content.as_bytes()[0] as char;
        let end = q.find(quote)?;
        (q[..end].to_string(), &q[end + 1..])
    } else {
        let end = content.find(':')?;
        let k = content[..end].trim_end();
        if k.is_empty() || k.contains([' ', '[', '{', ',', '"', '\'']) {
            return None;
        }
        (k.to_string(), &content[end..])
    };
    let rest = rest.trim_start_matches(' ');
    let after = rest.strip_prefix(':')?;
    (after.is_empty() || after.starts_with([' ', '\t'])).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_by_edit_distance() {
        let keys = [
            "tensor_parallel_size",
            "gpu_memory_utilization",
            "port",
            "model",
        ];
        assert_eq!(
            suggest("tensor_paralel_size", &keys),
            Some("tensor_parallel_size")
        );
        assert_eq!(suggest("modle", &keys), Some("model"));
        assert_eq!(suggest("completely_else", &keys), None);
    }

    #[test]
    fn key_paths_from_positions() {
        let y = "server:\n  model: m\n  env:\n    HF_TOKEN: x\nsweeps:\n  long:\n    input_lens:\n      - 1K\n      - bad\n";
        assert_eq!(path_at(y, 2, 3), "server.model");
        assert_eq!(path_at(y, 2, 10), "server.model");
        assert_eq!(path_at(y, 4, 5), "server.env.HF_TOKEN");
        assert_eq!(path_at(y, 9, 9), "sweeps.long.input_lens");
        assert_eq!(path_at(y, 5, 1), "sweeps");
        assert_eq!(path_at("# c\nrun:\n  # x\n  seed: a\n", 4, 9), "run.seed");
    }

    #[test]
    fn snippets_hide_secret_values() {
        assert_eq!(hide_secret("    HF_TOKEN: hf_abc"), "    HF_TOKEN: ***");
        assert_eq!(
            hide_secret("  extra_args: [--port, \"1\", --api-key, sk-1]"),
            "  extra_args: [--port, \"1\", ***"
        );
        assert_eq!(hide_secret("  model: org/m"), "  model: org/m");
        let ctx = Ctx {
            file: None,
            text: "env:\n  MY_KEY: [oops-secret]\n".into(),
            ..Default::default()
        };
        let s = ctx
            .error_at(
                Origin::File {
                    line: 2,
                    column: 11,
                },
                "env.MY_KEY",
                "expected string scalar",
            )
            .to_string();
        assert!(!s.contains("oops-secret"), "{s}");
    }

    #[test]
    fn rendered_error_names_file_line_column_field() {
        let ctx = Ctx {
            file: Some("v.yaml".into()),
            text: "server:\n  port: 0\n".into(),
            ..Default::default()
        };
        let e = ctx
            .error_at(
                Origin::File { line: 2, column: 9 },
                "server.port",
                "must be 1-65535, got 0",
            )
            .help("expected: an integer 1-65535");
        let s = e.to_string();
        assert!(
            s.starts_with(
                "v.yaml:2:9: server.port: must be 1-65535, got 0\n  expected: an integer 1-65535"
            ),
            "{s}"
        );
        assert!(s.contains(" 2 |   port: 0\n   |         ^"), "{s}");
    }
}

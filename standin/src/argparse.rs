//! A small argument parser that fails the way Python's argparse does in vLLM, so the
//! stand-in rejects what real vLLM rejects, with the same words and exit code 2:
//! `vllm: error: unrecognized arguments: …`. Flags may be spelt with `_` or `-` (vLLM's
//! FlexibleArgumentParser accepts both) and as `--flag value` or `--flag=value`.

use std::collections::BTreeMap;

/// How a flag takes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--flag VALUE`
    Value,
    /// `--flag` (store_true)
    Switch,
    /// `--flag [A B …]` (nargs="+": one or more values up to the next flag)
    Many,
    /// `--flag [A …]` (nargs="*": zero or more values up to the next flag)
    AnyNumber,
}

#[derive(Debug, Clone)]
pub struct Flag {
    /// All spellings, long first: `["--port"]`, `["--help", "-h"]`.
    pub names: &'static [&'static str],
    pub kind: Kind,
}

/// The parse result: values by the flag's first name without dashes (`port`, `max_model_len`),
/// plus positionals in order.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub values: BTreeMap<String, Vec<String>>,
    pub positionals: Vec<String>,
}

/// A parse failure: the message argparse would print after the usage line, and exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    pub message: String,
}

impl ArgError {
    /// Print like argparse (usage line, then `vllm: error: …`) and return exit code 2.
    pub fn report(&self, usage: &str) -> i32 {
        eprintln!("usage: {usage}");
        eprintln!("vllm: error: {}", self.message);
        2
    }
}

fn key(name: &str) -> String {
    name.trim_start_matches('-').replace('-', "_")
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(&key(name))
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.values
            .get(&key(name))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(&key(name))
    }

    /// A typed value, with argparse's wording when it does not parse.
    pub fn parse<T: std::str::FromStr>(
        &self,
        name: &str,
        type_name: &str,
    ) -> Result<Option<T>, ArgError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| ArgError {
                message: format!("argument {name}: invalid {type_name} value: '{v}'"),
            }),
        }
    }
}

/// Parse `args` against `flags`. At most `max_positionals` positionals are accepted; extra
/// positionals and unknown flags are reported together, as argparse does.
pub fn parse(args: &[String], flags: &[Flag], max_positionals: usize) -> Result<Parsed, ArgError> {
    let find = |arg: &str| -> Option<&Flag> {
        let norm = arg.replace('_', "-");
        flags
            .iter()
            .find(|f| f.names.iter().any(|n| *n == norm || *n == arg))
    };
    let mut out = Parsed::default();
    let mut unknown: Vec<String> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg.starts_with('-') && arg.len() > 1 && arg.parse::<f64>().is_err() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let Some(flag) = find(&name) else {
                unknown.push(arg.clone());
                continue;
            };
            let k = key(flag.names[0]);
            match flag.kind {
                Kind::Switch => {
                    if inline.is_some() {
                        return Err(ArgError {
                            message: format!(
                                "argument {}: ignored explicit argument '{}'",
                                flag.names[0],
                                inline.unwrap_or_default()
                            ),
                        });
                    }
                    out.values.entry(k).or_default().push("true".into());
                }
                Kind::Value => {
                    let v = match inline {
                        Some(v) => v,
                        None => match args.get(i) {
                            Some(v)
                                if !(v.starts_with("--")
                                    || (v.starts_with('-')
                                        && v.len() > 1
                                        && v.parse::<f64>().is_err())) =>
                            {
                                i += 1;
                                v.clone()
                            }
                            _ => {
                                return Err(ArgError {
                                    message: format!(
                                        "argument {}: expected one argument",
                                        flag.names.join("/")
                                    ),
                                });
                            }
                        },
                    };
                    out.values.insert(k, vec![v]);
                }
                Kind::Many | Kind::AnyNumber => {
                    let mut vals = Vec::new();
                    if let Some(v) = inline {
                        vals.push(v);
                    }
                    while let Some(v) = args.get(i) {
                        if v.starts_with('-') && v.len() > 1 && v.parse::<f64>().is_err() {
                            break;
                        }
                        vals.push(v.clone());
                        i += 1;
                    }
                    if vals.is_empty() && flag.kind == Kind::Many {
                        return Err(ArgError {
                            message: format!(
                                "argument {}: expected at least one argument",
                                flag.names.join("/")
                            ),
                        });
                    }
                    out.values.insert(k, vals);
                }
            }
        } else if out.positionals.len() < max_positionals {
            out.positionals.push(arg.clone());
        } else {
            unknown.push(arg.clone());
        }
    }
    if !unknown.is_empty() {
        return Err(ArgError {
            message: format!("unrecognized arguments: {}", unknown.join(" ")),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag {
            names: &["--port"],
            kind: Kind::Value,
        },
        Flag {
            names: &["--enforce-eager"],
            kind: Kind::Switch,
        },
        Flag {
            names: &["--metadata"],
            kind: Kind::Many,
        },
    ];

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn accepts_both_spellings_and_inline_values() {
        let p = parse(
            &s(&[
                "model",
                "--port=9",
                "--enforce_eager",
                "--metadata",
                "a=1",
                "b=2",
            ]),
            FLAGS,
            1,
        )
        .unwrap();
        assert_eq!(p.get("--port"), Some("9"));
        assert!(p.has("--enforce-eager"));
        assert_eq!(p.all("--metadata"), &s(&["a=1", "b=2"])[..]);
        assert_eq!(p.positionals, s(&["model"]));
    }

    #[test]
    fn unknown_flags_are_reported_like_argparse() {
        let e = parse(&s(&["m", "--bogus", "x", "--port", "1"]), FLAGS, 1).unwrap_err();
        assert_eq!(e.message, "unrecognized arguments: --bogus x");
        let e = parse(&s(&["--port"]), FLAGS, 1).unwrap_err();
        assert_eq!(e.message, "argument --port: expected one argument");
    }
}

//! The JSON Schema of `vbench.yaml` (`vbench config --schema`), for editors. It is derived
//! from the very types the loader reads the file into (`file::Raw*`, `deny_unknown_fields`
//! becoming `additionalProperties: false`), so a key added there is in the schema at once.
//!
//! Those types hold `serde_saphyr::Spanned` values (for `file:line:column` errors), which
//! schemars cannot see through; each field names what it accepts with one of the marker
//! types below instead. They accept what the loader accepts as it reads the file: any YAML
//! scalar where it reads text (`output_len: 500`, `OMP_NUM_THREADS: 8`), `${VAR}` in the text
//! of a choice (`gpu: ${GPU:-auto}`), `null` for "the default"; integer ranges are the
//! loader's. Checks that need more than the value's form (a valid container name, an existing
//! sweep) stay with the loader, which names file:line:column.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

use super::file::RawConfig;

/// The schema (no `$id`: editors take it from a file or a modeline).
pub fn schema() -> Value {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<RawConfig>();
    let mut value = schema.to_value();
    // An empty file (YAML null) is a valid configuration: every key takes its default.
    value["type"] = json!(["object", "null"]);
    value
}

/// A schema type that only describes values: inlined at each use.
macro_rules! marker {
    ($(#[doc = $doc:literal])* $name:ident => $json:tt) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($json)
            }
        }
    };
}

/// One of `values`, or text with `${VAR}` that the loader expands before choosing.
fn choice(values: &[&str]) -> Schema {
    let v: Vec<Value> = values.iter().map(|s| json!(s)).collect();
    json_schema!({
        "anyOf": [
            { "enum": v },
            { "type": "string", "pattern": "\\$\\{" }
        ]
    })
}

/// A choice among fixed words (`${VAR}` allowed).
macro_rules! choice {
    ($(#[doc = $doc:literal])* $name:ident => [$($v:literal),+]) => {
        $(#[doc = $doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                choice(&[$($v),+])
            }
        }
    };
}

marker! {
    /// Text (a name, a path, an argument, an environment value; `${VAR}` expanded). The
    /// loader reads any YAML scalar as its text (`OMP_NUM_THREADS: 8`, `[--max-num-seqs, 256]`),
    /// so numbers and booleans are accepted too; names are checked by the loader.
    Scalar => { "type": ["string", "number", "boolean"] }
}
marker! {
    /// `90s`, `30m`, `1h30m` (units ms, s, m, h, d) or plain seconds.
    Duration => { "type": ["string", "integer"], "minimum": 0 }
}
marker! {
    /// `16g`, `16GiB`, `512m` or plain bytes (k/m/g/t are powers of 1024, as Docker reads them).
    Size => { "type": ["string", "integer"], "minimum": 0 }
}
marker! {
    /// A token count: an integer, or `<n>K` with K = 1024 (`1K`, `96K`).
    Tokens => { "type": ["string", "integer"], "minimum": 1 }
}
marker! {
    /// `inf`, or requests per second.
    RequestRate => { "type": ["string", "number"], "exclusiveMinimum": 0 }
}
marker! {
    /// A TCP port.
    Port => { "type": "integer", "minimum": 1, "maximum": 65535 }
}
marker! {
    /// An integer >= 1.
    Positive => { "type": "integer", "minimum": 1 }
}
marker! {
    /// An integer >= 1 that fits in 32 bits.
    Positive32 => { "type": "integer", "minimum": 1, "maximum": 4294967295u64 }
}
marker! {
    /// An integer >= 0.
    NonNegative => { "type": "integer", "minimum": 0 }
}
marker! {
    /// Repeats of each point: 1 to 1000.
    Repeats => { "type": "integer", "minimum": 1, "maximum": 1000 }
}
marker! {
    /// A fraction in (0, 1].
    Fraction => { "type": "number", "exclusiveMinimum": 0, "maximum": 1 }
}
marker! {
    /// An SLO search level (a concurrency or a request rate), > 0.
    Level => { "type": "number", "exclusiveMinimum": 0 }
}
marker! {
    /// Points per input length of an SLO search: 2 to 1000.
    MaxPoints => { "type": "integer", "minimum": 2, "maximum": 1000 }
}
marker! {
    /// Runs of an SLO search's boundary levels: 1 to 50.
    BoundaryRepeats => { "type": "integer", "minimum": 1, "maximum": 50 }
}
marker! {
    /// A fraction in (0, 1).
    Precision => { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 }
}
marker! {
    /// `all`, a GPU count (the first N), or a list of GPU indices; text may use `${VAR}`
    /// (`4,5,6,7` as text is a list too).
    Gpus => {
        "anyOf": [
            { "type": "integer", "minimum": 1, "maximum": 1024 },
            { "type": "string" },
            { "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 1023 }, "minItems": 1 }
        ]
    }
}
choice! {
    /// GPU preset.
    GpuMode => ["auto", "nvidia", "amd", "none"]
}
choice! {
    /// Pull policy.
    Pull => ["missing", "always", "never"]
}
choice! {
    /// How the client runs each point.
    ClientMode => ["auto", "worker", "process"]
}
choice! {
    /// What an SLO search varies.
    SloBy => ["concurrency", "rate"]
}
choice! {
    /// Result file naming.
    Layout => ["production", "scaling", "custom"]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        let s = schema();
        assert_eq!(s["additionalProperties"], json!(false), "{s:#}");
        for def in [
            "Server",
            "Client",
            "Sweep",
            "Run",
            "Slo",
            "Combination",
            "Host",
        ] {
            assert_eq!(
                s["$defs"][def]["additionalProperties"],
                json!(false),
                "{def}: {:#}",
                s["$defs"][def]
            );
        }
    }

    #[test]
    fn every_key_of_the_loader_is_in_the_schema() {
        let s = schema();
        let keys = |v: &Value| -> Vec<String> {
            v["properties"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        assert_eq!(
            keys(&s),
            [
                "server",
                "client",
                "network",
                "results_dir",
                "sweeps",
                "run",
                "pull",
                "matrix",
                "hosts"
            ]
        );
        assert!(keys(&s["$defs"]["Host"]).contains(&"docker_host".to_string()));
        assert!(keys(&s["$defs"]["Server"]).contains(&"gpus".to_string()));
        assert!(keys(&s["$defs"]["Sweep"]).contains(&"repeats".to_string()));
    }
}

//! JSON renderer: one JSON object per event per line on stdout (`--json`), each with the
//! event stream's `schema_version` and a `ts` (docs/events.md).

use std::io::Write;
use std::sync::Mutex;

use crate::events::{Event, SCHEMA_VERSION, Sink};

pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLines {
    pub fn stdout() -> Self {
        Self::new(Box::new(std::io::stdout()))
    }

    pub fn new(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }
}

/// The JSON line of one event: the event's object with `schema_version` and `ts` last.
/// Serialized straight to text (no `serde_json::Value` tree: the `summary` of a 1000-point run
/// is 2.4 MB as text and several times that as a tree); an event is always an object (serde's
/// `tag`), and no event has fields of those two names.
pub fn to_line(event: &Event) -> String {
    let mut line = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    if line.ends_with('}') {
        line.pop();
        if line.len() > 1 {
            line.push(',');
        }
        line.push_str(&format!(
            "\"schema_version\":{SCHEMA_VERSION},\"ts\":\"{}\"}}",
            jiff::Timestamp::now()
        ));
    }
    line
}

impl Sink for JsonLines {
    fn emit(&self, event: Event) {
        let line = to_line(&event);
        let mut out = self.out.lock().expect("json renderer poisoned");
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_the_event_with_its_version_and_time_last() {
        let line = to_line(&Event::Message {
            level: crate::events::Level::Info,
            text: "a \"quoted\" }".into(),
        });
        let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON object");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["event", "level", "text", "schema_version", "ts"]);
        assert_eq!(v["text"], "a \"quoted\" }");
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert!(
            v["ts"]
                .as_str()
                .expect("ts")
                .parse::<jiff::Timestamp>()
                .is_ok()
        );
    }
}

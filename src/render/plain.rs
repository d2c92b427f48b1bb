//! Plain renderer: one timestamped line per progress event on stderr, for cron and log
//! files; result blocks (plan, summary, comparison) untimestamped on stdout. A pull's layers
//! get a line when their status changes, not for every byte count (a log file of a 10 GB
//! pull stays readable).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use super::text;
use crate::events::{Event, Sink};

pub struct PlainLines {
    err: Mutex<Box<dyn Write + Send>>,
    out: Mutex<Box<dyn Write + Send>>,
    /// The last status printed per (image, layer) of the pulls under way.
    layers: Mutex<HashMap<(String, String), String>>,
}

impl PlainLines {
    /// Progress on stderr, results on stdout.
    pub fn stdio() -> Self {
        Self::new(Box::new(std::io::stderr()), Box::new(std::io::stdout()))
    }

    pub fn new(err: Box<dyn Write + Send>, out: Box<dyn Write + Send>) -> Self {
        Self {
            err: Mutex::new(err),
            out: Mutex::new(out),
            layers: Mutex::new(HashMap::new()),
        }
    }
}

impl PlainLines {
    /// False for a pull layer update whose status was already printed.
    fn layer_changed(&self, event: &Event) -> bool {
        let mut layers = self.layers.lock().expect("plain renderer poisoned");
        match event {
            Event::PullProgress {
                image,
                layer,
                status,
                ..
            } => {
                let key = (image.clone(), layer.clone());
                if layers.get(&key) == Some(status) {
                    return false;
                }
                layers.insert(key, status.clone());
                true
            }
            Event::PullFinished { image, .. } | Event::PullFailed { image, .. } => {
                layers.retain(|(i, _), _| i != image);
                true
            }
            _ => true,
        }
    }
}

impl Sink for PlainLines {
    fn emit(&self, event: Event) {
        // A closed stream must not kill a sweep: the text is dropped.
        if let Some(block) = text::block(&event) {
            let mut out = self.out.lock().expect("plain renderer poisoned");
            let _ = out.write_all(block.as_bytes());
            let _ = out.flush();
            return;
        }
        if !self.layer_changed(&event) {
            return;
        }
        let now = jiff::ZonedDateTime::now().strftime("%Y-%m-%dT%H:%M:%S%:z");
        let mut err = self.err.lock().expect("plain renderer poisoned");
        let _ = writeln!(err, "{now} {}", text::line(&event));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn pull_layers_print_once_per_status() {
        let err = Buf::default();
        let p = PlainLines::new(Box::new(err.clone()), Box::new(Buf::default()));
        let prog = |layer: &str, status: &str, cur: u64| Event::PullProgress {
            image: "img:1".into(),
            layer: layer.into(),
            status: status.into(),
            current: Some(cur),
            total: Some(100 << 20),
        };
        for e in [
            prog("a", "Downloading", 1),
            prog("a", "Downloading", 50),
            prog("b", "Downloading", 5),
            prog("a", "Downloading", 100),
            prog("a", "Extracting", 10),
            prog("a", "Extracting", 90),
        ] {
            p.emit(e);
        }
        p.emit(Event::PullFinished {
            image: "img:1".into(),
            digest: Some("sha256:x".into()),
            layers: 2,
            downloaded: 200,
            elapsed_s: 1.0,
        });
        // A second pull of the same image prints its layers again.
        p.emit(prog("a", "Downloading", 1));
        let text = String::from_utf8(err.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().map(|l| l.split_once(' ').unwrap().1).collect();
        assert_eq!(
            lines,
            vec![
                "img:1: layer a: Downloading (100.0 MiB)",
                "img:1: layer b: Downloading (100.0 MiB)",
                "img:1: layer a: Extracting (100.0 MiB)",
                "pulled img:1 (sha256:x; 2 layer(s), 0.0 MiB downloaded) in 1.0s",
                "img:1: layer a: Downloading (100.0 MiB)",
            ]
        );
    }
}

//! Ctrl-C and SIGTERM as a cancellation token: the first signal asks the run to stop (the
//! runner stops the in-flight benchmark in the client, saves the manifest and exits 130); a
//! second one exits at once, because the user means it.

use tokio_util::sync::CancellationToken;

use crate::events::{self, Sink};
use crate::exit::Code;

/// Install the handlers; the returned token is cancelled on the first SIGINT/SIGTERM.
pub fn install(sink: std::sync::Arc<dyn Sink>) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    events::warn(&*sink, format!("cannot listen for SIGTERM: {e}"));
                    return;
                }
            };
        let name = tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        events::warn(
            &*sink,
            format!(
                "{name}: stopping the benchmark in the client and saving the run (again to quit at once)"
            ),
        );
        t.cancel();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        eprintln!(
            "second signal: exiting now; the manifest may show the point as running (resume recovers it)"
        );
        std::process::exit(Code::Interrupted.as_u8().into());
    });
    token
}

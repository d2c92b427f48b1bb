//! Ctrl-C and SIGTERM as a cancellation token: the first signal asks the run to stop (the
//! runner stops the in-flight benchmark in the client and saves the manifest); a second one
//! calls `exit_now`, because the user means it. What exit code that is, is the caller's
//! business (`crate::exit`); without `exit_now` the second signal is only reported. Both go
//! out as events.

use tokio_util::sync::CancellationToken;

use crate::events::{self, Event, SignalAction, Sink};

/// Install the handlers; the returned token is cancelled on the first SIGINT/SIGTERM.
pub fn install(sink: std::sync::Arc<dyn Sink>, exit_now: Option<fn()>) -> CancellationToken {
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
        sink.emit(Event::Signal {
            signal: name.into(),
            action: SignalAction::Stopping,
        });
        t.cancel();
        let name = tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        };
        sink.emit(Event::Signal {
            signal: name.into(),
            action: SignalAction::ExitingNow,
        });
        if let Some(exit) = exit_now {
            exit();
        }
    });
    token
}

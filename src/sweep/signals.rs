//! SIGINT, SIGTERM and SIGHUP as a cancellation token: the first signal asks the run to stop
//! (the runner stops the in-flight benchmark in the client and saves the manifest). SIGHUP
//! is what a closed ssh session sends; it is a request to stop, like SIGTERM. A second SIGINT
//! or SIGTERM calls `exit_now`, because the user means it; a second SIGHUP does not (a
//! hang-up arrives twice: from the shell to its jobs, and from the kernel when the session's
//! terminal goes). What exit code that is, is the caller's business (`crate::exit`); without
//! `exit_now` the second signal is only reported. Both go out as events.

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

use crate::events::{self, Event, SignalAction, Sink};

/// The signals listened to, each a stream created once so no delivery between two waits is
/// missed.
struct Listeners {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Listeners {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

/// Install the handlers; the returned token is cancelled on the first SIGINT/SIGTERM/SIGHUP.
pub fn install(sink: std::sync::Arc<dyn Sink>, exit_now: Option<fn()>) -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    // Listen before returning: a signal right after `install` must already be ours.
    let listeners = Listeners::new();
    tokio::spawn(async move {
        let mut l = match listeners {
            Ok(l) => l,
            Err(e) => {
                events::warn(&*sink, format!("cannot listen for signals: {e}"));
                return;
            }
        };
        let name = l.next().await;
        // Cancel before reporting: after a hang-up the terminal is gone, and nothing said
        // there may stand between the signal and saving the run.
        t.cancel();
        sink.emit(Event::Signal {
            signal: name.into(),
            action: SignalAction::Stopping,
        });
        let name = loop {
            match l.next().await {
                "SIGHUP" => continue,
                name => break name,
            }
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

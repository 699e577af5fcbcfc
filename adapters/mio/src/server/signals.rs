//! SIGINT and SIGTERM for `shout serve`: the first starts a graceful
//! shutdown, a second one exits at once.
//!
//! The main thread waits on a small `mio` loop of its own with the signals
//! (through `signal-hook-mio`) and a waker the event loops ring when they
//! finish, so no signal handler ever touches server state.

use std::io;

use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::Running;

const SIGNALS: Token = Token(0);
const DONE: Token = Token(1);

/// How the wait for the server ended.
#[derive(Debug)]
pub enum Stopped {
    /// Every event loop finished (after a drain, or because one failed:
    /// [`Running::join`] says which).
    Drained,
    /// A second signal came during the drain: the process should exit at
    /// once with 128 + this number.
    Interrupted(i32),
    /// Waiting for signals failed.
    Failed(io::Error),
}

/// Waits for the server to finish, draining it on the first signal.
pub(crate) struct SignalLoop {
    poll: Poll,
    signals: Signals,
}

impl SignalLoop {
    /// Installs the handlers; call before announcing the server, so a
    /// signal sent right after the announcement is never the default one.
    pub(crate) fn install() -> io::Result<(SignalLoop, Waker)> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let waker = Waker::new(poll.registry(), DONE)?;
        Ok((SignalLoop { poll, signals }, waker))
    }

    pub(crate) fn run(mut self, running: &Running) -> Stopped {
        let mut events = Events::with_capacity(8);
        let mut draining = false;
        loop {
            if running.is_done() {
                return Stopped::Drained;
            }
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Stopped::Failed(e);
            }
            for signal in self.signals.pending() {
                if draining {
                    return Stopped::Interrupted(signal);
                }
                draining = true;
                tracing::info!("signal {signal}: draining connections");
                running.shutdown();
            }
        }
    }
}

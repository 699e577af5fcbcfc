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

/// Waits for the server to finish, draining it on the first signal.
/// Returns the exit status: 0 after a drain, 1 if an event loop failed;
/// a second signal exits the process at once with 128 + its number.
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

    pub(crate) fn run(mut self, running: Running) -> i32 {
        let mut events = Events::with_capacity(8);
        let mut draining = false;
        loop {
            if running.is_done() {
                return running.join();
            }
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                tracing::error!("waiting for signals: {e}");
                return 1;
            }
            for signal in self.signals.pending() {
                if draining {
                    eprintln!("shout: second signal, exiting now");
                    std::process::exit(128 + signal);
                }
                draining = true;
                tracing::info!("signal {signal}: draining connections");
                running.shutdown();
            }
        }
    }
}

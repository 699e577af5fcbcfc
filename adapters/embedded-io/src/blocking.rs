//! The blocking driver: serve until the session (or the link) ends.

use embedded_io::{Error as _, ErrorKind, Read, Write};
use shout_core::{Config, Event, Server};

use crate::engine::Engine;
use crate::{retry, Clock, Error, LinkMode, SetupError, Summary};

/// Serves SHOUT/1 over a blocking link.
///
/// The link's `read` blocks until bytes arrive; the idle timeout is acted
/// on whenever `read` returns. A link whose `read` gives up after a while
/// with [`ErrorKind::TimedOut`] (a socket with a read timeout) lets the
/// timeout fire while the peer is silent; that error is not passed on.
///
/// ```
/// use shout_embedded_io::{BlockingServer, Config, Instant, LinkMode};
///
/// // A socket-like link: the request, then end of input.
/// struct Link<'a> { input: &'a [u8], output: Vec<u8> }
/// impl embedded_io::ErrorType for Link<'_> { type Error = core::convert::Infallible; }
/// impl embedded_io::Read for Link<'_> {
///     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
///         let n = buf.len().min(self.input.len());
///         buf[..n].copy_from_slice(&self.input[..n]);
///         self.input = &self.input[n..];
///         Ok(n)
///     }
/// }
/// impl embedded_io::Write for Link<'_> {
///     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
///         self.output.extend_from_slice(buf);
///         Ok(buf.len())
///     }
///     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// }
///
/// let link = Link { input: b"hello, world", output: Vec::new() };
/// let (mut rx, mut tx) = ([0u8; 8], [0u8; 8]);
/// let clock = || Instant::ZERO;
/// let mut server =
///     BlockingServer::new(link, clock, Config::default(), LinkMode::Stream, &mut rx, &mut tx)
///         .unwrap();
/// server.run().unwrap();
/// assert_eq!(server.link().output, b"HELLO, WORLD");
/// ```
pub struct BlockingServer<'a, L, C> {
    link: L,
    clock: C,
    engine: Engine<'a>,
}

impl<'a, L, C> BlockingServer<'a, L, C>
where
    L: Read + Write,
    C: Clock,
{
    /// A driver for `link`; its first session starts at `clock.now()`.
    pub fn new(
        link: L,
        mut clock: C,
        config: Config,
        mode: LinkMode,
        rx: &'a mut [u8],
        tx: &'a mut [u8],
    ) -> Result<Self, SetupError> {
        let now = clock.now();
        Ok(BlockingServer {
            link,
            clock,
            engine: Engine::new(config, mode, rx, tx, now)?,
        })
    }

    /// Serves until there is nothing more to do: in [`LinkMode::Stream`]
    /// until the session has closed and its last byte was written and
    /// flushed; in [`LinkMode::Continuous`] until the link's input ends
    /// (which a UART never does), or [`BlockingServer::shutdown`] was
    /// called, and the last session is finished.
    ///
    /// `Interrupted` is retried (at most [`crate::INTERRUPTED_RETRIES`]
    /// times in a row); any other error ends the call. The driver stays
    /// consistent, so `run` may be called again after an error the link
    /// recovers from.
    pub fn run(&mut self) -> Result<Summary, Error<L::Error>> {
        let mut unflushed = false;
        loop {
            let now = self.clock.now();
            self.engine.check_timeouts(now);
            self.engine.process(now);
            let pending = self.engine.pending_tx();
            if !pending.is_empty() {
                let link = &mut self.link;
                let n = retry(|| link.write(pending)).map_err(Error::Write)?;
                if n == 0 {
                    return Err(Error::WriteZero);
                }
                let now = self.clock.now();
                self.engine.commit_sent(n, now);
                unflushed = true;
                continue;
            }
            if unflushed {
                let link = &mut self.link;
                retry(|| link.flush()).map_err(Error::Write)?;
                unflushed = false;
            }
            if self.engine.finished() {
                return Ok(self.summary());
            }
            let link = &mut self.link;
            let Some(room) = self.engine.input_room() else {
                // Nothing to send, and the session does not ask for
                // input: there is nothing a blocking read could help
                // with, so return rather than block or spin.
                return Ok(self.summary());
            };
            match retry(|| link.read(room)) {
                Ok(0) => self.engine.end_of_input(),
                Ok(n) => self.engine.commit_received(n),
                Err(e) if e.kind() == ErrorKind::TimedOut => {}
                Err(e) => return Err(Error::Read(e)),
            }
        }
    }

    /// Starts a drain, for a shutdown signal, at `clock.now()`: the bytes
    /// this driver holds read but unanswered are answered, then the rest
    /// of a request they began, and nothing after; no new session starts
    /// on a continuous link. [`BlockingServer::run`] then sends the last
    /// bytes and returns. `run` blocks in `read`, so this is called
    /// between runs: before the first, or after `run` returned an error.
    ///
    /// The bytes waiting are the ones the driver holds: bytes still in
    /// the link (a UART's FIFO, a socket's receive queue) cannot be
    /// counted through `embedded-io`, so they are answered only as the
    /// rest of a request already begun.
    pub fn shutdown(&mut self) {
        let now = self.clock.now();
        self.engine.shutdown(now);
    }

    fn summary(&self) -> Summary {
        Summary {
            received: self.engine.received,
            sent: self.engine.sent,
            sessions_ended: self.engine.sessions_ended,
        }
    }

    /// The next event of any session on this link, oldest first; a few
    /// are kept.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.engine.poll_event()
    }

    /// The session running now.
    pub fn session(&self) -> &Server {
        self.engine.session()
    }

    /// True once the link's work is done.
    pub fn is_finished(&self) -> bool {
        self.engine.finished()
    }

    /// The link.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The link, mutably.
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// Gives the link back.
    pub fn into_link(self) -> L {
        self.link
    }
}

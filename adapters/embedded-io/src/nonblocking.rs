//! The non-blocking driver: one `poll` step at a time, for a superloop or
//! an RTOS task.

use embedded_io::{Read, ReadReady, Write, WriteReady};
use shout_core::{Config, Event, Instant, Server};

use crate::engine::Engine;
use crate::{retry, Error, LinkMode, Progress, SetupError};

/// Serves SHOUT/1 over a link without ever blocking on it.
///
/// ```
/// use shout_embedded_io::{Config, Instant, LinkMode, NbServer};
/// # struct Uart { input: &'static [u8], out: [u8; 16], n: usize }
/// # impl embedded_io::ErrorType for Uart { type Error = core::convert::Infallible; }
/// # impl embedded_io::Read for Uart {
/// #     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
/// #         let n = buf.len().min(self.input.len());
/// #         buf[..n].copy_from_slice(&self.input[..n]);
/// #         self.input = &self.input[n..];
/// #         Ok(n)
/// #     }
/// # }
/// # impl embedded_io::ReadReady for Uart {
/// #     fn read_ready(&mut self) -> Result<bool, Self::Error> { Ok(!self.input.is_empty()) }
/// # }
/// # impl embedded_io::Write for Uart {
/// #     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
/// #         self.out[self.n] = buf[0];
/// #         self.n += 1;
/// #         Ok(1)
/// #     }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # impl embedded_io::WriteReady for Uart {
/// #     fn write_ready(&mut self) -> Result<bool, Self::Error> { Ok(true) }
/// # }
/// # let uart = Uart { input: b"hi", out: [0; 16], n: 0 };
/// // `uart` is any Read + Write + ReadReady + WriteReady, e.g. a HAL's UART.
/// let mut rx = [0u8; 64];
/// let mut tx = [0u8; 64];
/// let mut now = Instant::ZERO;
/// let mut server =
///     NbServer::new(uart, Config::default(), LinkMode::Continuous, &mut rx, &mut tx, now)
///         .unwrap();
/// for _ in 0..10 {
///     match server.poll(now) {
///         Ok(_progress) => {}
///         Err(nb::Error::WouldBlock) => { /* sleep until an interrupt or poll_timeout() */ }
///         Err(nb::Error::Other(e)) => panic!("{e}"),
///     }
///     now = Instant::from_millis(now.as_millis() + 1);
/// }
/// assert_eq!(&server.link().out[..server.link().n], b"HI");
/// ```
pub struct NbServer<'a, L> {
    link: L,
    engine: Engine<'a>,
}

impl<'a, L> NbServer<'a, L>
where
    L: Read + Write + ReadReady + WriteReady,
{
    /// A driver for `link`, its first session starting `now`.
    pub fn new(
        link: L,
        config: Config,
        mode: LinkMode,
        rx: &'a mut [u8],
        tx: &'a mut [u8],
        now: Instant,
    ) -> Result<Self, SetupError> {
        Ok(NbServer {
            link,
            engine: Engine::new(config, mode, rx, tx, now)?,
        })
    }

    /// Moves whatever can move without blocking: acts on deadlines passed
    /// by `now`, sends waiting output while the link is write-ready, reads
    /// while it is read-ready and there is room, and answers what was read.
    ///
    /// `Err(WouldBlock)` means nothing could move: call again after an
    /// interrupt from the link or at [`NbServer::poll_timeout`]. Once
    /// [`Progress::finished`] is set it stays set and nothing moves again.
    pub fn poll(&mut self, now: Instant) -> nb::Result<Progress, Error<L::Error>> {
        let ended_before = self.engine.sessions_ended;
        let (received_before, sent_before) = (self.engine.received, self.engine.sent);
        if self.engine.finished() {
            return Ok(Progress {
                finished: true,
                ..Progress::default()
            });
        }
        let mut moved = self.engine.check_timeouts(now);
        moved |= self.engine.process(now);
        moved |= self.send(now)?;
        moved |= self.receive()?;
        moved |= self.engine.process(now);
        moved |= self.send(now)?;
        let progress = Progress {
            received: (self.engine.received - received_before) as usize,
            sent: (self.engine.sent - sent_before) as usize,
            sessions_ended: (self.engine.sessions_ended - ended_before) as usize,
            finished: self.engine.finished(),
        };
        if moved || progress.finished {
            Ok(progress)
        } else {
            Err(nb::Error::WouldBlock)
        }
    }

    /// When the session next needs [`NbServer::poll`] even if the link
    /// stays quiet (its idle timeout or drain deadline), if ever. Between now and then only
    /// the link's own readiness can change anything.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.engine.poll_timeout()
    }

    /// Starts a drain, for a shutdown signal: the bytes this driver holds
    /// read but unanswered are what was waiting, so they are answered,
    /// then the rest of a request they began, and nothing after; the
    /// session closes there (a frame session with CLOSE) or at `now` plus
    /// the drain timeout, whichever comes first. No new session starts on
    /// a continuous link: keep polling until [`Progress::finished`].
    ///
    /// Bytes still inside the link (a UART's FIFO, a socket's receive
    /// queue) cannot be counted through `embedded-io`, so they are not
    /// among those waiting; a [`NbServer::poll`] just before this call
    /// reads in what the link has ready, if there is room.
    pub fn shutdown(&mut self, now: Instant) {
        self.engine.shutdown(now);
    }

    /// True once the link's work is done (see [`Progress::finished`]).
    pub fn is_finished(&self) -> bool {
        self.engine.finished()
    }

    /// True when output is waiting for the link to become write-ready:
    /// a superloop should then also wake on the link's transmit interrupt.
    pub fn wants_write(&self) -> bool {
        !self.engine.pending_tx().is_empty()
    }

    /// True when the driver has room and would read if the link had bytes.
    pub fn wants_read(&mut self) -> bool {
        self.engine.rx_room().is_some()
    }

    /// The next event of any session on this link (opened with a framing,
    /// closed with a reason), oldest first; a few are kept.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.engine.poll_event()
    }

    /// The session running now.
    pub fn session(&self) -> &Server {
        self.engine.session()
    }

    /// The link.
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The link, mutably (e.g. to acknowledge its interrupts).
    pub fn link_mut(&mut self) -> &mut L {
        &mut self.link
    }

    /// Gives the link back.
    pub fn into_link(self) -> L {
        self.link
    }

    /// Writes while there is output and the link is ready for it.
    fn send(&mut self, now: Instant) -> Result<bool, Error<L::Error>> {
        let mut moved = false;
        loop {
            let pending = self.engine.pending_tx();
            if pending.is_empty() {
                return Ok(moved);
            }
            let link = &mut self.link;
            if !retry(|| link.write_ready()).map_err(Error::Write)? {
                return Ok(moved);
            }
            let n = retry(|| link.write(pending)).map_err(Error::Write)?;
            if n == 0 {
                return Err(Error::WriteZero);
            }
            self.engine.commit_sent(n, now);
            moved = true;
        }
    }

    /// Reads while there is room and the link has bytes.
    fn receive(&mut self) -> Result<bool, Error<L::Error>> {
        let mut moved = false;
        loop {
            let link = &mut self.link;
            let Some(room) = self.engine.rx_room() else {
                return Ok(moved);
            };
            if !retry(|| link.read_ready()).map_err(Error::Read)? {
                return Ok(moved);
            }
            let n = retry(|| link.read(room)).map_err(Error::Read)?;
            moved = true;
            if n == 0 {
                self.engine.end_of_input();
                return Ok(moved);
            }
            self.engine.commit_received(n);
        }
    }
}

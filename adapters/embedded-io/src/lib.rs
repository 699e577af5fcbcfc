//! # shout-embedded-io
//!
//! Serves SHOUT/1 with [`shout_core`] over any [`embedded_io`] link: a UART,
//! a TCP socket of an embedded network stack, a USB CDC port, or (in tests)
//! a `std` socket behind `embedded-io-adapters`. `#![no_std]`, no heap: the
//! caller owns every byte of buffer and sizes it.
//!
//! Two drivers share one engine:
//!
//! * [`BlockingServer`] over `Read + Write`: [`BlockingServer::run`] serves
//!   until the session ends (a socket) or the link fails (a UART).
//! * [`NbServer`] over `Read + Write + ReadReady + WriteReady`:
//!   [`NbServer::poll`] never blocks. It reads only when the link says
//!   `read_ready()`, writes only when it says `write_ready()`, returns
//!   [`nb::Error::WouldBlock`] when it could move nothing, and
//!   [`NbServer::poll_timeout`] says when the session needs the clock again
//!   so a superloop can sleep until an interrupt or that deadline.
//!
//! ## Links that end and links that don't
//!
//! [`LinkMode::Stream`] is a connection: `Ok(0)` from `read` is the end of
//! the client's input, one session runs, and the driver is finished when it
//! has sent the session's last byte (the caller then closes the socket).
//! The session hears of the end at once, with the count of bytes the
//! driver still holds for it, and ends right after those: the driver never
//! works out by itself whether a session is starved or done, it does what
//! each answer of the core says comes next (read, send, or end).
//!
//! [`LinkMode::Continuous`] is a UART: nothing ever ends the input, so when a
//! session closes (CLOSE, ERROR, or a raw/line session's idle timeout) a new
//! [`shout_core::Server`] starts on the same link and the next byte decides
//! its framing again (`auto`: `0x00` is a frame session, anything else raw).
//! The bytes that follow a session's last request are *not* thrown away:
//! the core stops consuming exactly where a session ends, so a
//! client may send the next HELLO right behind a CLOSE. Line noise between
//! sessions is answered per the contract (a stray NUL starts a frame session
//! that ends in an ERROR; anything else is a raw session that echoes until
//! the link is quiet for the idle timeout) and then forgotten. If the
//! link's input does end, each session that starts on the bytes still held
//! is told so as it starts.
//!
//! ## Shutdown
//!
//! [`NbServer::shutdown`] (and [`BlockingServer::shutdown`] between runs)
//! drains as the contract's rule 7 asks: the bytes the driver holds are
//! answered, then the rest of a request they began, and the session closes
//! (by the drain timeout at the latest); no new session starts. Bytes
//! still in the link (a UART's FIFO) cannot be counted through
//! `embedded-io`, so they are not among those waiting.
//!
//! ## Buffers
//!
//! `rx` holds bytes read from the link that the session has not taken yet;
//! `tx` is the session's output window, holding bytes the link has not
//! taken yet. Both may be as small as one byte; bigger ones mean fewer,
//! larger reads and writes. Neither grows with `max_payload`: the core
//! streams payload through them.
//!
//! ## Time
//!
//! The core never reads a clock and neither does this crate: the caller
//! passes `now` to [`NbServer::poll`], or gives [`BlockingServer`] a
//! [`Clock`]. A SysTick counter is enough.
#![no_std]

mod blocking;
mod engine;
mod nonblocking;

pub use blocking::BlockingServer;
pub use nonblocking::NbServer;

pub use shout_core::{Config, Duration, Event, Instant};

/// How many times in a row an operation that reports
/// [`embedded_io::ErrorKind::Interrupted`] is retried before the error is
/// handed to the caller, so that a link that is interrupted forever cannot
/// make a driver spin forever.
pub const INTERRUPTED_RETRIES: u32 = 64;

/// Whether the link ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkMode {
    /// A connection: one session; `Ok(0)` from `read` ends the client's
    /// input; the driver is finished once that session has sent its last
    /// byte. The caller then closes the link.
    Stream,
    /// A UART: when a session closes, a new one starts on the same link.
    /// `Ok(0)` from `read` (which a UART never returns) ends the current
    /// session and the driver.
    Continuous,
}

/// Where the time comes from for [`BlockingServer`].
pub trait Clock {
    /// The current time, on any monotonic scale that starts anywhere.
    fn now(&mut self) -> Instant;
}

impl<F: FnMut() -> Instant> Clock for F {
    fn now(&mut self) -> Instant {
        self()
    }
}

/// Why a driver could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupError {
    /// The core refused the configuration ([`Config::validate`]); it is
    /// checked once, here, and every session is made from the result.
    Config(shout_core::ConfigError),
    /// The receive buffer is empty: nothing could ever be read.
    EmptyRxBuffer,
    /// The transmit buffer is empty: nothing could ever be sent.
    EmptyTxBuffer,
    /// A transform that is not length-preserving (unicode) answers a DATA
    /// only once its whole payload is in the receive buffer, so with a
    /// framing that may be `frame` that buffer must hold `max_payload`
    /// bytes.
    RxBufferTooSmall {
        /// The receive buffer size this configuration needs.
        needed: usize,
    },
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SetupError::Config(e) => write!(f, "bad configuration: {e}"),
            SetupError::EmptyRxBuffer => {
                f.write_str("the receive buffer must hold at least 1 byte")
            }
            SetupError::EmptyTxBuffer => {
                f.write_str("the transmit buffer must hold at least 1 byte")
            }
            SetupError::RxBufferTooSmall { needed } => write!(
                f,
                "the receive buffer must hold max_payload ({needed}) bytes for this transform"
            ),
        }
    }
}

impl core::error::Error for SetupError {}

impl From<shout_core::ConfigError> for SetupError {
    fn from(e: shout_core::ConfigError) -> Self {
        SetupError::Config(e)
    }
}

/// A link failure, handed back as the link reported it.
///
/// The driver's state stays consistent after an error: no byte read is
/// lost and no byte is sent twice, so the caller may poll or run again
/// (a UART framing error, say) or give up on the link (a reset socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// `read` or `read_ready` failed.
    Read(E),
    /// `write`, `write_ready` or `flush` failed.
    Write(E),
    /// `write` returned `Ok(0)` for a non-empty buffer: the link takes no
    /// more output, so the session cannot go on.
    WriteZero,
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Read(e) => write!(f, "reading from the link failed: {e:?}"),
            Error::Write(e) => write!(f, "writing to the link failed: {e:?}"),
            Error::WriteZero => {
                f.write_str("the link accepted none of the output (write returned 0)")
            }
        }
    }
}

impl<E: core::fmt::Debug> core::error::Error for Error<E> {}

impl<E: embedded_io::Error> embedded_io::Error for Error<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Error::Read(e) | Error::Write(e) => e.kind(),
            Error::WriteZero => embedded_io::ErrorKind::WriteZero,
        }
    }
}

/// What one [`NbServer::poll`] moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the link.
    pub received: usize,
    /// Bytes written to the link.
    pub sent: usize,
    /// Sessions that closed (in [`LinkMode::Continuous`] each is followed
    /// by a fresh one).
    pub sessions_ended: usize,
    /// Nothing more will ever happen on this link: its session is over
    /// ([`LinkMode::Stream`]), or its input ended or it was shut down and
    /// its last session is over, and every byte was sent.
    pub finished: bool,
}

/// What a [`BlockingServer::run`] served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Bytes read from the link.
    pub received: u64,
    /// Bytes written to the link.
    pub sent: u64,
    /// Sessions that closed.
    pub sessions_ended: u32,
}

/// Runs `op` again while it fails with `Interrupted`, a bounded number of
/// times.
pub(crate) fn retry<T, E: embedded_io::Error>(
    mut op: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let mut tries = 0;
    loop {
        match op() {
            Err(e)
                if e.kind() == embedded_io::ErrorKind::Interrupted
                    && tries < INTERRUPTED_RETRIES =>
            {
                tries += 1;
            }
            result => return result,
        }
    }
}

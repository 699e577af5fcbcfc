//! Where a session is in its life, why it ended, and what it tells the caller.

use crate::config::Framing;
use crate::wire::ErrorCode;

/// The stage of a session's life.
///
/// ```text
/// Undecided --first byte--> Handshake (frame) --HELLO--> Open
///     |                   \-------------(raw, line)-----> Open
///     |                                                   |
///     |          end of input, CLOSE, shutdown()          v
///     +---------------------------------------------> Draining --> Closed
/// ```
/// Errors and timeouts go to `Closed` from any stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No byte has arrived yet, so the framing is not known.
    Undecided,
    /// A frame session waiting for the client's whole HELLO.
    Handshake,
    /// Requests are being answered.
    Open,
    /// No new request will start: finishing what is in progress.
    Draining,
    /// Nothing more will be produced; input is read and discarded.
    Closed,
}

/// Why a session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Input ended and everything was answered.
    EndOfInput,
    /// Input ended in the middle of a frame.
    Truncated,
    /// The client sent CLOSE.
    PeerClosed,
    /// The client sent ERROR.
    PeerError,
    /// The session sent ERROR with this code (or, in a frame session whose
    /// response was already under way, would have and just closed).
    ProtocolError(ErrorCode),
    /// A line grew past `max_line`.
    LineTooLong,
    /// Nothing received or sent for `idle_timeout`.
    IdleTimeout,
    /// A shutdown finished cleanly.
    Shutdown,
    /// A shutdown ran out of `drain_timeout` with work in progress.
    DrainTimeout,
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CloseReason::EndOfInput => f.write_str("end of input"),
            CloseReason::Truncated => f.write_str("input ended inside a frame"),
            CloseReason::PeerClosed => f.write_str("peer sent CLOSE"),
            CloseReason::PeerError => f.write_str("peer sent ERROR"),
            CloseReason::ProtocolError(code) => write!(f, "protocol error {code}"),
            CloseReason::LineTooLong => f.write_str("line too long"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::Shutdown => f.write_str("shutdown"),
            CloseReason::DrainTimeout => f.write_str("drain timeout"),
        }
    }
}

/// Something a caller may want to log or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The first byte decided the framing (never [`Framing::Auto`]).
    Opened(Framing),
    /// The session closed. Output already produced stays valid and should
    /// still be sent.
    Closed(CloseReason),
}

/// Events not yet taken by the caller: a session opens once and closes
/// once, so two slots are a queue that can never overflow.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Unreported {
    opened: Option<Framing>,
    closed: Option<CloseReason>,
}

impl Unreported {
    pub(crate) fn push(&mut self, event: Event) {
        match event {
            Event::Opened(f) => self.opened = Some(f),
            Event::Closed(r) => self.closed = Some(r),
        }
    }

    /// Oldest first: a session is always reported open before closed.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        if let Some(f) = self.opened.take() {
            return Some(Event::Opened(f));
        }
        self.closed.take().map(Event::Closed)
    }
}

//! Where a session is in its life, why it ended, and what it tells the caller.

use crate::config::Framing;
use crate::time::Instant;
use crate::wire::ErrorCode;

/// The session's own life: whether input will end, whether it drains.
/// Each state carries exactly what it needs: a drain always has its
/// deadline and the count of bytes still to be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    /// Answering. `end`: input ends after this many more bytes.
    Open { end: Option<usize> },
    /// Shutting down: `waiting` more bytes are answered, then the rest of
    /// the request they began; nothing after, and nothing after
    /// `deadline`.
    Draining {
        deadline: Instant,
        waiting: usize,
        end: Option<usize>,
    },
    /// Nothing more will be produced.
    Closed,
}

impl Life {
    pub(crate) const fn new() -> Self {
        Life::Open { end: None }
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(self, Life::Closed)
    }

    pub(crate) fn drain_deadline(&self) -> Option<Instant> {
        match self {
            Life::Draining { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    /// Records where input ends; true if that is news.
    pub(crate) fn end_of_input(&mut self, held: usize) -> bool {
        match self {
            Life::Open { end } | Life::Draining { end, .. } if end.is_none() => {
                *end = Some(held);
                true
            }
            _ => false,
        }
    }

    /// Starts a drain; true if that is news.
    pub(crate) fn shutdown(&mut self, deadline: Instant, waiting: usize) -> bool {
        match *self {
            Life::Open { end } => {
                *self = Life::Draining {
                    deadline,
                    waiting,
                    end,
                };
                true
            }
            _ => false,
        }
    }

    /// How much input the decoder may see now (`None`: all there is), and
    /// whether it must stop at the end of the request in progress.
    /// `needed`: what the decoder needs at once to move on; a request begun
    /// in the waiting bytes may need more than they are (a unicode DATA
    /// payload is taken whole).
    pub(crate) fn input_limit(&self, needed: usize) -> (Option<usize>, bool) {
        match *self {
            Life::Open { end } => (end, false),
            Life::Draining { waiting, end, .. } if waiting > 0 => {
                let mark = waiting.max(needed);
                (Some(end.map_or(mark, |e| e.min(mark))), false)
            }
            Life::Draining { end, .. } => (end, true),
            Life::Closed => (Some(0), false),
        }
    }

    /// `n` more input bytes were consumed.
    pub(crate) fn consumed(&mut self, n: usize) {
        match self {
            Life::Open { end } => sub(end, n),
            Life::Draining { waiting, end, .. } => {
                *waiting = waiting.saturating_sub(n);
                sub(end, n);
            }
            Life::Closed => {}
        }
    }

    /// True when the input ends before `needed` more bytes could arrive.
    pub(crate) fn input_ends_before(&self, needed: usize) -> bool {
        match *self {
            Life::Open { end } | Life::Draining { end, .. } => end.is_some_and(|e| e < needed),
            Life::Closed => false,
        }
    }

    /// A drain has answered every byte that was waiting at the signal.
    pub(crate) fn drain_mark_reached(&self) -> bool {
        matches!(self, Life::Draining { waiting: 0, .. })
    }

    /// Closes; true if it was not closed yet.
    pub(crate) fn close(&mut self) -> bool {
        let was_open = !self.is_closed();
        *self = Life::Closed;
        was_open
    }
}

fn sub(end: &mut Option<usize>, n: usize) {
    if let Some(e) = end {
        *e = e.saturating_sub(n);
    }
}

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
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// An HTTP response with this status was sent (the page: 200); the
    /// connection closes after it.
    #[cfg(feature = "web")]
    HttpResponse(u16),
    /// The server ended a WebSocket with a Close of this status (1002,
    /// 1007, 1009).
    #[cfg(feature = "web")]
    WebSocketClose(u16),
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
            #[cfg(feature = "web")]
            CloseReason::HttpResponse(status) => write!(f, "HTTP {status} sent"),
            #[cfg(feature = "web")]
            CloseReason::WebSocketClose(code) => write!(f, "WebSocket closed with {code}"),
        }
    }
}

/// Something a caller may want to log or count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

    /// Takes back an opening not yet reported (the byte that decided it
    /// was not taken after all).
    pub(crate) fn retract_opened(&mut self) {
        self.opened = None;
    }

    /// Oldest first: a session is always reported open before closed.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        if let Some(f) = self.opened.take() {
            return Some(Event::Opened(f));
        }
        self.closed.take().map(Event::Closed)
    }
}

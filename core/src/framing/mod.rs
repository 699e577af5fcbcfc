//! Incremental decoders that cut a byte stream into requests and answer
//! each as it arrives.
//!
//! Each decoder consumes as much input as the output window lets it answer
//! and never buffers payload. The session around it (see
//! [`crate::session`]) owns time, end of input and shutdown, and asks the
//! decoder to act on them at the right moment. Every method that may end
//! the session returns the reason, after emitting the last bytes the
//! contract asks for.

pub(crate) mod detect;
pub(crate) mod frame;
pub(crate) mod line;
pub(crate) mod raw;
#[cfg(feature = "web")]
pub(crate) mod web;

use crate::config::Settings;
use crate::io::{Bytes, Io};
use crate::session::CloseReason;
use crate::transform::AnyTransform;
use crate::wire::ErrorCode;

/// What `auto` waits for before it chooses the web framing.
#[cfg(feature = "web")]
const GET: &[u8; 4] = b"GET ";

/// What a decoder may touch while it works.
pub(crate) struct Cx<'c, 'io, B> {
    pub(crate) io: &'c mut Io<'io, B>,
    pub(crate) transform: &'c mut AnyTransform,
    pub(crate) config: &'c Settings,
    /// Stop after the request in progress ends: a drain lets a request
    /// begun before the shutdown finish, and starts no other.
    pub(crate) stop_at_boundary: bool,
    /// What the session has done so far, for the caller's counters.
    pub(crate) tally: &'c mut Tally,
}

/// What a session has done, for the caller's counters (metrics, logs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    requests: u32,
    error: Option<ErrorCode>,
}

impl Tally {
    /// Requests answered or being answered: lines (the last one counted
    /// even without its LF), DATA and PING frames.
    pub const fn requests(&self) -> u32 {
        self.requests
    }

    /// The ERROR frame the session sent, if it sent one (it sends at most
    /// one: ERROR is always its last frame).
    pub const fn error_sent(&self) -> Option<ErrorCode> {
        self.error
    }

    pub(crate) fn request(&mut self) {
        self.requests = self.requests.wrapping_add(1);
    }

    pub(crate) fn error(&mut self, code: ErrorCode) {
        self.error = Some(code);
    }
}

impl<B: Bytes> Cx<'_, '_, B> {
    /// Transforms a prefix of the next `n` input bytes; returns how many
    /// it took.
    #[inline]
    pub(crate) fn transform(&mut self, n: usize) -> usize {
        self.io.transform(self.transform, n)
    }

    /// Writes the transform's held-back bytes, unchanged.
    pub(crate) fn flush_transform(&mut self) {
        self.io.flush_transform(self.transform);
    }
}

/// The decoder for the framing the first byte chose.
#[derive(Clone, Debug)]
pub(crate) enum Decoder {
    Undecided,
    /// `auto` has taken this many bytes of `GET ` and waits to see whether
    /// the rest follows (web) or not (raw, those bytes answered first).
    #[cfg(feature = "web")]
    Sniff(u8),
    Raw(raw::Raw),
    Line(line::Line),
    Frame(frame::FrameServer),
    #[cfg(feature = "web")]
    Web(web::Web),
}

impl Decoder {
    /// Consumes a prefix of the input, answering it.
    #[inline]
    pub(crate) fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        match self {
            Decoder::Undecided => None,
            #[cfg(feature = "web")]
            Decoder::Sniff(matched) => {
                let m = *matched as usize;
                let input = cx.io.input();
                let same = input
                    .iter()
                    .zip(&GET[m..])
                    .take_while(|(a, b)| a == b)
                    .count();
                if m + same == GET.len() {
                    cx.io.skip(same);
                    *self = Decoder::Web(web::Web::after_get());
                } else if same == input.len() {
                    cx.io.skip(same);
                    *matched += same as u8;
                    return None;
                } else {
                    // Not `GET `: a raw stream, whose first bytes were
                    // those of `GET` (uppercase already, so their answer).
                    cx.io.skip(same);
                    cx.io.emit(&GET[..m + same]);
                    *self = Decoder::Raw(raw::Raw);
                }
                self.input(cx)
            }
            Decoder::Raw(d) => d.input(cx),
            Decoder::Line(d) => d.input(cx),
            Decoder::Frame(d) => d.input(cx),
            #[cfg(feature = "web")]
            Decoder::Web(d) => d.input(cx),
        }
    }

    /// The framing this decoder serves, once one is chosen.
    pub(crate) fn framing(&self) -> Option<crate::config::Framing> {
        use crate::config::Framing;
        match self {
            Decoder::Undecided => None,
            #[cfg(feature = "web")]
            Decoder::Sniff(_) => None,
            Decoder::Raw(_) => Some(Framing::Raw),
            Decoder::Line(_) => Some(Framing::Line),
            Decoder::Frame(_) => Some(Framing::Frame),
            #[cfg(feature = "web")]
            Decoder::Web(_) => Some(Framing::Web),
        }
    }

    /// A session still sniffing for `GET ` must decide now (its input
    /// ended, it idled out, a drain reached it): the bytes it took are a
    /// raw stream's, answered as they are.
    #[cfg(feature = "web")]
    fn settle_sniff<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) {
        if let Decoder::Sniff(m) = *self {
            cx.io.emit(&GET[..m as usize]);
            *self = Decoder::Raw(raw::Raw);
        }
    }

    /// True when no request is in progress, so a drain may end here.
    pub(crate) fn at_boundary(&self) -> bool {
        match self {
            Decoder::Undecided | Decoder::Raw(_) => true,
            #[cfg(feature = "web")]
            Decoder::Sniff(m) => *m == 0,
            Decoder::Line(d) => d.at_boundary(),
            Decoder::Frame(d) => d.at_boundary(),
            #[cfg(feature = "web")]
            Decoder::Web(d) => d.at_boundary(),
        }
    }

    /// Input has ended: emit what the contract asks and close.
    pub(crate) fn end_of_input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        #[cfg(feature = "web")]
        self.settle_sniff(cx);
        match self {
            Decoder::Undecided => CloseReason::EndOfInput,
            Decoder::Line(d) => {
                if !d.at_boundary() {
                    cx.tally.request(); // an unterminated last line
                }
                cx.flush_transform();
                CloseReason::EndOfInput
            }
            Decoder::Raw(_) => {
                cx.flush_transform();
                CloseReason::EndOfInput
            }
            Decoder::Frame(d) => d.end_of_input(cx),
            #[cfg(feature = "web")]
            Decoder::Web(d) => d.end_of_input(cx),
            #[cfg(feature = "web")]
            Decoder::Sniff(_) => CloseReason::EndOfInput,
        }
    }

    /// A drain reached a boundary: end the session cleanly.
    pub(crate) fn finish_drain<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        #[cfg(feature = "web")]
        self.settle_sniff(cx);
        match self {
            Decoder::Undecided => {}
            Decoder::Raw(_) | Decoder::Line(_) => cx.flush_transform(),
            Decoder::Frame(d) => d.finish_drain(cx),
            #[cfg(feature = "web")]
            Decoder::Web(d) => return d.finish_drain(cx),
            #[cfg(feature = "web")]
            Decoder::Sniff(_) => {}
        }
        CloseReason::Shutdown
    }

    /// The idle timeout fired.
    pub(crate) fn idle<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        #[cfg(feature = "web")]
        self.settle_sniff(cx);
        match self {
            Decoder::Frame(d) => d.idle(cx),
            #[cfg(feature = "web")]
            Decoder::Web(d) => d.idle(cx),
            _ => {
                // Nothing lost: bytes held back from an incomplete UTF-8
                // sequence go out unchanged, as at end of input.
                cx.flush_transform();
                CloseReason::IdleTimeout
            }
        }
    }

    /// The drain deadline passed: close as things are, but a raw or line
    /// stream still gets its held-back bytes.
    pub(crate) fn drain_timeout<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        #[cfg(feature = "web")]
        self.settle_sniff(cx);
        if matches!(self, Decoder::Raw(_) | Decoder::Line(_)) {
            cx.flush_transform();
        }
        CloseReason::DrainTimeout
    }

    /// The least input, in one slice, the decoder needs to move on.
    pub(crate) fn input_needed(&self) -> usize {
        match self {
            Decoder::Frame(d) => d.input_needed(),
            #[cfg(feature = "web")]
            Decoder::Web(d) => d.input_needed(),
            _ => 1,
        }
    }

    /// True for a frame session still waiting for the client's HELLO.
    pub(crate) fn is_handshaking(&self) -> bool {
        matches!(self, Decoder::Frame(d) if !d.hello_done())
    }
}

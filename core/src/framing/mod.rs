//! Incremental decoders that cut a byte stream into requests and answer
//! each as it arrives.
//!
//! Each decoder consumes as much input as the output window lets it answer
//! and says how much that was; it never buffers payload. The session around
//! it (see [`crate::session`]) owns time, end of input and shutdown, and asks
//! the decoder to act on them at the right moment.

pub(crate) mod detect;
pub(crate) mod frame;
pub(crate) mod line;
pub(crate) mod raw;

use crate::config::Config;
use crate::output::Output;
use crate::session::CloseReason;
use crate::transform::AnyTransform;

/// What a decoder may touch while it works.
pub(crate) struct Cx<'c, 'o> {
    pub(crate) out: &'c mut Output<'o>,
    pub(crate) transform: &'c mut AnyTransform,
    pub(crate) config: &'c Config,
    /// Set by the decoder when the session must close, after it has
    /// emitted the last bytes the contract asks for.
    pub(crate) close: Option<CloseReason>,
}

impl Cx<'_, '_> {
    /// Transforms a prefix of `input` into the window; returns how much of
    /// `input` it took.
    #[inline]
    pub(crate) fn transform(&mut self, input: &[u8]) -> usize {
        let (consumed, written) = self.transform.apply(input, self.out.spare());
        self.out.advance(written);
        if consumed == 0 && written == 0 && !input.is_empty() && !self.out.spare().is_empty() {
            // The window has room, but not for the whole uppercase of the
            // next character (`ß` is 2 bytes, `ΐ` 6): let it spill through
            // the control queue so any window size makes progress.
            let mut spill = [0u8; 16];
            let (consumed, written) = self.transform.apply(input, &mut spill);
            self.out.emit(&spill[..written]);
            return consumed;
        }
        consumed
    }

    /// Writes the transform's held-back bytes, unchanged, as control bytes.
    pub(crate) fn flush_transform(&mut self) {
        let mut held = [0u8; 4];
        let n = self.transform.flush(&mut held);
        self.out.emit(&held[..n]);
    }
}

/// The decoder for the framing the first byte chose.
#[derive(Clone, Debug)]
pub(crate) enum Decoder {
    Undecided,
    Raw(raw::Raw),
    Line(line::Line),
    Frame(frame::FrameServer),
}

impl Decoder {
    /// Consumes a prefix of `input`, answering it into `cx.out`.
    #[inline]
    pub(crate) fn input(&mut self, cx: &mut Cx<'_, '_>, input: &[u8]) -> usize {
        match self {
            Decoder::Undecided => 0,
            Decoder::Raw(d) => d.input(cx, input),
            Decoder::Line(d) => d.input(cx, input),
            Decoder::Frame(d) => d.input(cx, input),
        }
    }

    /// True when no request is in progress, so a drain may end here.
    pub(crate) fn at_boundary(&self) -> bool {
        match self {
            Decoder::Undecided | Decoder::Raw(_) => true,
            Decoder::Line(d) => d.at_boundary(),
            Decoder::Frame(d) => d.at_boundary(),
        }
    }

    /// Input has ended: emit what the contract asks and close.
    pub(crate) fn end_of_input(&mut self, cx: &mut Cx<'_, '_>) {
        match self {
            Decoder::Undecided => cx.close = Some(CloseReason::EndOfInput),
            Decoder::Raw(_) | Decoder::Line(_) => {
                cx.flush_transform();
                cx.close = Some(CloseReason::EndOfInput);
            }
            Decoder::Frame(d) => d.end_of_input(cx),
        }
    }

    /// A drain reached a boundary: end the session cleanly.
    pub(crate) fn finish_drain(&mut self, cx: &mut Cx<'_, '_>) {
        match self {
            Decoder::Undecided => {}
            Decoder::Raw(_) | Decoder::Line(_) => cx.flush_transform(),
            Decoder::Frame(d) => d.finish_drain(cx),
        }
        cx.close = Some(CloseReason::Shutdown);
    }

    /// The idle timeout fired.
    pub(crate) fn idle(&mut self, cx: &mut Cx<'_, '_>) {
        match self {
            Decoder::Frame(d) => d.idle(cx),
            _ => {
                // Nothing lost: bytes held back from an incomplete UTF-8
                // sequence go out unchanged, as at end of input.
                cx.flush_transform();
                cx.close = Some(CloseReason::IdleTimeout);
            }
        }
    }

    /// The drain deadline passed: close as things are, but a raw or line
    /// stream still gets its held-back bytes.
    pub(crate) fn drain_timeout(&mut self, cx: &mut Cx<'_, '_>) {
        if matches!(self, Decoder::Raw(_) | Decoder::Line(_)) {
            cx.flush_transform();
        }
        cx.close = Some(CloseReason::DrainTimeout);
    }

    /// The least input, in one slice, the decoder needs to move on.
    pub(crate) fn input_needed(&self) -> usize {
        match self {
            Decoder::Frame(d) => d.input_needed(),
            _ => 1,
        }
    }

    /// True for a frame session still waiting for the client's HELLO.
    pub(crate) fn is_handshaking(&self) -> bool {
        matches!(self, Decoder::Frame(d) if !d.hello_done())
    }
}

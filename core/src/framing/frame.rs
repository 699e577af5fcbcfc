//! Frame, server side: judge each header in the contract's order, answer
//! DATA and PING as their payload arrives, and keep the handshake.
//!
//! Cut-through: the response header of a DATA or PING is emitted as soon as
//! the request header is in, since a length-preserving transform knows the
//! response length then. A transform that is not length-preserving
//! (unicode) knows it only once the whole payload is in, so the decoder
//! consumes nothing of a DATA payload until the caller offers all of it in
//! one slice (the session says so with `Next::Input { min }`): the payload
//! is stored in the caller's buffer, never in the session. Once a response
//! header is out, a response is under way, which decides what end of input
//! and idle timeout may still send: a frame cannot be slipped into the
//! middle of another frame's payload.

use super::Cx;
use crate::io::decimal;
use crate::io::Bytes;
use crate::session::CloseReason;
use crate::wire::{ErrorCode, ErrorFrame, Header, HeaderReader, Kind};
use crate::wire::{ServerHello, HELLO_MIN_PAYLOAD, MAGIC, VERSION};

/// Where the decoder is inside the frame in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Between frames, or inside a header (the reader holds its bytes).
    Header,
    /// The client's HELLO payload: the first 6 bytes are judged once all
    /// six are in; `magic_ok` says whether those seen so far are `SHOUT`.
    Hello {
        remaining: u32,
        fill: u8,
        magic_ok: bool,
    },
    /// A payload being answered as it arrives: the response header is out.
    Answer { kind: Kind, remaining: u32 },
    /// A DATA payload that must be offered whole before it is answered.
    Stored { remaining: u32 },
    /// A payload that gets no answer (a client PONG).
    Ignore { remaining: u32 },
}

/// The state of one frame session; a few dozen bytes whatever the payload.
#[derive(Clone, Debug)]
pub(crate) struct FrameServer {
    stage: Stage,
    hello_done: bool,
    header: HeaderReader,
}

impl FrameServer {
    pub(crate) const fn new() -> Self {
        FrameServer {
            stage: Stage::Header,
            hello_done: false,
            header: HeaderReader::new(),
        }
    }

    pub(crate) fn hello_done(&self) -> bool {
        self.hello_done
    }

    /// The least input, in one slice, this decoder needs to move on.
    pub(crate) fn input_needed(&self) -> usize {
        match self.stage {
            Stage::Stored { remaining } => remaining as usize,
            _ => 1,
        }
    }

    pub(crate) fn at_boundary(&self) -> bool {
        self.stage == Stage::Header && self.header.is_empty()
    }

    pub(crate) fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        loop {
            if cx.io.is_blocked() || (cx.stop_at_boundary && self.at_boundary()) {
                return None;
            }
            let available = cx.io.input().len();
            if available == 0 {
                return None;
            }
            match self.stage {
                Stage::Header => {
                    let (n, header) = self.header.read(cx.io.input());
                    cx.io.skip(n);
                    if let Some(header) = header {
                        if let Some(reason) = self.on_header(cx, header) {
                            return Some(reason);
                        }
                    }
                }
                Stage::Hello {
                    remaining,
                    fill,
                    magic_ok,
                } => {
                    let take = available.min(remaining as usize);
                    let judged = self.hello_payload(cx, fill, magic_ok, take);
                    if let Err(reason) = judged {
                        return Some(reason);
                    }
                }
                Stage::Stored { remaining } => {
                    // Store-and-forward, in the caller's buffer: take
                    // nothing until the whole payload is offered.
                    let payload = remaining as usize;
                    if available < payload {
                        return None;
                    }
                    let len = cx.transform.output_len(&cx.io.input()[..payload]);
                    cx.io.emit(&Header::new(Kind::Data, len as u32).to_bytes());
                    self.stage = Stage::Answer {
                        kind: Kind::Data,
                        remaining,
                    };
                }
                Stage::Answer { kind, remaining } => {
                    let take = available.min(remaining as usize);
                    let n = match kind {
                        Kind::Data => cx.transform(take),
                        _ => cx.io.copy(take),
                    };
                    if n == 0 {
                        return None; // the window is full
                    }
                    self.payload_taken(cx, n as u32);
                }
                Stage::Ignore { remaining } => {
                    let take = available.min(remaining as usize);
                    cx.io.skip(take);
                    self.payload_taken(cx, take as u32);
                }
            }
        }
    }

    /// Judges a header in the contract's order and starts its frame.
    fn on_header<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>, h: Header) -> Option<CloseReason> {
        if !self.hello_done && h.kind != Kind::Hello as u8 {
            return Some(send_error(
                cx,
                ErrorCode::Malformed,
                &[b"expected HELLO first"],
            ));
        }
        let Some(kind) = h.known_kind() else {
            return Some(send_error(
                cx,
                ErrorCode::UnknownKind,
                &[b"unknown frame kind"],
            ));
        };
        if h.len > cx.config.max_payload {
            let mut d = [0u8; 10];
            let limit = decimal(cx.config.max_payload, &mut d);
            return Some(send_error(
                cx,
                ErrorCode::FrameTooLarge,
                &[b"frame too large (limit ", limit, b" bytes)"],
            ));
        }
        let remaining = h.len;
        match kind {
            Kind::Hello if self.hello_done => {
                return Some(send_error(cx, ErrorCode::Malformed, &[b"second HELLO"]))
            }
            Kind::Hello if (h.len as usize) < HELLO_MIN_PAYLOAD => {
                return Some(send_error(
                    cx,
                    ErrorCode::Malformed,
                    &[b"HELLO payload too short"],
                ))
            }
            Kind::Hello => {
                self.stage = Stage::Hello {
                    remaining,
                    fill: 0,
                    magic_ok: true,
                }
            }
            Kind::Data if remaining > 0 && !cx.transform.is_length_preserving() => {
                cx.tally.request();
                self.stage = Stage::Stored { remaining };
            }
            Kind::Data | Kind::Ping => {
                cx.tally.request();
                let reply = if kind == Kind::Data {
                    Kind::Data
                } else {
                    Kind::Pong
                };
                cx.io.emit(&Header::new(reply, remaining).to_bytes());
                self.stage = Stage::Answer { kind, remaining };
                self.payload_taken(cx, 0);
            }
            Kind::Pong => {
                self.stage = Stage::Ignore { remaining };
                self.payload_taken(cx, 0);
            }
            Kind::Close => {
                cx.io.emit(&Header::new(Kind::Close, 0).to_bytes());
                return Some(CloseReason::PeerClosed);
            }
            Kind::Error => return Some(CloseReason::PeerError),
        }
        None
    }

    /// Takes `take` bytes of a client HELLO payload: the first 6 are
    /// judged as soon as the sixth is in; later bytes are room for
    /// extensions.
    fn hello_payload<B: Bytes>(
        &mut self,
        cx: &mut Cx<'_, '_, B>,
        fill: u8,
        mut magic_ok: bool,
        take: usize,
    ) -> Result<(), CloseReason> {
        let mut fill = fill as usize;
        let mut n = take;
        if fill < HELLO_MIN_PAYLOAD {
            n = (HELLO_MIN_PAYLOAD - fill).min(take);
            let mut verdict: Option<(ErrorCode, &[&[u8]])> = None;
            for &b in &cx.io.input()[..n] {
                if fill < MAGIC.len() {
                    magic_ok &= b == MAGIC[fill];
                } else if !magic_ok {
                    verdict = Some((ErrorCode::Malformed, &[b"HELLO without ", MAGIC]));
                } else if b != VERSION {
                    verdict = Some((
                        ErrorCode::UnsupportedVersion,
                        &[b"unsupported version (this server speaks 1)"],
                    ));
                }
                fill += 1;
            }
            if let Some((code, reason)) = verdict {
                // The session ends at the judged byte, however the input
                // was split.
                cx.io.skip(n);
                return Err(send_error(cx, code, reason));
            }
        }
        cx.io.skip(n);
        if let Stage::Hello { remaining, .. } = self.stage {
            self.stage = Stage::Hello {
                remaining,
                fill: fill as u8,
                magic_ok,
            };
        }
        self.payload_taken(cx, n as u32);
        Ok(())
    }

    /// `n` more payload bytes of the frame in progress were taken; ends
    /// the frame when none remain.
    fn payload_taken<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>, n: u32) {
        let (left, kind) = match &mut self.stage {
            Stage::Header | Stage::Stored { .. } => return,
            Stage::Hello { remaining, .. } => {
                *remaining -= n;
                (*remaining, Kind::Hello)
            }
            Stage::Answer { remaining, kind } => {
                *remaining -= n;
                (*remaining, *kind)
            }
            Stage::Ignore { remaining } => {
                *remaining -= n;
                (*remaining, Kind::Pong)
            }
        };
        if left > 0 {
            return;
        }
        match kind {
            Kind::Data if !cx.transform.is_length_preserving() => {
                // Each DATA is transformed on its own: a sequence cut at
                // its end goes out unchanged, and the next frame starts
                // clean.
                cx.flush_transform();
            }
            Kind::Hello => {
                let hello = ServerHello {
                    max_payload: cx.config.max_payload,
                    transform: cx.config.transform,
                };
                cx.io.emit(&hello.frame());
                self.hello_done = true;
            }
            _ => {}
        }
        self.stage = Stage::Header;
    }

    pub(crate) fn end_of_input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        if self.at_boundary() {
            cx.io.emit(&Header::new(Kind::Close, 0).to_bytes());
            return CloseReason::EndOfInput;
        }
        if !matches!(self.stage, Stage::Answer { .. }) {
            let _ = send_error(
                cx,
                ErrorCode::Malformed,
                &[b"frame cut off by end of input"],
            );
        }
        CloseReason::Truncated
    }

    pub(crate) fn finish_drain<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) {
        cx.io.emit(&Header::new(Kind::Close, 0).to_bytes());
    }

    pub(crate) fn idle<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        if !matches!(self.stage, Stage::Answer { .. }) {
            let _ = send_error(cx, ErrorCode::IdleTimeout, &[b"idle timeout"]);
        }
        CloseReason::IdleTimeout
    }
}

/// Emits an ERROR frame; the session closes with it.
fn send_error<B: Bytes>(cx: &mut Cx<'_, '_, B>, code: ErrorCode, parts: &[&[u8]]) -> CloseReason {
    cx.io.emit(ErrorFrame::new(code, parts).as_bytes());
    cx.tally.error(code);
    CloseReason::ProtocolError(code)
}

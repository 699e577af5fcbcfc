//! Frame, server side: judge each header in the contract's order, answer
//! DATA and PING as their payload arrives, and keep the handshake.
//!
//! Cut-through: the response header of a DATA or PING is emitted as soon as
//! the request header is in, since a length-preserving transform knows the
//! response length then. A transform that is not length-preserving
//! (unicode) knows it only once the whole payload is in, so the decoder
//! consumes nothing of a DATA payload until the caller offers all of it in
//! one slice ([`crate::Server::input_needed`] says how much): the payload is
//! stored in the caller's buffer, never in the session. From that moment a response is under way, which
//! decides what end of input and idle timeout may still send: a frame cannot
//! be slipped into the middle of another frame's payload.

use super::Cx;
use crate::output::decimal;
use crate::session::CloseReason;
use crate::wire::HEADER_LEN;
use crate::wire::{ClientHello, ErrorCode, Header, HeaderReader, HelloError, Kind, ServerHello};
use crate::wire::{HELLO_MIN_PAYLOAD, MAGIC};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Payload,
}

/// The state of one frame session; a few dozen bytes whatever the payload.
#[derive(Clone, Debug)]
pub(crate) struct FrameServer {
    stage: Stage,
    hello_done: bool,
    /// A response header has been emitted for the frame in progress.
    responding: bool,
    /// A DATA payload waits to be whole before its response header (whose
    /// length a non-length-preserving transform knows only at the end).
    stored: bool,
    header: HeaderReader,
    kind: Kind,
    remaining: u32,
    hello: [u8; HELLO_MIN_PAYLOAD],
    hello_fill: u8,
}

impl FrameServer {
    pub(crate) const fn new() -> Self {
        FrameServer {
            stage: Stage::Header,
            hello_done: false,
            responding: false,
            stored: false,
            header: HeaderReader::new(),
            kind: Kind::Hello,
            remaining: 0,
            hello: [0; HELLO_MIN_PAYLOAD],
            hello_fill: 0,
        }
    }

    pub(crate) fn hello_done(&self) -> bool {
        self.hello_done
    }

    /// The least input, in one slice, this decoder needs to move on.
    pub(crate) fn input_needed(&self) -> usize {
        if self.stored {
            self.remaining as usize
        } else {
            1
        }
    }

    pub(crate) fn at_boundary(&self) -> bool {
        self.stage == Stage::Header && self.header.is_empty()
    }

    pub(crate) fn input(&mut self, cx: &mut Cx<'_, '_>, input: &[u8]) -> usize {
        let mut i = 0;
        loop {
            if cx.close.is_some() || cx.out.is_blocked() {
                return i;
            }
            match self.stage {
                Stage::Header => {
                    if i == input.len() {
                        return i;
                    }
                    let (n, header) = self.header.read(&input[i..]);
                    i += n;
                    let Some(header) = header else {
                        return i;
                    };
                    self.on_header(cx, header);
                }
                Stage::Payload => {
                    if self.remaining == 0 {
                        self.on_payload_end(cx);
                        continue;
                    }
                    if i == input.len() {
                        return i;
                    }
                    if self.stored {
                        // Store-and-forward, in the caller's buffer: take
                        // nothing until the whole payload is offered.
                        let payload = self.remaining as usize;
                        if input.len() - i < payload {
                            return i;
                        }
                        let len = cx.transform.output_len(&input[i..i + payload]);
                        cx.out.emit(&Header::new(Kind::Data, len as u32).to_bytes());
                        self.stored = false;
                        self.responding = true;
                        continue;
                    }
                    let take = (input.len() - i).min(self.remaining as usize);
                    let chunk = &input[i..i + take];
                    let n = match self.kind {
                        Kind::Data => cx.transform(chunk),
                        Kind::Ping => {
                            let spare = cx.out.spare();
                            let n = chunk.len().min(spare.len());
                            spare[..n].copy_from_slice(&chunk[..n]);
                            cx.out.advance(n);
                            n
                        }
                        Kind::Hello => self.hello_payload(cx, chunk),
                        // PONG payloads are ignored; CLOSE and ERROR never
                        // reach the payload stage.
                        _ => chunk.len(),
                    };
                    if n == 0 {
                        return i; // the window is full
                    }
                    i += n;
                    self.remaining -= n as u32;
                }
            }
        }
    }

    /// Judges a header in the contract's order and starts its frame.
    fn on_header(&mut self, cx: &mut Cx<'_, '_>, h: Header) {
        if !self.hello_done && h.kind != Kind::Hello as u8 {
            return send_error(cx, ErrorCode::Malformed, &[b"expected HELLO first"]);
        }
        let Some(kind) = h.known_kind() else {
            return send_error(cx, ErrorCode::UnknownKind, &[b"unknown frame kind"]);
        };
        if h.len > cx.config.max_payload {
            let mut d = [0u8; 10];
            let limit = decimal(cx.config.max_payload, &mut d);
            return send_error(
                cx,
                ErrorCode::FrameTooLarge,
                &[b"frame too large (limit ", limit, b" bytes)"],
            );
        }
        self.kind = kind;
        self.remaining = h.len;
        self.stage = Stage::Payload;
        match kind {
            Kind::Hello if self.hello_done => {
                send_error(cx, ErrorCode::Malformed, &[b"second HELLO"])
            }
            Kind::Hello if (h.len as usize) < HELLO_MIN_PAYLOAD => {
                send_error(cx, ErrorCode::Malformed, &[b"HELLO payload too short"])
            }
            Kind::Hello => self.hello_fill = 0,
            Kind::Data if h.len > 0 && !cx.transform.is_length_preserving() => {
                self.stored = true;
            }
            Kind::Data | Kind::Ping => {
                let reply = if kind == Kind::Data {
                    Kind::Data
                } else {
                    Kind::Pong
                };
                cx.out.emit(&Header::new(reply, h.len).to_bytes());
                self.responding = true;
            }
            Kind::Pong => {}
            Kind::Close => {
                cx.out.emit(&Header::new(Kind::Close, 0).to_bytes());
                cx.close = Some(CloseReason::PeerClosed);
            }
            Kind::Error => cx.close = Some(CloseReason::PeerError),
        }
    }

    /// Collects the first 6 bytes of a client HELLO and judges them as
    /// soon as they are in; later bytes are room for extensions.
    fn hello_payload(&mut self, cx: &mut Cx<'_, '_>, chunk: &[u8]) -> usize {
        let fill = self.hello_fill as usize;
        if fill < HELLO_MIN_PAYLOAD {
            let n = (HELLO_MIN_PAYLOAD - fill).min(chunk.len());
            self.hello[fill..fill + n].copy_from_slice(&chunk[..n]);
            self.hello_fill += n as u8;
            if self.hello_fill as usize == HELLO_MIN_PAYLOAD {
                match ClientHello::check(&self.hello) {
                    Ok(()) => {}
                    Err(HelloError::Malformed) => {
                        send_error(cx, ErrorCode::Malformed, &[b"HELLO without ", MAGIC]);
                    }
                    Err(HelloError::UnsupportedVersion(_)) => send_error(
                        cx,
                        ErrorCode::UnsupportedVersion,
                        &[b"unsupported version (this server speaks 1)"],
                    ),
                }
                if cx.close.is_some() {
                    // The session ends at the judged byte, however the
                    // input was split.
                    return n;
                }
            }
        }
        chunk.len()
    }

    fn on_payload_end(&mut self, cx: &mut Cx<'_, '_>) {
        if self.kind == Kind::Data && !cx.transform.is_length_preserving() {
            // Each DATA is transformed on its own: a sequence cut at its end
            // goes out unchanged, and the next frame starts clean.
            cx.flush_transform();
        }
        if self.kind == Kind::Hello {
            let hello = ServerHello {
                max_payload: cx.config.max_payload,
                transform: cx.config.transform,
            };
            cx.out.emit(&hello.frame());
            self.hello_done = true;
        }
        self.responding = false;
        self.stage = Stage::Header;
    }

    /// A zero-length payload that ended while output was blocked.
    fn settle(&mut self, cx: &mut Cx<'_, '_>) {
        if self.stage == Stage::Payload && self.remaining == 0 && cx.close.is_none() {
            self.on_payload_end(cx);
        }
    }

    pub(crate) fn end_of_input(&mut self, cx: &mut Cx<'_, '_>) {
        self.settle(cx);
        if cx.close.is_some() {
            return;
        }
        if self.at_boundary() {
            cx.out.emit(&Header::new(Kind::Close, 0).to_bytes());
            cx.close = Some(CloseReason::EndOfInput);
        } else {
            if !self.responding {
                send_error(
                    cx,
                    ErrorCode::Malformed,
                    &[b"frame cut off by end of input"],
                );
            }
            cx.close = Some(CloseReason::Truncated);
        }
    }

    pub(crate) fn finish_drain(&mut self, cx: &mut Cx<'_, '_>) {
        cx.out.emit(&Header::new(Kind::Close, 0).to_bytes());
    }

    pub(crate) fn idle(&mut self, cx: &mut Cx<'_, '_>) {
        self.settle(cx);
        if cx.close.is_some() {
            return;
        }
        if !self.responding {
            send_error(cx, ErrorCode::IdleTimeout, &[b"idle timeout"]);
        }
        cx.close = Some(CloseReason::IdleTimeout);
    }
}

/// Emits an ERROR frame (code + reason made of `parts`) and closes.
fn send_error(cx: &mut Cx<'_, '_>, code: ErrorCode, parts: &[&[u8]]) {
    let mut frame = [0u8; 80];
    let mut n = HEADER_LEN + 2;
    for p in parts {
        let take = p.len().min(frame.len() - n);
        frame[n..n + take].copy_from_slice(&p[..take]);
        n += take;
    }
    let header = Header::new(Kind::Error, (n - HEADER_LEN) as u32).to_bytes();
    frame[..HEADER_LEN].copy_from_slice(&header);
    frame[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&code.as_u16().to_be_bytes());
    cx.out.emit(&frame[..n]);
    cx.close = Some(CloseReason::ProtocolError(code));
}

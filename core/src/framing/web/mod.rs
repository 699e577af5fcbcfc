//! Web: HTTP/1.1 and WebSocket on the same port, so that a browser is a
//! client.
//!
//! A session reads `GET `, then waits for the rest of the request head in
//! the caller's buffer (as a unicode DATA payload waits: the session asks
//! for more with `Next::Input { min }` and consumes nothing until the head
//! is whole, at most [`MAX_HEAD`] bytes), judges it, and answers: the page,
//! an error status, or `101` and then WebSocket frames. One answer frame
//! goes out per client frame. With a length-preserving transform (ascii) a
//! frame's answer streams as its payload arrives, cut-through as raw is;
//! with unicode a frame's payload is offered whole first (its answer's
//! length is known only then), then answered.

pub(crate) mod accept;
mod head;
mod utf8;
pub(crate) mod ws;

use head::{Answer, Parsed, Status};
use utf8::Utf8;
use ws::FrameHeader;

use super::Cx;
use crate::io::{decimal, Bytes};
use crate::session::CloseReason;
use crate::transform::AnyTransform;
use crate::TransformKind;

/// The longest request head, request line to empty line.
pub(crate) const MAX_HEAD: usize = 8192;

const GET: &[u8; 4] = b"GET ";

/// The page, with one `{{transform}}` marker the session fills in.
const PAGE: &str = include_str!("page.html");
const MARKER: &str = "{{transform}}";

fn page_parts() -> (&'static [u8], &'static [u8]) {
    match PAGE.split_once(MARKER) {
        Some((a, b)) => (a.as_bytes(), b.as_bytes()),
        None => (PAGE.as_bytes(), b""),
    }
}

/// Where a web session is.
#[derive(Clone, Debug)]
pub(crate) struct Web {
    stage: Stage,
}

#[derive(Clone, Debug)]
enum Stage {
    /// `matched` bytes of `GET ` taken.
    Method { matched: u8 },
    /// The rest of the head waits in the caller's buffer; `seen` bytes of
    /// it were offered and do not hold its end.
    Head { seen: u16 },
    /// An HTTP response going out, `at` bytes of it sent.
    Respond { answer: Answer, at: u32 },
    /// WebSocket frames.
    Socket(Socket),
}

impl Web {
    /// A session whose first bytes are the method (`--framing web`).
    pub(crate) const fn new() -> Self {
        Web {
            stage: Stage::Method { matched: 0 },
        }
    }

    /// A session `auto` chose after seeing `GET ` (already taken).
    pub(crate) const fn after_get() -> Self {
        Web {
            stage: Stage::Head { seen: 0 },
        }
    }

    /// The least input, in one slice, this session needs to move on.
    pub(crate) fn input_needed(&self) -> usize {
        match &self.stage {
            Stage::Head { seen } => *seen as usize + 1,
            Stage::Socket(s) => s.input_needed(),
            _ => 1,
        }
    }

    pub(crate) fn at_boundary(&self) -> bool {
        match &self.stage {
            Stage::Method { matched } => *matched == 0,
            Stage::Head { .. } | Stage::Respond { .. } => false,
            Stage::Socket(s) => s.at_boundary(),
        }
    }

    pub(crate) fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        loop {
            if cx.io.is_blocked() {
                return None;
            }
            match &mut self.stage {
                Stage::Method { matched } => {
                    let m = *matched as usize;
                    let &b = cx.io.input().first()?;
                    if b != GET[m] {
                        // Another method, or not HTTP: 400.
                        self.stage = Stage::Respond {
                            answer: Answer::Status(Status::BadRequest),
                            at: 0,
                        };
                        continue;
                    }
                    cx.io.skip(1);
                    *matched += 1;
                    if *matched == 4 {
                        self.stage = Stage::Head { seen: 0 };
                    }
                }
                Stage::Head { seen } => {
                    let rest = cx.io.input();
                    let room = MAX_HEAD - GET.len();
                    match head::parse(&rest[..rest.len().min(room)]) {
                        Parsed::Done(n, answer) => {
                            cx.io.skip(n);
                            self.stage = Stage::Respond { answer, at: 0 };
                        }
                        Parsed::Partial if rest.len() >= room => {
                            cx.io.skip(rest.len());
                            self.stage = Stage::Respond {
                                answer: Answer::Status(Status::TooLarge),
                                at: 0,
                            };
                        }
                        Parsed::Partial => {
                            *seen = rest.len() as u16;
                            return None;
                        }
                    }
                }
                Stage::Respond { answer, at } => {
                    loop {
                        let mut digits = [0u8; 10];
                        let rest =
                            response_rest(answer, *at as usize, cx.config.transform, &mut digits);
                        if rest.is_empty() {
                            break;
                        }
                        let n = cx.io.emit_some(rest);
                        if n == 0 {
                            return None;
                        }
                        *at += n as u32;
                    }
                    match *answer {
                        Answer::Upgrade(_) => self.stage = Stage::Socket(Socket::new()),
                        Answer::Page => return Some(CloseReason::HttpResponse(200)),
                        Answer::Status(s) => return Some(CloseReason::HttpResponse(s.code())),
                    }
                }
                Stage::Socket(s) => return s.input(cx),
            }
        }
    }

    pub(crate) fn end_of_input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        match &mut self.stage {
            Stage::Socket(s) => s.end_of_input(cx),
            _ => CloseReason::EndOfInput,
        }
    }

    pub(crate) fn idle<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        if let Stage::Socket(s) = &mut self.stage {
            s.close_with(cx, ws::GOING_AWAY, b"idle timeout");
        }
        CloseReason::IdleTimeout
    }

    pub(crate) fn finish_drain<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        if let Stage::Socket(s) = &mut self.stage {
            s.close_with(cx, ws::GOING_AWAY, b"going away");
        }
        CloseReason::Shutdown
    }
}

/// What is left of the response from byte `at` to the end of the piece
/// `at` falls in (empty once all of it is sent).
fn response_rest<'a>(
    answer: &'a Answer,
    at: usize,
    t: TransformKind,
    digits: &'a mut [u8; 10],
) -> &'a [u8] {
    let mut start = 0;
    for i in 0..6 {
        let len = piece(answer, i, t, &mut [0; 10]).len();
        if at < start + len {
            return &piece(answer, i, t, digits)[at - start..];
        }
        start += len;
    }
    &[]
}

/// Piece `i` of a response (empty past the last).
fn piece<'a>(answer: &'a Answer, i: usize, t: TransformKind, digits: &'a mut [u8; 10]) -> &'a [u8] {
    match answer {
        Answer::Page => {
            let (a, b) = page_parts();
            match i {
                0 => b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: ",
                1 => decimal((a.len() + transform_name(t).len() + b.len()) as u32, digits),
                2 => b"\r\nConnection: close\r\n\r\n",
                3 => a,
                4 => transform_name(t),
                5 => b,
                _ => &[],
            }
        }
        Answer::Upgrade(key) => match i {
            0 => b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
            1 => &key[..],
            2 => b"\r\n\r\n",
            _ => &[],
        },
        Answer::Status(s) if i == 0 => status_response(*s),
        Answer::Status(_) => &[],
    }
}

fn status_response(s: Status) -> &'static [u8] {
    match s {
        Status::BadRequest => b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n",
        Status::NotFound => b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n",
        Status::UpgradeRequired => b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\nContent-Length: 39\r\nConnection: close\r\n\r\nupgrade required: WebSocket version 13\n",
        Status::TooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 25\r\nConnection: close\r\n\r\nrequest head over 8192 B\n",
    }
}

fn transform_name(t: TransformKind) -> &'static [u8] {
    match t {
        TransformKind::Unicode => b"unicode",
        _ => b"ascii",
    }
}

/// Where a WebSocket is inside the client's frames.
#[derive(Clone, Copy, Debug)]
enum Frame {
    /// Between frames, or inside a header (the reader holds its bytes).
    Header,
    /// A data frame's payload, answered as it arrives (its answer's header
    /// is out). `fin`: it ends its message.
    Data {
        remaining: u32,
        mask: [u8; 4],
        phase: u8,
        fin: bool,
    },
    /// A data frame that must be offered whole before it is answered
    /// (unicode: its answer's length is known only then).
    Stored {
        len: u32,
        mask: [u8; 4],
        fin: bool,
        opcode: u8,
    },
    /// A Ping's payload, copied into its Pong as it arrives.
    Ping {
        remaining: u8,
        mask: [u8; 4],
        phase: u8,
    },
    /// A Close's payload: its status code (`got` of 2 bytes) is kept, its
    /// reason skipped.
    Close {
        remaining: u8,
        mask: [u8; 4],
        phase: u8,
        code: [u8; 2],
    },
    /// A payload that gets no answer (an unsolicited Pong).
    Skip { remaining: u8 },
}

/// A data message in progress.
#[derive(Clone, Copy, Debug)]
struct Message {
    text: bool,
    /// Payload bytes announced so far, for `max_payload`.
    len: u32,
}

/// One WebSocket's state: a few dozen bytes whatever the messages.
#[derive(Clone, Debug)]
pub(crate) struct Socket {
    header: ws::HeaderReader,
    frame: Frame,
    message: Option<Message>,
    utf8: Utf8,
    /// A text message turned out not to be UTF-8 while its frame's answer
    /// was under way: the frame is answered to its end, then 1007.
    invalid: bool,
}

impl Socket {
    const fn new() -> Self {
        Socket {
            header: ws::HeaderReader::new(),
            frame: Frame::Header,
            message: None,
            utf8: Utf8::new(),
            invalid: false,
        }
    }

    fn input_needed(&self) -> usize {
        match self.frame {
            Frame::Stored { len, .. } => len as usize,
            _ => 1,
        }
    }

    /// No message, frame or header in progress: a drain may end here.
    fn at_boundary(&self) -> bool {
        matches!(self.frame, Frame::Header) && self.header.is_empty() && self.message.is_none()
    }

    fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        loop {
            if cx.io.is_blocked() || (cx.stop_at_boundary && self.at_boundary()) {
                return None;
            }
            let available = cx.io.input().len();
            match self.frame {
                Frame::Header => {
                    if available == 0 {
                        return None;
                    }
                    let (n, header) = self.header.read(cx.io.input());
                    cx.io.skip(n);
                    if let Some(h) = header {
                        if let Some(reason) = self.on_header(cx, h) {
                            return Some(reason);
                        }
                    }
                }
                Frame::Data {
                    remaining,
                    mask,
                    phase,
                    fin,
                } => {
                    if remaining == 0 {
                        if let Some(reason) = self.end_frame(cx, fin) {
                            return Some(reason);
                        }
                        continue;
                    }
                    let take = (remaining as usize).min(available);
                    let (transform, utf8, text) = (
                        &mut *cx.transform,
                        &mut self.utf8,
                        self.message.is_some_and(|m| m.text),
                    );
                    let mut valid = true;
                    let n = cx.io.unmask(
                        Some(transform),
                        take,
                        mask,
                        phase as usize,
                        &mut |b, ascii| {
                            if text {
                                valid &= if ascii {
                                    utf8.feed_ascii()
                                } else {
                                    utf8.feed(b)
                                };
                            }
                        },
                    );
                    if n == 0 {
                        return None;
                    }
                    self.invalid |= !valid;
                    self.frame = Frame::Data {
                        remaining: remaining - n as u32,
                        mask,
                        phase: ((phase as usize + n) & 3) as u8,
                        fin,
                    };
                }
                Frame::Stored {
                    len,
                    mask,
                    fin,
                    opcode,
                } => {
                    let len_usize = len as usize;
                    if available < len_usize {
                        return None;
                    }
                    let out = answer_len(cx.transform, &cx.io.input()[..len_usize], mask, fin);
                    let (h, hn) = ws::server_header(fin, opcode, out as u64);
                    cx.io.emit(&h[..hn]);
                    self.frame = Frame::Data {
                        remaining: len,
                        mask,
                        phase: 0,
                        fin,
                    };
                }
                Frame::Ping {
                    remaining,
                    mask,
                    phase,
                } => {
                    if remaining == 0 {
                        self.frame = Frame::Header;
                        continue;
                    }
                    let take = (remaining as usize).min(available);
                    let n = cx
                        .io
                        .unmask(None, take, mask, phase as usize, &mut |_, _| {});
                    if n == 0 {
                        return None;
                    }
                    self.frame = Frame::Ping {
                        remaining: remaining - n as u8,
                        mask,
                        phase: ((phase as usize + n) & 3) as u8,
                    };
                }
                Frame::Close {
                    remaining,
                    mask,
                    phase,
                    mut code,
                } => {
                    if remaining == 0 {
                        // Every earlier message is answered: echo the
                        // client's status (none if it sent none), end.
                        let got = phase.min(2);
                        let status = (got == 2).then(|| u16::from_be_bytes(code));
                        let (f, n) = ws::close_frame(status, b"");
                        cx.io.emit(&f[..n]);
                        return Some(CloseReason::PeerClosed);
                    }
                    if available == 0 {
                        return None;
                    }
                    let take = (remaining as usize).min(available);
                    for (i, &b) in cx.io.input()[..take].iter().enumerate() {
                        let at = phase as usize + i;
                        if at < 2 {
                            code[at] = b ^ mask[at & 3];
                        }
                    }
                    cx.io.skip(take);
                    self.frame = Frame::Close {
                        remaining: remaining - take as u8,
                        mask,
                        phase: phase.saturating_add(take as u8),
                        code,
                    };
                }
                Frame::Skip { remaining } => {
                    let take = (remaining as usize).min(available);
                    if remaining > 0 && take == 0 {
                        return None;
                    }
                    cx.io.skip(take);
                    let left = remaining - take as u8;
                    self.frame = if left == 0 {
                        Frame::Header
                    } else {
                        Frame::Skip { remaining: left }
                    };
                }
            }
        }
    }

    /// Judges a client frame's header in RFC 6455's order and starts its
    /// answer.
    fn on_header<B: Bytes>(
        &mut self,
        cx: &mut Cx<'_, '_, B>,
        h: FrameHeader,
    ) -> Option<CloseReason> {
        let Some(mask) = h.mask else {
            return Some(self.fail(cx, ws::PROTOCOL_ERROR, b"unmasked client frame"));
        };
        if h.rsv != 0 {
            return Some(self.fail(cx, ws::PROTOCOL_ERROR, b"reserved bit set"));
        }
        match h.opcode {
            ws::PING | ws::PONG | ws::CLOSE => {
                if h.len > 125 || !h.fin {
                    return Some(self.fail(cx, ws::PROTOCOL_ERROR, b"bad control frame"));
                }
                let len = h.len as u8;
                self.frame = match h.opcode {
                    ws::PING => {
                        let (f, n) = ws::server_header(true, ws::PONG, h.len);
                        cx.io.emit(&f[..n]);
                        Frame::Ping {
                            remaining: len,
                            mask,
                            phase: 0,
                        }
                    }
                    ws::PONG => Frame::Skip { remaining: len },
                    _ if len == 1 => {
                        return Some(self.fail(cx, ws::PROTOCOL_ERROR, b"close frame of 1 byte"))
                    }
                    _ => Frame::Close {
                        remaining: len,
                        mask,
                        phase: 0,
                        code: [0; 2],
                    },
                };
                None
            }
            ws::TEXT | ws::BINARY | ws::CONTINUATION => {
                let first = h.opcode != ws::CONTINUATION;
                let message = match (first, self.message) {
                    (true, Some(_)) => {
                        return Some(self.fail(
                            cx,
                            ws::PROTOCOL_ERROR,
                            b"new message inside a message",
                        ))
                    }
                    (false, None) => {
                        return Some(self.fail(
                            cx,
                            ws::PROTOCOL_ERROR,
                            b"continuation without a message",
                        ))
                    }
                    (true, None) => {
                        cx.tally.request();
                        self.utf8 = Utf8::new();
                        Message {
                            text: h.opcode == ws::TEXT,
                            len: 0,
                        }
                    }
                    (false, Some(m)) => m,
                };
                let total = u64::from(message.len).saturating_add(h.len);
                if total > u64::from(cx.config.max_payload) {
                    return Some(self.fail(cx, ws::TOO_BIG, b"message too big"));
                }
                // Within max_payload, so within u32.
                let (total, len) = (total as u32, h.len as u32);
                self.message = Some(Message {
                    len: total,
                    ..message
                });
                let opcode = if first { h.opcode } else { ws::CONTINUATION };
                if cx.transform.is_length_preserving() {
                    let (f, n) = ws::server_header(h.fin, opcode, h.len);
                    cx.io.emit(&f[..n]);
                    self.frame = Frame::Data {
                        remaining: len,
                        mask,
                        phase: 0,
                        fin: h.fin,
                    };
                } else {
                    self.frame = Frame::Stored {
                        len,
                        mask,
                        fin: h.fin,
                        opcode,
                    };
                }
                None
            }
            _ => Some(self.fail(cx, ws::PROTOCOL_ERROR, b"unknown opcode")),
        }
    }

    /// A data frame's payload is all answered.
    fn end_frame<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>, fin: bool) -> Option<CloseReason> {
        self.frame = Frame::Header;
        if fin {
            if !cx.transform.is_length_preserving() {
                cx.flush_transform();
            }
            let text = self.message.is_some_and(|m| m.text);
            self.message = None;
            if text && !self.utf8.at_end() {
                self.invalid = true;
            }
        }
        if self.invalid {
            return Some(self.fail(cx, ws::INVALID_DATA, b"text message is not UTF-8"));
        }
        None
    }

    /// Ends the WebSocket with a Close frame carrying `code`.
    fn fail<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>, code: u16, why: &[u8]) -> CloseReason {
        self.close_with(cx, code, why);
        CloseReason::WebSocketClose(code)
    }

    /// Sends Close with `code`, unless a frame's answer is under way (a
    /// Close cannot go inside it; the connection just closes).
    fn close_with<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>, code: u16, why: &[u8]) {
        let under_way = match self.frame {
            Frame::Data { remaining, .. } => remaining > 0,
            Frame::Ping { remaining, .. } => remaining > 0,
            _ => false,
        };
        if !under_way {
            let (f, n) = ws::close_frame(Some(code), why);
            cx.io.emit(&f[..n]);
        }
    }

    fn end_of_input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        if !cx.transform.is_length_preserving() {
            cx.flush_transform();
        }
        if self.at_boundary() {
            CloseReason::EndOfInput
        } else {
            CloseReason::Truncated
        }
    }
}

/// The length of the answer to a whole frame payload (masked, as it came):
/// its unmasked bytes through a copy of the transform, and at the end of a
/// message what the transform still holds.
fn answer_len(t: &AnyTransform, payload: &[u8], mask: [u8; 4], fin: bool) -> usize {
    let mut t = t.clone();
    let mut chunk = [0u8; 256];
    let mut out = [0u8; 1024];
    let mut total = 0;
    let mut at = 0;
    while at < payload.len() {
        let k = (payload.len() - at).min(chunk.len());
        chunk[..k].copy_from_slice(&payload[at..at + k]);
        ws::unmask(&mut chunk[..k], mask, at);
        let mut done = 0;
        while done < k {
            let (c, w) = t.apply(&chunk[done..k], &mut out);
            done += c;
            total += w;
            if c == 0 && w == 0 {
                break;
            }
        }
        at += k;
    }
    if fin {
        total += t.flush(&mut out);
    }
    total
}

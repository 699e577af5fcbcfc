use heapless::Vec;

use crate::config::Framing;
use crate::wire::SERVER_HELLO_PAYLOAD;
use crate::wire::{ClientHello, Header, HeaderReader, Kind, ServerHello, HEADER_LEN};

/// How much of an ERROR reason a client keeps; the rest is dropped.
const REASON_CAPACITY: usize = 128;

/// A piece of what the server said, borrowed from the input (payloads are
/// never copied) or from the client (an ERROR's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    /// The server's HELLO: its limit and transform.
    Hello(ServerHello),
    /// Part of a DATA response; `last` marks its final piece (a zero-length
    /// response is one empty, last piece).
    Data {
        /// Payload bytes, a slice of the caller's input.
        chunk: &'a [u8],
        /// True on the response's final piece.
        last: bool,
    },
    /// Part of a PONG, as for DATA.
    Pong {
        /// Payload bytes, a slice of the caller's input.
        chunk: &'a [u8],
        /// True on the PONG's final piece.
        last: bool,
    },
    /// The server closed the session in order.
    Close,
    /// The server refused something; this is its last frame.
    Error {
        /// The error code (see [`crate::wire::ErrorCode`]).
        code: u16,
        /// The reason text, cut to the first 126 bytes.
        reason: &'a str,
    },
    /// Line or raw framing: response bytes as they came.
    Bytes(&'a [u8]),
}

/// What a client refuses to send or to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// The server broke the protocol; the text says how.
    Malformed(&'static str),
    /// The connection ended inside a frame or before the server's CLOSE.
    UnexpectedEnd,
    /// A line-framed message may not contain LF.
    LineHasNewline,
    /// A payload over the server's advertised `max_payload`.
    PayloadTooLarge {
        /// The message's length.
        len: u64,
        /// The server's limit.
        max: u32,
    },
    /// A request after CLOSE, or after the server ended the session.
    SessionOver,
    /// A frame request on a line or raw client, or the other way round.
    WrongFraming,
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Malformed(why) => write!(f, "malformed reply from server: {why}"),
            ClientError::UnexpectedEnd => f.write_str("server closed the connection early"),
            ClientError::LineHasNewline => f.write_str("a line message cannot contain a newline"),
            ClientError::PayloadTooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes is over the server's limit of {max}"
                )
            }
            ClientError::SessionOver => f.write_str("the session is already over"),
            ClientError::WrongFraming => f.write_str("request does not fit this framing"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Payload,
    Done,
}

/// The client side of SHOUT/1: encodes requests, decodes replies
/// incrementally and checks that the server keeps the protocol.
///
/// Payload bytes never pass through it: the caller writes a request header
/// from [`Client::request_header`] followed by its own payload, and reads
/// reply payloads as slices of its own input.
///
/// ```
/// use shout_core::{Client, Framing, Reply, wire::Kind};
///
/// let mut client = Client::new(Framing::Frame);
/// let mut wire = Vec::new();
/// wire.extend_from_slice(&Client::hello_frame());
/// wire.extend_from_slice(&client.request_header(Kind::Data, 2).unwrap());
/// wire.extend_from_slice(b"hi");
/// assert_eq!(client.awaiting(), 1);
///
/// // The server's HELLO and the DATA response, as one read.
/// let reply = b"\0\0\0\0\x0bSHOUT\x01\0\x10\0\0\0\x01\0\0\0\x02HI";
/// let (n, first) = client.handle_input(reply).unwrap();
/// assert!(matches!(first, Some(Reply::Hello(_))));
/// let (_, second) = client.handle_input(&reply[n..]).unwrap();
/// assert_eq!(second, Some(Reply::Data { chunk: b"HI", last: true }));
/// assert_eq!(client.awaiting(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    framing: Framing,
    stage: Stage,
    header: HeaderReader,
    kind: Kind,
    remaining: u32,
    hello: Option<ServerHello>,
    buf: Vec<u8, REASON_CAPACITY>,
    awaiting: u32,
    close_sent: bool,
}

impl Client {
    /// A client for `framing` ([`Framing::Auto`] means frames: a client
    /// always knows what it speaks).
    pub fn new(framing: Framing) -> Client {
        Client {
            framing: match framing {
                Framing::Auto => Framing::Frame,
                f => f,
            },
            stage: Stage::Header,
            header: HeaderReader::new(),
            kind: Kind::Hello,
            remaining: 0,
            hello: None,
            buf: Vec::new(),
            awaiting: 0,
            close_sent: false,
        }
    }

    /// The HELLO frame a frame client sends first.
    pub const fn hello_frame() -> [u8; HEADER_LEN + 6] {
        ClientHello::frame()
    }

    /// The server's HELLO, once it has arrived.
    pub fn server_hello(&self) -> Option<ServerHello> {
        self.hello
    }

    /// Requests sent whose response has not fully arrived.
    pub fn awaiting(&self) -> u32 {
        self.awaiting
    }

    /// True once the server sent CLOSE or ERROR.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// The header of a DATA or PING request of `len` payload bytes; the
    /// caller sends the payload right after it.
    pub fn request_header(
        &mut self,
        kind: Kind,
        len: usize,
    ) -> Result<[u8; HEADER_LEN], ClientError> {
        if self.framing != Framing::Frame || !matches!(kind, Kind::Data | Kind::Ping) {
            return Err(ClientError::WrongFraming);
        }
        if self.close_sent || self.stage == Stage::Done {
            return Err(ClientError::SessionOver);
        }
        let max = self.hello.map_or(u32::MAX, |h| h.max_payload);
        if len as u64 > max as u64 {
            return Err(ClientError::PayloadTooLarge {
                len: len as u64,
                max,
            });
        }
        self.awaiting += 1;
        Ok(Header::new(kind, len as u32).to_bytes())
    }

    /// The CLOSE frame; no request may follow it.
    pub fn close_frame(&mut self) -> [u8; HEADER_LEN] {
        self.close_sent = true;
        Header::new(Kind::Close, 0).to_bytes()
    }

    /// Checks a line-framed message (sent with a trailing LF by the caller)
    /// and counts it as awaiting its response line.
    pub fn line_request(&mut self, message: &[u8]) -> Result<(), ClientError> {
        if self.framing != Framing::Line {
            return Err(ClientError::WrongFraming);
        }
        if memchr::memchr(b'\n', message).is_some() {
            return Err(ClientError::LineHasNewline);
        }
        self.awaiting += 1;
        Ok(())
    }

    /// Decodes a prefix of `input`; returns how much was used and the
    /// reply it completed or continued, if any. Call again with the rest.
    pub fn handle_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Reply<'a>>), ClientError> {
        match self.framing {
            Framing::Frame => self.frame_input(input),
            _ => {
                if self.framing == Framing::Line {
                    let lines = memchr::memchr_iter(b'\n', input).count() as u32;
                    self.awaiting = self.awaiting.saturating_sub(lines);
                }
                let reply = (!input.is_empty()).then_some(Reply::Bytes(input));
                Ok((input.len(), reply))
            }
        }
    }

    /// The server ended the connection: fine after its CLOSE or ERROR (or
    /// in line and raw framing), an error otherwise.
    pub fn handle_end_of_input(&mut self) -> Result<(), ClientError> {
        if self.framing != Framing::Frame || self.stage == Stage::Done {
            return Ok(());
        }
        Err(ClientError::UnexpectedEnd)
    }

    fn frame_input<'a>(
        &'a mut self,
        input: &'a [u8],
    ) -> Result<(usize, Option<Reply<'a>>), ClientError> {
        let mut i = 0;
        loop {
            match self.stage {
                Stage::Done => return Ok((input.len(), None)),
                Stage::Header => {
                    if i == input.len() {
                        return Ok((i, None));
                    }
                    let (n, header) = self.header.read(&input[i..]);
                    i += n;
                    let Some(header) = header else {
                        return Ok((i, None));
                    };
                    if let Some(empty) = self.on_header(header)? {
                        return Ok((i, Some(empty)));
                    }
                }
                Stage::Payload => {
                    let take = (input.len() - i).min(self.remaining as usize);
                    let chunk = &input[i..i + take];
                    i += take;
                    self.remaining -= take as u32;
                    let last = self.remaining == 0;
                    match self.kind {
                        Kind::Data | Kind::Pong => {
                            if take == 0 {
                                return Ok((i, None));
                            }
                            if last {
                                self.stage = Stage::Header;
                            }
                            let reply = if self.kind == Kind::Data {
                                Reply::Data { chunk, last }
                            } else {
                                Reply::Pong { chunk, last }
                            };
                            return Ok((i, Some(reply)));
                        }
                        _ => {
                            let room = REASON_CAPACITY - self.buf.len();
                            let _ = self.buf.extend_from_slice(&chunk[..take.min(room)]);
                            if !last {
                                return Ok((i, None));
                            }
                            return self.on_payload_end().map(|r| (i, Some(r)));
                        }
                    }
                }
            }
        }
    }

    /// Checks a reply header; returns a reply at once for empty payloads.
    fn on_header(&mut self, h: Header) -> Result<Option<Reply<'static>>, ClientError> {
        let kind = h
            .known_kind()
            .ok_or(ClientError::Malformed("unknown frame kind"))?;
        if self.hello.is_none() && !matches!(kind, Kind::Hello | Kind::Error) {
            return Err(ClientError::Malformed("expected HELLO first"));
        }
        match kind {
            Kind::Hello if self.hello.is_some() => {
                return Err(ClientError::Malformed("second HELLO"))
            }
            Kind::Hello if h.len as usize != SERVER_HELLO_PAYLOAD => {
                return Err(ClientError::Malformed("server HELLO is not 11 bytes"))
            }
            Kind::Data | Kind::Pong => {
                if self.awaiting == 0 {
                    return Err(ClientError::Malformed("response without a request"));
                }
                self.awaiting -= 1;
            }
            Kind::Ping => return Err(ClientError::Malformed("server sent PING")),
            Kind::Error if h.len < 2 => return Err(ClientError::Malformed("ERROR without a code")),
            _ => {}
        }
        self.kind = kind;
        self.remaining = h.len;
        self.buf.clear();
        self.stage = Stage::Payload;
        if h.len == 0 {
            return match kind {
                Kind::Data => {
                    self.stage = Stage::Header;
                    Ok(Some(Reply::Data {
                        chunk: &[],
                        last: true,
                    }))
                }
                Kind::Pong => {
                    self.stage = Stage::Header;
                    Ok(Some(Reply::Pong {
                        chunk: &[],
                        last: true,
                    }))
                }
                _ => {
                    self.stage = Stage::Done;
                    Ok(Some(Reply::Close))
                }
            };
        }
        Ok(None)
    }

    fn on_payload_end(&mut self) -> Result<Reply<'_>, ClientError> {
        match self.kind {
            Kind::Hello => {
                let hello = ServerHello::parse(&self.buf)
                    .map_err(|_| ClientError::Malformed("bad server HELLO"))?;
                self.hello = Some(hello);
                self.stage = Stage::Header;
                Ok(Reply::Hello(hello))
            }
            Kind::Close => {
                self.stage = Stage::Done;
                Ok(Reply::Close)
            }
            _ => {
                self.stage = Stage::Done;
                let code = u16::from_be_bytes([self.buf[0], self.buf[1]]);
                let text = &self.buf[2..];
                let reason = match core::str::from_utf8(text) {
                    Ok(s) => s,
                    // Cut at the last whole character (the reason may have
                    // been truncated to fit, or be invalid).
                    Err(e) => core::str::from_utf8(&text[..e.valid_up_to()]).unwrap_or(""),
                };
                Ok(Reply::Error { code, reason })
            }
        }
    }
}

use heapless::{Deque, Vec};

use crate::config::Framing;
use crate::session::{ClientError, Violation};
use crate::wire::{Header, HeaderReader, Kind, ServerHello, SERVER_HELLO_PAYLOAD};

/// How much of an ERROR reason a decoder keeps; the rest is dropped.
const REASON_CAPACITY: usize = 128;

/// How many runs of requests of one kind (DATA, DATA, PING, DATA is three
/// runs) may wait for answers at once.
pub const EXPECTED_RUNS: usize = 8;

/// A piece of what the server said, borrowed from the input (payloads are
/// never copied) or from the decoder (an ERROR's reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Header,
    Payload { kind: Kind, remaining: u32 },
    Done,
}

/// The client's receiving side: decodes replies incrementally, zero-copy,
/// and checks that the server keeps the protocol, including that each
/// answer matches the oldest request waiting for one.
///
/// ```
/// use shout_core::{Framing, Reply, ReplyDecoder, RequestEncoder, wire::Kind};
///
/// let requests = RequestEncoder::frame(u32::MAX);
/// let mut replies = ReplyDecoder::new(Framing::Frame);
/// let mut wire = RequestEncoder::hello().to_vec();
/// wire.extend_from_slice(&requests.data(2).unwrap());
/// wire.extend_from_slice(b"hi");
/// replies.expect(Kind::Data).unwrap();
///
/// // The server's HELLO and the DATA response, as one read.
/// let reply = b"\0\0\0\0\x0bSHOUT\x01\0\x10\0\0\0\x01\0\0\0\x02HI";
/// let (n, first) = replies.handle_input(reply).unwrap();
/// assert!(matches!(first, Some(Reply::Hello(_))));
/// let (_, second) = replies.handle_input(&reply[n..]).unwrap();
/// assert_eq!(second, Some(Reply::Data { chunk: b"HI", last: true }));
/// assert_eq!(replies.awaiting(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct ReplyDecoder {
    framing: Framing,
    stage: Stage,
    header: HeaderReader,
    hello: Option<ServerHello>,
    buf: Vec<u8, REASON_CAPACITY>,
    /// Requests waiting for answers, oldest first, as runs of one kind.
    expected: Deque<(Kind, u32), EXPECTED_RUNS>,
}

impl ReplyDecoder {
    /// A decoder for `framing` ([`Framing::Auto`] means frames: a client
    /// always knows what it speaks).
    pub fn new(framing: Framing) -> Self {
        ReplyDecoder {
            framing: match framing {
                Framing::Auto => Framing::Frame,
                f => f,
            },
            stage: Stage::Header,
            header: HeaderReader::new(),
            hello: None,
            buf: Vec::new(),
            expected: Deque::new(),
        }
    }

    /// A request was sent: `Kind::Data` (a DATA frame, or a line) or
    /// `Kind::Ping`. Answers must come in the order of these calls.
    pub fn expect(&mut self, request: Kind) -> Result<(), ClientError> {
        let ok = matches!(
            (self.framing, request),
            (Framing::Frame, Kind::Data | Kind::Ping) | (Framing::Line, Kind::Data)
        );
        if !ok {
            return Err(ClientError::WrongFraming);
        }
        if let Some((kind, n)) = self.expected.back_mut() {
            if *kind == request {
                *n = n.saturating_add(1);
                return Ok(());
            }
        }
        self.expected
            .push_back((request, 1))
            .map_err(|_| ClientError::TooManyPending)
    }

    /// The server's HELLO, once it has arrived.
    pub fn server_hello(&self) -> Option<ServerHello> {
        self.hello
    }

    /// Requests sent whose response has not begun to arrive.
    pub fn awaiting(&self) -> u64 {
        self.expected.iter().map(|&(_, n)| n as u64).sum()
    }

    /// True once the server sent CLOSE or ERROR.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
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
                    for _ in memchr::memchr_iter(b'\n', input) {
                        self.take_expected(Kind::Data).ok();
                    }
                }
                let reply = (!input.is_empty()).then_some(Reply::Bytes(input));
                Ok((input.len(), reply))
            }
        }
    }

    /// The server ended the connection: fine after its CLOSE or ERROR (or
    /// in line and raw framing), an error otherwise.
    pub fn handle_end_of_input(&self) -> Result<(), ClientError> {
        if self.framing != Framing::Frame || self.stage == Stage::Done {
            return Ok(());
        }
        Err(ClientError::UnexpectedEnd)
    }

    /// Takes the oldest waiting request, which must call for `answer`.
    fn take_expected(&mut self, answer: Kind) -> Result<(), ClientError> {
        let Some((kind, n)) = self.expected.front_mut() else {
            return Err(ClientError::Malformed(Violation::ReplyWithoutRequest));
        };
        let due = if *kind == Kind::Ping {
            Kind::Pong
        } else {
            Kind::Data
        };
        if due != answer {
            return Err(ClientError::Malformed(Violation::WrongReply {
                expected: due,
                got: answer,
            }));
        }
        *n -= 1;
        if *n == 0 {
            self.expected.pop_front();
        }
        Ok(())
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
                Stage::Payload { kind, remaining } => {
                    let take = (input.len() - i).min(remaining as usize);
                    let chunk = &input[i..i + take];
                    i += take;
                    let remaining = remaining - take as u32;
                    let last = remaining == 0;
                    self.stage = if last {
                        Stage::Header
                    } else {
                        Stage::Payload { kind, remaining }
                    };
                    match kind {
                        Kind::Data | Kind::Pong => {
                            if take == 0 {
                                return Ok((i, None));
                            }
                            let reply = if kind == Kind::Data {
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
                            return self.on_payload_end(kind).map(|r| (i, Some(r)));
                        }
                    }
                }
            }
        }
    }

    /// Checks a reply header; returns a reply at once for empty payloads.
    fn on_header(&mut self, h: Header) -> Result<Option<Reply<'static>>, ClientError> {
        let malformed = |v| Err(ClientError::Malformed(v));
        let Some(kind) = h.known_kind() else {
            return malformed(Violation::UnknownKind);
        };
        if self.hello.is_none() && !matches!(kind, Kind::Hello | Kind::Error) {
            return malformed(Violation::HelloNotFirst);
        }
        match kind {
            Kind::Hello if self.hello.is_some() => return malformed(Violation::SecondHello),
            Kind::Hello if h.len as usize != SERVER_HELLO_PAYLOAD => {
                return malformed(Violation::HelloLength)
            }
            Kind::Data | Kind::Pong => self.take_expected(kind)?,
            Kind::Ping => return malformed(Violation::ServerPing),
            Kind::Error if h.len < 2 => return malformed(Violation::ErrorWithoutCode),
            _ => {}
        }
        self.buf.clear();
        if h.len > 0 {
            self.stage = Stage::Payload {
                kind,
                remaining: h.len,
            };
            return Ok(None);
        }
        let reply = match kind {
            Kind::Data => Reply::Data {
                chunk: &[],
                last: true,
            },
            Kind::Pong => Reply::Pong {
                chunk: &[],
                last: true,
            },
            _ => {
                self.stage = Stage::Done;
                return Ok(Some(Reply::Close));
            }
        };
        self.stage = Stage::Header;
        Ok(Some(reply))
    }

    fn on_payload_end(&mut self, kind: Kind) -> Result<Reply<'_>, ClientError> {
        match kind {
            Kind::Hello => {
                let hello = ServerHello::parse(&self.buf)
                    .map_err(|_| ClientError::Malformed(Violation::BadHello))?;
                self.hello = Some(hello);
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

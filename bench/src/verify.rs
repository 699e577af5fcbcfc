//! Checking what a server sends back: the one place that decodes
//! responses, a read at a time, every byte against what it must be.
//!
//! Two shapes of response stream:
//!
//! * [`Checker::stream`]: the same bytes over and over (a line response,
//!   or the bulk pattern of raw framing), checked by position.
//! * [`Checker::frames`]: frames, read with [`shout_core::wire`]: the
//!   server's HELLO first (when the connection sent one), then DATA
//!   responses whose payload must be the expected one. An ERROR frame ends
//!   the check with its code and reason.

use std::rc::Rc;

use shout_core::wire::{
    self, ErrorCode, Header, HeaderReader, HelloError, Kind, ServerHello, SERVER_HELLO_PAYLOAD,
};

/// Bytes of a server HELLO frame: header and payload.
pub const SERVER_HELLO_LEN: usize = wire::HEADER_LEN + SERVER_HELLO_PAYLOAD;

/// The most of an ERROR payload (code and reason) kept for the report.
const ERROR_KEPT: usize = 2 + 200;

/// What a piece of input completed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// The server's HELLO, when this piece completed it.
    pub hello: Option<ServerHello>,
    /// Responses this piece completed.
    pub responses: u64,
}

/// Checks one connection's responses as they arrive.
#[derive(Clone, Debug)]
pub enum Checker {
    /// The same unit over and over.
    Stream(Stream),
    /// Frames: optionally a HELLO, then DATA.
    Frames(Frames),
}

impl Checker {
    /// Responses that are each `unit` (not empty), back to back.
    pub fn stream(unit: Rc<[u8]>) -> Checker {
        assert!(!unit.is_empty(), "a response is at least one byte");
        Checker::Stream(Stream {
            unit,
            at: 0,
            offset: 0,
        })
    }

    /// DATA frames carrying `payload`, after the server's HELLO when
    /// `hello` (the server's `max_payload` must then be at least
    /// `payload.len()`).
    pub fn frames(payload: Rc<[u8]>, hello: bool) -> Checker {
        Checker::Frames(Frames {
            payload,
            hello_due: hello,
            header: HeaderReader::new(),
            state: State::Header,
        })
    }

    /// Checks the next bytes of the stream; an error says what was wrong
    /// and the stream cannot be checked further.
    pub fn feed(&mut self, input: &[u8]) -> Result<Fed, String> {
        match self {
            Checker::Stream(s) => s.feed(input),
            Checker::Frames(f) => f.feed(input),
        }
    }

    /// True while part of a response (not of the HELLO) has arrived and
    /// the rest has not.
    pub fn mid_response(&self) -> bool {
        match self {
            Checker::Stream(s) => s.at != 0,
            Checker::Frames(f) => match f.state {
                State::Header => !f.header.is_empty() && !f.hello_due,
                State::Data { .. } => true,
                State::Hello { .. } | State::Error { .. } => false,
            },
        }
    }
}

/// See [`Checker::stream`].
#[derive(Clone, Debug)]
pub struct Stream {
    unit: Rc<[u8]>,
    /// Position in the unit.
    at: usize,
    /// Bytes checked so far.
    offset: u64,
}

impl Stream {
    fn feed(&mut self, mut input: &[u8]) -> Result<Fed, String> {
        let mut fed = Fed::default();
        while !input.is_empty() {
            let k = (self.unit.len() - self.at).min(input.len());
            if let Some(bad) = mismatch(&input[..k], &self.unit[self.at..self.at + k]) {
                return Err(format!(
                    "wrong bytes at offset {}: got {}",
                    self.offset + bad as u64,
                    show(&input[bad..])
                ));
            }
            self.at += k;
            self.offset += k as u64;
            input = &input[k..];
            if self.at == self.unit.len() {
                self.at = 0;
                fed.responses += 1;
            }
        }
        Ok(fed)
    }
}

/// See [`Checker::frames`].
#[derive(Clone, Debug)]
pub struct Frames {
    payload: Rc<[u8]>,
    hello_due: bool,
    header: HeaderReader,
    state: State,
}

#[derive(Clone, Debug)]
enum State {
    /// Reading a header.
    Header,
    /// Reading the server HELLO's payload.
    Hello {
        buf: [u8; SERVER_HELLO_PAYLOAD],
        fill: usize,
    },
    /// Checking a DATA payload; `at` bytes of it so far.
    Data { at: usize },
    /// Keeping the first `want` bytes of an ERROR payload.
    Error { kept: Vec<u8>, want: usize },
}

impl Frames {
    fn feed(&mut self, mut input: &[u8]) -> Result<Fed, String> {
        let mut fed = Fed::default();
        loop {
            // Whatever is complete is finished first, input or not.
            match &mut self.state {
                State::Data { at } if *at == self.payload.len() => {
                    fed.responses += 1;
                    self.state = State::Header;
                }
                State::Hello { buf, fill } if *fill == buf.len() => {
                    let hello = ServerHello::parse(buf).map_err(|e| match e {
                        HelloError::Malformed => "malformed server HELLO".to_string(),
                        HelloError::UnsupportedVersion(v) => {
                            format!("server HELLO of protocol version {v}")
                        }
                    })?;
                    if (hello.max_payload as usize) < self.payload.len() {
                        return Err(format!(
                            "the server's max_payload is {}, below the {}-byte requests",
                            hello.max_payload,
                            self.payload.len()
                        ));
                    }
                    fed.hello = Some(hello);
                    self.hello_due = false;
                    self.state = State::Header;
                }
                State::Error { kept, want } if kept.len() == *want => {
                    return Err(describe_error(kept));
                }
                _ => {}
            }
            if input.is_empty() {
                return Ok(fed);
            }
            match &mut self.state {
                State::Header => {
                    let (n, header) = self.header.read(input);
                    input = &input[n..];
                    if let Some(h) = header {
                        self.state = self.begin(h)?;
                    }
                }
                State::Hello { buf, fill } => {
                    let k = (buf.len() - *fill).min(input.len());
                    buf[*fill..*fill + k].copy_from_slice(&input[..k]);
                    *fill += k;
                    input = &input[k..];
                }
                State::Data { at } => {
                    let k = (self.payload.len() - *at).min(input.len());
                    if let Some(bad) = mismatch(&input[..k], &self.payload[*at..*at + k]) {
                        return Err(format!(
                            "wrong DATA bytes at payload offset {}: got {}",
                            *at + bad,
                            show(&input[bad..])
                        ));
                    }
                    *at += k;
                    input = &input[k..];
                }
                State::Error { kept, want } => {
                    let k = (*want - kept.len()).min(input.len());
                    kept.extend_from_slice(&input[..k]);
                    input = &input[k..];
                }
            }
        }
    }

    /// The state that reads the payload of a frame with header `h`.
    fn begin(&self, h: Header) -> Result<State, String> {
        let len = h.len as usize;
        match h.known_kind() {
            Some(Kind::Error) => Ok(State::Error {
                kept: Vec::with_capacity(len.min(ERROR_KEPT)),
                want: len.min(ERROR_KEPT),
            }),
            Some(Kind::Hello) if self.hello_due => {
                if len == SERVER_HELLO_PAYLOAD {
                    Ok(State::Hello {
                        buf: [0; SERVER_HELLO_PAYLOAD],
                        fill: 0,
                    })
                } else {
                    Err(format!(
                        "server HELLO with a {len}-byte payload (expected {SERVER_HELLO_PAYLOAD})"
                    ))
                }
            }
            _ if self.hello_due => Err(format!("expected the server's HELLO, got {}", frame(h))),
            Some(Kind::Data) if len == self.payload.len() => Ok(State::Data { at: 0 }),
            Some(Kind::Data) => Err(format!(
                "a DATA response of {len} bytes (expected {})",
                self.payload.len()
            )),
            _ => Err(format!("unexpected {} among the responses", frame(h))),
        }
    }
}

/// UDP: one datagram, which must be `want`.
pub fn datagram(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "a datagram of {} bytes (expected {})",
            got.len(),
            want.len()
        ));
    }
    match mismatch(got, want) {
        Some(bad) => Err(format!(
            "wrong datagram bytes at offset {bad}: got {}",
            show(&got[bad..])
        )),
        None => Ok(()),
    }
}

/// Where `got` first differs from `want` (same length).
pub(crate) fn mismatch(got: &[u8], want: &[u8]) -> Option<usize> {
    if got == want {
        return None;
    }
    got.iter().zip(want).position(|(a, b)| a != b)
}

/// A few bytes for a message.
pub(crate) fn show(bytes: &[u8]) -> String {
    format!(
        "{:?}",
        String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
    )
}

/// A frame header for a message.
fn frame(h: Header) -> String {
    let kind = match h.known_kind() {
        Some(Kind::Hello) => "HELLO",
        Some(Kind::Data) => "DATA",
        Some(Kind::Ping) => "PING",
        Some(Kind::Pong) => "PONG",
        Some(Kind::Close) => "CLOSE",
        Some(Kind::Error) => "ERROR",
        None => return format!("a frame of unknown kind {:#04x}", h.kind),
    };
    format!("a {kind} frame of {} bytes", h.len)
}

/// The report for an ERROR frame: its code, named, and its reason.
fn describe_error(payload: &[u8]) -> String {
    let Some((code, reason)) = payload.split_first_chunk::<2>() else {
        return "the server sent an ERROR frame without a code".into();
    };
    let code = u16::from_be_bytes(*code);
    let name = ErrorCode::from_u16(code).map_or("unknown code", |c| c.name());
    format!(
        "the server sent ERROR {code} ({name}): {}",
        String::from_utf8_lossy(reason)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use shout_core::TransformKind;

    fn data(payload: &[u8]) -> Vec<u8> {
        let mut f = Header::new(Kind::Data, payload.len() as u32)
            .to_bytes()
            .to_vec();
        f.extend_from_slice(payload);
        f
    }

    fn server_hello(max_payload: u32) -> [u8; SERVER_HELLO_LEN] {
        ServerHello {
            max_payload,
            transform: TransformKind::Ascii,
        }
        .frame()
    }

    /// Feeds `wire` in two pieces split at every position; the totals.
    fn fed_split(proto: &Checker, wire: &[u8]) -> Vec<Result<(bool, u64), String>> {
        (0..=wire.len())
            .map(|split| {
                let mut c = proto.clone();
                let a = c.feed(&wire[..split])?;
                let b = c.feed(&wire[split..])?;
                assert!(!c.mid_response());
                Ok((
                    a.hello.is_some() || b.hello.is_some(),
                    a.responses + b.responses,
                ))
            })
            .collect()
    }

    #[test]
    fn hello_and_responses_split_anywhere() {
        let mut wire = server_hello(1 << 20).to_vec();
        for _ in 0..3 {
            wire.extend(data(b"ABC"));
        }
        let proto = Checker::frames(Rc::from(&b"ABC"[..]), true);
        for r in fed_split(&proto, &wire) {
            assert_eq!(r, Ok((true, 3)));
        }
    }

    #[test]
    fn the_hello_is_not_a_response() {
        let mut c = Checker::frames(Rc::from(&b"ABC"[..]), true);
        let hello = server_hello(64);
        let fed = c.feed(&hello[..3]).unwrap();
        assert_eq!(fed, Fed::default());
        assert!(!c.mid_response());
        c.feed(&hello[3..]).unwrap();
        c.feed(&data(b"ABC")[..2]).unwrap();
        assert!(c.mid_response());
    }

    #[test]
    fn every_byte_is_checked() {
        let proto = Checker::frames(Rc::from(&b"ABC"[..]), false);
        let good = data(b"ABC");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            assert!(proto.clone().feed(&bad).is_err(), "byte {i}");
        }
        let mut c = Checker::stream(Rc::from(&b"AB\n"[..]));
        assert_eq!(c.feed(b"AB\nA").unwrap().responses, 1);
        assert!(c.mid_response());
        let e = c.feed(b"b\n").unwrap_err();
        assert!(e.contains("offset 4"), "{e}");
    }

    #[test]
    fn a_missing_or_bad_hello_is_an_error() {
        let proto = Checker::frames(Rc::from(&b"ABC"[..]), true);
        assert!(proto.clone().feed(&data(b"ABC")).is_err());
        let mut bad = server_hello(64);
        bad[10] = 2; // version
        assert!(proto.clone().feed(&bad).is_err());
        let e = proto.clone().feed(&server_hello(2)).unwrap_err();
        assert!(e.contains("max_payload"), "{e}");
        // A second HELLO is not a response.
        let mut twice = server_hello(64).to_vec();
        twice.extend(server_hello(64));
        assert!(proto.clone().feed(&twice).is_err());
    }

    #[test]
    fn an_error_frame_reports_code_and_reason() {
        let mut wire = Header::new(Kind::Error, 2 + 4).to_bytes().to_vec();
        wire.extend(ErrorCode::Busy.as_u16().to_be_bytes());
        wire.extend(b"busy");
        let proto = Checker::frames(Rc::from(&b"ABC"[..]), true);
        for split in 0..wire.len() {
            let mut c = proto.clone();
            let e = c
                .feed(&wire[..split])
                .and_then(|_| c.feed(&wire[split..]))
                .unwrap_err();
            assert_eq!(e, "the server sent ERROR 6 (BUSY): busy");
        }
    }

    #[test]
    fn datagrams() {
        assert_eq!(datagram(b"AB", b"AB"), Ok(()));
        assert!(datagram(b"Ab", b"AB").is_err());
        assert!(datagram(b"A", b"AB").is_err());
    }
}

//! The client side for tests: a client's requests written by
//! [`RequestEncoder`], and a [`ReplyDecoder`]'s replies collected whole.

use shout_core::wire::{Kind, ServerHello};
use shout_core::{ClientError, Framing, Reply, ReplyDecoder, RequestEncoder};

use crate::drive::Sizes;

/// What a client sends, written through [`RequestEncoder`] (so a request
/// the encoder refuses is refused here too), and which answers it must
/// expect, in order.
#[derive(Clone, Debug)]
pub struct Requests {
    encoder: RequestEncoder,
    framing: Framing,
    bytes: Vec<u8>,
    sent: Vec<Kind>,
}

impl Requests {
    /// A frame client for a server whose limit is `max_payload`; its HELLO
    /// is written first.
    pub fn frame(max_payload: u32) -> Self {
        Requests {
            encoder: RequestEncoder::frame(max_payload),
            framing: Framing::Frame,
            bytes: RequestEncoder::hello().to_vec(),
            sent: Vec::new(),
        }
    }

    /// A line client.
    pub fn line() -> Self {
        Requests {
            encoder: RequestEncoder::line(),
            framing: Framing::Line,
            bytes: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// A DATA request with `payload`.
    pub fn data(&mut self, payload: &[u8]) -> Result<&mut Self, ClientError> {
        let h = self.encoder.data(payload.len())?;
        self.push(Kind::Data, &h, payload);
        Ok(self)
    }

    /// A PING with `payload`.
    pub fn ping(&mut self, payload: &[u8]) -> Result<&mut Self, ClientError> {
        let h = self.encoder.ping(payload.len())?;
        self.push(Kind::Ping, &h, payload);
        Ok(self)
    }

    /// The CLOSE frame; the encoder refuses requests after it.
    pub fn close(&mut self) -> Result<&mut Self, ClientError> {
        let h = self.encoder.close()?;
        self.bytes.extend_from_slice(&h);
        Ok(self)
    }

    /// A line: `message`, then LF.
    pub fn line_message(&mut self, message: &[u8]) -> Result<&mut Self, ClientError> {
        self.encoder.line_message(message)?;
        self.bytes.extend_from_slice(message);
        self.bytes.push(b'\n');
        self.sent.push(Kind::Data);
        Ok(self)
    }

    /// Any bytes, as they are (a client breaking the protocol on purpose);
    /// nothing is expected for them.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    fn push(&mut self, kind: Kind, header: &[u8], payload: &[u8]) {
        self.bytes.extend_from_slice(header);
        self.bytes.extend_from_slice(payload);
        self.sent.push(kind);
    }

    /// Everything written so far.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The requests that call for an answer, in the order sent
    /// (`Kind::Data` for a line).
    pub fn sent(&self) -> &[Kind] {
        &self.sent
    }

    /// A decoder for the replies, told of every request sent.
    pub fn decoder(&self) -> Result<ReplyDecoder, ClientError> {
        let mut d = ReplyDecoder::new(self.framing);
        for &k in &self.sent {
            d.expect(k)?;
        }
        Ok(d)
    }
}

/// A reply with its borrowed parts copied and its pieces joined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OwnedReply {
    /// The server's HELLO.
    Hello(ServerHello),
    /// A whole DATA response.
    Data(Vec<u8>),
    /// A whole PONG.
    Pong(Vec<u8>),
    /// The server's CLOSE.
    Close,
    /// The server's ERROR: code and reason.
    Error(u16, String),
    /// Line or raw framing: response bytes, consecutive ones joined.
    Bytes(Vec<u8>),
}

/// What a [`ReplyDecoder`] made of a byte stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The replies completed, in order.
    pub replies: Vec<OwnedReply>,
    /// A DATA or PONG begun and not finished when the bytes ran out.
    pub partial: Option<OwnedReply>,
    /// The first error; decoding stopped there.
    pub error: Option<ClientError>,
}

/// Feeds `bytes` to `decoder` in reads of `reads` sizes (cycled; a zero is
/// a call with no input; empty: all at once), joining the pieces of each
/// DATA and PONG. Checks that every call with input takes at least one
/// byte and at most what it was given, that an empty call decodes nothing,
/// and that pieces of one reply are not interleaved with another.
pub fn decode_replies(decoder: &mut ReplyDecoder, bytes: &[u8], reads: &[usize]) -> Decoded {
    let mut sizes = Sizes::new(reads);
    let mut out = Decoded {
        replies: Vec::new(),
        partial: None,
        error: None,
    };
    let mut at = 0;
    let mut empty_calls = 0;
    while at < bytes.len() {
        let end = at + sizes.next_size().min(bytes.len() - at);
        let mut chunk = &bytes[at..end];
        if chunk.is_empty() {
            empty_calls += 1;
            assert!(empty_calls <= sizes.patience(), "the read plan stalls");
            match decoder.handle_input(chunk) {
                Ok((0, None)) => continue,
                other => panic!("a call with no input gave {other:?}"),
            }
        }
        empty_calls = 0;
        while !chunk.is_empty() {
            let (n, reply) = match decoder.handle_input(chunk) {
                Ok(r) => r,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            };
            assert!(
                n > 0 && n <= chunk.len(),
                "the decoder took {n} of {} bytes",
                chunk.len()
            );
            match reply {
                None => {}
                Some(Reply::Data { chunk: piece, last }) => {
                    join(&mut out, piece, last, true);
                }
                Some(Reply::Pong { chunk: piece, last }) => {
                    join(&mut out, piece, last, false);
                }
                Some(Reply::Bytes(b)) => {
                    assert!(out.partial.is_none(), "bytes inside a payload");
                    match out.replies.last_mut() {
                        Some(OwnedReply::Bytes(prev)) => prev.extend_from_slice(b),
                        _ => out.replies.push(OwnedReply::Bytes(b.to_vec())),
                    }
                }
                Some(other) => {
                    assert!(out.partial.is_none(), "{other:?} inside a payload");
                    out.replies.push(match other {
                        Reply::Hello(h) => OwnedReply::Hello(h),
                        Reply::Close => OwnedReply::Close,
                        Reply::Error { code, reason } => OwnedReply::Error(code, reason.to_owned()),
                        other => panic!("a reply this kit does not know: {other:?}"),
                    });
                }
            }
            chunk = &chunk[n..];
            at += n;
        }
    }
    out
}

/// Adds a DATA (`is_data`) or PONG piece to the reply in progress.
fn join(out: &mut Decoded, piece: &[u8], last: bool, is_data: bool) {
    let mut buf = match out.partial.take() {
        None => Vec::new(),
        Some(OwnedReply::Data(b)) if is_data => b,
        Some(OwnedReply::Pong(b)) if !is_data => b,
        Some(other) => panic!("a piece of another reply inside {other:?}"),
    };
    buf.extend_from_slice(piece);
    let reply = if is_data {
        OwnedReply::Data(buf)
    } else {
        OwnedReply::Pong(buf)
    };
    if last {
        out.replies.push(reply);
    } else {
        assert!(!piece.is_empty(), "an empty piece that is not the last");
        out.partial = Some(reply);
    }
}

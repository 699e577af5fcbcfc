use crate::config::Framing;
use crate::session::ClientError;
use crate::wire::{ClientHello, Header, Kind, HEADER_LEN, HELLO_MIN_PAYLOAD};

/// The client's sending side: encodes requests and refuses the ones the
/// server would refuse. It never reads a reply, so a writer thread owns it
/// alone while a reader thread owns the [`ReplyDecoder`]; tell the decoder
/// what was sent with [`ReplyDecoder::expect`].
///
/// Payload bytes never pass through it: the caller writes a header from
/// [`RequestEncoder::data`] followed by its own payload.
///
/// [`ReplyDecoder`]: crate::ReplyDecoder
/// [`ReplyDecoder::expect`]: crate::ReplyDecoder::expect
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestEncoder {
    framing: Framing,
    max_payload: u32,
    closed: bool,
}

impl RequestEncoder {
    /// A frame client for a server whose limit is `max_payload` (from its
    /// HELLO; `u32::MAX` to leave refusals to the server).
    pub const fn frame(max_payload: u32) -> Self {
        RequestEncoder {
            framing: Framing::Frame,
            max_payload,
            closed: false,
        }
    }

    /// A line client: messages are sent with a trailing LF.
    pub const fn line() -> Self {
        RequestEncoder {
            framing: Framing::Line,
            max_payload: u32::MAX,
            closed: false,
        }
    }

    /// The HELLO frame a frame client sends first.
    pub const fn hello() -> [u8; HEADER_LEN + HELLO_MIN_PAYLOAD] {
        ClientHello::frame()
    }

    /// The header of a DATA request of `len` payload bytes.
    pub fn data(&self, len: usize) -> Result<[u8; HEADER_LEN], ClientError> {
        self.header(Kind::Data, len)
    }

    /// The header of a PING of `len` payload bytes.
    pub fn ping(&self, len: usize) -> Result<[u8; HEADER_LEN], ClientError> {
        self.header(Kind::Ping, len)
    }

    /// The CLOSE frame; no request may follow it.
    pub fn close(&mut self) -> Result<[u8; HEADER_LEN], ClientError> {
        if self.framing != Framing::Frame {
            return Err(ClientError::WrongFraming);
        }
        self.closed = true;
        Ok(Header::new(Kind::Close, 0).to_bytes())
    }

    /// Checks a line message (sent with a trailing LF by the caller).
    pub fn line_message(&self, message: &[u8]) -> Result<(), ClientError> {
        if self.framing != Framing::Line {
            return Err(ClientError::WrongFraming);
        }
        if memchr::memchr(b'\n', message).is_some() {
            return Err(ClientError::LineHasNewline);
        }
        Ok(())
    }

    fn header(&self, kind: Kind, len: usize) -> Result<[u8; HEADER_LEN], ClientError> {
        if self.framing != Framing::Frame {
            return Err(ClientError::WrongFraming);
        }
        if self.closed {
            return Err(ClientError::SessionOver);
        }
        if len as u64 > self.max_payload as u64 {
            return Err(ClientError::PayloadTooLarge {
                len: len as u64,
                max: self.max_payload,
            });
        }
        Ok(Header::new(kind, len as u32).to_bytes())
    }
}

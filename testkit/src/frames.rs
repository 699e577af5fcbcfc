//! Frame bytes for tests: encoders built on `shout_core::wire`, and a plain
//! decoder of a whole byte stream into frames.
//!
//! Every encoder writes its header through [`Header::to_bytes`] and its
//! HELLO and ERROR frames through [`ClientHello`], [`ServerHello`] and
//! [`ErrorFrame`], so there is one encoding of the contract's bytes in the
//! workspace. The kit's own tests pin these encoders to literal bytes (the
//! examples of PROTOCOL.md), so a test that compares a server's output with
//! them cannot be fooled by the same mistake on both sides.
//!
//! The kind of a frame is any [`KindByte`]: a [`Kind`] for the contract's
//! kinds, or a raw `u8` for the unknown ones a test sends on purpose.

use shout_core::wire::{
    ClientHello, ErrorCode, ErrorFrame, Header, Kind, ServerHello, ERROR_FRAME_MAX, HEADER_LEN,
    HELLO_MIN_PAYLOAD,
};
use shout_core::{Config, TransformKind};

/// A frame's kind byte: a [`Kind`], or any `u8` (kinds above `0x05` are
/// unknown to the contract, which is what some tests send).
pub trait KindByte: Copy {
    /// The byte on the wire.
    fn kind_byte(self) -> u8;
}

impl KindByte for Kind {
    fn kind_byte(self) -> u8 {
        self as u8
    }
}

impl KindByte for u8 {
    fn kind_byte(self) -> u8 {
        self
    }
}

/// A frame header alone: kind byte, then the big-endian length (for frames
/// whose payload the caller adds, or never sends).
pub fn header(kind: impl KindByte, len: u32) -> [u8; HEADER_LEN] {
    Header {
        kind: kind.kind_byte(),
        len,
    }
    .to_bytes()
}

/// A whole frame: header, then `payload`.
///
/// Panics if the payload does not fit a `u32` length.
pub fn frame(kind: impl KindByte, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).expect("payload fits a u32 length");
    let mut f = Vec::with_capacity(HEADER_LEN + payload.len());
    f.extend_from_slice(&header(kind, len));
    f.extend_from_slice(payload);
    f
}

/// A DATA frame.
pub fn data(payload: &[u8]) -> Vec<u8> {
    frame(Kind::Data, payload)
}

/// A PING frame.
pub fn ping(payload: &[u8]) -> Vec<u8> {
    frame(Kind::Ping, payload)
}

/// A PONG frame (what a server answers a PING with; a client's is ignored).
pub fn pong(payload: &[u8]) -> Vec<u8> {
    frame(Kind::Pong, payload)
}

/// An empty CLOSE frame.
pub fn close() -> Vec<u8> {
    frame(Kind::Close, &[])
}

/// The HELLO a client sends: `SHOUT`, version 1, then `extra` bytes (room
/// for extensions, which a server ignores).
pub fn client_hello(extra: &[u8]) -> Vec<u8> {
    let hello = ClientHello::frame();
    if extra.is_empty() {
        return hello.to_vec();
    }
    let mut payload = hello[HEADER_LEN..].to_vec();
    debug_assert_eq!(payload.len(), HELLO_MIN_PAYLOAD);
    payload.extend_from_slice(extra);
    frame(Kind::Hello, &payload)
}

/// The HELLO a server with this configuration sends (16 bytes).
pub fn server_hello(config: &Config) -> Vec<u8> {
    server_hello_with(config.max_payload, config.transform)
}

/// The HELLO a server with this limit and transform sends (16 bytes).
pub fn server_hello_with(max_payload: u32, transform: TransformKind) -> Vec<u8> {
    ServerHello {
        max_payload,
        transform,
    }
    .frame()
    .to_vec()
}

/// An ERROR frame: `code` u16 BE, then `reason`, whole (a reason longer
/// than [`ErrorFrame`] keeps is written out all the same).
pub fn error_frame(code: ErrorCode, reason: &str) -> Vec<u8> {
    if HEADER_LEN + 2 + reason.len() <= ERROR_FRAME_MAX {
        return ErrorFrame::new(code, &[reason.as_bytes()])
            .as_bytes()
            .to_vec();
    }
    let mut payload = code.as_u16().to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    frame(Kind::Error, &payload)
}

/// One frame of a decoded stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The kind byte, as sent (possibly unknown).
    pub kind: u8,
    /// The whole payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The kind, if the byte names one of the contract's.
    pub fn known_kind(&self) -> Option<Kind> {
        Kind::from_u8(self.kind)
    }

    /// True if this frame is of `kind`.
    pub fn is(&self, kind: Kind) -> bool {
        self.kind == kind as u8
    }
}

/// Splits a byte stream into whole frames; the second value is the length
/// of an incomplete frame left at the end (0 when the stream ends cleanly).
///
/// Written with plain slices, not with the core's header reader, so it can
/// check what the core emits.
pub fn decode_frames(mut bytes: &[u8]) -> (Vec<Frame>, usize) {
    let mut frames = Vec::new();
    loop {
        if bytes.len() < HEADER_LEN {
            return (frames, bytes.len());
        }
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        if bytes.len() - HEADER_LEN < len {
            return (frames, bytes.len());
        }
        frames.push(Frame {
            kind: bytes[0],
            payload: bytes[HEADER_LEN..HEADER_LEN + len].to_vec(),
        });
        bytes = &bytes[HEADER_LEN + len..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoders give the contract's bytes, written out by hand here
    /// (PROTOCOL.md, section 4, and the contract's frame table).
    #[test]
    fn encoders_write_the_contract_bytes() {
        assert_eq!(client_hello(b""), b"\x00\x00\x00\x00\x06SHOUT\x01");
        assert_eq!(client_hello(b"ab"), b"\x00\x00\x00\x00\x08SHOUT\x01ab");
        assert_eq!(
            server_hello(&Config::default()),
            b"\x00\x00\x00\x00\x0BSHOUT\x01\x00\x10\x00\x00\x00"
        );
        assert_eq!(
            server_hello_with(32, TransformKind::Unicode),
            b"\x00\x00\x00\x00\x0BSHOUT\x01\x00\x00\x00\x20\x01"
        );
        assert_eq!(data(b"hi"), b"\x01\x00\x00\x00\x02hi");
        assert_eq!(ping(b"ok"), b"\x02\x00\x00\x00\x02ok");
        assert_eq!(pong(b"ok"), b"\x03\x00\x00\x00\x02ok");
        assert_eq!(close(), b"\x04\x00\x00\x00\x00");
        assert_eq!(header(0xffu8, 0x0102_0304), [0xff, 1, 2, 3, 4]);
        assert_eq!(
            error_frame(ErrorCode::FrameTooLarge, "frame too large (limit 16 bytes)"),
            b"\x05\x00\x00\x00\x22\x00\x04frame too large (limit 16 bytes)"
        );
        let long = "x".repeat(100);
        let f = error_frame(ErrorCode::Malformed, &long);
        assert_eq!(f.len(), HEADER_LEN + 2 + 100);
        assert_eq!(&f[..7], b"\x05\x00\x00\x00\x66\x00\x01");
    }

    #[test]
    fn decode_frames_reads_what_the_encoders_write() {
        let mut bytes = ping(b"abc");
        bytes.extend(close());
        bytes.extend_from_slice(&[1, 0, 0]);
        let (frames, left) = decode_frames(&bytes);
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].payload, b"abc");
        assert!(frames[0].is(Kind::Ping));
        assert_eq!(frames[1].known_kind(), Some(Kind::Close));
        assert_eq!(left, 3);
    }
}

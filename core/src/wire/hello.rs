use super::{Header, Kind, HEADER_LEN};
use crate::config::TransformKind;

/// The magic every HELLO payload starts with.
pub const MAGIC: &[u8; 5] = b"SHOUT";
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// The shortest valid HELLO payload: magic + version.
pub const HELLO_MIN_PAYLOAD: usize = 6;
/// A server HELLO payload is exactly this long.
pub const SERVER_HELLO_PAYLOAD: usize = 11;

/// What is wrong with a HELLO payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelloError {
    /// Shorter than 6 bytes, or not starting with `SHOUT`.
    Malformed,
    /// Well formed, but a version other than 1.
    UnsupportedVersion(u8),
}

/// A client's HELLO: magic and version; trailing bytes are room for
/// extensions and are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHello;

impl ClientHello {
    /// Judges the first bytes of a client HELLO payload (at least 6 of them).
    pub fn check(payload_prefix: &[u8]) -> Result<(), HelloError> {
        if payload_prefix.len() < HELLO_MIN_PAYLOAD || &payload_prefix[..5] != MAGIC {
            return Err(HelloError::Malformed);
        }
        match payload_prefix[5] {
            VERSION => Ok(()),
            v => Err(HelloError::UnsupportedVersion(v)),
        }
    }

    /// The whole frame a client sends: header + `SHOUT` + version.
    pub const fn frame() -> [u8; HEADER_LEN + HELLO_MIN_PAYLOAD] {
        let h = Header::new(Kind::Hello, HELLO_MIN_PAYLOAD as u32).to_bytes();
        [
            h[0], h[1], h[2], h[3], h[4], b'S', b'H', b'O', b'U', b'T', VERSION,
        ]
    }
}

/// A server's HELLO: what the client may rely on for this session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// The largest payload the server accepts.
    pub max_payload: u32,
    /// The transform the server applies to DATA.
    pub transform: TransformKind,
}

impl ServerHello {
    /// The whole frame: header + the 11-byte payload.
    pub const fn frame(&self) -> [u8; HEADER_LEN + SERVER_HELLO_PAYLOAD] {
        let h = Header::new(Kind::Hello, SERVER_HELLO_PAYLOAD as u32).to_bytes();
        let m = self.max_payload.to_be_bytes();
        [
            h[0],
            h[1],
            h[2],
            h[3],
            h[4],
            b'S',
            b'H',
            b'O',
            b'U',
            b'T',
            VERSION,
            m[0],
            m[1],
            m[2],
            m[3],
            self.transform.wire_id(),
        ]
    }

    /// Reads a server HELLO payload, which must be exactly 11 bytes and
    /// name a transform this build knows.
    pub fn parse(payload: &[u8]) -> Result<ServerHello, HelloError> {
        if payload.len() != SERVER_HELLO_PAYLOAD {
            return Err(HelloError::Malformed);
        }
        ClientHello::check(&payload[..HELLO_MIN_PAYLOAD])?;
        let max_payload = u32::from_be_bytes([payload[6], payload[7], payload[8], payload[9]]);
        let transform = TransformKind::from_wire_id(payload[10]).ok_or(HelloError::Malformed)?;
        Ok(ServerHello {
            max_payload,
            transform,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_hello_round_trip() {
        let h = ServerHello {
            max_payload: 1 << 20,
            transform: TransformKind::Ascii,
        };
        let f = h.frame();
        assert_eq!(&f[..5], &[0, 0, 0, 0, 11]);
        assert_eq!(ServerHello::parse(&f[5..]), Ok(h));
        assert_eq!(ServerHello::parse(&f[5..15]), Err(HelloError::Malformed));
    }

    #[test]
    fn client_hello_judgement() {
        assert_eq!(ClientHello::check(b"SHOUT\x01extra"), Ok(()));
        assert_eq!(
            ClientHello::check(b"SHOUT\x02"),
            Err(HelloError::UnsupportedVersion(2))
        );
        assert_eq!(ClientHello::check(b"SHOUX\x01"), Err(HelloError::Malformed));
        assert_eq!(ClientHello::check(b"SHOUT"), Err(HelloError::Malformed));
        assert_eq!(&ClientHello::frame(), b"\0\0\0\0\x06SHOUT\x01");
    }
}

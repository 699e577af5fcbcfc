//! The WebSocket opening handshake's key check (RFC 6455 section 4.2.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The GUID every `Sec-WebSocket-Accept` is derived with.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The length of a `Sec-WebSocket-Accept` value: base64 of a SHA-1.
pub const ACCEPT_LEN: usize = 28;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`, or `None`
/// when the key is not 16 bytes in base64.
pub fn accept(key: &[u8]) -> Option<[u8; ACCEPT_LEN]> {
    let key = trim(key);
    let mut raw = [0u8; 18];
    match STANDARD.decode_slice(key, &mut raw) {
        Ok(16) => {}
        _ => return None,
    }
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID);
    let digest = sha.digest().bytes();
    let mut out = [0u8; ACCEPT_LEN];
    let n = STANDARD.encode_slice(digest, &mut out).ok()?;
    (n == ACCEPT_LEN).then_some(out)
}

/// A header value without the spaces and tabs around it.
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_example() {
        // RFC 6455 section 1.3.
        let a = accept(b"dGhlIHNhbXBsZSBub25jZQ==").unwrap();
        assert_eq!(&a, b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(accept(b" dGhlIHNhbXBsZSBub25jZQ== ").unwrap(), a);
    }

    #[test]
    fn keys_that_are_not_16_bytes_are_refused() {
        assert_eq!(accept(b""), None);
        assert_eq!(accept(b"AAAA"), None);
        assert_eq!(accept(b"not base64 at all!!!!!!!"), None);
        assert_eq!(accept(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None); // 21 bytes
    }
}

//! The HTTP/1.1 request head, judged once it is whole: the request line
//! after `GET ` (which the decoder has already taken) and the headers,
//! parsed by httparse without copying.

use super::accept::{self, ACCEPT_LEN};

/// The most header lines a head may have.
const MAX_HEADERS: usize = 48;

/// What the server answers a request with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// `GET /`: the page.
    Page,
    /// `GET /ws` with a valid opening handshake: 101, then WebSocket.
    Upgrade([u8; ACCEPT_LEN]),
    /// An error status, and the connection closes.
    Status(Status),
}

/// The error statuses of the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    BadRequest,
    NotFound,
    UpgradeRequired,
    TooLarge,
}

impl Status {
    pub(crate) const fn code(self) -> u16 {
        match self {
            Status::BadRequest => 400,
            Status::NotFound => 404,
            Status::UpgradeRequired => 426,
            Status::TooLarge => 431,
        }
    }
}

/// What looking at the bytes of a head so far gives.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// Not whole yet: wait for more.
    Partial,
    /// Whole: its length (from after `GET `) and the answer.
    Done(usize, Answer),
}

/// Parses `rest`, the head after `GET `.
pub(crate) fn parse(rest: &[u8]) -> Parsed {
    let Some(line_end) = memchr::memchr(b'\n', rest) else {
        return Parsed::Partial;
    };
    let line = rest[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&rest[..line_end]);
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let after = &rest[line_end + 1..];
    let (n, headers) = match httparse::parse_headers(after, &mut headers) {
        Ok(httparse::Status::Complete((n, h))) => (n, h),
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Done(rest.len(), Answer::Status(Status::TooLarge))
        }
        Err(_) => return Parsed::Done(rest.len(), Answer::Status(Status::BadRequest)),
    };
    let len = line_end + 1 + n;
    Parsed::Done(len, judge(line, headers))
}

/// The answer to a whole, well-formed head.
fn judge(line: &[u8], headers: &[httparse::Header<'_>]) -> Answer {
    let bad = Answer::Status(Status::BadRequest);
    // `TARGET HTTP/1.x`, one space between.
    let Some(space) = line.iter().position(|&b| b == b' ') else {
        return bad;
    };
    let (target, version) = (&line[..space], &line[space + 1..]);
    if !matches!(version, b"HTTP/1.1" | b"HTTP/1.0") || target.is_empty() {
        return bad;
    }
    let path = match target.iter().position(|&b| b == b'?') {
        Some(q) => &target[..q],
        None => target,
    };
    let value = |name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| accept::trim(h.value))
    };
    // No body: a GET with one is refused.
    if value("transfer-encoding").is_some() || value("content-length").is_some_and(|v| v != b"0") {
        return bad;
    }
    match path {
        b"/" => Answer::Page,
        b"/ws" => upgrade(&value),
        _ => Answer::Status(Status::NotFound),
    }
}

/// The opening handshake's checks, in the contract's order.
fn upgrade<'h>(value: &dyn Fn(&str) -> Option<&'h [u8]>) -> Answer {
    let bad = Answer::Status(Status::BadRequest);
    let has_token = |name: &str, token: &str| {
        value(name).is_some_and(|v| {
            v.split(|&b| b == b',')
                .any(|t| accept::trim(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return bad;
    }
    match value("sec-websocket-version") {
        None => return bad,
        Some(b"13") => {}
        Some(_) => return Answer::Status(Status::UpgradeRequired),
    }
    match value("sec-websocket-key").and_then(accept::accept) {
        Some(a) => Answer::Upgrade(a),
        None => bad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &[u8] = b"/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

    fn answer(head: &[u8]) -> Answer {
        match parse(head) {
            Parsed::Done(n, a) => {
                assert_eq!(n, head.len());
                a
            }
            Parsed::Partial => panic!("partial"),
        }
    }

    #[test]
    fn page_upgrade_and_errors() {
        assert_eq!(answer(b"/ HTTP/1.1\r\nHost: x\r\n\r\n"), Answer::Page);
        assert_eq!(answer(b"/?a=b HTTP/1.0\r\n\r\n"), Answer::Page);
        assert_eq!(
            answer(WS),
            Answer::Upgrade(*b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
        assert_eq!(
            answer(b"/x HTTP/1.1\r\n\r\n"),
            Answer::Status(Status::NotFound)
        );
        assert_eq!(
            answer(b"/ HTTP/2.0\r\n\r\n"),
            Answer::Status(Status::BadRequest)
        );
        assert_eq!(
            answer(b"/ HTTP/1.1\r\nContent-Length: 3\r\n\r\n"),
            Answer::Status(Status::BadRequest)
        );
        let v12 = b"/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 12\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        assert_eq!(answer(v12), Answer::Status(Status::UpgradeRequired));
        let no_version = b"/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        assert_eq!(answer(no_version), Answer::Status(Status::BadRequest));
        let no_upgrade = b"/ws HTTP/1.1\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        assert_eq!(answer(no_upgrade), Answer::Status(Status::BadRequest));
    }

    #[test]
    fn partial_until_the_empty_line() {
        for cut in 0..WS.len() {
            assert_eq!(parse(&WS[..cut]), Parsed::Partial, "cut {cut}");
        }
        assert!(matches!(
            parse(b"/ HTTP/1.1\r\nbad header\r\n\r\n"),
            Parsed::Done(_, Answer::Status(Status::BadRequest))
        ));
    }
}

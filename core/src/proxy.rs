//! The PROXY protocol preamble (HAProxy's specification, versions 1 and
//! 2): what a load balancer sends before the client's first byte to say
//! who the client is.
//!
//! [`ProxyDecoder`] is incremental and holds no more than 108 bytes: feed
//! it what arrives, split anywhere, until it returns the header's
//! [`ProxySource`]; it consumes exactly the header, so the bytes after it
//! are the session's. A v2 header's TLVs are skipped as they stream by,
//! never stored. Any defect is a [`ProxyError`], after which the
//! connection is to be closed without a byte of output.
//!
//! Written here rather than taken from a crate: the ones that exist parse
//! a header held whole in one buffer (up to 4 KiB per connection for v2)
//! or need std; this one needs a fixed 108 bytes and reports each defect
//! as a value the caller can log.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature, the first 12 bytes of a binary header.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The text header's first bytes.
pub const V1_PREFIX: [u8; 6] = *b"PROXY ";
/// The longest v1 line, `PROXY` to LF inclusive.
pub const V1_MAX_LINE: usize = 107;
/// The most bytes a v2 header may carry after its 16 fixed bytes.
pub const V2_MAX_PAYLOAD: usize = 4096;

const V2_FIXED: usize = 16;

/// Who the client is, according to the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxySource {
    /// The client's address and port (v1 `TCP4`/`TCP6`, v2 `PROXY` over
    /// IPv4 or IPv6).
    Client(SocketAddr),
    /// The balancer speaks for itself (a v2 `LOCAL` command, a v1
    /// `UNKNOWN`, or a v2 family without an IP address, such as a health
    /// check): the socket's own peer is the client.
    Local,
}

/// Why a preamble was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// The first bytes are neither `PROXY ` nor the v2 signature.
    Signature,
    /// A v1 line with no LF within 107 bytes.
    V1TooLong,
    /// A v1 line that is not `TCP4`/`TCP6` with two addresses and two
    /// ports, or `UNKNOWN`, ended by CRLF.
    V1Malformed,
    /// A v2 version other than 2.
    V2Version,
    /// A v2 command other than LOCAL or PROXY.
    V2Command,
    /// A v2 address family or transport protocol that does not exist.
    V2Family,
    /// A v2 header longer than 16 + 4096 bytes.
    V2TooLong,
    /// A v2 length too short for the addresses of its family.
    V2Length,
}

impl ProxyError {
    /// What went wrong, in a few words.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ProxyError::Signature => "no PROXY protocol signature",
            ProxyError::V1TooLong => "v1 line longer than 107 bytes",
            ProxyError::V1Malformed => "malformed v1 line",
            ProxyError::V2Version => "v2 header with a version other than 2",
            ProxyError::V2Command => "v2 header with an unknown command",
            ProxyError::V2Family => "v2 header with an unknown address family or protocol",
            ProxyError::V2TooLong => "v2 header longer than 16 + 4096 bytes",
            ProxyError::V2Length => "v2 length too short for its addresses",
        }
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Matching the first bytes against both signatures.
    Signature,
    /// Inside a v1 line, after `PROXY `.
    Line,
    /// Reading the v2 fixed part.
    Fixed,
    /// Keeping the v2 addresses (up to `keep` bytes after the fixed
    /// part), then passing over `skip` bytes of the rest.
    Addresses { keep: u8, skip: u16, ip6: bool },
    /// Passing over TLVs; the answer is known.
    Skip { skip: u16, source: ProxySource },
    /// The header has been returned.
    Done,
}

/// An incremental PROXY protocol v1/v2 decoder (see the module docs).
#[derive(Clone, Debug)]
pub struct ProxyDecoder {
    stage: Stage,
    buf: [u8; V1_MAX_LINE + 1],
    len: u8,
}

impl Default for ProxyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyDecoder {
    /// A decoder waiting for the first byte.
    pub const fn new() -> Self {
        ProxyDecoder {
            stage: Stage::Signature,
            buf: [0; V1_MAX_LINE + 1],
            len: 0,
        }
    }

    /// True once the header has been returned.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// True while no byte has been offered yet.
    pub fn is_empty(&self) -> bool {
        self.stage == Stage::Signature && self.len == 0
    }

    /// Takes bytes of the preamble from `input`. Returns how many it
    /// consumed and, once the header is complete, its source; the
    /// consumed count then ends exactly at the header's last byte. After
    /// that (and after an error) it consumes nothing.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<ProxySource>), ProxyError> {
        let mut at = 0;
        while at < input.len() {
            match self.stage {
                Stage::Done => return Ok((0, None)),
                Stage::Signature => {
                    self.push(input[at]);
                    at += 1;
                    let got = &self.buf[..self.len as usize];
                    if got == V1_PREFIX {
                        self.stage = Stage::Line;
                    } else if got == V2_SIGNATURE {
                        self.stage = Stage::Fixed;
                    } else if !V1_PREFIX.starts_with(got) && !V2_SIGNATURE.starts_with(got) {
                        return Err(ProxyError::Signature);
                    }
                }
                Stage::Line => {
                    let b = input[at];
                    at += 1;
                    self.push(b);
                    if b == b'\n' {
                        let source = parse_v1(&self.buf[..self.len as usize])?;
                        self.stage = Stage::Done;
                        return Ok((at, Some(source)));
                    }
                    if self.len as usize >= V1_MAX_LINE {
                        return Err(ProxyError::V1TooLong);
                    }
                }
                Stage::Fixed => {
                    self.push(input[at]);
                    at += 1;
                    if self.len as usize == V2_FIXED {
                        self.stage = self.parse_fixed()?;
                        if let Stage::Skip { skip: 0, source } = self.stage {
                            self.stage = Stage::Done;
                            return Ok((at, Some(source)));
                        }
                    }
                }
                Stage::Addresses { keep, skip, ip6 } => {
                    self.push(input[at]);
                    at += 1;
                    if self.len as usize == V2_FIXED + keep as usize {
                        let a = &self.buf[V2_FIXED..self.len as usize];
                        let source = ProxySource::Client(if ip6 {
                            let mut src = [0u8; 16];
                            src.copy_from_slice(&a[..16]);
                            let port = u16::from_be_bytes([a[32], a[33]]);
                            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(src)), port)
                        } else {
                            let src = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
                            let port = u16::from_be_bytes([a[8], a[9]]);
                            SocketAddr::new(IpAddr::V4(src), port)
                        });
                        if skip == 0 {
                            self.stage = Stage::Done;
                            return Ok((at, Some(source)));
                        }
                        self.stage = Stage::Skip { skip, source };
                    }
                }
                Stage::Skip { skip, source } => {
                    let n = (skip as usize).min(input.len() - at);
                    at += n;
                    let left = skip - n as u16;
                    if left == 0 {
                        self.stage = Stage::Done;
                        return Ok((at, Some(source)));
                    }
                    self.stage = Stage::Skip { skip: left, source };
                }
            }
        }
        Ok((at, None))
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len as usize] = b;
        self.len += 1;
    }

    /// Judges the 16 fixed bytes: what comes next.
    fn parse_fixed(&self) -> Result<Stage, ProxyError> {
        let ver_cmd = self.buf[12];
        let fam = self.buf[13];
        let len = u16::from_be_bytes([self.buf[14], self.buf[15]]);
        if ver_cmd >> 4 != 2 {
            return Err(ProxyError::V2Version);
        }
        let local = match ver_cmd & 0x0F {
            0 => true,
            1 => false,
            _ => return Err(ProxyError::V2Command),
        };
        let (family, protocol) = (fam >> 4, fam & 0x0F);
        if family > 3 || protocol > 2 {
            return Err(ProxyError::V2Family);
        }
        if len as usize > V2_MAX_PAYLOAD {
            return Err(ProxyError::V2TooLong);
        }
        // Address block sizes: IPv4 12, IPv6 36, unix 216.
        let need: u16 = match family {
            1 => 12,
            2 => 36,
            3 => 216,
            _ => 0,
        };
        if local {
            return Ok(Stage::Skip {
                skip: len,
                source: ProxySource::Local,
            });
        }
        if len < need {
            return Err(ProxyError::V2Length);
        }
        match family {
            1 | 2 => Ok(Stage::Addresses {
                keep: need as u8,
                skip: len - need,
                ip6: family == 2,
            }),
            _ => Ok(Stage::Skip {
                skip: len,
                source: ProxySource::Local,
            }),
        }
    }
}

/// Parses a whole v1 line (`PROXY ` to LF).
fn parse_v1(line: &[u8]) -> Result<ProxySource, ProxyError> {
    let body = line
        .strip_prefix(&V1_PREFIX)
        .and_then(|l| l.strip_suffix(b"\r\n"))
        .ok_or(ProxyError::V1Malformed)?;
    let body = core::str::from_utf8(body).map_err(|_| ProxyError::V1Malformed)?;
    let mut parts = body.split(' ');
    let ip6 = match parts.next() {
        Some("UNKNOWN") => return Ok(ProxySource::Local),
        Some("TCP4") => false,
        Some("TCP6") => true,
        _ => return Err(ProxyError::V1Malformed),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(ProxyError::V1Malformed);
    };
    let ip = |s: &str| -> Result<IpAddr, ProxyError> {
        if ip6 {
            s.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            s.parse::<Ipv4Addr>().map(IpAddr::V4)
        }
        .map_err(|_| ProxyError::V1Malformed)
    };
    let src = ip(src)?;
    ip(dst)?;
    let sport = port(sport)?;
    port(dport)?;
    Ok(ProxySource::Client(SocketAddr::new(src, sport)))
}

/// A decimal port, 0 to 65535, digits only.
fn port(s: &str) -> Result<u16, ProxyError> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProxyError::V1Malformed);
    }
    s.parse().map_err(|_| ProxyError::V1Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use heapless::Vec;

    fn whole(input: &[u8]) -> Result<(usize, Option<ProxySource>), ProxyError> {
        ProxyDecoder::new().decode(input)
    }

    fn v4(a: [u8; 4], port: u16) -> ProxySource {
        ProxySource::Client(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port))
    }

    #[test]
    fn v1_tcp4_stops_at_its_lf() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 8002\r\nhello";
        assert_eq!(
            whole(line),
            Ok((line.len() - 5, Some(v4([192, 0, 2, 7], 56324))))
        );
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let line = b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n";
        let want = SocketAddr::new("2001:db8::1".parse().unwrap(), 1);
        assert_eq!(
            whole(line),
            Ok((line.len(), Some(ProxySource::Client(want))))
        );
        let line = b"PROXY UNKNOWN whatever follows\r\n";
        assert_eq!(whole(line), Ok((line.len(), Some(ProxySource::Local))));
    }

    #[test]
    fn v1_defects() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
            b"PROXY TCP4 ::1 ::1 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
        ] {
            assert_eq!(whole(bad), Err(ProxyError::V1Malformed), "{bad:?}");
        }
        let mut long: Vec<u8, 128> = Vec::from_slice(b"PROXY UNKNOWN ").unwrap();
        long.resize(V1_MAX_LINE - 2, b'x').unwrap();
        long.extend_from_slice(b"\r\n").unwrap();
        assert_eq!(whole(&long), Ok((V1_MAX_LINE, Some(ProxySource::Local))));
        long.insert(20, b'x').unwrap();
        assert_eq!(whole(&long), Err(ProxyError::V1TooLong));
    }

    #[test]
    fn a_bad_signature_is_refused_at_the_first_wrong_byte() {
        let mut d = ProxyDecoder::new();
        assert_eq!(d.decode(b"PRO"), Ok((3, None)));
        assert_eq!(d.decode(b"Xy"), Err(ProxyError::Signature));
        assert_eq!(whole(b"GET / HTTP/1.1\r\n"), Err(ProxyError::Signature));
        assert_eq!(whole(b"\r\n\r\n\0\r\nQUIT!"), Err(ProxyError::Signature));
        assert_eq!(whole(b"\0\0\0\0"), Err(ProxyError::Signature));
    }

    fn v2(ver_cmd: u8, fam: u8, body: &[u8]) -> [u8; 64] {
        let mut h = [0u8; 64];
        h[..12].copy_from_slice(&V2_SIGNATURE);
        h[12] = ver_cmd;
        h[13] = fam;
        h[14..16].copy_from_slice(&(body.len() as u16).to_be_bytes());
        h[16..16 + body.len()].copy_from_slice(body);
        h
    }

    #[test]
    fn v2_proxy_inet_with_tlvs_skipped() {
        let mut body: Vec<u8, 32> =
            Vec::from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x1F, 0x90, 0x1F, 0x42]).unwrap();
        body.extend_from_slice(&[0x04, 0, 2, 0xAA, 0xBB]).unwrap(); // a NOOP TLV
        let h = v2(0x21, 0x11, &body);
        let n = 16 + body.len();
        assert_eq!(whole(&h[..n]), Ok((n, Some(v4([10, 0, 0, 1], 8080)))));
    }

    #[test]
    fn v2_local_and_unspec_use_the_socket_peer() {
        let h = v2(0x20, 0x00, &[]);
        assert_eq!(whole(&h[..16]), Ok((16, Some(ProxySource::Local))));
        let h = v2(0x20, 0x11, &[1; 12]);
        assert_eq!(whole(&h[..28]), Ok((28, Some(ProxySource::Local))));
        let h = v2(0x21, 0x00, &[7; 3]);
        assert_eq!(whole(&h[..19]), Ok((19, Some(ProxySource::Local))));
    }

    #[test]
    fn v2_defects() {
        assert_eq!(
            whole(&v2(0x11, 0x11, &[0; 12])[..28]),
            Err(ProxyError::V2Version)
        );
        assert_eq!(
            whole(&v2(0x22, 0x11, &[0; 12])[..28]),
            Err(ProxyError::V2Command)
        );
        assert_eq!(
            whole(&v2(0x21, 0x41, &[0; 12])[..28]),
            Err(ProxyError::V2Family)
        );
        assert_eq!(
            whole(&v2(0x21, 0x13, &[0; 12])[..28]),
            Err(ProxyError::V2Family)
        );
        assert_eq!(
            whole(&v2(0x21, 0x21, &[0; 12])[..28]),
            Err(ProxyError::V2Length)
        );
        let mut h = v2(0x21, 0x11, &[]);
        h[14..16].copy_from_slice(&4097u16.to_be_bytes());
        assert_eq!(whole(&h[..16]), Err(ProxyError::V2TooLong));
        h[14..16].copy_from_slice(&4096u16.to_be_bytes());
        let mut big: Vec<u8, 4112> = Vec::from_slice(&h[..16]).unwrap();
        big.resize(16 + 4096, 0).unwrap();
        assert_eq!(whole(&big), Ok((big.len(), Some(v4([0; 4], 0)))));
    }

    #[test]
    fn any_split_gives_the_same_answer() {
        let line = b"PROXY TCP4 192.0.2.7 198.51.100.1 56324 8002\r\nrest";
        for cut in 0..line.len() {
            let mut d = ProxyDecoder::new();
            let (a, first) = d.decode(&line[..cut]).unwrap();
            let (b, second) = if first.is_some() {
                (0, first)
            } else {
                d.decode(&line[a..]).unwrap()
            };
            assert_eq!(a + b, line.len() - 4, "cut {cut}");
            assert_eq!(second, Some(v4([192, 0, 2, 7], 56324)));
        }
    }
}

//! Property tests of the PROXY protocol decoder (`shout_core::proxy`):
//! a header built from random addresses, ports and TLVs, followed by the
//! session's bytes and split anywhere, decodes to the source it carries
//! and stops exactly at its last byte; any bytes whatever never make it
//! take more than it is given.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::collection::vec;
use proptest::prelude::*;
use shout_core::proxy::{ProxyDecoder, ProxyError, ProxySource, V2_SIGNATURE};

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig::with_cases(shout_testkit::scaled_cases(n))
}

/// A header, and the source it must decode to.
#[derive(Clone, Debug)]
struct Built {
    bytes: Vec<u8>,
    source: ProxySource,
}

fn v1(ip6: bool, src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Built {
    let (s, d): (IpAddr, IpAddr) = if ip6 {
        (Ipv6Addr::from(src).into(), Ipv6Addr::from(dst).into())
    } else {
        (
            Ipv4Addr::new(src[0], src[1], src[2], src[3]).into(),
            Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3]).into(),
        )
    };
    let proto = if ip6 { "TCP6" } else { "TCP4" };
    Built {
        bytes: format!("PROXY {proto} {s} {d} {sport} {dport}\r\n").into_bytes(),
        source: ProxySource::Client(SocketAddr::new(s, sport)),
    }
}

fn v2(local: bool, ip6: bool, src: [u8; 16], sport: u16, tlvs: &[u8]) -> Built {
    let mut body = Vec::new();
    let source = if ip6 {
        body.extend_from_slice(&src);
        body.extend_from_slice(&[0; 16]);
        SocketAddr::new(Ipv6Addr::from(src).into(), sport)
    } else {
        body.extend_from_slice(&src[..4]);
        body.extend_from_slice(&[0; 4]);
        SocketAddr::new(Ipv4Addr::new(src[0], src[1], src[2], src[3]).into(), sport)
    };
    body.extend_from_slice(&sport.to_be_bytes());
    body.extend_from_slice(&8002u16.to_be_bytes());
    body.extend_from_slice(tlvs);
    let mut bytes = V2_SIGNATURE.to_vec();
    bytes.push(if local { 0x20 } else { 0x21 });
    bytes.push(if ip6 { 0x21 } else { 0x11 });
    bytes.extend_from_slice(&(body.len() as u16).to_be_bytes());
    bytes.extend_from_slice(&body);
    Built {
        bytes,
        source: if local {
            ProxySource::Local
        } else {
            ProxySource::Client(source)
        },
    }
}

fn header() -> impl Strategy<Value = Built> {
    let addr = any::<[u8; 16]>();
    prop_oneof![
        (any::<bool>(), addr, addr, any::<u16>(), any::<u16>())
            .prop_map(|(ip6, s, d, sp, dp)| v1(ip6, s, d, sp, dp)),
        Just(Built {
            bytes: b"PROXY UNKNOWN\r\n".to_vec(),
            source: ProxySource::Local,
        }),
        (
            any::<bool>(),
            any::<bool>(),
            addr,
            any::<u16>(),
            vec(any::<u8>(), 0..600)
        )
            .prop_map(|(local, ip6, s, sp, tlvs)| v2(local, ip6, s, sp, &tlvs)),
    ]
}

/// Feeds `input` in pieces of the given sizes (cycled); the answer and
/// how many bytes were consumed in all.
fn feed(input: &[u8], sizes: &[usize]) -> Result<(usize, Option<ProxySource>), ProxyError> {
    let mut d = ProxyDecoder::new();
    let mut at = 0;
    let mut i = 0;
    while at < input.len() {
        let n = sizes[i % sizes.len()].max(1).min(input.len() - at);
        i += 1;
        let (taken, source) = d.decode(&input[at..at + n])?;
        assert!(taken <= n);
        at += taken;
        if source.is_some() {
            return Ok((at, source));
        }
        assert_eq!(taken, n, "an unfinished header takes all it is given");
    }
    Ok((at, None))
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn a_header_split_anywhere_decodes_to_its_source_and_stops_at_its_end(
        h in header(),
        after in vec(any::<u8>(), 0..64),
        sizes in vec(1usize..40, 1..8),
    ) {
        let mut input = h.bytes.clone();
        input.extend_from_slice(&after);
        prop_assert_eq!(feed(&input, &sizes), Ok((h.bytes.len(), Some(h.source))));
    }

    #[test]
    fn any_bytes_give_the_same_answer_however_split(
        input in prop_oneof![
            vec(any::<u8>(), 0..200),
            (header(), any::<usize>(), any::<u8>()).prop_map(|(h, at, b)| {
                // A good header with one byte changed.
                let mut v = h.bytes;
                let i = at % v.len();
                v[i] = b;
                v
            }),
        ],
        sizes in vec(1usize..40, 1..8),
    ) {
        prop_assert_eq!(feed(&input, &sizes), feed(&input, &[input.len().max(1)]));
    }
}

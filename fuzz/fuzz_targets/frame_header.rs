//! Breaks the frame decoder: any bytes.
//!
//! 1. Codec: every 5-byte window decodes to a header that re-encodes to the
//!    same bytes; a walk over the input as a stream of frames re-encodes to
//!    the bytes it walked and agrees with the reference model's decoder;
//!    server and client HELLO payloads and error codes round-trip or are
//!    refused exactly as the contract's rules (written out again here) say.
//! 2. Judgement: one header sent to a frame server (before or after a valid
//!    HELLO, whole or a byte at a time) gets exactly the answer an
//!    independent judgement in this file gives: the contract's order
//!    (not HELLO first -> 1, kind > 5 -> 3, length > max_payload -> 4, second
//!    HELLO -> 1, short HELLO -> 1), a response header for DATA/PING, CLOSE
//!    for CLOSE, silence for ERROR/PONG/HELLO. Then its payload and end of
//!    input: the whole output equals the reference model's.
//!
//! Layout: flags u8 | max_payload u32 BE | header 5 bytes | payload...
//! flags: bit 0 valid HELLO first, bit 1 header a byte at a time, bit 2
//! small max_payload (6..=69), bit 3 framing auto instead of frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::wire::{ClientHello, ErrorCode, Header, HelloError, Kind, ServerHello, HEADER_LEN};
use shout_core::{CloseReason, Config, Framing, TransformKind};
use shout_fuzz::kit::{run, Observed};
use shout_fuzz::{frames, model, show, Driver, Plan, Reader};

fuzz_target!(|data: &[u8]| {
    codec(data);
    judgement(data);
});

fn codec(data: &[u8]) {
    // Every window, at most the first 64 offsets (the rest is the same code).
    for i in 0..data.len().min(64) {
        let rest = &data[i..];
        let parsed = Header::parse_prefix(rest);
        assert_eq!(parsed.is_some(), rest.len() >= HEADER_LEN);
        let Some(h) = parsed else { continue };
        assert_eq!(&h.to_bytes()[..], &rest[..HEADER_LEN], "re-encoded header");
        assert_eq!(Header::parse(&h.to_bytes()), h);
        assert_eq!(h.kind, rest[0]);
        assert_eq!(
            h.len,
            u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]])
        );
        let known = h.known_kind();
        assert_eq!(known.is_some(), rest[0] <= 5, "kind {} known?", rest[0]);
        if let Some(k) = known {
            assert_eq!(k as u8, rest[0]);
            assert_eq!(Header::new(k, h.len), h);
            assert_eq!(Kind::from_u8(k as u8), Some(k));
        }
    }

    // The input as a stream of frames: re-encoding gives the same bytes.
    let mut at = 0;
    let mut frames = Vec::new();
    while let Some(h) = Header::parse_prefix(&data[at..]) {
        let body = &data[at + HEADER_LEN..];
        if body.len() < h.len as usize {
            break;
        }
        frames.push((h, &body[..h.len as usize]));
        at += HEADER_LEN + h.len as usize;
    }
    let mut again = Vec::new();
    for (h, payload) in &frames {
        again.extend_from_slice(&h.to_bytes());
        again.extend_from_slice(payload);
    }
    assert_eq!(again, &data[..at], "re-encoded frame stream");
    let (model_frames, left) = frames::decode_frames(data);
    assert_eq!(model_frames.len(), frames.len());
    assert_eq!(left, data.len() - at);
    for (m, (h, p)) in model_frames.iter().zip(&frames) {
        assert_eq!(m.kind, h.kind);
        assert_eq!(&m.payload[..], *p);
    }

    // HELLO payloads, judged again here.
    let want = if data.len() < 6 || &data[..5] != b"SHOUT" {
        Err(HelloError::Malformed)
    } else if data[5] != 1 {
        Err(HelloError::UnsupportedVersion(data[5]))
    } else {
        Ok(())
    };
    assert_eq!(ClientHello::check(data), want);
    let server = ServerHello::parse(data);
    // The contract's transform ids: 0 ascii, 1 unicode.
    let transform = match data.get(10) {
        Some(0) => Some(TransformKind::Ascii),
        Some(1) => Some(TransformKind::Unicode),
        _ => None,
    };
    let server_ok = data.len() == 11 && want.is_ok() && transform.is_some();
    assert_eq!(server.is_ok(), server_ok, "server HELLO {}", show(data));
    if let Ok(h) = server {
        assert_eq!(&h.frame()[HEADER_LEN..], data);
        assert_eq!(h.max_payload.to_be_bytes(), data[6..10]);
        assert_eq!(Some(h.transform), transform);
    }
    if data.len() >= 2 {
        let code = u16::from_be_bytes([data[0], data[1]]);
        let parsed = ErrorCode::from_u16(code);
        assert_eq!(parsed.is_some(), (1..=6).contains(&code));
        if let Some(c) = parsed {
            assert_eq!(c.as_u16(), code);
        }
    }
}

/// What the server must do with one header, judged in the contract's order.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// ERROR with this code, then close.
    Error(u16),
    /// A HELLO whose payload is awaited: nothing yet.
    AwaitHello,
    /// The response header (kind, same length) at once.
    Respond(u8),
    /// A PONG from the client: nothing.
    Ignore,
    /// CLOSE back, then close.
    Close,
    /// The client's ERROR: close, nothing sent.
    PeerError,
}

fn judge(hello_done: bool, kind: u8, len: u32, max_payload: u32) -> Verdict {
    if !hello_done && kind != 0 {
        return Verdict::Error(1);
    }
    if kind > 5 {
        return Verdict::Error(3);
    }
    if len > max_payload {
        return Verdict::Error(4);
    }
    match kind {
        0 if hello_done => Verdict::Error(1),
        0 if len < 6 => Verdict::Error(1),
        0 => Verdict::AwaitHello,
        1 => Verdict::Respond(1),
        2 => Verdict::Respond(3),
        3 => Verdict::Ignore,
        4 => Verdict::Close,
        _ => Verdict::PeerError,
    }
}

fn judgement(data: &[u8]) {
    let mut r = Reader::new(data);
    let flags = r.u8();
    let raw_max = r.u32();
    let header: [u8; HEADER_LEN] = [r.u8(), r.u8(), r.u8(), r.u8(), r.u8()];
    let payload = r.rest();
    let hello_first = flags & 1 != 0;
    let bytewise = flags & 2 != 0;
    let max_payload = if flags & 4 != 0 {
        6 + raw_max % 64
    } else {
        raw_max.max(6)
    };
    let framing = if flags & 8 != 0 {
        Framing::Auto
    } else {
        Framing::Frame
    };
    let config = Config::default()
        .with_framing(framing)
        .with_max_payload(max_payload);

    let mut input = Vec::new();
    if hello_first {
        input.extend_from_slice(&frames::client_hello(b""));
    }
    input.extend_from_slice(&header);
    if framing == Framing::Auto && input[0] != 0 {
        // Auto reads a first byte other than 0x00 as raw: nothing to judge
        // here (line_raw covers raw); the output is still the model's.
        return whole_session(config, &input, payload);
    }

    let plan = if bytewise {
        Plan::new(&[1], &[1, 0])
    } else {
        Plan::new(&[], &[])
    };
    let mut d = Driver::new(config, &plan);
    d.push(&input);
    d.answer();

    let seen = d.observed();
    let mut out = &seen.output[..];
    if hello_first {
        let hello = frames::server_hello(&config);
        assert_eq!(
            show(&out[..hello.len().min(out.len())]),
            show(&hello),
            "server HELLO"
        );
        out = &out[hello.len()..];
    }
    let h = Header::parse(&header);
    let verdict = judge(hello_first, h.kind, h.len, max_payload);
    match verdict {
        Verdict::Error(code) => {
            let (got, left) = frames::decode_frames(out);
            assert_eq!(left, 0, "ERROR frame whole: {}", show(out));
            assert_eq!(got.len(), 1, "one ERROR frame: {}", show(out));
            let f = &got[0];
            assert_eq!(f.kind, 5, "ERROR kind: {}", show(out));
            assert!(f.payload.len() >= 2);
            let got = u16::from_be_bytes([f.payload[0], f.payload[1]]);
            assert_eq!(
                got, code,
                "error code for header {header:02x?} ({verdict:?})"
            );
            assert!(std::str::from_utf8(&f.payload[2..]).is_ok(), "UTF-8 reason");
            assert_eq!(
                seen.close(),
                Some(CloseReason::ProtocolError(
                    ErrorCode::from_u16(code).expect("a contract code")
                ))
            );
        }
        Verdict::AwaitHello | Verdict::Ignore => {
            assert_eq!(show(out), "", "nothing for {verdict:?}");
            assert!(!d.server().is_closed());
        }
        Verdict::Respond(k) => {
            let want = frames::header(k, h.len);
            assert_eq!(show(out), show(&want), "response header");
            assert!(!d.server().is_closed());
        }
        Verdict::Close => {
            assert_eq!(show(out), show(&[4, 0, 0, 0, 0]), "CLOSE");
            assert_eq!(seen.close(), Some(CloseReason::PeerClosed));
        }
        Verdict::PeerError => {
            assert_eq!(show(out), "", "nothing after a client ERROR");
            assert_eq!(seen.close(), Some(CloseReason::PeerError));
        }
    }

    // The payload, then end of input: the whole output is the model's.
    d.push(payload);
    d.finish();
    let mut all = input.clone();
    all.extend_from_slice(payload);
    same_as_model(config, &all, &d.observed());
}

fn whole_session(config: Config, input: &[u8], payload: &[u8]) {
    let mut all = input.to_vec();
    all.extend_from_slice(payload);
    let seen = run(config, &all, &Plan::new(&[], &[]));
    same_as_model(config, &all, &seen);
}

fn same_as_model(config: Config, all: &[u8], seen: &Observed) {
    let m = model::serve(&config, all);
    assert_eq!(show(&seen.output), show(&m.output), "output vs model");
    assert_eq!(seen.close(), Some(m.close), "close reason vs model");
}

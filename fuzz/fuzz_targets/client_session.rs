//! Breaks the client: arbitrary server bytes in arbitrary splits.
//!
//! * The Client never panics, and every call with input makes progress.
//! * It reports a malformed reply as `ClientError::Malformed` exactly where
//!   an independent decoder of server replies written here finds one, and
//!   hands back exactly the replies that decoder expects before that.
//! * The same bytes give the same replies (payload chunks concatenated), the
//!   same error, the same end-of-input verdict and the same counters,
//!   whether fed whole or split.
//!
//! Layout: mode u8 | read sizes | server bytes...
//! mode: bits 0-1 framing (frame, line, raw, auto), bits 2-5 how many
//! requests the client sent (DATA/PING alternating, or lines), bit 6 the
//! client also sent CLOSE. Sizes: count u8 % 16, then that many u8
//! (0 = a call with no input).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::wire::{Kind, ServerHello};
use shout_core::{Client, ClientError, Framing, Reply, TransformKind};
use shout_fuzz::{Reader, Sizes};

/// A reply with its payload pieces joined.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Hello(ServerHello),
    Data(Vec<u8>),
    Pong(Vec<u8>),
    Close,
    Error(u16, String),
    Bytes(Vec<u8>),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    replies: Vec<Got>,
    /// A partly received DATA/PONG at the end (not yet `last`).
    partial: Option<Got>,
    error: Option<ClientError>,
    end: Result<(), ClientError>,
    awaiting: u32,
    hello: Option<ServerHello>,
    done: bool,
}

fn new_client(framing: Framing, requests: u32, close: bool) -> Client {
    let mut c = Client::new(framing);
    for i in 0..requests {
        match framing {
            Framing::Line => c.line_request(b"x").expect("a line without LF"),
            Framing::Raw => {}
            _ => {
                let kind = if i % 2 == 0 { Kind::Data } else { Kind::Ping };
                c.request_header(kind, i as usize)
                    .expect("a request before CLOSE");
            }
        }
    }
    if close && matches!(framing, Framing::Frame | Framing::Auto) {
        c.close_frame();
        assert_eq!(
            c.request_header(Kind::Data, 1),
            Err(ClientError::SessionOver),
            "no request after CLOSE"
        );
    }
    c
}

fn run(mut c: Client, bytes: &[u8], splits: &mut Sizes) -> Outcome {
    let mut replies = Vec::new();
    let mut partial: Option<Got> = None;
    let mut error = None;
    let mut at = 0;
    let mut empty_calls = 0;
    'feed: while at < bytes.len() {
        let end = (at + splits.next_size()).min(bytes.len());
        let mut chunk = &bytes[at..end];
        if chunk.is_empty() {
            empty_calls += 1;
            assert!(empty_calls <= splits.patience(), "split plan stalls");
            match c.handle_input(chunk) {
                Ok((0, None)) => continue,
                other => panic!("empty input gave {other:?}"),
            }
        }
        empty_calls = 0;
        while !chunk.is_empty() {
            match c.handle_input(chunk) {
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
                Ok((n, reply)) => {
                    assert!(n > 0 && n <= chunk.len(), "consumed {n} of {}", chunk.len());
                    match reply {
                        None => {}
                        Some(Reply::Data { chunk: d, last }) => {
                            let mut buf = match partial.take() {
                                Some(Got::Data(b)) => b,
                                None => Vec::new(),
                                Some(other) => panic!("DATA piece inside {other:?}"),
                            };
                            buf.extend_from_slice(d);
                            if last {
                                replies.push(Got::Data(buf));
                            } else {
                                assert!(!d.is_empty(), "an empty piece that is not last");
                                partial = Some(Got::Data(buf));
                            }
                        }
                        Some(Reply::Pong { chunk: d, last }) => {
                            let mut buf = match partial.take() {
                                Some(Got::Pong(b)) => b,
                                None => Vec::new(),
                                Some(other) => panic!("PONG piece inside {other:?}"),
                            };
                            buf.extend_from_slice(d);
                            if last {
                                replies.push(Got::Pong(buf));
                            } else {
                                assert!(!d.is_empty(), "an empty piece that is not last");
                                partial = Some(Got::Pong(buf));
                            }
                        }
                        Some(Reply::Bytes(b)) => {
                            // Stream framings: all bytes joined.
                            assert!(partial.is_none(), "bytes inside a payload");
                            match replies.last_mut() {
                                Some(Got::Bytes(prev)) => prev.extend_from_slice(b),
                                _ => replies.push(Got::Bytes(b.to_vec())),
                            }
                        }
                        Some(other) => {
                            assert!(partial.is_none(), "{other:?} inside a payload");
                            replies.push(match other {
                                Reply::Hello(h) => Got::Hello(h),
                                Reply::Close => Got::Close,
                                Reply::Error { code, reason } => {
                                    Got::Error(code, reason.to_owned())
                                }
                                _ => unreachable!("handled above"),
                            });
                        }
                    }
                    chunk = &chunk[n..];
                    at += n;
                }
            }
        }
    }
    let end = c.handle_end_of_input();
    Outcome {
        replies,
        partial,
        error,
        end,
        awaiting: c.awaiting(),
        hello: c.server_hello(),
        done: c.is_done(),
    }
}

/// The replies a frame client must hand back for `bytes`, written from the
/// contract without the client's code: `Err(replies so far)` where the
/// stream breaks the protocol.
struct Expected {
    replies: Vec<Got>,
    partial: Option<Got>,
    malformed: bool,
    done: bool,
    awaiting: u32,
    hello: Option<ServerHello>,
}

fn expected_frames(mut bytes: &[u8], mut awaiting: u32) -> Expected {
    let mut e = Expected {
        replies: Vec::new(),
        partial: None,
        malformed: false,
        done: false,
        awaiting,
        hello: None,
    };
    loop {
        if bytes.len() < 5 {
            break;
        }
        let kind = bytes[0];
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]);
        let body = &bytes[5..];
        let have = body.len().min(len as usize);
        let bad = kind > 5
            || (e.hello.is_none() && kind != 0 && kind != 5)
            || (kind == 0 && e.hello.is_some())
            || (kind == 0 && len != 11)
            || ((kind == 1 || kind == 3) && awaiting == 0)
            || kind == 2
            || (kind == 5 && len < 2);
        if bad {
            e.malformed = true;
            break;
        }
        if kind == 1 || kind == 3 {
            awaiting -= 1;
            e.awaiting = awaiting;
            let payload = body[..have].to_vec();
            let got = if kind == 1 {
                Got::Data(payload)
            } else {
                Got::Pong(payload)
            };
            if have < len as usize {
                if have > 0 {
                    e.partial = Some(got);
                }
                break;
            }
            e.replies.push(got);
            bytes = &body[have..];
            continue;
        }
        if have < len as usize {
            break;
        }
        let payload = &body[..have];
        match kind {
            0 => {
                // The contract's transform ids: 0 ascii, 1 unicode.
                let transform = match payload[10] {
                    0 => Some(TransformKind::Ascii),
                    1 => Some(TransformKind::Unicode),
                    _ => None,
                };
                let (true, Some(transform)) = (&payload[..6] == b"SHOUT\x01", transform) else {
                    e.malformed = true;
                    break;
                };
                let h = ServerHello {
                    max_payload: u32::from_be_bytes([
                        payload[6], payload[7], payload[8], payload[9],
                    ]),
                    transform,
                };
                e.hello = Some(h);
                e.replies.push(Got::Hello(h));
            }
            4 => {
                e.replies.push(Got::Close);
                e.done = true;
                break;
            }
            _ => {
                // ERROR: code, then the reason cut to 126 bytes and to its
                // last whole UTF-8 character.
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let text = &payload[2..payload.len().min(128)];
                let valid = match std::str::from_utf8(text) {
                    Ok(s) => s,
                    Err(err) => std::str::from_utf8(&text[..err.valid_up_to()]).unwrap(),
                };
                e.replies.push(Got::Error(code, valid.to_owned()));
                e.done = true;
                break;
            }
        }
        bytes = &body[have..];
    }
    e
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let splits = r.sizes();
    let bytes = r.rest();
    let framing = [Framing::Frame, Framing::Line, Framing::Raw, Framing::Auto][(mode % 4) as usize];
    let requests = ((mode >> 2) % 16) as u32;
    let close = mode & 0x40 != 0;

    let whole = run(
        new_client(framing, requests, close),
        bytes,
        &mut Sizes::new(vec![]),
    );
    let split = run(
        new_client(framing, requests, close),
        bytes,
        &mut Sizes::new(splits),
    );
    assert_eq!(whole, split, "whole vs split");
    let bytewise = run(
        new_client(framing, requests, close),
        bytes,
        &mut Sizes::new(vec![1]),
    );
    assert_eq!(whole, bytewise, "whole vs byte by byte");

    match framing {
        Framing::Line | Framing::Raw => {
            let want: Vec<Got> = if bytes.is_empty() {
                vec![]
            } else {
                vec![Got::Bytes(bytes.to_vec())]
            };
            assert_eq!(whole.replies, want);
            assert_eq!(whole.error, None);
            assert_eq!(whole.end, Ok(()));
            if framing == Framing::Line {
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u32;
                assert_eq!(whole.awaiting, requests.saturating_sub(lines));
            }
        }
        _ => {
            let e = expected_frames(bytes, requests);
            assert_eq!(
                whole.replies, e.replies,
                "replies vs the independent decoder"
            );
            assert_eq!(whole.partial, e.partial, "partial reply");
            match whole.error {
                Some(ClientError::Malformed(_)) => assert!(e.malformed, "a valid stream refused"),
                Some(other) => panic!("unexpected client error {other:?}"),
                None => assert!(!e.malformed, "a malformed stream accepted"),
            }
            if !e.malformed {
                assert_eq!(whole.done, e.done);
                assert_eq!(whole.awaiting, e.awaiting);
                assert_eq!(whole.hello, e.hello);
                let want_end = if e.done {
                    Ok(())
                } else {
                    Err(ClientError::UnexpectedEnd)
                };
                assert_eq!(whole.end, want_end, "end of input verdict");
            }
        }
    }
});

//! Breaks the client's two halves: `RequestEncoder` writing requests, and
//! `ReplyDecoder` reading arbitrary server bytes in arbitrary splits.
//!
//! * The encoder writes the contract's header for every request it takes,
//!   refuses a payload over its limit and any request after CLOSE, and the
//!   decoder refuses to wait for more alternating runs than it keeps.
//! * The decoder never panics, and every call with input makes progress.
//! * It reports `ClientError::Malformed` with exactly the `Violation` an
//!   independent decoder of server replies written here finds, where it
//!   finds it (including an answer that does not match the oldest request
//!   waiting: PONG for PING, DATA for DATA), and hands back exactly the
//!   replies that decoder expects before that.
//! * The same bytes give the same replies (payload pieces joined), the
//!   same error, the same end-of-input verdict and the same counters,
//!   whether fed whole, split or byte by byte.
//!
//! Layout: mode u8 | read sizes | server bytes...
//! mode: bits 0-1 framing (frame, line, raw, auto), bits 2-5 how many
//! requests the client sent (DATA/PING alternating, DATA `i` and PING `i`
//! carrying `i` payload bytes, or lines), bit 6 the client also sent CLOSE,
//! bit 7 the encoder's limit is half the request count (so some requests
//! are refused as too large, and never sent). Sizes: count u8 % 16, then
//! that many u8 (0 = a call with no input).
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use shout_core::session::EXPECTED_RUNS;
use shout_core::wire::{Kind, ServerHello};
use shout_core::{ClientError, Framing, ReplyDecoder, RequestEncoder, TransformKind, Violation};
use shout_fuzz::kit::{decode_replies, OwnedReply};
use shout_fuzz::Reader;

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    replies: Vec<OwnedReply>,
    /// A partly received DATA/PONG at the end (not yet `last`).
    partial: Option<OwnedReply>,
    error: Option<ClientError>,
    end: Result<(), ClientError>,
    awaiting: u64,
    hello: Option<ServerHello>,
    done: bool,
}

/// How many runs of one kind `kinds` makes (DATA, DATA, PING is two).
fn runs(kinds: &[Kind]) -> usize {
    kinds.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!kinds.is_empty())
}

/// The client's writer sends `requests` (and CLOSE); its reader is told of
/// each one sent. Returns the reader and the kinds it waits for, in order.
fn client(
    framing: Framing,
    requests: u32,
    close: bool,
    small_limit: bool,
) -> (ReplyDecoder, Vec<Kind>) {
    let mut reader = ReplyDecoder::new(framing);
    let mut sent = Vec::new();
    match framing {
        Framing::Line => {
            let writer = RequestEncoder::line();
            assert_eq!(writer.data(1), Err(ClientError::WrongFraming));
            assert_eq!(
                writer.line_message(b"a\nb"),
                Err(ClientError::LineHasNewline)
            );
            for _ in 0..requests {
                writer.line_message(b"x").expect("a line without LF");
                reader.expect(Kind::Data).expect("lines are one run");
                sent.push(Kind::Data);
            }
        }
        Framing::Raw => {
            // A raw client writes bytes; nothing is a request.
            assert_eq!(reader.expect(Kind::Data), Err(ClientError::WrongFraming));
        }
        _ => {
            let max = if small_limit { requests / 2 } else { u32::MAX };
            let mut writer = RequestEncoder::frame(max);
            assert_eq!(writer.line_message(b"x"), Err(ClientError::WrongFraming));
            for i in 0..requests {
                let kind = if i % 2 == 0 { Kind::Data } else { Kind::Ping };
                let header = match kind {
                    Kind::Data => writer.data(i as usize),
                    _ => writer.ping(i as usize),
                };
                if i > max {
                    let too_large = ClientError::PayloadTooLarge { len: i as u64, max };
                    assert_eq!(header, Err(too_large), "request {i} over {max}");
                    continue;
                }
                let l = i.to_be_bytes();
                assert_eq!(header, Ok([kind as u8, l[0], l[1], l[2], l[3]]));
                let mut after = sent.clone();
                after.push(kind);
                match reader.expect(kind) {
                    Ok(()) => sent = after,
                    Err(ClientError::TooManyPending) => {
                        assert!(
                            runs(&after) > EXPECTED_RUNS,
                            "refused at {} runs",
                            runs(&after)
                        )
                    }
                    Err(other) => panic!("expect({kind:?}) failed: {other:?}"),
                }
            }
            if close {
                assert_eq!(writer.close(), Ok([4, 0, 0, 0, 0]));
                assert_eq!(writer.data(1), Err(ClientError::SessionOver));
                assert_eq!(writer.ping(0), Err(ClientError::SessionOver));
            }
        }
    }
    for k in [Kind::Hello, Kind::Pong, Kind::Close, Kind::Error] {
        assert_eq!(reader.expect(k), Err(ClientError::WrongFraming));
    }
    assert_eq!(reader.awaiting(), sent.len() as u64);
    (reader, sent)
}

fn run(mut reader: ReplyDecoder, bytes: &[u8], reads: &[usize]) -> Outcome {
    let decoded = decode_replies(&mut reader, bytes, reads);
    Outcome {
        replies: decoded.replies,
        partial: decoded.partial,
        error: decoded.error,
        end: reader.handle_end_of_input(),
        awaiting: reader.awaiting(),
        hello: reader.server_hello(),
        done: reader.is_done(),
    }
}

/// The replies a frame client must hand back for `bytes`, written from the
/// contract without the client's code, with the first violation found.
struct Expected {
    replies: Vec<OwnedReply>,
    partial: Option<OwnedReply>,
    violation: Option<Violation>,
    done: bool,
    awaiting: u64,
    hello: Option<ServerHello>,
}

fn expected_frames(mut bytes: &[u8], sent: &[Kind]) -> Expected {
    let mut waiting: VecDeque<Kind> = sent.iter().copied().collect();
    let mut e = Expected {
        replies: Vec::new(),
        partial: None,
        violation: None,
        done: false,
        awaiting: waiting.len() as u64,
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
        // The header, judged in the order the decoder documents.
        let due = |front: Option<&Kind>| front.map(|&k| if k == Kind::Ping { 3 } else { 1 });
        let violation = if kind > 5 {
            Some(Violation::UnknownKind)
        } else if e.hello.is_none() && kind != 0 && kind != 5 {
            Some(Violation::HelloNotFirst)
        } else if kind == 0 && e.hello.is_some() {
            Some(Violation::SecondHello)
        } else if kind == 0 && len != 11 {
            Some(Violation::HelloLength)
        } else if kind == 1 || kind == 3 {
            match due(waiting.front()) {
                None => Some(Violation::ReplyWithoutRequest),
                Some(d) if d != kind => Some(Violation::WrongReply {
                    expected: Kind::from_u8(d).unwrap(),
                    got: Kind::from_u8(kind).unwrap(),
                }),
                Some(_) => None,
            }
        } else if kind == 2 {
            Some(Violation::ServerPing)
        } else if kind == 5 && len < 2 {
            Some(Violation::ErrorWithoutCode)
        } else {
            None
        };
        if violation.is_some() {
            e.violation = violation;
            break;
        }
        if kind == 1 || kind == 3 {
            waiting.pop_front();
            e.awaiting = waiting.len() as u64;
            let payload = body[..have].to_vec();
            let got = if kind == 1 {
                OwnedReply::Data(payload)
            } else {
                OwnedReply::Pong(payload)
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
                    e.violation = Some(Violation::BadHello);
                    break;
                };
                let h = ServerHello {
                    max_payload: u32::from_be_bytes([
                        payload[6], payload[7], payload[8], payload[9],
                    ]),
                    transform,
                };
                e.hello = Some(h);
                e.replies.push(OwnedReply::Hello(h));
            }
            4 => {
                e.replies.push(OwnedReply::Close);
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
                e.replies.push(OwnedReply::Error(code, valid.to_owned()));
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
    let small_limit = mode & 0x80 != 0;
    let new_client = || client(framing, requests, close, small_limit);

    let (reader, sent) = new_client();
    let whole = run(reader, bytes, &[]);
    let split = run(new_client().0, bytes, &splits);
    assert_eq!(whole, split, "whole vs split");
    let bytewise = run(new_client().0, bytes, &[1]);
    assert_eq!(whole, bytewise, "whole vs byte by byte");

    match framing {
        Framing::Line | Framing::Raw => {
            let want: Vec<OwnedReply> = if bytes.is_empty() {
                vec![]
            } else {
                vec![OwnedReply::Bytes(bytes.to_vec())]
            };
            assert_eq!(whole.replies, want);
            assert_eq!(whole.error, None);
            assert_eq!(whole.end, Ok(()));
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(whole.awaiting, (sent.len() as u64).saturating_sub(lines));
        }
        _ => {
            let e = expected_frames(bytes, &sent);
            assert_eq!(
                whole.replies, e.replies,
                "replies vs the independent decoder"
            );
            assert_eq!(whole.partial, e.partial, "partial reply");
            match (whole.error, e.violation) {
                (Some(ClientError::Malformed(got)), Some(want)) => {
                    assert_eq!(got, want, "the violation")
                }
                (None, None) => {}
                (got, want) => {
                    panic!("client error {got:?}, but the stream's violation is {want:?}")
                }
            }
            if e.violation.is_none() {
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

//! The client: what `RequestEncoder` sends and refuses, what
//! `ReplyDecoder` accepts, and that every malformed server reply is a
//! `ClientError`, never a panic.

use shout_core::wire::{ErrorCode, Kind};
use shout_core::{
    ClientError, Framing, Reply, ReplyDecoder, RequestEncoder, TransformKind, Violation,
};
use shout_testkit::frames::{error_frame, frame, header, server_hello_with};

/// A reply with its borrowed parts copied, so a whole stream can be kept.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owned {
    Hello(u32),
    Data(Vec<u8>, bool),
    Pong(Vec<u8>, bool),
    Close,
    Error(u16, String),
    Bytes(Vec<u8>),
}

fn own(reply: Reply<'_>) -> Owned {
    match reply {
        Reply::Hello(h) => Owned::Hello(h.max_payload),
        Reply::Data { chunk, last } => Owned::Data(chunk.to_vec(), last),
        Reply::Pong { chunk, last } => Owned::Pong(chunk.to_vec(), last),
        Reply::Close => Owned::Close,
        Reply::Error { code, reason } => Owned::Error(code, reason.to_string()),
        Reply::Bytes(b) => Owned::Bytes(b.to_vec()),
        other => panic!("a reply this test does not know: {other:?}"),
    }
}

/// Feeds all of `bytes` to the client; returns the replies or the first error.
fn decode(client: &mut ReplyDecoder, mut bytes: &[u8]) -> Result<Vec<Owned>, ClientError> {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        let (n, reply) = client.handle_input(bytes)?;
        assert!(n > 0 || reply.is_some(), "client made no progress");
        if let Some(r) = reply {
            replies.push(own(r));
        }
        bytes = &bytes[n..];
    }
    Ok(replies)
}

/// A server HELLO with any transform byte (9 is none of the contract's).
fn hello_with_transform(max_payload: u32, transform: u8) -> Vec<u8> {
    let mut p = b"SHOUT\x01".to_vec();
    p.extend_from_slice(&max_payload.to_be_bytes());
    p.push(transform);
    frame(Kind::Hello, &p)
}

fn good_hello() -> Vec<u8> {
    server_hello_with(32, TransformKind::Ascii)
}

/// The reader of a frame client that has sent HELLO and `requests` DATA
/// requests.
fn client_with(requests: usize) -> ReplyDecoder {
    let mut c = ReplyDecoder::new(Framing::Frame);
    for _ in 0..requests {
        c.expect(Kind::Data).unwrap();
    }
    c
}

#[track_caller]
fn assert_malformed(mut client: ReplyDecoder, reply: &[u8]) {
    match decode(&mut client, reply) {
        Err(ClientError::Malformed(why)) => assert!(!why.to_string().is_empty()),
        other => panic!(
            "expected Malformed for {}, got {other:?}",
            reply.escape_ascii()
        ),
    }
}

#[test]
fn client_reads_a_whole_session() {
    let mut c = client_with(1);
    c.expect(Kind::Ping).unwrap();
    assert_eq!(c.awaiting(), 2);
    let wire = [
        &good_hello()[..],
        &frame(Kind::Data, b"A"),
        &frame(Kind::Pong, b"pp"),
        &frame(Kind::Close, b""),
    ]
    .concat();
    let replies = decode(&mut c, &wire).unwrap();
    assert_eq!(
        replies,
        [
            Owned::Hello(32),
            Owned::Data(b"A".to_vec(), true),
            Owned::Pong(b"pp".to_vec(), true),
            Owned::Close
        ]
    );
    assert_eq!(c.awaiting(), 0);
    assert!(c.is_done());
    assert_eq!(c.server_hello().unwrap().transform, TransformKind::Ascii);
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn client_sends_the_contract_bytes() {
    assert_eq!(&RequestEncoder::hello(), b"\0\0\0\0\x06SHOUT\x01");
    let mut c = RequestEncoder::frame(u32::MAX);
    assert_eq!(c.data(258).unwrap(), [1, 0, 0, 1, 2]);
    assert_eq!(c.ping(0).unwrap(), [2, 0, 0, 0, 0]);
    assert_eq!(c.close().unwrap(), [4, 0, 0, 0, 0]);
}

#[test]
fn data_reply_split_anywhere_comes_back_in_pieces_marked_last() {
    let wire = [&good_hello()[..], &frame(Kind::Data, b"HELLO")].concat();
    for cut in 0..wire.len() {
        let mut c = client_with(1);
        let mut got = decode(&mut c, &wire[..cut]).unwrap();
        got.extend(decode(&mut c, &wire[cut..]).unwrap());
        let data: Vec<u8> = got
            .iter()
            .filter_map(|r| match r {
                Owned::Data(d, _) => Some(d.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(data, b"HELLO", "cut at {cut}");
        assert_eq!(
            got.last(),
            Some(&Owned::Data(b"HELLO"[cut.max(21) - 21..].to_vec(), true))
        );
    }
}

#[test]
fn empty_data_and_pong_replies_are_one_empty_last_piece() {
    let mut c = client_with(1);
    c.expect(Kind::Ping).unwrap();
    let wire = [
        &good_hello()[..],
        &header(Kind::Data, 0),
        &header(Kind::Pong, 0),
    ]
    .concat();
    let got = decode(&mut c, &wire).unwrap();
    assert_eq!(
        got[1..],
        [Owned::Data(vec![], true), Owned::Pong(vec![], true)]
    );
}

#[test]
fn error_before_hello_is_accepted_and_ends_the_session() {
    let mut c = client_with(0);
    let got = decode(&mut c, &error_frame(ErrorCode::Busy, "busy")).unwrap();
    assert_eq!(got, [Owned::Error(6, "busy".into())]);
    assert!(c.is_done());
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn error_reason_is_cut_to_whole_characters() {
    let mut payload = vec![0, 1];
    payload.extend(std::iter::repeat_n(b'x', 125));
    payload.extend("é and more".as_bytes()); // é straddles byte 126/127
    let mut c = client_with(0);
    let got = decode(&mut c, &frame(Kind::Error, &payload)).unwrap();
    assert_eq!(got, [Owned::Error(1, "x".repeat(125))]);
    let mut c = client_with(0);
    let got = decode(&mut c, &frame(Kind::Error, b"\x00\x02ok\xffbad")).unwrap();
    assert_eq!(got, [Owned::Error(2, "ok".into())]);
}

#[test]
fn close_with_a_payload_is_accepted_and_bytes_after_it_are_ignored() {
    let mut c = client_with(0);
    let wire = [
        &good_hello()[..],
        &frame(Kind::Close, b"bye"),
        b"\xff\xff junk",
    ]
    .concat();
    let got = decode(&mut c, &wire).unwrap();
    assert_eq!(got, [Owned::Hello(32), Owned::Close]);
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn every_malformed_reply_is_a_client_error() {
    let h = good_hello();
    let cases: Vec<(&str, usize, Vec<u8>)> = vec![
        ("unknown kind first", 0, vec![6, 0, 0, 0, 0]),
        (
            "unknown kind later",
            1,
            [&h[..], &[0xff, 0, 0, 0, 0]].concat(),
        ),
        ("DATA before HELLO", 1, frame(Kind::Data, b"A")),
        ("PONG before HELLO", 1, frame(Kind::Pong, b"")),
        ("CLOSE before HELLO", 0, frame(Kind::Close, b"")),
        (
            "PING from the server",
            0,
            [&h[..], &frame(Kind::Ping, b"")].concat(),
        ),
        ("second HELLO", 0, [&h[..], &h[..]].concat()),
        ("HELLO of 6 bytes", 0, frame(Kind::Hello, b"SHOUT\x01")),
        ("HELLO of 12 bytes", 0, [&h[5..], b"x"].concat()),
        (
            "HELLO bad magic",
            0,
            frame(Kind::Hello, b"SHOUX\x01\0\0\0\x20\0"),
        ),
        (
            "HELLO bad version",
            0,
            frame(Kind::Hello, b"SHOUT\x02\0\0\0\x20\0"),
        ),
        ("HELLO unknown transform", 0, hello_with_transform(32, 9)),
        (
            "DATA without a request",
            0,
            [&h[..], &frame(Kind::Data, b"A")].concat(),
        ),
        (
            "PONG without a request",
            0,
            [&h[..], &frame(Kind::Pong, b"A")].concat(),
        ),
        (
            "more responses than requests",
            1,
            [&h[..], &frame(Kind::Data, b"A"), &frame(Kind::Data, b"B")].concat(),
        ),
        ("ERROR without a code", 0, frame(Kind::Error, b"")),
        ("ERROR with half a code", 0, frame(Kind::Error, b"\x00")),
    ];
    for (what, requests, reply) in cases {
        let mut c = client_with(requests);
        let result = decode(&mut c, &reply);
        assert!(
            matches!(result, Err(ClientError::Malformed(_))),
            "{what}: expected Malformed, got {result:?}"
        );
    }
    // A HELLO with a bad length is judged from its header.
    assert_malformed(client_with(0), &header(Kind::Hello, 7));
}

#[test]
fn end_of_input_before_close_or_inside_a_frame_is_unexpected() {
    let h = good_hello();
    let wire = [&h[..], &frame(Kind::Data, b"AB"), &frame(Kind::Close, b"")].concat();
    for cut in 0..wire.len() {
        let mut c = client_with(1);
        decode(&mut c, &wire[..cut]).unwrap();
        assert_eq!(
            c.handle_end_of_input(),
            Err(ClientError::UnexpectedEnd),
            "cut at {cut}"
        );
    }
    let mut c = client_with(1);
    decode(&mut c, &wire).unwrap();
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn line_and_raw_clients_pass_bytes_through_and_accept_any_end() {
    let requests = RequestEncoder::line();
    let mut c = ReplyDecoder::new(Framing::Line);
    for line in [&b"one"[..], b"two"] {
        requests.line_message(line).unwrap();
        c.expect(Kind::Data).unwrap();
    }
    assert_eq!(c.awaiting(), 2);
    let got = decode(&mut c, b"ONE\nTW").unwrap();
    assert_eq!(got, [Owned::Bytes(b"ONE\nTW".to_vec())]);
    assert_eq!(c.awaiting(), 1);
    decode(&mut c, b"O\n").unwrap();
    assert_eq!(c.awaiting(), 0);
    assert_eq!(c.handle_end_of_input(), Ok(()));
    let mut c = ReplyDecoder::new(Framing::Raw);
    assert_eq!(
        decode(&mut c, b"\0\xff").unwrap(),
        [Owned::Bytes(b"\0\xff".to_vec())]
    );
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn client_refuses_requests_it_must_not_send() {
    let line = RequestEncoder::line();
    assert_eq!(line.line_message(b"a\nb"), Err(ClientError::LineHasNewline));
    assert_eq!(line.data(1), Err(ClientError::WrongFraming));
    let frame_client = RequestEncoder::frame(u32::MAX);
    assert_eq!(
        frame_client.line_message(b"a"),
        Err(ClientError::WrongFraming)
    );
    assert_eq!(
        RequestEncoder::line().close(),
        Err(ClientError::WrongFraming)
    );
    // Only DATA and PING call for an answer; the reader refuses to wait
    // for any other kind of request.
    for k in [Kind::Hello, Kind::Pong, Kind::Close, Kind::Error] {
        let mut reader = ReplyDecoder::new(Framing::Frame);
        assert_eq!(reader.expect(k), Err(ClientError::WrongFraming), "{k:?}");
    }
    assert_eq!(
        ReplyDecoder::new(Framing::Line).expect(Kind::Ping),
        Err(ClientError::WrongFraming)
    );
    // The limit comes from the server's HELLO, as the reader decoded it.
    let mut reader = client_with(0);
    decode(&mut reader, &good_hello()).unwrap();
    let max = reader.server_hello().unwrap().max_payload;
    let mut frame_client = RequestEncoder::frame(max);
    assert_eq!(frame_client.data(32).map(|h| h[0]), Ok(1));
    assert_eq!(
        frame_client.data(33),
        Err(ClientError::PayloadTooLarge { len: 33, max: 32 })
    );
    assert_eq!(
        frame_client.ping(33),
        Err(ClientError::PayloadTooLarge { len: 33, max: 32 })
    );
    frame_client.close().unwrap();
    assert_eq!(frame_client.data(1), Err(ClientError::SessionOver));
    assert_eq!(frame_client.ping(0), Err(ClientError::SessionOver));
    assert_eq!(
        frame_client.close(),
        Ok([4, 0, 0, 0, 0]),
        "CLOSE again is harmless"
    );
    // The two halves share nothing: the writer learns that the server
    // ended the session from the reader, which says so.
    let mut done = client_with(0);
    decode(&mut done, &frame(Kind::Error, b"\x00\x05idle")).unwrap();
    assert!(done.is_done());
}

#[test]
fn request_encoder_refuses_oversize_and_requests_after_close() {
    for max in [0u32, 6, 1 << 20] {
        let mut c = RequestEncoder::frame(max);
        assert!(c.data(max as usize).is_ok());
        assert!(c.ping(max as usize).is_ok());
        let over = max as usize + 1;
        let refused = Err(ClientError::PayloadTooLarge {
            len: over as u64,
            max,
        });
        assert_eq!(c.data(over), refused);
        assert_eq!(c.ping(over), refused);
        c.close().unwrap();
        assert_eq!(c.data(0), Err(ClientError::SessionOver));
        assert_eq!(c.ping(0), Err(ClientError::SessionOver));
    }
    // No length over a u32 ever goes out, whatever the limit.
    let c = RequestEncoder::frame(u32::MAX);
    assert_eq!(c.data(u32::MAX as usize), Ok([1, 0xff, 0xff, 0xff, 0xff]));
    assert_eq!(
        c.data(u32::MAX as usize + 1),
        Err(ClientError::PayloadTooLarge {
            len: u32::MAX as u64 + 1,
            max: u32::MAX
        })
    );
}

#[test]
fn reply_decoder_matches_each_answer_to_the_oldest_request() {
    let data_due = Violation::WrongReply {
        expected: Kind::Data,
        got: Kind::Pong,
    };
    let pong_due = Violation::WrongReply {
        expected: Kind::Pong,
        got: Kind::Data,
    };
    // A PONG where a DATA was due, and a DATA where a PONG was due.
    let mut c = client_with(1);
    c.expect(Kind::Ping).unwrap();
    let wire = [&good_hello()[..], &frame(Kind::Pong, b"p")].concat();
    assert_eq!(decode(&mut c, &wire), Err(ClientError::Malformed(data_due)));
    let mut c = ReplyDecoder::new(Framing::Frame);
    c.expect(Kind::Ping).unwrap();
    c.expect(Kind::Data).unwrap();
    let wire = [&good_hello()[..], &frame(Kind::Data, b"A")].concat();
    assert_eq!(decode(&mut c, &wire), Err(ClientError::Malformed(pong_due)));
    // An empty answer is judged at its header too.
    let mut c = ReplyDecoder::new(Framing::Frame);
    c.expect(Kind::Ping).unwrap();
    let wire = [&good_hello()[..], &header(Kind::Data, 0)].concat();
    assert_eq!(decode(&mut c, &wire), Err(ClientError::Malformed(pong_due)));
    // Alternating runs, answered in order, are fine.
    let mut c = ReplyDecoder::new(Framing::Frame);
    for k in [Kind::Data, Kind::Data, Kind::Ping, Kind::Data, Kind::Ping] {
        c.expect(k).unwrap();
    }
    let wire = [
        &good_hello()[..],
        &frame(Kind::Data, b"A"),
        &frame(Kind::Data, b"B"),
        &frame(Kind::Pong, b"p"),
        &frame(Kind::Data, b"C"),
        &frame(Kind::Pong, b""),
    ]
    .concat();
    let got = decode(&mut c, &wire).unwrap();
    assert_eq!(got.len(), 6);
    assert_eq!(c.awaiting(), 0);
    // An answer with nothing waiting for one.
    let wire = [&good_hello()[..], &frame(Kind::Pong, b"")].concat();
    assert_eq!(
        decode(&mut client_with(0), &wire),
        Err(ClientError::Malformed(Violation::ReplyWithoutRequest))
    );
    let msg = ClientError::Malformed(data_due).to_string();
    assert!(msg.contains("Pong") && msg.contains("Data"), "{msg}");
}

#[test]
fn client_error_messages_are_clear() {
    let msg = ClientError::Malformed(Violation::ServerPing).to_string();
    assert!(msg.contains("malformed") && msg.contains("PING"), "{msg}");
    let msg = ClientError::PayloadTooLarge { len: 40, max: 32 }.to_string();
    assert!(msg.contains("40") && msg.contains("32"), "{msg}");
    assert!(ClientError::UnexpectedEnd.to_string().contains("closed"));
}

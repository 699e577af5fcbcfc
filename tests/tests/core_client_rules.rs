//! The client session: what it sends, what it accepts, and that every
//! malformed server reply is a `ClientError`, never a panic.

use shout_core::wire::Kind;
use shout_core::{Client, ClientError, Framing, Reply, TransformKind};
use shout_tests::model::{encode_frame, encode_header, error_frame, kind};

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
    }
}

/// Feeds all of `bytes` to the client; returns the replies or the first error.
fn decode(client: &mut Client, mut bytes: &[u8]) -> Result<Vec<Owned>, ClientError> {
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

fn server_hello_with(max_payload: u32, transform: u8) -> Vec<u8> {
    let mut p = b"SHOUT\x01".to_vec();
    p.extend_from_slice(&max_payload.to_be_bytes());
    p.push(transform);
    encode_frame(kind::HELLO, &p)
}

fn good_hello() -> Vec<u8> {
    server_hello_with(32, 0)
}

/// A frame client that has sent HELLO and `requests` DATA requests.
fn client_with(requests: usize) -> Client {
    let mut c = Client::new(Framing::Frame);
    for _ in 0..requests {
        c.request_header(Kind::Data, 1).unwrap();
    }
    c
}

#[track_caller]
fn assert_malformed(mut client: Client, reply: &[u8]) {
    match decode(&mut client, reply) {
        Err(ClientError::Malformed(why)) => assert!(!why.is_empty()),
        other => panic!(
            "expected Malformed for {}, got {other:?}",
            reply.escape_ascii()
        ),
    }
}

#[test]
fn client_reads_a_whole_session() {
    let mut c = client_with(1);
    c.request_header(Kind::Ping, 2).unwrap();
    assert_eq!(c.awaiting(), 2);
    let wire = [
        &good_hello()[..],
        &encode_frame(kind::DATA, b"A"),
        &encode_frame(kind::PONG, b"pp"),
        &encode_frame(kind::CLOSE, b""),
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
    assert_eq!(&Client::hello_frame(), b"\0\0\0\0\x06SHOUT\x01");
    let mut c = Client::new(Framing::Auto);
    assert_eq!(c.request_header(Kind::Data, 258).unwrap(), [1, 0, 0, 1, 2]);
    assert_eq!(c.request_header(Kind::Ping, 0).unwrap(), [2, 0, 0, 0, 0]);
    assert_eq!(c.close_frame(), [4, 0, 0, 0, 0]);
}

#[test]
fn data_reply_split_anywhere_comes_back_in_pieces_marked_last() {
    let wire = [&good_hello()[..], &encode_frame(kind::DATA, b"HELLO")].concat();
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
    c.request_header(Kind::Ping, 0).unwrap();
    let wire = [
        &good_hello()[..],
        &encode_header(kind::DATA, 0),
        &encode_header(kind::PONG, 0),
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
    let got = decode(
        &mut c,
        &error_frame(shout_core::wire::ErrorCode::Busy, "busy"),
    )
    .unwrap();
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
    let got = decode(&mut c, &encode_frame(kind::ERROR, &payload)).unwrap();
    assert_eq!(got, [Owned::Error(1, "x".repeat(125))]);
    let mut c = client_with(0);
    let got = decode(&mut c, &encode_frame(kind::ERROR, b"\x00\x02ok\xffbad")).unwrap();
    assert_eq!(got, [Owned::Error(2, "ok".into())]);
}

#[test]
fn close_with_a_payload_is_accepted_and_bytes_after_it_are_ignored() {
    let mut c = client_with(0);
    let wire = [
        &good_hello()[..],
        &encode_frame(kind::CLOSE, b"bye"),
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
        ("DATA before HELLO", 1, encode_frame(kind::DATA, b"A")),
        ("PONG before HELLO", 1, encode_frame(kind::PONG, b"")),
        ("CLOSE before HELLO", 0, encode_frame(kind::CLOSE, b"")),
        (
            "PING from the server",
            0,
            [&h[..], &encode_frame(kind::PING, b"")].concat(),
        ),
        ("second HELLO", 0, [&h[..], &h[..]].concat()),
        (
            "HELLO of 6 bytes",
            0,
            encode_frame(kind::HELLO, b"SHOUT\x01"),
        ),
        ("HELLO of 12 bytes", 0, [&h[5..], b"x"].concat()),
        (
            "HELLO bad magic",
            0,
            encode_frame(kind::HELLO, b"SHOUX\x01\0\0\0\x20\0"),
        ),
        (
            "HELLO bad version",
            0,
            encode_frame(kind::HELLO, b"SHOUT\x02\0\0\0\x20\0"),
        ),
        ("HELLO unknown transform", 0, server_hello_with(32, 9)),
        (
            "DATA without a request",
            0,
            [&h[..], &encode_frame(kind::DATA, b"A")].concat(),
        ),
        (
            "PONG without a request",
            0,
            [&h[..], &encode_frame(kind::PONG, b"A")].concat(),
        ),
        (
            "more responses than requests",
            1,
            [
                &h[..],
                &encode_frame(kind::DATA, b"A"),
                &encode_frame(kind::DATA, b"B"),
            ]
            .concat(),
        ),
        ("ERROR without a code", 0, encode_frame(kind::ERROR, b"")),
        (
            "ERROR with half a code",
            0,
            encode_frame(kind::ERROR, b"\x00"),
        ),
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
    assert_malformed(client_with(0), &encode_header(kind::HELLO, 7));
}

#[test]
fn end_of_input_before_close_or_inside_a_frame_is_unexpected() {
    let h = good_hello();
    let wire = [
        &h[..],
        &encode_frame(kind::DATA, b"AB"),
        &encode_frame(kind::CLOSE, b""),
    ]
    .concat();
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
    let mut c = Client::new(Framing::Line);
    c.line_request(b"one").unwrap();
    c.line_request(b"two").unwrap();
    assert_eq!(c.awaiting(), 2);
    let got = decode(&mut c, b"ONE\nTW").unwrap();
    assert_eq!(got, [Owned::Bytes(b"ONE\nTW".to_vec())]);
    assert_eq!(c.awaiting(), 1);
    decode(&mut c, b"O\n").unwrap();
    assert_eq!(c.awaiting(), 0);
    assert_eq!(c.handle_end_of_input(), Ok(()));
    let mut c = Client::new(Framing::Raw);
    assert_eq!(
        decode(&mut c, b"\0\xff").unwrap(),
        [Owned::Bytes(b"\0\xff".to_vec())]
    );
    assert_eq!(c.handle_end_of_input(), Ok(()));
}

#[test]
fn client_refuses_requests_it_must_not_send() {
    let mut line = Client::new(Framing::Line);
    assert_eq!(line.line_request(b"a\nb"), Err(ClientError::LineHasNewline));
    assert_eq!(
        line.request_header(Kind::Data, 1),
        Err(ClientError::WrongFraming)
    );
    let mut frame = Client::new(Framing::Frame);
    assert_eq!(frame.line_request(b"a"), Err(ClientError::WrongFraming));
    for k in [Kind::Hello, Kind::Pong, Kind::Close, Kind::Error] {
        assert_eq!(frame.request_header(k, 0), Err(ClientError::WrongFraming));
    }
    decode(&mut frame, &good_hello()).unwrap();
    assert_eq!(frame.request_header(Kind::Data, 32).map(|h| h[0]), Ok(1));
    assert_eq!(
        frame.request_header(Kind::Data, 33),
        Err(ClientError::PayloadTooLarge { len: 33, max: 32 })
    );
    frame.close_frame();
    assert_eq!(
        frame.request_header(Kind::Data, 1),
        Err(ClientError::SessionOver)
    );
    let mut done = client_with(0);
    decode(&mut done, &encode_frame(kind::ERROR, b"\x00\x05idle")).unwrap();
    assert_eq!(
        done.request_header(Kind::Ping, 1),
        Err(ClientError::SessionOver)
    );
}

#[test]
fn client_error_messages_are_clear() {
    let msg = ClientError::Malformed("server sent PING").to_string();
    assert!(msg.contains("malformed") && msg.contains("PING"), "{msg}");
    let msg = ClientError::PayloadTooLarge { len: 40, max: 32 }.to_string();
    assert!(msg.contains("40") && msg.contains("32"), "{msg}");
    assert!(ClientError::UnexpectedEnd.to_string().contains("closed"));
}

//! The frame lifecycle and every error code, end to end.

mod common;

use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use common::*;

const MAX: u32 = 1 << 20;

fn hello_then(rest: &[&[u8]]) -> Vec<u8> {
    let mut v = HELLO.to_vec();
    for r in rest {
        v.extend_from_slice(r);
    }
    v
}

#[test]
fn lifecycle_hello_data_ping_pong_close() {
    let server = Serve::start(&[]); // auto: NUL first means frames
    let input = hello_then(&[
        &frame(1, b"hello"),
        &frame(2, b"ping me"),
        &frame(3, b"ignored pong"),
        &frame(1, b""),
        &frame(4, b""),
        b"bytes after close are ignored",
    ]);
    let got = exchange(server.addr, &input);
    let frames = parse_frames(&got);
    assert_eq!(
        frames,
        vec![
            (0, server_hello(MAX)[5..].to_vec()),
            (1, b"HELLO".to_vec()),
            (3, b"ping me".to_vec()),
            (1, Vec::new()),
            (4, Vec::new()),
        ]
    );
    assert_eq!(&got[..16], &server_hello(MAX)[..]);
}

#[test]
fn hello_with_extension_bytes_and_pipelined_requests() {
    let server = Serve::start(&["--framing", "frame", "--max-payload", "4096"]);
    let mut input = frame(0, b"SHOUT\x01future-extension");
    for i in 0..100 {
        input.extend_from_slice(&frame(1, format!("req {i}").as_bytes()));
    }
    let got = exchange(server.addr, &input);
    let frames = parse_frames(&got);
    assert_eq!(frames[0], (0, server_hello(4096)[5..].to_vec()));
    for i in 0..100 {
        assert_eq!(frames[1 + i], (1, format!("REQ {i}").into_bytes()));
    }
    // End of input at a boundary: CLOSE.
    assert_eq!(frames[101], (4, Vec::new()));
    assert_eq!(frames.len(), 102);
}

#[test]
fn close_payload_is_ignored() {
    let server = Serve::start(&["--framing", "frame"]);
    let got = exchange(server.addr, &hello_then(&[&frame(4, b"bye now")]));
    assert_eq!(&got[16..], &[4, 0, 0, 0, 0]);
}

/// Each protocol error: earlier requests answered, then ERROR (last).
#[test]
fn every_error_code() {
    let server = Serve::start(&["--framing", "frame", "--max-payload", "100"]);
    let cases: Vec<(Vec<u8>, usize, u16)> = vec![
        // 1: not HELLO first.
        (frame(1, b"x"), 0, 1),
        // 1: HELLO without SHOUT.
        (frame(0, b"SHOUX\x01"), 0, 1),
        // 1: HELLO too short.
        (frame(0, b"SHOU"), 0, 1),
        // 1: a second HELLO, after an answered request.
        (hello_then(&[&frame(1, b"a"), HELLO]), 2, 1),
        // 2: unsupported version.
        (frame(0, b"SHOUT\x02"), 0, 2),
        // 3: unknown kind (after HELLO).
        (hello_then(&[&frame(1, b"b"), &frame(9, b"")]), 2, 3),
        // 4: over max_payload, refused from the header alone.
        (hello_then(&[&frame(1, b"c"), &[1, 0, 0, 0, 101]]), 2, 4),
        // 1: a frame cut off inside its header by end of input.
        (hello_then(&[&[1, 0]]), 1, 1),
    ];
    for (input, answered, code) in cases {
        let got = exchange(server.addr, &input);
        let frames = parse_frames(&got);
        assert_eq!(frames.len(), answered + 1, "{input:?} -> {frames:?}");
        assert_eq!(error_code(frames.last().unwrap()), code, "{input:?}");
    }
}

/// Kind above 5 before HELLO is judged "not HELLO first" (1), and a
/// too-long frame is refused before its payload arrives.
#[test]
fn header_judgement_order_and_refusal_from_header() {
    let server = Serve::start(&["--framing", "frame", "--max-payload", "100"]);
    let got = exchange(server.addr, &frame(9, b""));
    assert_eq!(error_code(&parse_frames(&got)[0]), 1);
    // Header only, no payload sent, connection kept open: ERROR arrives.
    let mut s = server.connect();
    s.write_all(&hello_then(&[&[1, 0, 0, 1, 0]])).unwrap();
    let got = read_all(&mut s);
    let frames = parse_frames(&got);
    assert_eq!(error_code(&frames[1]), 4);
}

/// DATA cut off after its header: the response is under way, so the
/// server sends what arrived and just closes (no ERROR, no CLOSE).
#[test]
fn data_cut_off_after_header_just_closes() {
    let server = Serve::start(&["--framing", "frame"]);
    let got = exchange(server.addr, &hello_then(&[&[1, 0, 0, 0, 10], b"abc"]));
    assert_eq!(&got[16..], &[1, 0, 0, 0, 10, b'A', b'B', b'C']);
}

/// ERROR from the client: earlier requests answered, then close, nothing
/// more sent.
#[test]
fn client_error_closes_without_output() {
    let server = Serve::start(&["--framing", "frame"]);
    let mut err = vec![5, 0, 0, 0, 3, 0, 1, b'x'];
    err.extend_from_slice(&frame(1, b"never answered"));
    let got = exchange(server.addr, &hello_then(&[&frame(1, b"q"), &err]));
    assert_eq!(
        parse_frames(&got),
        vec![(0, server_hello(MAX)[5..].to_vec()), (1, b"Q".to_vec())]
    );
}

/// A large DATA frame streams through (cut-through) and a 1 MiB payload
/// at the limit is accepted.
#[test]
fn payload_at_the_limit() {
    let server = Serve::start(&["--framing", "frame"]);
    let payload: Vec<u8> = (0..MAX).map(|i| b'a' + (i % 26) as u8).collect();
    let mut s = server.connect();
    let mut w = s.try_clone().unwrap();
    let input = hello_then(&[&frame(1, &payload), &frame(4, b"")]);
    let writer = std::thread::spawn(move || {
        w.write_all(&input).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_all(&mut s);
    writer.join().unwrap();
    let frames = parse_frames(&got);
    assert_eq!(frames.len(), 3);
    assert!(frames[1].1 == upper(&payload));
    assert_eq!(frames[2], (4, Vec::new()));
}

/// The server HELLO answers only once the client's whole HELLO is in,
/// and a request may follow the HELLO without waiting.
#[test]
fn byte_by_byte_input_gives_the_same_answer() {
    let server = Serve::start(&["--framing", "frame"]);
    let input = hello_then(&[&frame(1, b"slow"), &frame(2, b"p"), &frame(4, b"")]);
    let mut s = server.connect();
    for b in &input {
        s.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_micros(200));
    }
    let got = read_all(&mut s);
    assert_eq!(
        parse_frames(&got),
        vec![
            (0, server_hello(MAX)[5..].to_vec()),
            (1, b"SLOW".to_vec()),
            (3, b"p".to_vec()),
            (4, Vec::new())
        ]
    );
}

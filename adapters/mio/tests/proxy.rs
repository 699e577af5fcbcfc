//! `--proxy-protocol`: the PROXY header (v1 and v2) read and removed before
//! anything else, its source in the logs, and a connection without a good
//! one closed without a byte of output.

mod common;

use std::io::Write;
use std::thread;
use std::time::Duration;

use common::*;

const V2_SIG: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A v2 PROXY header for TCP over IPv4, with one TLV to skip.
fn v2_inet(src: [u8; 4], port: u16) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&src);
    body.extend_from_slice(&[127, 0, 0, 1]);
    body.extend_from_slice(&port.to_be_bytes());
    body.extend_from_slice(&8002u16.to_be_bytes());
    body.extend_from_slice(&[0x04, 0, 3, 1, 2, 3]); // PP2_TYPE_NOOP
    let mut h = V2_SIG.to_vec();
    h.extend_from_slice(&[0x21, 0x11]);
    h.extend_from_slice(&(body.len() as u16).to_be_bytes());
    h.extend_from_slice(&body);
    h
}

#[test]
fn v1_header_then_any_framing() {
    let server = Serve::start(&["--proxy-protocol", "-vv"]);
    let mut input = b"PROXY TCP4 192.0.2.7 127.0.0.1 56324 8002\r\n".to_vec();
    input.extend_from_slice(b"hello\n");
    assert_eq!(exchange(server.addr, &input), b"HELLO\n");
    // Frame after the header: auto detects it from the first byte after.
    let mut input = b"PROXY TCP6 2001:db8::7 ::1 4000 8002\r\n".to_vec();
    input.extend_from_slice(HELLO);
    input.extend_from_slice(&frame(1, b"abc"));
    let frames = parse_frames(&exchange(server.addr, &input));
    assert_eq!(frames[1], (1, b"ABC".to_vec()));
    thread::sleep(Duration::from_millis(100));
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("client=192.0.2.7:56324"), "{log}");
    assert!(log.contains("client=[2001:db8::7]:4000"), "{log}");
}

#[test]
fn v2_header_split_byte_by_byte() {
    let server = Serve::start(&["--proxy-protocol", "-vv", "--framing", "line"]);
    let mut s = server.connect();
    for b in v2_inet([198, 51, 100, 9], 40000) {
        s.write_all(&[b]).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    s.write_all(b"after the header\n").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut s), b"AFTER THE HEADER\n");
    thread::sleep(Duration::from_millis(100));
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("client=198.51.100.9:40000"), "{log}");
}

#[test]
fn local_and_unknown_use_the_socket_peer() {
    let server = Serve::start(&["--proxy-protocol", "-vv"]);
    let mut local = V2_SIG.to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0, 0]);
    local.extend_from_slice(b"ping");
    assert_eq!(exchange(server.addr, &local), b"PING");
    assert_eq!(exchange(server.addr, b"PROXY UNKNOWN\r\nok"), b"OK");
    thread::sleep(Duration::from_millis(100));
    let log = server.stderr.lock().unwrap().clone();
    assert!(log.contains("client=127.0.0.1:"), "{log}");
}

#[test]
fn a_missing_or_bad_header_is_refused_without_output() {
    let server = Serve::start(&["--proxy-protocol", "--idle-timeout", "0.5"]);
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(120, b'x');
    let mut bad_version = V2_SIG.to_vec();
    bad_version.extend_from_slice(&[0x11, 0x11, 0, 12]);
    let mut too_long = V2_SIG.to_vec();
    too_long.extend_from_slice(&[0x21, 0x11, 0x10, 0x01]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", b"hello\n".to_vec()),
        ("frame without header", HELLO.to_vec()),
        (
            "v1 bad address",
            b"PROXY TCP4 1.2.3 1.2.3.4 1 2\r\nhi\n".to_vec(),
        ),
        ("v1 too long", long),
        ("v2 bad version", bad_version),
        ("v2 too long", too_long),
    ];
    for (name, bytes) in &cases {
        let mut s = server.connect();
        s.write_all(bytes).unwrap();
        assert!(
            closes_silently(&mut s, Duration::from_secs(3)),
            "{name}: closed without output"
        );
    }
    // Input that ends, or idles out, inside the header.
    let mut s = server.connect();
    s.write_all(b"PROXY TCP4 1.2").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(
        closes_silently(&mut s, Duration::from_secs(3)),
        "ended inside"
    );
    let mut s = server.connect();
    s.write_all(&V2_SIG[..5]).unwrap();
    assert!(
        closes_silently(&mut s, Duration::from_secs(3)),
        "idled inside"
    );
    thread::sleep(Duration::from_millis(100));
    let log = server.stderr.lock().unwrap().clone();
    for why in [
        "PROXY header refused: no PROXY protocol signature",
        "PROXY header refused: malformed v1 line",
        "PROXY header refused: v1 line longer than 107 bytes",
        "PROXY header refused: v2 header with a version other than 2",
        "PROXY header refused: v2 header longer than 16 + 4096 bytes",
        "PROXY header refused: input ended inside the PROXY header",
        "PROXY header refused: the connection idled out inside the PROXY header",
    ] {
        assert!(log.contains(why), "{why} in\n{log}");
    }
}

#[test]
fn without_the_flag_a_proxy_header_is_just_bytes() {
    let server = Serve::start(&[]);
    assert_eq!(
        exchange(server.addr, b"PROXY UNKNOWN\r\nhi"),
        b"PROXY UNKNOWN\r\nHI"
    );
}

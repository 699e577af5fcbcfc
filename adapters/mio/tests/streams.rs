//! Raw, line and auto framing end to end over TCP.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::process::Command;
use std::thread;

use common::*;

/// The classic socket tutorial client, in Python 3, against default flags.
#[test]
fn python_tutorial_client_gets_hello() {
    let server = Serve::start(&[]);
    let script = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n\
         s.settimeout(10)\n\
         s.connect(('127.0.0.1', {}))\n\
         s.send(b'hello')\n\
         data = s.recv(1024)\n\
         s.close()\n\
         assert data == b'HELLO', data\n\
         print('ok')\n",
        server.addr.port()
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"ok\n");
}

/// 32 MiB through raw framing, written in random chunk sizes while reading.
#[test]
fn raw_32_mib_in_random_chunks() {
    let server = Serve::start(&["--framing", "raw"]);
    let total = 32 << 20;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let data: Vec<u8> = (0..total).map(|_| (next() % 256) as u8).collect();
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < total {
        let n = (1 + next() % 70_000) as usize;
        let n = n.min(total - at);
        chunks.push((at, n));
        at += n;
    }
    let mut s = server.connect();
    let mut w = s.try_clone().unwrap();
    let sent = data.clone();
    let writer = thread::spawn(move || {
        for (at, n) in chunks {
            w.write_all(&sent[at..at + n]).unwrap();
        }
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_all(&mut s);
    writer.join().unwrap();
    assert_eq!(got.len(), total);
    assert!(got == upper(&data), "raw output differs from upper(input)");
}

/// Auto: a text client is raw; `nc`-style input of any bytes but a first
/// NUL comes back uppercased, and end of input closes.
#[test]
fn auto_text_is_raw() {
    let server = Serve::start(&[]);
    let input = b"mixed Case \x01\xff bytes\r\n and more\n";
    assert_eq!(exchange(server.addr, input), upper(input));
}

/// 10,000 lines written back to back, answered one for one in order.
#[test]
fn ten_thousand_pipelined_lines() {
    let server = Serve::start(&["--framing", "line"]);
    let mut request = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        let line = format!("line number {i} of many\n");
        request.extend_from_slice(line.as_bytes());
        expected.extend_from_slice(line.to_uppercase().as_bytes());
    }
    let mut s = server.connect();
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        w.write_all(&request).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let got = read_all(&mut s);
    writer.join().unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected);
}

#[test]
fn line_endings_come_back_as_sent_and_last_line_is_answered() {
    let server = Serve::start(&["--framing", "line"]);
    let got = exchange(server.addr, b"crlf\r\nlf\n\nno end");
    assert_eq!(got, b"CRLF\r\nLF\n\nNO END");
}

/// A line longer than max_line: earlier lines complete, the line in
/// progress ends with LF, then the error line, then close.
#[test]
fn line_too_long() {
    let server = Serve::start(&["--framing", "line", "--max-line", "8"]);
    // 8 bytes with the LF is accepted.
    assert_eq!(exchange(server.addr, b"1234567\n"), b"1234567\n");
    let got = exchange(server.addr, b"ok\nabcdefghij\nnever\n");
    let text = String::from_utf8(got).unwrap();
    assert!(
        text.starts_with("OK\nABCDEFGH"),
        "earlier line and a prefix first: {text:?}"
    );
    assert!(
        text.ends_with("\nerror: line too long (limit 8 bytes)\n"),
        "{text:?}"
    );
    assert!(!text.contains("NEVER"));
}

/// Explicit raw framing treats a first NUL as data.
#[test]
fn explicit_raw_takes_nul_as_data() {
    let server = Serve::start(&["--framing", "raw"]);
    assert_eq!(exchange(server.addr, b"\0abc"), b"\0ABC");
}

/// A connection that ends before its first byte gets nothing.
#[test]
fn empty_connection_gets_nothing() {
    for framing in ["auto", "raw", "line", "frame"] {
        let server = Serve::start(&["--framing", framing]);
        assert_eq!(exchange(server.addr, b""), b"", "{framing}");
    }
}

/// The server answers while the client is still sending (streamed, not
/// buffered until end of input).
#[test]
fn raw_and_line_stream_before_end_of_input() {
    for (framing, input) in [("raw", &b"partial"[..]), ("line", b"no newline yet")] {
        let server = Serve::start(&["--framing", framing]);
        let mut s = server.connect();
        s.write_all(input).unwrap();
        let got = read_n(&mut s, input.len());
        assert_eq!(got, upper(input), "{framing}");
        let mut b = [0u8; 1];
        s.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        assert!(s.read(&mut b).is_err(), "still open, nothing more");
    }
}

/// The unicode transform on every stream framing, through the same
/// adapter paths (a frame DATA is answered once its whole payload is in,
/// however the payload is split into writes).
#[test]
fn unicode_transform_end_to_end() {
    let text = "straße, élan, ŉ and ascii";
    let want = text.to_uppercase();
    let server = Serve::start(&["--transform", "unicode"]);
    assert_eq!(exchange(server.addr, text.as_bytes()), want.as_bytes());
    let line_server = Serve::start(&["--transform", "unicode", "--framing", "line"]);
    let got = exchange(line_server.addr, format!("{text}\n{text}").as_bytes());
    assert_eq!(String::from_utf8(got).unwrap(), format!("{want}\n{want}"));
    // Frame: the payload arrives in pieces, split inside a character.
    let mut s = server.connect();
    let payload = text.as_bytes();
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&[1]);
    input.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    s.write_all(&input).unwrap();
    for piece in payload.chunks(5) {
        s.write_all(piece).unwrap();
        thread::sleep(std::time::Duration::from_millis(20));
    }
    s.shutdown(Shutdown::Write).unwrap();
    let got = read_all(&mut s);
    let frames = parse_frames(&got);
    assert_eq!(frames[0].1[10], 1, "HELLO names the unicode transform");
    assert_eq!(frames[1], (1, want.into_bytes()));
    assert_eq!(frames[2], (4, vec![]));
}

/// UDP with unicode: a response that grows past one datagram is replaced.
#[test]
fn udp_unicode_too_large() {
    let server = Serve::start(&["--udp", "--transform", "unicode"]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; 200_000];
    for (payload, want) in [
        ("ß".repeat(10), "SS".repeat(10).into_bytes()),
        ("ŉ".repeat(30_000), b"error: response too large".to_vec()),
        ("ŉ".repeat(20_000), "ʼN".repeat(20_000).into_bytes()),
    ] {
        sock.send_to(payload.as_bytes(), server.addr).unwrap();
        let (n, _) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(buf[..n], want[..]);
    }
}

/// Data and end of input arriving together, hundreds of times: every
/// exchange ends promptly (the server never misses an end of input that
/// came in with the last bytes).
#[test]
fn many_short_exchanges_end_promptly() {
    let server = Serve::start(&[]);
    let start = std::time::Instant::now();
    for i in 0..500 {
        let msg = format!("exchange {i}");
        let mut s = server.connect();
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        s.write_all(msg.as_bytes()).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).expect("server ended the exchange");
        assert_eq!(got, msg.to_uppercase().as_bytes());
    }
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
}

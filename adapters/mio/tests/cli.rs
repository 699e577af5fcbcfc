//! The command line: flags, exit statuses, the `listening on` lines, UDP,
//! and `shout send`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::thread;
use std::time::Duration;

use common::*;

#[test]
fn bad_flags_exit_2_with_a_message() {
    for args in [
        &["serve", "--threads", "0"][..],
        &["serve", "--max-connections", "0"],
        &["serve", "--max-line", "0"],
        &["serve", "--max-payload", "5"],
        &["serve", "--max-payload", "lots"],
        &["serve", "--idle-timeout", "-1"],
        &["serve", "--drain-timeout", "soon"],
        &["serve", "--listen", "not-an-address"],
        &["serve", "--framing", "xml"],
        &["serve", "--transform", "rot13"],
        &["serve", "--socket-buffer", "100"],
        &["serve", "--socket-buffer", "-1"],
        &["serve", "--socket-buffer", "lots"],
        &["serve", "--socket-buffer", "2000000000"],
        &["serve", "--no-such-flag"],
        &["serve", "--listen"],
        &["send"],
        &["send", "--framing", "auto", "127.0.0.1:1"],
        &["frobnicate"],
    ] {
        let (code, _, err) = run_shout(args, b"");
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: no clear message: {err}");
    }
}

/// The kernel's `sk_rcvbuf` and `sk_sndbuf` (`rb`, `tb` of `ss -m`, from
/// iproute2) of the server's side of the one connection to `port`.
fn server_buffers(port: u16) -> (u64, u64) {
    let out = std::process::Command::new("ss")
        .args(["-tmnH", "state", "established", &format!("sport = :{port}")])
        .output()
        .expect("ss (iproute2) runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        text.split(&format!(",{name}"))
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in ss's line: {text:?}"))
    };
    (field("rb"), field("tb"))
}

/// One number of a `/proc/sys` file.
fn sysctl(path: &str, field: usize) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.split_whitespace().nth(field).unwrap().parse().unwrap()
}

#[test]
fn socket_buffer_sets_each_connections_kernel_buffers() {
    // The kernel caps what is asked at rmem_max/wmem_max, then doubles it
    // (its bookkeeping); 0 leaves the receive buffer as the kernel made it
    // (tcp_rmem's default; the send buffer autotunes at once).
    let (rmem_max, wmem_max) = (
        sysctl("/proc/sys/net/core/rmem_max", 0),
        sysctl("/proc/sys/net/core/wmem_max", 0),
    );
    require("ss", &["-V"], "iproute2");
    let kernel_default = sysctl("/proc/sys/net/ipv4/tcp_rmem", 1);
    let set = |n: u64| Some((2 * rmem_max.min(n), 2 * wmem_max.min(n)));
    let cases = [
        (None, set(262_144)),
        (Some("50000"), set(50_000)),
        (Some("0"), None),
    ];
    for (arg, want) in cases {
        if let Some((rb, _)) = want {
            assert_ne!(
                rb, kernel_default,
                "{arg:?} cannot be told from the default here"
            );
        }
        let args: Vec<&str> = arg.map_or(vec![], |a| vec!["--socket-buffer", a]);
        let mut server = Serve::start(&args);
        // One answer: the server has accepted the connection and set its
        // buffers by then.
        let mut client = std::net::TcpStream::connect(server.addr).unwrap();
        client.set_read_timeout(Some(WAIT)).unwrap();
        client.write_all(b"x").unwrap();
        let mut answer = [0u8; 1];
        client.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"X");
        let (rb, tb) = server_buffers(server.addr.port());
        match want {
            Some(want) => assert_eq!((rb, tb), want, "{arg:?}"),
            None => assert_eq!(rb, kernel_default, "{arg:?}"),
        }
        drop(client);
        server.signal("TERM");
        assert_eq!(server.wait_exit(WAIT).code(), Some(0));
    }
}

#[test]
fn listening_line_stands_alone() {
    let mut server = Serve::start(&[]);
    server.signal("TERM");
    assert_eq!(server.wait_exit(WAIT).code(), Some(0));
    let err = server.stderr.lock().unwrap().clone();
    assert_eq!(err, format!("listening on {} (tcp)\n", server.addr));
}

#[test]
fn explicit_port_in_use_is_an_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run_shout(&["serve", "--listen", &addr], b"");
    assert_ne!(code, 0);
    assert!(err.contains("address already in use"), "{err}");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = udp.local_addr().unwrap().to_string();
    let (code, _, err) = run_shout(&["serve", "--udp", "--listen", &addr], b"");
    assert_ne!(code, 0);
    assert!(err.contains("address already in use"), "{err}");
}

#[test]
fn udp_on_the_same_port() {
    let server = Serve::start(&["--udp"]);
    let udp_addr = server.udp.expect("udp line");
    assert_eq!(udp_addr, server.addr);
    let err = server.stderr.lock().unwrap().clone();
    assert_eq!(
        err,
        format!(
            "listening on {0} (tcp)\nlistening on {0} (udp)\n",
            server.addr
        )
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 70_000];
    for payload in [&b"hello udp"[..], b"", &vec![b'q'; 65_507]] {
        sock.send_to(payload, udp_addr).unwrap();
        let (n, from) = sock.recv_from(&mut buf).unwrap();
        assert_eq!(from, udp_addr);
        assert!(buf[..n] == upper(payload), "datagram of {}", payload.len());
    }
    // TCP still answers on the same port.
    assert_eq!(exchange(server.addr, b"tcp too"), b"TCP TOO");
}

#[test]
fn send_frame_line_raw_from_arguments() {
    let server = Serve::start(&[]);
    let line_server = Serve::start(&["--framing", "line"]);
    let a = server.addr.to_string();
    let (code, out, err) = run_shout(&["send", &a, "hello", "", "World 2"], b"");
    assert_eq!((code, out), (0, b"HELLO\n\nWORLD 2\n".to_vec()), "{err}");
    let (code, out, _) = run_shout(&["send", "--framing", "raw", &a, "one", "two"], b"");
    assert_eq!((code, out), (0, b"ONE\nTWO\n".to_vec()));
    let l = line_server.addr.to_string();
    let (code, out, _) = run_shout(&["send", "--framing", "line", &l, "a b", "c"], b"");
    assert_eq!((code, out), (0, b"A B\nC\n".to_vec()));
}

#[test]
fn send_streams_standard_input() {
    let server = Serve::start(&[]);
    let line_server = Serve::start(&["--framing", "line"]);
    let a = server.addr.to_string();
    let l = line_server.addr.to_string();
    let (code, out, err) = run_shout(&["send", &a], b"first\r\nsecond\n\nlast");
    assert_eq!(
        (code, String::from_utf8_lossy(&out).into_owned()),
        (0, "FIRST\nSECOND\n\nLAST\n".into()),
        "{err}"
    );
    let (code, out, _) = run_shout(&["send", "--framing", "line", &l], b"x\r\ny\nno end");
    assert_eq!((code, out), (0, b"X\r\nY\nNO END\n".to_vec()));
    let big: Vec<u8> = (0..3 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let (code, out, _) = run_shout(&["send", "--framing", "raw", &a], &big);
    assert_eq!(code, 0);
    assert!(out == upper(&big), "raw stdin streamed as is");
}

#[test]
fn send_reports_server_errors_and_refusals() {
    let server = Serve::start(&["--max-payload", "10"]);
    let a = server.addr.to_string();
    let (code, out, err) = run_shout(&["send", &a, "ok", "this one is too long"], b"");
    assert_ne!(code, 0);
    assert_eq!(out, b"OK\n");
    assert!(
        err.contains("ERROR 4") && err.contains("FRAME_TOO_LARGE"),
        "{err}"
    );

    let line_server = Serve::start(&["--framing", "line", "--max-line", "4"]);
    let l = line_server.addr.to_string();
    let (code, _, err) = run_shout(&["send", "--framing", "line", &l, "toolong"], b"");
    assert_ne!(code, 0);
    assert!(err.contains("line too long"), "{err}");

    // Nobody listens on a port we just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, _, err) = run_shout(&["send", &port.to_string(), "x"], b"");
    assert_ne!(code, 0);
    assert!(err.contains("cannot connect"), "{err}");

    let (code, _, err) = run_shout(&["send", "--framing", "line", &l, "a\nb"], b"");
    assert_eq!(code, 2, "{err}");
}

/// A server that answers nonsense: the client says so and fails.
#[test]
fn send_reports_malformed_replies() {
    let fake = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = fake.local_addr().unwrap().to_string();
    let t = thread::spawn(move || {
        for reply in [
            &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
            b"\0\0\0\0\x0bSHOUT\x01\0\0\0\x10\0\x09\0\0\0\0",
        ] {
            let (mut s, _) = fake.accept().unwrap();
            let mut b = [0u8; 64];
            let _ = s.read(&mut b);
            s.write_all(reply).unwrap();
        }
    });
    for _ in 0..2 {
        let (code, _, err) = run_shout(&["send", &addr, "x"], b"");
        assert_ne!(code, 0);
        assert!(err.contains("malformed") || err.contains("closed"), "{err}");
    }
    t.join().unwrap();
}

/// `send --framing web`: a WebSocket on /ws, one text message per MESSAGE
/// or line, a Close at the end; a server's error Close is an error.
#[test]
fn send_web_from_arguments_and_standard_input() {
    let server = Serve::start(&["--max-payload", "16"]);
    let a = server.addr.to_string();
    let (code, out, err) = run_shout(&["send", "--framing", "web", &a, "hello", "Wörld"], b"");
    assert_eq!(
        (code, out),
        (0, "HELLO\nWöRLD\n".as_bytes().to_vec()),
        "{err}"
    );
    let (code, out, err) = run_shout(&["send", "--framing", "web", &a], b"one\r\ntwo\n");
    assert_eq!((code, out), (0, b"ONE\nTWO\n".to_vec()), "{err}");
    let (code, out, err) = run_shout(
        &["send", "--framing", "web", &a, "ok", "seventeen bytes!!"],
        b"",
    );
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, b"OK\n");
    assert!(err.contains("1009"), "{err}");
    // Not a web server: the refusal is said.
    let line = Serve::start(&["--framing", "line"]);
    let (code, _, err) = run_shout(
        &["send", "--framing", "web", &line.addr.to_string(), "x"],
        b"",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("refused the WebSocket"), "{err}");
}

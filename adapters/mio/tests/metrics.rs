//! `--metrics`: after a scripted workload across four event loops, every
//! counter is what the workload implies.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// The `metrics on ADDR` line of a server started with `--metrics`.
fn metrics_addr(server: &Serve) -> SocketAddr {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = server.stderr.lock().unwrap().clone();
        if let Some(addr) = log
            .lines()
            .find_map(|l| l.strip_prefix("metrics on "))
            .and_then(|a| a.trim().parse().ok())
        {
            return addr;
        }
        assert!(Instant::now() < deadline, "no `metrics on` line: {log}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Scrapes until `key` has `want` (the server counts a close once it has
/// happened, a moment after the client saw the end).
fn settle(addr: SocketAddr, key: &str, want: u64) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = scrape(addr);
        if value(&m, key) == want || Instant::now() > deadline {
            return m;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_counter_is_what_the_workload_implies() {
    let mut server = Serve::start(&[
        "--threads",
        "4",
        "--udp",
        "--max-payload",
        "100",
        "--max-connections",
        "2",
        "--drain-timeout",
        "10",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&server);
    let start = scrape(metrics);
    for (k, v) in &start {
        if !k.starts_with("process_") && !k.starts_with("shout_buffered_bytes_limit") {
            assert_eq!(*v, 0.0, "{k} at start");
        }
    }
    let (mut received, mut sent) = (0usize, 0usize);

    // Three raw connections.
    for _ in 0..3 {
        let got = exchange(server.addr, b"abc");
        assert_eq!(got, b"ABC");
        received += 3;
        sent += got.len();
    }
    // One frame session: four DATA, then CLOSE.
    let mut input = HELLO.to_vec();
    for p in [&b"a"[..], b"bb", b"ccc", b""] {
        input.extend_from_slice(&frame(1, p));
    }
    input.extend_from_slice(&frame(4, b""));
    let got = exchange(server.addr, &input);
    received += input.len();
    sent += got.len();
    // A DATA over max_payload: ERROR 4.
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&[1, 0, 0, 3, 232]); // length 1000
    let got = exchange(server.addr, &input);
    assert_eq!(error_code(parse_frames(&got).last().unwrap()), 4);
    received += input.len();
    sent += got.len();
    // A UDP datagram.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    udp.send_to(b"datagram", server.udp.unwrap()).unwrap();
    let mut buf = [0u8; 64];
    let n = udp.recv(&mut buf).unwrap();
    received += 8;
    sent += n;

    let m = settle(metrics, "shout_connections_open", 0);
    assert_eq!(value(&m, "shout_connections_open"), 0);
    // Two held open (one idle, one inside a DATA whose answer has begun),
    // then a third over max_connections.
    let idle = server.connect();
    let mut begun = server.connect();
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&[1, 0, 0, 0, 10]);
    input.extend_from_slice(b"abcd");
    begun.write_all(&input).unwrap();
    let first = read_n(&mut begun, 16 + 5 + 4);
    received += input.len();
    sent += first.len();
    settle(metrics, "shout_connections_open", 2);
    let mut refused = server.connect();
    assert!(closes_silently(&mut refused, WAIT), "refused");

    let m = settle(
        metrics,
        "shout_connections_refused_total{reason=\"max_connections\"}",
        1,
    );
    let want: &[(&str, u64)] = &[
        ("shout_connections_open", 2),
        ("shout_connections_accepted_total", 7),
        (
            "shout_connections_refused_total{reason=\"max_connections\"}",
            1,
        ),
        ("shout_sessions_total{framing=\"raw\"}", 3),
        ("shout_sessions_total{framing=\"frame\"}", 3),
        ("shout_sessions_total{framing=\"line\"}", 0),
        ("shout_session_closes_total{reason=\"end\"}", 4),
        ("shout_session_closes_total{reason=\"protocol_error\"}", 1),
        ("shout_session_closes_total{reason=\"shutdown\"}", 0),
        ("shout_requests_total{framing=\"frame\"}", 5),
        ("shout_protocol_errors_total{code=\"4\"}", 1),
        ("shout_protocol_errors_total{code=\"1\"}", 0),
        ("shout_udp_datagrams_total", 1),
        ("shout_received_bytes_total", received as u64),
        ("shout_sent_bytes_total", sent as u64),
        ("shout_accept_errors_total", 0),
        ("shout_draining", 0),
        ("shout_proxy_headers_total{result=\"ok\"}", 0),
        ("shout_tls_handshakes_total{result=\"ok\"}", 0),
    ];
    for (k, v) in want {
        assert_eq!(value(&m, k), *v, "{k}");
    }
    assert!(value(&m, "process_resident_memory_bytes") > 1 << 20);
    assert!(value(&m, "process_open_fds") > 5);

    // The drain: the idle connection is ended at once (the server then
    // waits for the client to close, so that it never resets it), the
    // begun DATA may finish.
    server.signal("TERM");
    assert!(closes_silently(&mut { idle }, WAIT), "the idle one ends");
    let m = settle(
        metrics,
        "shout_session_closes_total{reason=\"shutdown\"}",
        1,
    );
    assert_eq!(value(&m, "shout_draining"), 1);
    assert_eq!(
        value(&m, "shout_session_closes_total{reason=\"shutdown\"}"),
        1
    );
    begun.write_all(b"efghij").unwrap();
    let rest = read_all(&mut begun);
    assert!(
        rest.ends_with(&[4, 0, 0, 0, 0]),
        "CLOSE at the end: {rest:?}"
    );
    drop(begun); // the server waits for the client to close
    assert!(server.wait_exit(WAIT).success());
}

#[test]
fn lines_count_as_line_requests() {
    let server = Serve::start(&[
        "--threads",
        "4",
        "--framing",
        "line",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&server);
    assert_eq!(
        exchange(server.addr, b"one\ntwo\nthree\n"),
        b"ONE\nTWO\nTHREE\n"
    );
    assert_eq!(exchange(server.addr, b"four\r\nfive"), b"FOUR\r\nFIVE");
    let m = settle(metrics, "shout_session_closes_total{reason=\"end\"}", 2);
    assert_eq!(value(&m, "shout_requests_total{framing=\"line\"}"), 5);
    assert_eq!(value(&m, "shout_sessions_total{framing=\"line\"}"), 2);
}

/// A scraper that trickles its request a byte a second is closed at the
/// scrape deadline (5 s for the whole request), not kept forever.
#[test]
fn a_trickling_scraper_is_closed_at_the_deadline() {
    let server = Serve::start(&["--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&server);
    let mut s = TcpStream::connect(metrics).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let start = Instant::now();
    let mut closed = false;
    for b in b"GET /metrics HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaa" {
        if s.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) | Err(_) if start.elapsed() > Duration::from_secs(4) => {
                if matches!(s.read(&mut buf), Ok(0)) {
                    closed = true;
                    break;
                }
            }
            _ => {}
        }
    }
    let took = start.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(took < Duration::from_secs(8), "closed after {took:?}");
}

/// A metrics address already taken is a clear error, naming it.
#[test]
fn a_taken_metrics_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, _, err) = run_shout(
        &["serve", "--listen", "127.0.0.1:0", "--metrics", &addr],
        b"",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("cannot serve metrics on {addr}")),
        "{err}"
    );
}

//! SIGINT/SIGTERM: drain without losing a request, the drain deadline, and
//! the second signal.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Requests written before the signal are all answered, on every framing;
/// a frame session ends with CLOSE; a line whose first byte arrived may
/// still complete within the drain; the process exits 0.
#[test]
fn sigterm_drains_pipelined_requests_losing_nothing() {
    let mut server = Serve::start(&["--drain-timeout", "5"]);
    let line_server = Serve::start(&["--framing", "line", "--drain-timeout", "5"]);

    // Frame: 2,000 DATA requests pipelined.
    let mut frames_in = HELLO.to_vec();
    let mut frames_want = server_hello(1 << 20);
    for i in 0..2000 {
        let m = format!("frame request {i}");
        frames_in.extend_from_slice(&frame(1, m.as_bytes()));
        frames_want.extend_from_slice(&frame(1, m.to_uppercase().as_bytes()));
    }
    frames_want.extend_from_slice(&[4, 0, 0, 0, 0]);
    // Raw: 4 MiB.
    let raw_in: Vec<u8> = (0..4 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    // Line: 2,000 lines, then half a line.
    let mut lines_in = Vec::new();
    for i in 0..2000 {
        lines_in.extend_from_slice(format!("line {i}\n").as_bytes());
    }
    let lines_want = {
        let mut w = upper(&lines_in);
        w.extend_from_slice(b"HALF A LINE\n");
        w
    };
    lines_in.extend_from_slice(b"half a ");

    let mut conns = Vec::new();
    let mut progress = Vec::new();
    for (addr, input, want) in [
        (server.addr, frames_in, frames_want.len()),
        (server.addr, raw_in.clone(), raw_in.len()),
        (line_server.addr, lines_in, lines_want.len()),
    ] {
        let s = connect(addr);
        let mut w = s.try_clone().unwrap();
        let writer = thread::spawn(move || w.write_all(&input).unwrap());
        let mut r = s.try_clone().unwrap();
        let got = Arc::new(AtomicUsize::new(0));
        let counter = got.clone();
        let reader = thread::spawn(move || {
            let mut all = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = r.read(&mut buf).expect("read");
                if n == 0 {
                    return all;
                }
                all.extend_from_slice(&buf[..n]);
                counter.fetch_add(n, Ordering::SeqCst);
            }
        });
        conns.push((s, writer, reader));
        progress.push((got, want));
    }
    // Everything written and at the server (the unanswered rest is less
    // than one receive window, so it is in the server's socket, not in
    // ours), the last answers not read yet: signal.
    let deadline = Instant::now() + WAIT;
    for ((_, w, _), (got, want)) in conns.iter().zip(&progress) {
        while !w.is_finished() || got.load(Ordering::SeqCst) + (32 << 10) < *want {
            assert!(
                Instant::now() < deadline,
                "requests never reached the server"
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
    server.signal("TERM");
    line_server.signal("TERM");
    // The half line completes inside the drain.
    thread::sleep(Duration::from_millis(200));
    conns[2].0.write_all(b"line\n").unwrap();
    let mut results = Vec::new();
    for (_, w, r) in conns {
        w.join().unwrap();
        results.push(r.join().unwrap());
    }
    assert!(results[0] == frames_want, "frame answers lost");
    assert!(results[1] == upper(&raw_in), "raw answers lost");
    assert_eq!(
        String::from_utf8_lossy(&results[2]),
        String::from_utf8_lossy(&lines_want)
    );
    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0));
    let mut line_server = line_server;
    assert_eq!(line_server.wait_exit(WAIT).code(), Some(0));
}

/// A request cut off in the middle holds the drain until its deadline;
/// then the connection is closed as it is and the exit is 0. New
/// connections are refused once draining.
#[test]
fn drain_deadline_closes_what_remains() {
    let mut server = Serve::start(&["--framing", "frame", "--drain-timeout", "0.5"]);
    let mut s = server.connect();
    s.write_all(HELLO).unwrap();
    assert_eq!(read_n(&mut s, 16), server_hello(1 << 20));
    s.write_all(&[1, 0, 0, 0, 100, b'x']).unwrap();
    assert_eq!(read_n(&mut s, 6), [1, 0, 0, 0, 100, b'X']);
    let idle = server.connect(); // undecided: closed at once
    let start = Instant::now();
    server.signal("INT");
    let mut idle = idle;
    assert!(closes_silently(&mut idle, Duration::from_secs(2)));
    let status = server.wait_exit(WAIT);
    let took = start.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(
        took >= Duration::from_millis(400),
        "exited before the drain deadline: {took:?}"
    );
    assert!(took < Duration::from_secs(4), "drain took {took:?}");
    assert!(std::net::TcpStream::connect(server.addr).is_err());
}

/// A second signal exits at once with a non-zero status.
#[test]
fn second_signal_exits_at_once() {
    let mut server = Serve::start(&["--framing", "frame", "--drain-timeout", "30"]);
    let mut s = server.connect();
    s.write_all(HELLO).unwrap();
    assert_eq!(read_n(&mut s, 16), server_hello(1 << 20));
    s.write_all(&[1, 0, 0, 0, 100]).unwrap(); // a request under way
    assert_eq!(read_n(&mut s, 5), [1, 0, 0, 0, 100]);
    server.signal("TERM");
    thread::sleep(Duration::from_millis(200));
    assert!(server.child.try_wait().unwrap().is_none(), "still draining");
    let start = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(3));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(!status.success(), "{status:?}");
}

/// Closing linger: the client sends a request and more bytes than the
/// server reads before it closes; the answer still arrives (no reset).
#[test]
fn linger_keeps_responses_from_being_reset() {
    let server = Serve::start(&["--framing", "frame"]);
    let mut s = server.connect();
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&frame(1, b"answer me"));
    input.extend_from_slice(&frame(4, b""));
    input.extend_from_slice(&vec![b'z'; 256 * 1024]); // ignored after CLOSE
    let mut w = s.try_clone().unwrap();
    let writer = thread::spawn(move || {
        let _ = w.write_all(&input);
    });
    thread::sleep(Duration::from_millis(100));
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("no reset");
    writer.join().unwrap();
    let frames = parse_frames(&got);
    assert_eq!(frames[1], (1, b"ANSWER ME".to_vec()));
    assert_eq!(frames[2], (4, vec![]));
    s.shutdown(Shutdown::Both).ok();
}

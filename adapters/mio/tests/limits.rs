//! Idle timeout, max_connections, many connections, slow readers and
//! garbage: the limits of the contract, end to end.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn idle_frame_session_gets_error_5() {
    let server = Serve::start(&["--idle-timeout", "0.3"]);
    let mut s = server.connect();
    s.write_all(HELLO).unwrap();
    let start = Instant::now();
    let got = read_all(&mut s);
    let waited = start.elapsed();
    let frames = parse_frames(&got);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(error_code(&frames[1]), 5);
    assert!(
        waited >= Duration::from_millis(250),
        "too early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "too late: {waited:?}");
}

#[test]
fn idle_before_whole_hello_is_still_a_frame_session() {
    let server = Serve::start(&["--idle-timeout", "0.3"]);
    let mut s = server.connect();
    s.write_all(&[0, 0]).unwrap();
    let got = read_all(&mut s);
    assert_eq!(error_code(&parse_frames(&got)[0]), 5);
}

#[test]
fn idle_raw_line_and_undecided_close_without_output() {
    for framing in ["raw", "line", "auto"] {
        let server = Serve::start(&["--framing", framing, "--idle-timeout", "0.3"]);
        let mut s = server.connect();
        if framing != "auto" {
            s.write_all(b"abc\n").unwrap();
            assert_eq!(read_n(&mut s, 4), b"ABC\n");
        }
        assert!(closes_silently(&mut s, Duration::from_secs(3)), "{framing}");
    }
}

/// A response under way when the idle timeout fires: just close.
#[test]
fn idle_with_response_under_way_just_closes() {
    let server = Serve::start(&["--framing", "frame", "--idle-timeout", "0.3"]);
    let mut s = server.connect();
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&[1, 0, 0, 0, 10]);
    input.extend_from_slice(b"abc");
    s.write_all(&input).unwrap();
    let got = read_all(&mut s);
    assert_eq!(&got[16..], &[1, 0, 0, 0, 10, b'A', b'B', b'C']);
}

/// Activity keeps a connection alive past the idle timeout.
#[test]
fn activity_resets_the_idle_clock() {
    let server = Serve::start(&["--framing", "raw", "--idle-timeout", "0.3"]);
    let mut s = server.connect();
    for _ in 0..8 {
        s.write_all(b"x").unwrap();
        assert_eq!(read_n(&mut s, 1), b"X");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(closes_silently(&mut s, Duration::from_secs(3)));
}

fn refused(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 256];
    loop {
        match s.read(&mut b) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("refused connection not closed: {e}"),
        }
    }
}

#[test]
fn max_connections_auto_closes_at_once_and_refused_do_not_count() {
    let server = Serve::start(&["--max-connections", "3", "--threads", "2"]);
    let mut held: Vec<TcpStream> = (0..3).map(|_| server.connect()).collect();
    // Make sure all three are accepted and served.
    for s in &mut held {
        s.write_all(b"x").unwrap();
        assert_eq!(read_n(s, 1), b"X");
    }
    for _ in 0..3 {
        let mut extra = server.connect();
        assert_eq!(
            refused(&mut extra),
            b"",
            "over the limit: closed, no output"
        );
    }
    // Free one slot: the next connection is served.
    let mut gone = held.pop().unwrap();
    gone.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut gone), b"");
    drop(gone);
    let deadline = Instant::now() + WAIT;
    loop {
        let mut s = server.connect();
        let _ = s.write_all(b"again");
        let mut b = [0u8; 5];
        if s.read_exact(&mut b).is_ok() {
            assert_eq!(&b, b"AGAIN");
            break;
        }
        assert!(Instant::now() < deadline, "slot never freed");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn max_connections_frame_sends_busy() {
    let server = Serve::start(&["--framing", "frame", "--max-connections", "2"]);
    let mut held: Vec<TcpStream> = (0..2).map(|_| server.connect()).collect();
    for s in &mut held {
        s.write_all(HELLO).unwrap();
        assert_eq!(read_n(s, 16), server_hello(1 << 20));
    }
    let mut extra = server.connect();
    let got = refused(&mut extra);
    let frames = parse_frames(&got);
    assert_eq!(frames.len(), 1);
    assert_eq!(error_code(&frames[0]), 6);
}

#[test]
fn two_thousand_concurrent_connections() {
    let server = Serve::start(&["--framing", "line"]);
    let mut conns: Vec<TcpStream> = (0..2000).map(|_| server.connect()).collect();
    for (i, s) in conns.iter_mut().enumerate() {
        s.write_all(format!("conn {i}\n").as_bytes()).unwrap();
    }
    for (i, s) in conns.iter_mut().enumerate() {
        let want = format!("CONN {i}\n");
        assert_eq!(read_n(s, want.len()), want.as_bytes());
    }
    // All still open: a second round on every one.
    for s in conns.iter_mut() {
        s.write_all(b"again\n").unwrap();
    }
    for s in conns.iter_mut() {
        assert_eq!(read_n(s, 6), b"AGAIN\n");
    }
}

/// A client that writes fast and reads slowly: the server stops reading
/// it instead of buffering, so its memory stays flat.
#[test]
fn slow_reader_keeps_server_memory_flat() {
    let server = Serve::start(&["--framing", "raw", "--threads", "1"]);
    // Warm up the per-thread buffers.
    assert_eq!(exchange(server.addr, b"warm"), b"WARM");
    let base = server.rss_kib();
    let total = 24 << 20;
    let data: Arc<Vec<u8>> = Arc::new((0..total).map(|i| b'a' + (i % 26) as u8).collect());
    let mut s = server.connect();
    let mut w = s.try_clone().unwrap();
    let sent = data.clone();
    let writer = thread::spawn(move || {
        w.write_all(&sent).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut got = Vec::with_capacity(total);
    let mut buf = vec![0u8; 64 * 1024];
    let mut peak = base;
    let mut samples = 0;
    loop {
        thread::sleep(Duration::from_millis(2));
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        samples += 1;
        if samples % 16 == 0 {
            peak = peak.max(server.rss_kib());
        }
    }
    writer.join().unwrap();
    assert!(got == upper(&data));
    let growth = peak.saturating_sub(base);
    assert!(
        growth < 4 * 1024,
        "server RSS grew by {growth} KiB while relaying {} KiB to a slow reader",
        total / 1024
    );
}

/// Garbage on many connections of every framing while a good client keeps
/// getting correct answers.
#[test]
fn garbage_everywhere_while_a_good_client_is_served() {
    for framing in ["auto", "raw", "line", "frame"] {
        let server = Serve::start(&[
            "--framing",
            framing,
            "--max-line",
            "256",
            "--max-payload",
            "1024",
        ]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut vandals = Vec::new();
        for t in 0..4u64 {
            let addr = server.addr;
            let stop = stop.clone();
            vandals.push(thread::spawn(move || {
                let mut seed = 0x2545_f491_4f6c_dd1d ^ (t + 1);
                let mut rnd = move || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 400 {
                    n += 1;
                    let Ok(mut s) = TcpStream::connect(addr) else {
                        continue;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let len = (rnd() % 3000) as usize;
                    let mut junk: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
                    if rnd() % 2 == 0 && !junk.is_empty() {
                        junk[0] = 0; // looks like a frame to auto
                    }
                    let _ = s.write_all(&junk);
                    if rnd() % 2 == 0 {
                        let _ = s.shutdown(Shutdown::Write);
                        let mut sink = Vec::new();
                        let _ = s.read_to_end(&mut sink);
                    }
                }
            }));
        }
        let mut s = server.connect();
        if framing == "frame" || framing == "auto" {
            s.write_all(HELLO).unwrap();
            assert_eq!(read_n(&mut s, 16), server_hello(1024));
        }
        for i in 0..300 {
            let msg = format!("good request {i}");
            match framing {
                "frame" | "auto" => {
                    s.write_all(&frame(1, msg.as_bytes())).unwrap();
                    let want = frame(1, msg.to_uppercase().as_bytes());
                    assert_eq!(read_n(&mut s, want.len()), want, "{framing}");
                }
                _ => {
                    s.write_all(format!("{msg}\n").as_bytes()).unwrap();
                    let want = format!("{}\n", msg.to_uppercase());
                    assert_eq!(read_n(&mut s, want.len()), want.as_bytes(), "{framing}");
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for v in vandals {
            v.join().unwrap();
        }
        // Still serving new clients.
        if framing != "frame" {
            assert_eq!(exchange(server.addr, b"\nstill here\n"), b"\nSTILL HERE\n");
        }
    }
}

/// A unicode DATA waited for whole (held by the server, or left in the
/// kernel while the memory budget has no room for it) still idles out
/// with ERROR 5, at the idle timeout and not after the drain timeout too.
#[test]
fn a_payload_waited_for_whole_idles_out_with_error_5() {
    for budget in ["268435456", "1000"] {
        let server = Serve::start(&[
            "--transform",
            "unicode",
            "--idle-timeout",
            "0.5",
            "--drain-timeout",
            "5",
            "--max-payload",
            "1000",
            "--max-buffered",
            budget,
        ]);
        let mut s = server.connect();
        s.write_all(HELLO).unwrap();
        let mut data = frame(1, &[b'x'; 100]);
        data.truncate(5 + 50);
        s.write_all(&data).unwrap();
        let start = Instant::now();
        let got = read_all(&mut s);
        let waited = start.elapsed();
        let frames = parse_frames(&got);
        assert_eq!(frames.len(), 2, "budget {budget}: {frames:?}");
        assert_eq!(error_code(&frames[1]), 5, "budget {budget}");
        assert!(
            waited < Duration::from_secs(3),
            "budget {budget}: ERROR 5 after {waited:?}"
        );
    }
}

//! The contract's "Limits under load": the memory budget (`--max-buffered`)
//! and accepting again once descriptors are free.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Sends HELLO and the header of a DATA of `size` bytes, then all of its
/// payload but the last byte.
fn start_payload(server: &Serve, size: usize) -> TcpStream {
    let mut s = server.connect();
    s.write_all(HELLO).unwrap();
    let mut header = vec![1u8];
    header.extend_from_slice(&(size as u32).to_be_bytes());
    s.write_all(&header).unwrap();
    s
}

/// Many unicode store-and-forward payloads, each stalled one byte short:
/// the server holds no more than its budget (plus a fixed allowance), and
/// once the clients finish their requests and read, every one is
/// answered exactly.
#[test]
fn stalled_payloads_stay_within_the_budget_and_all_finish() {
    const CLIENTS: usize = 64;
    const SIZE: usize = 256 * 1024;
    const BUDGET: usize = 2 * 1024 * 1024;
    let budget = BUDGET.to_string();
    let max_payload = SIZE.to_string();
    let server = Serve::start(&[
        "--transform",
        "unicode",
        "--max-buffered",
        &budget,
        "--max-payload",
        &max_payload,
        "--threads",
        "2",
    ]);
    let base = server.rss_kib();
    let payload: Arc<Vec<u8>> = Arc::new(b"straSSe ".repeat(SIZE / 8));
    let sent = Arc::new(Barrier::new(CLIENTS + 1));
    let go = Arc::new(Barrier::new(CLIENTS + 1));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let mut s = start_payload(&server, SIZE);
        let (payload, sent, go) = (payload.clone(), sent.clone(), go.clone());
        clients.push(thread::spawn(move || {
            // All but the last byte; the kernel holds what the server
            // does not read (well under its receive buffer here).
            s.write_all(&payload[..SIZE - 1]).unwrap();
            sent.wait();
            go.wait();
            s.write_all(&payload[SIZE - 1..]).unwrap();
            let want = 5 + 11 + 5 + SIZE; // HELLO frame, DATA header, payload
            let got = read_n(&mut s, want);
            let frames = parse_frames(&got);
            assert_eq!(frames[1].0, 1, "a DATA answer");
            let want = payload.to_ascii_uppercase();
            let first_wrong = frames[1]
                .1
                .iter()
                .zip(want.iter())
                .position(|(a, b)| a != b);
            assert!(
                frames[1].1 == want,
                "answered exactly: {} bytes, first wrong at {first_wrong:?}: {:?}",
                frames[1].1.len(),
                first_wrong.map(|i| String::from_utf8_lossy(
                    &frames[1].1[i.saturating_sub(8)..(i + 8).min(frames[1].1.len())]
                )
                .into_owned())
            );
        }));
    }
    sent.wait();
    thread::sleep(Duration::from_millis(500));
    let stalled = server.rss_kib();
    // Without a budget this would be CLIENTS x SIZE = 16 MiB.
    let allowance = 6 * 1024;
    assert!(
        stalled <= base + (BUDGET / 1024) as u64 + allowance,
        "server RSS {stalled} KiB with {CLIENTS} stalled payloads (base {base} KiB)"
    );
    go.wait();
    for c in clients {
        c.join().expect("every client is answered exactly");
    }
    let log = server.stderr.lock().unwrap().clone();
    assert!(
        log.contains("memory budget (--max-buffered 2097152) is spent"),
        "the budget ran out, and the server said so: {log}"
    );
}

/// A budget too small for one payload is a bad flag value.
#[test]
fn max_payload_over_max_buffered_is_a_usage_error() {
    let (code, _, err) = run_shout(
        &[
            "serve",
            "--max-payload",
            "2000000",
            "--max-buffered",
            "1000000",
        ],
        b"",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--max-buffered"), "{err}");
    let (code, _, err) = run_shout(&["serve", "--max-buffered", "-1"], b"");
    assert_eq!(code, 2, "{err}");
}

/// Clients that never read, sending ascii: what the server holds for each
/// is bounded by one read's answer, and all of it counts against the
/// budget: with a small budget, more such clients cost no more memory.
#[test]
fn clients_that_never_read_are_held_to_the_budget() {
    const CLIENTS: usize = 200;
    let server = Serve::start(&["--max-buffered", "1048576", "--framing", "raw"]);
    let base = server.rss_kib();
    let chunk = vec![b'a'; 256 * 1024];
    let mut socks = Vec::new();
    for _ in 0..CLIENTS {
        let s = server.connect();
        s.set_nonblocking(true).unwrap();
        socks.push(s);
    }
    // Send until no socket takes more (bounded).
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut idle_rounds = 0;
    while Instant::now() < deadline && idle_rounds < 5 {
        let mut moved = false;
        for s in &mut socks {
            if let Ok(n) = s.write(&chunk) {
                moved |= n > 0;
            }
        }
        if moved {
            idle_rounds = 0;
        } else {
            idle_rounds += 1;
            thread::sleep(Duration::from_millis(100));
        }
    }
    let held = server.rss_kib().saturating_sub(base);
    assert!(
        held <= 2 * 1024, // the budget, and 1 MiB for the rest (without a budget: over 4 MiB)
        "{CLIENTS} clients that never read cost {held} KiB (budget 1 MiB)"
    );
    eprintln!("{CLIENTS} clients that never read: {held} KiB held");
    // The budget is spent, so a new client waits; once the clients that
    // never read are gone, it is answered.
    let mut late = server.connect();
    late.write_all(b"still here").unwrap();
    late.shutdown(std::net::Shutdown::Write).unwrap();
    drop(socks);
    assert_eq!(read_all(&mut late), b"STILL HERE");
}

/// Out of descriptors: the server keeps what it has, and the connections
/// left waiting in the listen queue are answered soon after descriptors
/// free, without another client arriving, and without a flood of warnings.
#[test]
fn waiting_connections_are_accepted_once_descriptors_free() {
    let started = Instant::now();
    let mut server = Serve::start_with_nofile(40, &["--threads", "1", "--framing", "raw"]);
    let mut socks: Vec<TcpStream> = (0..60).map(|_| server.connect()).collect();
    for s in &mut socks {
        s.write_all(b"x").unwrap();
    }
    // Which ones the server took: those answered at once.
    let mut answered = Vec::new();
    let mut waiting = Vec::new();
    for (i, s) in socks.iter_mut().enumerate() {
        s.set_read_timeout(Some(Duration::from_millis(150)))
            .unwrap();
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(1) => {
                assert_eq!(&b, b"X");
                answered.push(i);
            }
            _ => waiting.push(i),
        }
    }
    assert!(
        !answered.is_empty() && waiting.len() >= 20,
        "the limit should leave clients waiting: {} answered, {} waiting",
        answered.len(),
        waiting.len()
    );
    // Free descriptors: close every answered client.
    for &i in &answered {
        let _ = socks[i].shutdown(std::net::Shutdown::Both);
    }
    let freed = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut served = 0;
    for &i in waiting.iter().take(answered.len().saturating_sub(4)) {
        let s = &mut socks[i];
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).unwrap(), 1, "a waiting client is answered");
        assert_eq!(&b, b"X");
        slowest = slowest.max(freed.elapsed());
        served += 1;
    }
    assert!(served > 0);
    eprintln!(
        "{served} waiting connections answered, the last {slowest:?} after descriptors freed"
    );
    // The contract allows 100 ms; the rest is this test's scheduling.
    assert!(
        slowest < Duration::from_millis(400),
        "waiting connections answered {slowest:?} after descriptors freed"
    );
    drop(socks);
    server.signal("TERM");
    server.wait_exit(WAIT);
    let log = server.stderr.lock().unwrap().clone();
    let warnings = log.matches("accept failed").count();
    let most = started.elapsed().as_secs() as usize + 1;
    assert!(
        (1..=most).contains(&warnings),
        "one warning a second at most, with a count: {warnings} in\n{log}"
    );
}

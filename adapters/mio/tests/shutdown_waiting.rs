//! Rule 7 exactly, over TCP: a shutdown answers what was waiting in the
//! server's socket when the signal came (read or not), plus the rest of a
//! request already begun, and nothing that arrives later.

mod common;

use std::io::{ErrorKind, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::*;

/// Waits until the server has surely seen the signal and acted on it.
const SETTLE: Duration = Duration::from_millis(400);

/// A line begun before the signal is finished; the next line, sent after
/// the signal, is not answered: `ONE\nTWO\n`, not `ONE\nTWO\nTHREE\n`.
#[test]
fn a_line_begun_before_the_signal_ends_the_session() {
    let mut server = Serve::start(&["--framing", "line", "--drain-timeout", "10"]);
    let mut s = server.connect();
    s.write_all(b"one\ntw").unwrap();
    assert_eq!(read_n(&mut s, 6), b"ONE\nTW", "answered as it arrives");
    server.signal("TERM");
    thread::sleep(SETTLE);
    s.write_all(b"o\nthree\n").unwrap();
    let rest = read_all(&mut s);
    drop(s);
    assert_eq!(rest, b"O\n", "only the rest of the begun line");
    assert!(server.wait_exit(WAIT).success());
}

/// The same for frames: a DATA whose header arrived before the signal is
/// answered whole, then CLOSE; a DATA sent after it is not.
#[test]
fn a_frame_begun_before_the_signal_is_answered_then_close() {
    let mut server = Serve::start(&["--framing", "frame", "--drain-timeout", "10"]);
    let mut s = server.connect();
    let mut first = HELLO.to_vec();
    first.extend_from_slice(&frame(1, b"begun")[..7]);
    s.write_all(&first).unwrap();
    let mut want = server_hello(1 << 20);
    want.extend_from_slice(b"\x01\0\0\0\x05BE");
    assert_eq!(read_n(&mut s, want.len()), want);
    server.signal("TERM");
    thread::sleep(SETTLE);
    let mut later = b"gun".to_vec();
    later.extend_from_slice(&frame(1, b"later"));
    s.write_all(&later).unwrap();
    let rest = read_all(&mut s);
    drop(s);
    assert_eq!(
        rest, b"GUN\x04\0\0\0\0",
        "the begun DATA, then CLOSE, nothing later"
    );
    assert!(server.wait_exit(WAIT).success());
}

/// A client that does not read: the server stops reading once its output
/// is stuck, so megabytes wait in its socket and more in the client's own
/// send queue. At the signal the server answers what its kernel had
/// received (a prefix of the input, exactly), never the bytes still in the
/// client's queue or sent after the signal.
#[test]
fn a_stalled_client_gets_only_what_was_waiting_at_the_signal() {
    for framing in ["raw", "line"] {
        let mut server = Serve::start(&["--framing", framing, "--drain-timeout", "10"]);
        let mut s = server.connect();
        s.set_nonblocking(true).unwrap();
        let input: Vec<u8> = (0..16 << 20)
            .map(|i| {
                if i % 61 == 60 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        let written = write_until_stuck(&mut s, &input);
        let queued_here = tx_queue(&s);
        // Usually megabytes are still in our queue; the bound below holds
        // either way.
        assert!(
            written > queued_here,
            "{framing}: {written} written, {queued_here} still in our send queue"
        );
        let at_server = written - queued_here;
        server.signal("TERM");
        thread::sleep(SETTLE);
        // More input after the signal: never answered.
        let mut w = s.try_clone().unwrap();
        let tail = input[written..written + (1 << 20)].to_vec();
        let writer = thread::spawn(move || {
            w.set_nonblocking(false).unwrap();
            let _ = w.write_all(&tail);
        });
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let got = read_all(&mut s);
        let _ = writer.join();
        // A line begun in what was waiting is finished from what came
        // later: at most one line (61 bytes) more.
        let begun = if framing == "line" { 61 } else { 0 };
        assert!(
            got.len() <= at_server + begun,
            "{framing}: answered {} bytes, but only {at_server} had reached the server \
             ({written} written, {queued_here} still in the client's queue at the signal)",
            got.len()
        );
        if framing == "line" {
            assert_eq!(got.last(), Some(&b'\n'), "line: ends with a whole line");
        }
        // And about all of what had reached it (what was in flight
        // between the two kernels aside).
        assert!(
            got.len() > at_server / 2,
            "{framing}: answered only {} of the {at_server} that had reached the server",
            got.len()
        );
        assert!(
            got == upper(&input[..got.len()]),
            "{framing}: the answer is the uppercased prefix"
        );
        drop(s); // the server lingers until we close
        assert!(server.wait_exit(WAIT).success());
    }
}

/// Writes without blocking until nothing more goes in for a while.
fn write_until_stuck(s: &mut TcpStream, input: &[u8]) -> usize {
    let mut at = 0;
    let mut quiet_since = Instant::now();
    let deadline = Instant::now() + WAIT;
    while quiet_since.elapsed() < Duration::from_millis(300) {
        assert!(Instant::now() < deadline, "the socket never filled");
        match s.write(&input[at..]) {
            Ok(n) => {
                at += n;
                quiet_since = Instant::now();
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("write: {e}"),
        }
    }
    at
}

/// The bytes in this socket's send queue (not yet received by the peer's
/// kernel), from /proc/net/tcp: the row of this connection (both ports
/// match and it is established; an old row may share a port).
fn tx_queue(s: &TcpStream) -> usize {
    let port = |hex: &str| u16::from_str_radix(hex.rsplit(':').next().unwrap(), 16).unwrap();
    let (local, remote) = (
        s.local_addr().unwrap().port(),
        s.peer_addr().unwrap().port(),
    );
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if port(f[1]) == local && port(f[2]) == remote && f[3] == "01" {
            let tx = f[4].split(':').next().unwrap();
            return usize::from_str_radix(tx, 16).unwrap();
        }
    }
    panic!("connection {local} -> {remote} not in /proc/net/tcp");
}

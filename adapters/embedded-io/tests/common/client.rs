//! A SHOUT/1 test client over a std `TcpStream`, built on
//! `shout_core::Client`: a writer thread sends while the caller reads, so
//! large exchanges cannot deadlock on full socket buffers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use shout_core::wire::Kind;
use shout_core::{Client, Framing, Reply};

/// A reply, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owned {
    Hello { max_payload: u32 },
    Data(Vec<u8>),
    Pong(Vec<u8>),
    Close,
    Error(u16, String),
}

/// What a frame session brought back.
pub struct Session {
    /// Every byte the server sent, as it came.
    pub wire: Vec<u8>,
    /// The same, decoded by `shout_core::Client`.
    pub replies: Vec<Owned>,
}

/// Sends HELLO, `requests` (DATA or PING), then CLOSE if `close`; reads
/// until the server's CLOSE or ERROR (a UART does not end the link), all
/// within `limit`.
pub fn frame_session(
    stream: &TcpStream,
    requests: &[(Kind, Vec<u8>)],
    close: bool,
    limit: Duration,
) -> Result<Session, String> {
    let mut client = Client::new(Framing::Frame);
    let mut out = Vec::new();
    out.extend_from_slice(&Client::hello_frame());
    for (kind, payload) in requests {
        let h = client
            .request_header(*kind, payload.len())
            .map_err(|e| e.to_string())?;
        out.extend_from_slice(&h);
        out.extend_from_slice(payload);
    }
    if close {
        out.extend_from_slice(&client.close_frame());
    }
    let writer = send_in_background(stream, out)?;
    let result = read_replies(stream, &mut client, limit);
    writer
        .join()
        .map_err(|_| "writer thread panicked".to_string())??;
    result
}

/// Writes `bytes` on a clone of `stream` from another thread.
pub fn send_in_background(
    stream: &TcpStream,
    bytes: Vec<u8>,
) -> Result<std::thread::JoinHandle<Result<(), String>>, String> {
    let mut w = stream.try_clone().map_err(|e| e.to_string())?;
    Ok(std::thread::spawn(move || {
        // Modest pieces, as a real client would write them.
        for piece in bytes.chunks(1500) {
            w.write_all(piece).map_err(|e| format!("write: {e}"))?;
        }
        w.flush().map_err(|e| format!("flush: {e}"))
    }))
}

fn read_replies(
    stream: &TcpStream,
    client: &mut Client,
    limit: Duration,
) -> Result<Session, String> {
    let deadline = Instant::now() + limit;
    let mut wire = Vec::new();
    let mut replies = Vec::new();
    let mut partial: Option<(bool, Vec<u8>)> = None; // (is_data, bytes)
    let mut buf = [0u8; 4096];
    let mut s = stream;
    while !client.is_done() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("timed out after {} replies", replies.len()))?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        let n = match s.read(&mut buf) {
            Ok(0) => {
                client.handle_end_of_input().map_err(|e| e.to_string())?;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read after {} replies: {e}", replies.len())),
        };
        wire.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while at < n {
            let (used, reply) = client
                .handle_input(&buf[at..n])
                .map_err(|e| e.to_string())?;
            at += used;
            match reply {
                None => {}
                Some(Reply::Hello(h)) => replies.push(Owned::Hello {
                    max_payload: h.max_payload,
                }),
                Some(Reply::Data { chunk, last }) | Some(Reply::Pong { chunk, last }) => {
                    let is_data = matches!(reply, Some(Reply::Data { .. }));
                    let p = partial.get_or_insert((is_data, Vec::new()));
                    p.1.extend_from_slice(chunk);
                    if last {
                        let (d, bytes) = partial.take().unwrap();
                        replies.push(if d {
                            Owned::Data(bytes)
                        } else {
                            Owned::Pong(bytes)
                        });
                    }
                }
                Some(Reply::Close) => replies.push(Owned::Close),
                Some(Reply::Error { code, reason }) => {
                    replies.push(Owned::Error(code, reason.to_string()))
                }
                Some(Reply::Bytes(_)) => return Err("bytes reply on a frame client".into()),
            }
            if used == 0 {
                break;
            }
        }
    }
    Ok(Session { wire, replies })
}

/// Reads exactly `n` bytes within `limit`.
pub fn read_exactly(stream: &TcpStream, n: usize, limit: Duration) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + limit;
    let mut got = vec![0u8; n];
    let mut have = 0;
    let mut s = stream;
    while have < n {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("timed out with {have} of {n} bytes"))?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        match s.read(&mut got[have..]) {
            Ok(0) => return Err(format!("link closed with {have} of {n} bytes")),
            Ok(k) => have += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("read with {have} of {n} bytes: {e}")),
        }
    }
    Ok(got)
}

/// Reads whatever arrives until the link has been quiet for `quiet`
/// (at most `limit` in all).
pub fn read_until_quiet(stream: &TcpStream, quiet: Duration, limit: Duration) -> Vec<u8> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let mut s = stream;
    while Instant::now() < deadline {
        if s.set_read_timeout(Some(quiet)).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break, // quiet
        }
    }
    got
}

/// 100 DATA of mixed sizes up to 4 KiB (0, 1, 4096 among them), then a
/// PING: every byte value appears.
pub fn mixed_requests(seed: u64) -> Vec<(Kind, Vec<u8>)> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut reqs = Vec::new();
    for i in 0..100 {
        let len = match i {
            0 => 0,
            1 => 1,
            2 => 4096,
            _ => (next() % 4097) as usize,
        };
        let payload = (0..len).map(|_| next() as u8).collect();
        reqs.push((Kind::Data, payload));
    }
    reqs.push((Kind::Ping, b"ping \x00\xff abc".to_vec()));
    reqs
}

/// The exact bytes a server must send for `requests` (+ CLOSE).
pub fn expected_wire(max_payload: u32, requests: &[(Kind, Vec<u8>)], close: bool) -> Vec<u8> {
    let mut w = super::server_hello(max_payload);
    for (kind, payload) in requests {
        let (k, body) = match kind {
            Kind::Data => (1u8, payload.to_ascii_uppercase()),
            _ => (3u8, payload.clone()),
        };
        w.extend(super::frame(k, &body));
    }
    if close {
        w.extend(super::frame(4, b""));
    }
    w
}

/// The replies `shout_core::Client` must decode from [`expected_wire`].
pub fn expected_replies(max_payload: u32, requests: &[(Kind, Vec<u8>)], close: bool) -> Vec<Owned> {
    let mut v = vec![Owned::Hello { max_payload }];
    for (kind, payload) in requests {
        v.push(match kind {
            Kind::Data => Owned::Data(payload.to_ascii_uppercase()),
            _ => Owned::Pong(payload.clone()),
        });
    }
    if close {
        v.push(Owned::Close);
    }
    v
}

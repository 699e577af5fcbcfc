//! A SHOUT/1 test client over a std `TcpStream`, built on the test kit's
//! client (`shout_testkit::Requests`, through `shout_core::RequestEncoder`;
//! replies through `shout_core::ReplyDecoder`): a writer thread sends
//! while the caller reads, so large exchanges cannot deadlock on full
//! socket buffers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use shout_core::wire::{Kind, ServerHello};
use shout_core::{ReplyDecoder, TransformKind};
use shout_testkit::{decode_replies, frames, Requests};

/// A reply, owned: the test kit's.
pub(crate) use shout_testkit::OwnedReply as Owned;

/// What a frame session brought back.
pub(crate) struct Session {
    /// Every byte the server sent, as it came.
    pub(crate) wire: Vec<u8>,
    /// The same, decoded by `shout_core::ReplyDecoder`.
    pub(crate) replies: Vec<Owned>,
}

/// Sends HELLO, `requests` (DATA or PING), then CLOSE if `close`; reads
/// until the server's CLOSE or ERROR (a UART does not end the link), all
/// within `limit`.
pub(crate) fn frame_session(
    stream: &TcpStream,
    requests: &[(Kind, Vec<u8>)],
    close: bool,
    limit: Duration,
) -> Result<Session, String> {
    let e = |e: shout_core::ClientError| e.to_string();
    let mut client = Requests::frame(u32::MAX);
    for (kind, payload) in requests {
        match kind {
            Kind::Data => client.data(payload),
            Kind::Ping => client.ping(payload),
            other => return Err(format!("{other:?} is not a request")),
        }
        .map_err(e)?;
    }
    if close {
        client.close().map_err(e)?;
    }
    let writer = send_in_background(stream, client.bytes().to_vec())?;
    let wire = read_replies(stream, &mut client.decoder().map_err(e)?, limit);
    writer
        .join()
        .map_err(|_| "writer thread panicked".to_string())??;
    let wire = wire?;
    let decoded = decode_replies(&mut client.decoder().map_err(e)?, &wire, &[]);
    if let Some(err) = decoded.error {
        return Err(err.to_string());
    }
    if let Some(partial) = decoded.partial {
        return Err(format!("a reply cut off: {partial:?}"));
    }
    Ok(Session {
        wire,
        replies: decoded.replies,
    })
}

/// Writes `bytes` on a clone of `stream` from another thread.
pub(crate) fn send_in_background(
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

/// Reads what the server sends until `decoder` has seen its CLOSE or
/// ERROR (or the link ends), within `limit`; returns the bytes.
fn read_replies(
    stream: &TcpStream,
    decoder: &mut ReplyDecoder,
    limit: Duration,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + limit;
    let mut wire = Vec::new();
    let mut buf = [0u8; 4096];
    let mut s = stream;
    while !decoder.is_done() {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("timed out after {} bytes", wire.len()))?;
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| e.to_string())?;
        let n = match s.read(&mut buf) {
            Ok(0) => {
                decoder.handle_end_of_input().map_err(|e| e.to_string())?;
                break;
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read after {} bytes: {e}", wire.len())),
        };
        wire.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while at < n {
            let (used, _) = decoder
                .handle_input(&buf[at..n])
                .map_err(|e| e.to_string())?;
            at += used;
            if used == 0 {
                break;
            }
        }
    }
    Ok(wire)
}

/// Reads exactly `n` bytes within `limit`.
pub(crate) fn read_exactly(
    stream: &TcpStream,
    n: usize,
    limit: Duration,
) -> Result<Vec<u8>, String> {
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
pub(crate) fn read_until_quiet(stream: &TcpStream, quiet: Duration, limit: Duration) -> Vec<u8> {
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
pub(crate) fn mixed_requests(seed: u64) -> Vec<(Kind, Vec<u8>)> {
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
pub(crate) fn expected_wire(
    max_payload: u32,
    requests: &[(Kind, Vec<u8>)],
    close: bool,
) -> Vec<u8> {
    let mut w = frames::server_hello_with(max_payload, TransformKind::Ascii);
    for (kind, payload) in requests {
        w.extend(match kind {
            Kind::Data => frames::data(&payload.to_ascii_uppercase()),
            _ => frames::pong(payload),
        });
    }
    if close {
        w.extend(frames::close());
    }
    w
}

/// The replies `shout_core::ReplyDecoder` must decode from [`expected_wire`].
pub(crate) fn expected_replies(
    max_payload: u32,
    requests: &[(Kind, Vec<u8>)],
    close: bool,
) -> Vec<Owned> {
    let hello = ServerHello {
        max_payload,
        transform: TransformKind::Ascii,
    };
    let mut v = vec![Owned::Hello(hello)];
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

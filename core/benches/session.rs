//! Throughput of a server session against a plain copy of the same bytes.
//!
//! Each case builds one input stream (a whole session's worth of requests),
//! then measures feeding it through a fresh `Server` in 64 KiB reads with a
//! 64 KiB output window (what the mio adapter does per read), next to
//! `copy_from_slice` of the same bytes in 64 KiB pieces: the ceiling for
//! any byte-for-byte transform. The ratio of the two is what BENCHMARKS.md
//! reports, since absolute figures move with the machine's load.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use shout_core::websocket::{apply_mask, client_header, TEXT};
use shout_core::{Config, Framing, Instant, RequestEncoder, Server, TransformKind};
use std::hint::black_box;

const STREAM: usize = 4 << 20;
const CHUNK: usize = 64 << 10;

fn text(len: usize) -> Vec<u8> {
    b"the quick brown fox jumps over the lazy dog 0123456789 "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

fn raw_stream(_payload: usize) -> Vec<u8> {
    text(STREAM)
}

fn line_stream(payload: usize) -> Vec<u8> {
    let mut line = text(payload - 1);
    line.push(b'\n');
    line.iter()
        .copied()
        .cycle()
        .take(STREAM / payload * payload)
        .collect()
}

fn frame_stream(payload: usize) -> Vec<u8> {
    let requests = RequestEncoder::frame(u32::MAX);
    let mut s = RequestEncoder::hello().to_vec();
    let body = text(payload);
    while s.len() + 5 + payload <= STREAM {
        s.extend_from_slice(&requests.data(payload).unwrap());
        s.extend_from_slice(&body);
    }
    s
}

/// A WebSocket upgrade, then masked text messages of `payload` bytes.
fn web_stream(payload: usize) -> Vec<u8> {
    let mut s = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    let body = text(payload);
    let mut key = 0x9e37_79b9u32;
    while s.len() + 14 + payload <= STREAM + 4096 {
        key = key.wrapping_mul(0x0100_0193).wrapping_add(7);
        let mask = key.to_be_bytes();
        let (h, n) = client_header(true, TEXT, payload as u64, mask);
        s.extend_from_slice(&h[..n]);
        let at = s.len();
        s.extend_from_slice(&body);
        apply_mask(&mut s[at..], mask, 0);
    }
    s
}

/// Runs a whole stream through a new session, each 64 KiB piece first
/// copied into a read buffer (as a socket read would) and answered into a
/// separate window; returns bytes produced.
fn serve(config: Config, input: &[u8], rx: &mut [u8], out: &mut [u8]) -> usize {
    let now = Instant::ZERO;
    let mut server = Server::new(config.validate().expect("valid config"), now);
    let mut produced = 0;
    for chunk in input.chunks(CHUNK) {
        rx[..chunk.len()].copy_from_slice(chunk);
        let mut fed = 0;
        while fed < chunk.len() {
            let p = server.handle_input(now, &rx[fed..chunk.len()], out);
            fed += p.consumed;
            produced += p.produced;
            black_box(&out[..p.produced]);
        }
    }
    produced
}

/// The same, answered in place in the read buffer where the session can
/// (the rest of a piece through the window, as the server does).
fn serve_in_place(config: Config, input: &[u8], rx: &mut [u8], out: &mut [u8]) -> usize {
    let now = Instant::ZERO;
    let mut server = Server::new(config.validate().expect("valid config"), now);
    let mut produced = 0;
    for chunk in input.chunks(CHUNK) {
        rx[..chunk.len()].copy_from_slice(chunk);
        let p = server.handle_input_in_place(now, &mut rx[..chunk.len()]);
        black_box(&rx[..p.produced]);
        produced += p.produced;
        let mut fed = p.consumed;
        while fed < chunk.len() || server.pending_output_len() > 0 {
            let p = server.handle_input(now, &rx[fed..chunk.len()], out);
            fed += p.consumed;
            produced += p.produced;
            black_box(&out[..p.produced]);
        }
    }
    produced
}

/// The ceiling: the read-buffer copy alone, as an echo server does.
fn copy(input: &[u8], rx: &mut [u8]) -> usize {
    let mut n = 0;
    for chunk in input.chunks(CHUNK) {
        rx[..chunk.len()].copy_from_slice(chunk);
        black_box(&rx[..chunk.len()]);
        n += chunk.len();
    }
    n
}

/// A case: name, framing, how to build its stream, payload size.
type Case = (&'static str, Framing, fn(usize) -> Vec<u8>, usize);

fn bench(c: &mut Criterion) {
    let cases: [Case; 7] = [
        ("raw", Framing::Raw, raw_stream, CHUNK),
        ("line", Framing::Line, line_stream, 64),
        ("line", Framing::Line, line_stream, 64 << 10),
        ("frame", Framing::Frame, frame_stream, 64),
        ("frame", Framing::Frame, frame_stream, 64 << 10),
        ("web", Framing::Web, web_stream, 64),
        ("web", Framing::Web, web_stream, 1 << 20),
    ];
    let mut out = vec![0u8; CHUNK + 4096];
    let mut rx = vec![0u8; CHUNK];
    for (name, framing, make, payload) in cases {
        let input = make(payload);
        let config = Config::default().with_framing(framing);
        // Check once that the session really answers everything, the same
        // either way.
        let answered = serve(config, &input, &mut rx, &mut out);
        // (A WebSocket answer's header is 4 bytes shorter: no mask.)
        assert!(
            answered >= input.len() - input.len() / 16,
            "{name}/{payload}"
        );
        assert_eq!(serve_in_place(config, &input, &mut rx, &mut out), answered);
        let mut group = c.benchmark_group(format!("{name}/{payload}B"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(BenchmarkId::new("copy_from_slice", payload), |b| {
            b.iter(|| copy(black_box(&input), &mut rx))
        });
        group.bench_function(BenchmarkId::new("session", payload), |b| {
            b.iter(|| serve(config, black_box(&input), &mut rx, &mut out))
        });
        group.bench_function(BenchmarkId::new("session_in_place", payload), |b| {
            b.iter(|| serve_in_place(config, black_box(&input), &mut rx, &mut out))
        });
        group.finish();
    }

    // The unicode transform on ASCII-only text must stay close to ascii:
    // both through a raw session, in the same run.
    let input = raw_stream(CHUNK);
    let mut group = c.benchmark_group("unicode-vs-ascii/raw/ascii-text");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for transform in [TransformKind::Ascii, TransformKind::Unicode] {
        let config = Config::default()
            .with_framing(Framing::Raw)
            .with_transform(transform);
        group.bench_function(transform.name(), |b| {
            b.iter(|| serve(config, black_box(&input), &mut rx, &mut out))
        });
    }
    group.finish();

    // Mixed text (Greek, German, ASCII) through unicode, for scale.
    let mixed: Vec<u8> = "Straße ὀδυσσεύς naïve café "
        .bytes()
        .cycle()
        .take(STREAM)
        .collect();
    let mut group = c.benchmark_group("unicode/raw/mixed-text");
    group.throughput(Throughput::Bytes(mixed.len() as u64));
    let config = Config::default()
        .with_framing(Framing::Raw)
        .with_transform(TransformKind::Unicode);
    let mut wide = vec![0u8; 3 * CHUNK];
    group.bench_function("unicode", |b| {
        b.iter(|| serve(config, black_box(&mixed), &mut rx, &mut wide))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

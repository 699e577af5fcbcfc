//! Breaks the web framing: the HTTP request head and the WebSocket
//! decoder, in any split and through any windows, with either transform.
//!
//! * No panic, and every call passes the kit's checks (output only where
//!   the session says, `Next` honest, one Opened, at most one Closed).
//! * The output and the events equal those of the unsplit run, both with
//!   a silent client (idle) and after end of input.
//! * A session that got past a valid opening handshake starts its output
//!   with `HTTP/1.1 101`; every answer is an HTTP/1.1 status line.
//!
//! Layout: mode u8 | read sizes | window sizes | bytes...
//! mode: bit 0 prefix a valid opening handshake for /ws, bit 1 the unicode
//! transform, bit 2 framing web instead of auto, bit 3 mask the bytes
//! after the handshake as one client text frame per 64 bytes (so the
//! decoder gets past its headers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::websocket::{apply_mask, client_header, TEXT};
use shout_core::{Config, Event, Framing};
use shout_fuzz::{show, transform_from, CheckedServer, Driver, Plan, Reader};

const HANDSHAKE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

fn run(
    config: Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
    silent: bool,
) -> (Vec<u8>, Vec<Event>) {
    let mut d = Driver::with_checked(CheckedServer::web(config), &Plan::new(splits, windows));
    d.push(input);
    if silent {
        d.finish_silent();
    } else {
        d.finish();
    }
    (d.checked().output().to_vec(), d.checked().events().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let splits = r.sizes();
    let windows = r.sizes();
    let rest = r.rest();
    let rest = &rest[..rest.len().min(2048)];
    let mut input = Vec::new();
    if mode & 1 != 0 {
        input.extend_from_slice(HANDSHAKE);
    }
    if mode & 8 != 0 {
        for (i, chunk) in rest.chunks(64).enumerate() {
            let mask = [i as u8, 0x5a, 0xa5, 0x3c];
            let (h, n) = client_header(true, TEXT, chunk.len() as u64, mask);
            input.extend_from_slice(&h[..n]);
            let mut payload = chunk.to_vec();
            apply_mask(&mut payload, mask, 0);
            input.extend_from_slice(&payload);
        }
    } else {
        input.extend_from_slice(rest);
    }
    let framing = if mode & 4 != 0 {
        Framing::Web
    } else {
        Framing::Auto
    };
    let config = Config::default()
        .with_framing(framing)
        .with_transform(transform_from(mode & 2 != 0))
        .with_max_payload(256);

    for silent in [false, true] {
        let whole = run(config, &input, &[], &[], silent);
        let split = run(config, &input, &splits, &windows, silent);
        assert_eq!(
            show(&split.0),
            show(&whole.0),
            "split vs whole output (silent {silent})"
        );
        assert_eq!(split.1, whole.1, "split vs whole events (silent {silent})");
        if mode & 1 != 0 {
            assert!(
                whole.0.starts_with(b"HTTP/1.1 101 "),
                "a valid handshake: {}",
                show(&whole.0)
            );
        }
        if input.starts_with(b"GET ") && !whole.0.is_empty() {
            assert!(
                whole.0.starts_with(b"HTTP/1.1 "),
                "an HTTP answer: {}",
                show(&whole.0)
            );
        }
    }
});

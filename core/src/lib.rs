//! # shout-core
//!
//! The protocol core of SHOUT/1, the uppercase echo: a client sends bytes,
//! the server sends them back uppercased. This crate is the whole protocol
//! and nothing else: `#![no_std]`, no heap, no `unsafe`, no clock, no
//! socket. The same code answers a TCP connection in the desktop server and
//! a UART in firmware.
//!
//! ## Shape of the API, and why
//!
//! A session is a *sans-IO* state machine: the caller moves bytes and time
//! in and out, the session decides everything else, and every call means
//! one thing.
//!
//! * **Input and output in one call.** [`Server::handle_input`] takes the
//!   bytes that arrived and a window to write the answer into, and returns
//!   [`Progress`]: how much of each it used and what it wants [`Next`]
//!   (more input, at least `min` bytes of it; room for output; nothing,
//!   it is finished). No caller works out by itself whether a session is
//!   starved or done. Payload goes straight from the input, through the
//!   transform, into the window: a 1 MiB frame passes through a session
//!   whose own buffers hold a few dozen bytes. [`Server::handle_input_in_place`]
//!   writes the answer over the input instead, which is how a
//!   length-preserving stream costs one pass per byte.
//! * **End of input and shutdown say how many bytes are left.**
//!   [`Server::handle_end_of_input`] takes the count of bytes the caller
//!   still holds, [`Server::shutdown`] the count that was waiting (held,
//!   plus still in the socket) when the signal came. The session then knows
//!   the exact byte at which each takes effect, so the contract's shutdown
//!   rule holds in the core, testable without a socket, and a flush
//!   ([`Server::poll_output`]) is only a flush.
//! * **Time comes from the caller.** [`Server::poll_timeout`] says when the
//!   next deadline is; [`Server::handle_timeout`] acts on it. [`Instant`] is
//!   the crate's own microsecond count, so a SysTick counter and
//!   `std::time::Instant` both map onto it.
//! * **Events for the log**, pulled with [`Server::poll_event`]: opened with
//!   a framing, closed with a [`CloseReason`].
//! * **A configuration is checked once.** [`Config::validate`] gives a
//!   [`ValidConfig`], and [`Server::new`] cannot fail.
//! * **The client is two halves.** [`RequestEncoder`] writes requests,
//!   [`ReplyDecoder`] reads answers incrementally and zero-copy (payloads
//!   are slices of the caller's input) and checks each against the oldest
//!   request waiting ([`ReplyDecoder::expect`]); a writer thread and a
//!   reader thread each own one, without a lock.
//!
//! ## The call order
//!
//! ```text
//! loop {
//!     bytes arrived     -> handle_input(now, unconsumed bytes, window)
//!     peer ended        -> handle_end_of_input(bytes still held)
//!     signal            -> shutdown(now, bytes held + bytes in the link)
//!     deadline passed   -> handle_timeout(now)
//!     link took output  -> handle_transmitted(now)
//!     after each: send `produced` bytes; act on `next`:
//!         Input { min } -> read until `min` unconsumed bytes are held
//!         Output        -> poll_output(now, window) once the link has room
//!         Finished      -> close the link (a socket lingers first)
//!     sleep until readiness or poll_timeout()
//! }
//! ```
//!
//! ## The path a byte takes
//!
//! bytes in → `framing` (detect on the first byte, then raw, line or frame
//! decoding) → [`transform`] → output window; the clock → [`session`]
//! lifecycle (idle, drain) → close. [`wire`] holds the frame format.
//!
//! ## Size
//!
//! A [`Server`] stays within [`SERVER_SIZE_LIMIT`] bytes on a 64-bit target
//! (the test suite holds it there), 64 of them the control queue for
//! headers and control frames, whatever `max_payload` and `max_line` are.
//!
//! ## Features
//!
//! * `unicode` (default): the unicode transform and its case tables
//!   (about 12 KiB of flash).
//! * `web` (default): the `web` framing, HTTP/1.1 and WebSocket.
//! * `runtime-avx2` (off): on x86-64, the ascii passes run in AVX2 where
//!   the CPU has it, chosen at run time; a portable build otherwise stops
//!   at SSE2. The call into AVX2 code goes through `pulp`, so this crate
//!   keeps no `unsafe`; `pulp` uses `std` to ask whether the OS saves the
//!   AVX registers, so the feature needs a target with `std`: it is for
//!   servers, not firmware.
//!
//! ## A server and a client, driven by hand
//!
//! ```
//! use shout_core::{wire::Kind, Config, Event, Framing, Instant, Next, Reply};
//! use shout_core::{ReplyDecoder, RequestEncoder, Server};
//!
//! let now = Instant::ZERO;
//! let mut server = Server::new(Config::default().validate().unwrap(), now);
//! let mut requests = RequestEncoder::frame(u32::MAX);
//! let mut replies = ReplyDecoder::new(Framing::Frame);
//!
//! // The client writes HELLO, one DATA and CLOSE, without waiting.
//! let mut wire_in = RequestEncoder::hello().to_vec();
//! wire_in.extend_from_slice(&requests.data(5).unwrap());
//! wire_in.extend_from_slice(b"hello");
//! replies.expect(Kind::Data).unwrap();
//! wire_in.extend_from_slice(&requests.close().unwrap());
//!
//! // The server answers through a small window, as a slow link would.
//! let mut wire_out = Vec::new();
//! let mut fed = 0;
//! let mut window = [0u8; 7];
//! loop {
//!     let p = server.handle_input(now, &wire_in[fed..], &mut window);
//!     fed += p.consumed;
//!     wire_out.extend_from_slice(&window[..p.produced]);
//!     if p.next == Next::Finished {
//!         break;
//!     }
//! }
//! assert_eq!(server.poll_event(), Some(Event::Opened(Framing::Frame)));
//!
//! // The client reads the replies.
//! let mut answer = Vec::new();
//! let mut at = 0;
//! let mut closed = false;
//! while at < wire_out.len() {
//!     let (n, reply) = replies.handle_input(&wire_out[at..]).unwrap();
//!     at += n;
//!     match reply {
//!         Some(Reply::Data { chunk, .. }) => answer.extend_from_slice(chunk),
//!         Some(Reply::Close) => closed = true,
//!         _ => {}
//!     }
//! }
//! assert_eq!(answer, b"HELLO");
//! assert!(closed && replies.handle_end_of_input().is_ok());
//! ```
#![no_std]
#![warn(clippy::std_instead_of_core)]

pub mod config;
mod framing;
mod io;
pub mod proxy;
pub mod session;
pub mod time;
pub mod transform;
pub mod wire;

/// The WebSocket wire as a client sees it: the opening handshake's key
/// check, masked request frames, and a reader of the server's frames.
#[cfg(feature = "web")]
pub mod websocket {
    pub use crate::framing::web::accept::{accept, ACCEPT_LEN};
    pub use crate::framing::web::ws::{
        client_header, unmask as apply_mask, FrameHeader, HeaderReader, BINARY, CLOSE,
        CONTINUATION, PING, PONG, TEXT,
    };
}

pub use config::{Config, ConfigError, Framing, TransformKind, ValidConfig};
pub use framing::Tally;
pub use io::CONTROL_CAPACITY;
pub use session::{
    ClientError, CloseReason, Event, Next, Progress, Reply, ReplyDecoder, RequestEncoder, Server,
    State, Violation,
};
pub use time::{Duration, Instant, SecsError};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The most bytes a [`Server`] may take; the test suite holds it to this.
/// (168 until the session kept its [`Tally`] for metrics: 8 bytes more.
/// The web framing's WebSocket state, a 14-byte frame header among it,
/// adds 24: 200 with the `web` feature, 176 without, as in firmware.)
#[cfg(feature = "web")]
pub const SERVER_SIZE_LIMIT: usize = 200;
/// The most bytes a [`Server`] may take; the test suite holds it to this.
/// (168 until the session kept its [`Tally`] for metrics: 8 bytes more.)
#[cfg(not(feature = "web"))]
pub const SERVER_SIZE_LIMIT: usize = 176;

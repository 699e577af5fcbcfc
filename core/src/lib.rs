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
//! in and out, the session decides everything else.
//!
//! * **Input and output in one call.** [`Server::handle_input`] takes the
//!   bytes that arrived and a window to write the answer into, and returns
//!   how much of each it used ([`Progress`]). Payload goes straight from the
//!   input slice, through the transform, into the window: there is no
//!   internal payload buffer, so a 1 MiB frame passes through a session
//!   whose own buffers hold a few dozen bytes. When the window is full the
//!   session consumes no more: that is backpressure, and it can never drop,
//!   reorder or duplicate a byte. (Like an unbuffered TLS API, and unlike a
//!   queue-of-datagrams API, because here each output byte is computed from
//!   one input byte and copying it twice would be the whole cost.)
//! * **Time comes from the caller.** [`Server::poll_timeout`] says when the
//!   next deadline is; [`Server::handle_timeout`] acts on it. [`Instant`] is
//!   the crate's own microsecond count, so a SysTick counter and
//!   `std::time::Instant` both map onto it.
//! * **Events for the log**, pulled with [`Server::poll_event`]: opened with
//!   a framing, closed with a [`CloseReason`].
//! * **Parsing is incremental and zero-copy.** Headers may arrive one byte at
//!   a time; [`Client::handle_input`] hands reply payloads back as slices of
//!   the caller's own input.
//!
//! ## The path a byte takes
//!
//! bytes in → `framing` (detect on the first byte, then raw, line or frame
//! decoding) → [`transform`] → output window; the clock → [`session`]
//! lifecycle (idle, drain) → close. [`wire`] holds the frame format.
//!
//! ## Size
//!
//! A [`Server`] is 168 bytes on a 64-bit target, 64 of them the control
//! queue for headers and control frames, whatever `max_payload` and
//! `max_line` are (`core::mem::size_of::<Server>()` is held to
//! [`SERVER_SIZE_LIMIT`] by the test suite). A [`Client`] is 168 bytes, most
//! of it room for an ERROR's reason.
//!
//! ## A server and a client, driven by hand
//!
//! ```
//! use shout_core::{wire::Kind, Client, Config, Event, Framing, Instant, Reply, Server};
//!
//! let now = Instant::ZERO;
//! let mut server = Server::new(Config::default(), now).unwrap();
//! let mut client = Client::new(Framing::Frame);
//!
//! // The client writes HELLO, one DATA and CLOSE, without waiting.
//! let mut request = Vec::new();
//! request.extend_from_slice(&Client::hello_frame());
//! request.extend_from_slice(&client.request_header(Kind::Data, 5).unwrap());
//! request.extend_from_slice(b"hello");
//! request.extend_from_slice(&client.close_frame());
//!
//! // The server answers through a small window, as a slow link would.
//! let mut wire = Vec::new();
//! let mut fed = 0;
//! let mut window = [0u8; 7];
//! while !server.is_finished() {
//!     let p = server.handle_input(now, &request[fed..], &mut window);
//!     fed += p.consumed;
//!     wire.extend_from_slice(&window[..p.produced]);
//! }
//! assert_eq!(server.poll_event(), Some(Event::Opened(Framing::Frame)));
//!
//! // The client reads the replies.
//! let mut answer = Vec::new();
//! let mut at = 0;
//! let mut closed = false;
//! while at < wire.len() {
//!     let (n, reply) = client.handle_input(&wire[at..]).unwrap();
//!     at += n;
//!     match reply {
//!         Some(Reply::Data { chunk, .. }) => answer.extend_from_slice(chunk),
//!         Some(Reply::Close) => closed = true,
//!         _ => {}
//!     }
//! }
//! assert_eq!(answer, b"HELLO");
//! assert!(closed && client.handle_end_of_input().is_ok());
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod framing;
mod output;
pub mod session;
pub mod time;
pub mod transform;
pub mod wire;

pub use config::{Config, ConfigError, Framing, TransformKind};
pub use output::CONTROL_CAPACITY;
pub use session::{Client, ClientError, CloseReason, Event, Progress, Reply, Server, State};
pub use time::{Duration, Instant};

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The most bytes a [`Server`] may take; the test suite holds it to this.
pub const SERVER_SIZE_LIMIT: usize = 176;

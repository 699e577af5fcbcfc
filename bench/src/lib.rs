//! # shout-bench
//!
//! The load generator for SHOUT/1 servers, and the two servers that
//! `shout serve` is measured against. Nothing here is part of the product:
//! it depends on `shout-core` for the wire format only.
//!
//! * [`load`]: one `mio` thread driving every connection (so it can be
//!   pinned to one core): raw bulk, line and frame request/response, UDP,
//!   and connect-and-hold for memory; each TCP mode also over TLS.
//! * [`ws`]: WebSocket request/response in that same loop (`ws:` and
//!   `wss:`), every answer checked, and the WebSocket side of
//!   connect-and-hold.
//! * [`tls`]: the client side of TLS (rustls, ring), non-blocking inside
//!   that loop.
//! * [`handshake`]: TLS handshakes per second, each connection verified
//!   end to end.
//! * [`verify`]: the one place responses are decoded; every byte of every
//!   response is checked.
//! * [`hostile`]: the hostile soak: good frame clients measured alone,
//!   then again beside thousands of idle, slow, garbage, stalled,
//!   never-reading, resetting and half-open connections.
//! * [`echo_server`]: the ceiling, a minimal mio echo with no protocol.
//! * `tokio_server` (feature `tokio-compare`): the protocol written with
//!   tokio and tokio-util codecs.
//! * `tokio_ws_server` (feature `tokio-compare`): the WebSocket side
//!   written with tokio-tungstenite.
//! * [`Report`]: the figures, as a table or one JSON object.

pub mod echo_server;
pub mod handshake;
pub mod hostile;
pub mod load;
mod report;
pub mod sys;
pub mod tls;
#[cfg(feature = "tokio-compare")]
pub mod tokio_server;
#[cfg(feature = "tokio-compare")]
pub mod tokio_ws_server;
pub mod verify;
pub mod ws;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

pub use report::Report;

/// What a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Bulk streaming on raw framing: each connection sends --bytes and
    /// reads them back (MB/s).
    Raw,
    /// Line request/response: -b-byte lines, LF included (req/s, latency).
    Line,
    /// Frame request/response: HELLO, then -b-byte DATA frames (req/s,
    /// latency).
    Frame,
    /// UDP request/response: -b-byte datagrams (`shout serve --udp`).
    Udp,
    /// Connect and hold -c idle connections (server memory with
    /// --server-pid); with --ws each a WebSocket after one message.
    Hold,
    /// Hostile soak: -c good frame clients alone for --soak-baseline,
    /// then for -s beside --hostile hostile connections (latency under
    /// attack; server memory and CPU with --server-pid).
    Hostile,
    /// TLS handshakes (needs --tls): for -s, -c connections at a time,
    /// each a full handshake, `abc` answered `ABC`, close_notify both ways
    /// (handshakes/s).
    Handshake,
    /// WebSocket request/response: `GET /ws`, the 101 checked, then
    /// -b-byte masked text (or --ws-binary) messages, -d in flight per
    /// connection, each answer checked (messages/s, latency).
    Ws,
}

impl Mode {
    /// The name on the command line and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Line => "line",
            Mode::Frame => "frame",
            Mode::Udp => "udp",
            Mode::Hold => "hold",
            Mode::Hostile => "hostile",
            Mode::Handshake => "handshake",
            Mode::Ws => "ws",
        }
    }

    /// Connections when none are asked for.
    pub fn default_connections(self) -> usize {
        match self {
            Mode::Raw | Mode::Udp | Mode::Handshake => 1,
            Mode::Line | Mode::Frame | Mode::Hostile | Mode::Ws => 64,
            Mode::Hold => 10_000,
        }
    }
}

/// What responses must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The request uppercased (a SHOUT/1 server); frame connections start
    /// with a HELLO.
    Upper,
    /// The request unchanged (the echo ceiling); no handshake.
    Echo,
}

/// One run, fully specified.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The server to load.
    pub addr: SocketAddr,
    /// What to measure.
    pub mode: Mode,
    /// Connections (UDP: sockets).
    pub connections: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    /// Payload bytes per request (line: LF included).
    pub payload: usize,
    /// How long to measure (hold: to hold).
    pub duration: Duration,
    /// Raw bulk: bytes each connection streams.
    pub bytes: u64,
    /// What responses must be.
    pub expect: Expect,
    /// Hold: send a frame HELLO on each connection and wait for the reply.
    pub hello: bool,
    /// Hold: make each connection a WebSocket (its 101, then one -b-byte
    /// message answered) before holding it.
    pub ws: bool,
    /// WebSocket messages are binary (text otherwise).
    pub ws_binary: bool,
    /// The server's process: its CPU time and memory are reported.
    pub server_pid: Option<u32>,
    /// Every TCP connection speaks TLS (raw, line, frame, hold, ws;
    /// handshake needs it).
    pub tls: Option<tls::Client>,
}

impl Mode {
    /// Whether the mode can run over TLS (the TCP modes but the hostile
    /// soak), and whether it must.
    pub fn tls(self) -> (bool, bool) {
        match self {
            Mode::Raw | Mode::Line | Mode::Frame | Mode::Hold | Mode::Ws => (true, false),
            Mode::Handshake => (true, true),
            Mode::Udp | Mode::Hostile => (false, false),
        }
    }
}

/// Runs the load `spec` describes and checks every response (every mode
/// but [`Mode::Hostile`], which [`hostile::run`] runs).
pub fn run(spec: &Spec) -> io::Result<Report> {
    match (spec.mode.tls(), spec.tls.is_some()) {
        ((false, _), true) => {
            return Err(io::Error::other(format!(
                "{} mode has no TLS",
                spec.mode.name()
            )))
        }
        ((_, true), false) => {
            return Err(io::Error::other(format!(
                "{} mode needs TLS",
                spec.mode.name()
            )))
        }
        _ => {}
    }
    match spec.mode {
        Mode::Raw | Mode::Line | Mode::Frame => load::run_tcp(spec),
        Mode::Udp => load::run_udp(spec),
        Mode::Hold => load::run_hold(spec),
        Mode::Ws => ws::run(spec),
        Mode::Handshake => handshake::run(spec),
        Mode::Hostile => Err(io::Error::other(
            "the hostile soak has options of its own and its own report: run it with hostile::run",
        )),
    }
}

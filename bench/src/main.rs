//! The `shout-bench` binary: parses the command line and hands over to
//! the library. Wiring only.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser, ValueEnum};
use shout_bench::hostile::{Mix, Soak};
use shout_bench::{Expect, Mode, Spec};

const LONG_ABOUT: &str = "\
Load generator for SHOUT/1 servers, and the two servers `shout serve` is \
measured against.

Given ADDR, it opens the connections, waits until every one is set up \
(and, in frame mode, has the server's HELLO), then starts the clock for \
all of them at once. Every byte of every response is checked against \
what the server must send (uppercase, or unchanged with --echo); a \
connection that gets a wrong byte stops and counts as an error. The exit \
status is 1 when any check failed, 2 for a bad command line.

--mode ws loads a WebSocket server (the web framing's `/ws`, or any \
server that uppercases, e.g. --serve-tokio-ws): each connection does the \
opening handshake (the 101 and its Sec-WebSocket-Accept checked), the \
clock starts once every one has its 101, then -b-byte masked text \
messages (--ws-binary: binary), -d in flight per connection, each \
answer checked byte by byte however the server fragments it; at the end \
a Close (1000) and the server's Close. --mode hold --ws holds WebSockets \
instead of bare connections, each after one message answered.

With --tls every connection of the raw, line, frame, hold and ws modes speaks \
TLS (rustls, TLS 1.3 or 1.2, the server's certificate checked against \
--ca for --server-name, no session resumption); the handshakes are part \
of the setup, so the clock starts after the last one and the figures are \
those of the data alone. --mode handshake measures the handshakes \
themselves: whole TLS connections per second.

With --serve-echo, --serve-tokio or --serve-tokio-ws it is a server instead (printing \
`listening on ADDR (tcp)` on stderr once bound), so that it can be pinned \
with taskset like `shout serve`.

Progress goes to stderr once a second; the result to stdout, as a table \
or (--json) one JSON object.";

const EXAMPLES: &str = "\
Examples:
  # the product server, and 64 connections x 16 frame requests in flight for 5 s
  shout serve --listen 127.0.0.1:8002 --threads 1 --framing frame &
  shout-bench --mode frame -c 64 -d 16 -b 64 -s 5 127.0.0.1:8002

  # raw bulk: one connection streams 1 GiB through the server
  shout-bench --mode raw -c 1 --bytes 1073741824 127.0.0.1:8002

  # the echo ceiling: serve it, then load it expecting the bytes unchanged
  shout-bench --serve-echo 127.0.0.1:8003 &
  shout-bench --mode line --echo 127.0.0.1:8003

  # the tokio version (built with --features tokio-compare)
  shout-bench --serve-tokio 127.0.0.1:8004 --server-framing line &

  # WebSocket: 64 connections x 16 text messages of 64 bytes in flight for
  # 5 s against the product server (web framing, /ws), and the server's CPU
  shout serve --listen 127.0.0.1:8002 --threads 1 --framing web &
  shout-bench --mode ws -c 64 -d 16 -b 64 -s 5 --server-pid $! 127.0.0.1:8002
  #   1 MiB binary messages, one in flight per connection
  shout-bench --mode ws --ws-binary -c 4 -d 1 -b 1048576 -s 5 127.0.0.1:8002
  #   the same against tokio-tungstenite (built with --features tokio-compare)
  shout-bench --serve-tokio-ws 127.0.0.1:8005 &
  shout-bench --mode ws -c 64 -d 16 -b 64 -s 5 --server-pid $! 127.0.0.1:8005
  #   server memory per idle WebSocket: 10,000 held, each after one message
  shout-bench --mode hold --ws -c 10000 -s 2 --server-pid PID 127.0.0.1:8002
  #   over TLS (wss:), the certificate below
  shout-bench --mode ws --tls --ca cert.pem -c 64 -d 16 127.0.0.1:8002

  # server memory: hold 10,000 connections, each after a HELLO
  shout-bench --mode hold -c 10000 -s 2 --hello --server-pid PID 127.0.0.1:8002

  # server CPU time per response, machine-readable
  shout-bench --json --server-pid PID --mode line 127.0.0.1:8002

  # TLS: a certificate for localhost (not a CA: rustls refuses a CA as the
  # server's own), the server with it (auto framing tells TLS by its first
  # byte), then 64 connections x 16 frame requests in flight, over TLS
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -addext basicConstraints=critical,CA:FALSE
  shout serve --listen 127.0.0.1:8002 --tls-cert cert.pem --tls-key key.pem &
  shout-bench --tls --ca cert.pem --mode frame -c 64 -d 16 -s 5 127.0.0.1:8002
  #   raw bulk over TLS: 1 GiB through the server, encrypted both ways
  shout-bench --tls --ca cert.pem --mode raw --bytes 1073741824 127.0.0.1:8002
  #   a certificate for another name than localhost
  shout-bench --tls --ca cert.pem --server-name shout.example --mode line 127.0.0.1:8002

  # TLS handshakes per second, 8 at a time, for 5 s, and the server's CPU
  # per handshake (each: full handshake, `abc` -> `ABC`, close_notify)
  shout-bench --mode handshake --tls --ca cert.pem -c 8 -s 5 --server-pid PID 127.0.0.1:8002

  # hostile soak: 64 good frame clients alone for 3 s, then for 30 s beside
  # 10,000 idle, slowloris, garbage, stalled, never-read, resetting and
  # half-open connections; latency alone vs under attack, server memory
  shout serve --listen 127.0.0.1:8002 --transform unicode &
  shout-bench --mode hostile -s 30 --server-pid $! 127.0.0.1:8002
  #   a smaller mix, some groups sized by hand
  shout-bench --mode hostile --hostile 2000 --hostile-never-read 0 -c 16 127.0.0.1:8002

bench/run.sh runs the whole comparison of BENCHMARKS.md.";

/// Load generator for SHOUT/1 servers, and the servers `shout serve` is
/// measured against.
#[derive(Debug, Parser)]
#[command(
    name = "shout-bench",
    version,
    about,
    long_about = LONG_ABOUT,
    after_help = "Examples: see --help.",
    after_long_help = EXAMPLES,
)]
#[command(group(ArgGroup::new("what").args(["addr", "serve_echo", "serve_tokio", "serve_tokio_ws"]).required(true)))]
struct Cli {
    /// The server to load.
    #[arg(value_name = "ADDR", value_parser = parse_addr)]
    addr: Option<SocketAddr>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Frame)]
    mode: Mode,
    /// Connections (UDP: sockets; handshake: in flight at once)
    /// [default: 1 for raw, udp and handshake, 64 for line, frame and ws,
    /// 10000 for hold].
    #[arg(short = 'c', long, value_name = "N", value_parser = parse_positive)]
    connections: Option<usize>,
    /// Requests in flight per connection (line, frame, udp, ws, hostile)
    /// [default: 1; 4 for hostile].
    #[arg(short = 'd', long, value_name = "N", value_parser = parse_positive)]
    depth: Option<usize>,
    /// Payload bytes per request (line: the LF included; ws: per message;
    /// hold --ws: of its one message).
    #[arg(short = 'b', long, value_name = "BYTES", default_value = "64", value_parser = parse_positive)]
    payload: usize,
    /// Seconds to measure, fractional allowed (hold: to hold after
    /// everything is connected; hostile: under the hostile mix).
    #[arg(short = 's', long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    duration: Duration,
    /// Raw bulk: bytes each connection streams.
    #[arg(long, value_name = "BYTES", default_value = "268435456", value_parser = parse_positive)]
    bytes: usize,
    /// The server echoes without transforming (the echo ceiling): expect
    /// the request bytes back and skip the frame handshake.
    #[arg(long)]
    echo: bool,
    /// Hold: send a frame HELLO on each connection and wait for the
    /// server's HELLO.
    #[arg(long, conflicts_with = "ws")]
    hello: bool,
    /// Hold: make each connection a WebSocket (`GET /ws`, the 101, one
    /// -b-byte message answered) before holding it.
    #[arg(long)]
    ws: bool,
    /// WebSocket (ws, hold --ws): binary messages instead of text.
    #[arg(long)]
    ws_binary: bool,
    /// The server's process id: reports its memory growth (hold), its
    /// memory over the soak (hostile) and the CPU time it used during the
    /// measurement.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Speak TLS on every connection (raw, line, frame, hold, ws;
    /// handshake needs it); the server's certificate is checked.
    #[arg(long)]
    tls: bool,
    /// TLS: trust the certificates in FILE (PEM), e.g. a self-signed
    /// server's own cert.pem [default: the usual web roots].
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca: Option<PathBuf>,
    /// TLS: the name the server's certificate must carry (a DNS name or
    /// an IP address).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "localhost",
        requires = "tls"
    )]
    server_name: String,
    /// Hostile: seconds the good clients run alone first.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = parse_secs)]
    soak_baseline: Duration,
    /// Hostile: seconds after every socket is closed before the server's
    /// memory is read the last time.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    settle: Duration,
    /// Hostile: connections in the hostile mix, the default mix (60% idle,
    /// 10% slowloris, 10% garbage, 2% stalled, 5% never-read, 1%
    /// reset-storm loops, 12% half-open) scaled to N.
    #[arg(long, value_name = "N", default_value = "10000", value_parser = parse_count)]
    hostile: usize,
    /// Hostile: idle connections (connect, never send) instead of the
    /// scaled share.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_idle: Option<usize>,
    /// Hostile: slowloris connections (a byte of a line a second, no LF).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_slowloris: Option<usize>,
    /// Hostile: garbage connections (random bytes, half starting 0x00).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_garbage: Option<usize>,
    /// Hostile: stalled store-and-forward connections (HELLO, a DATA
    /// header of --stall-bytes, half its payload, silence).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_stalled: Option<usize>,
    /// Hostile: connections that send raw ascii nonstop and never read.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_never_read: Option<usize>,
    /// Hostile: reset-storm loops (connect, a few bytes, close with RST,
    /// again every 100 ms).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_reset_storm: Option<usize>,
    /// Hostile: half-open connections (part of a frame header, shut down
    /// the sending side, never read).
    #[arg(long, value_name = "N", value_parser = parse_count)]
    hostile_half_open: Option<usize>,
    /// Hostile: the payload a stalled connection's DATA header announces.
    #[arg(long, value_name = "BYTES", default_value = "1048576", value_parser = parse_u32)]
    stall_bytes: u32,
    /// Run the no-transform mio echo server (the ceiling) on ADDR
    /// instead.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    serve_echo: Option<SocketAddr>,
    /// Run the tokio + tokio-util server on ADDR instead (framing from
    /// --server-framing; needs --features tokio-compare).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    serve_tokio: Option<SocketAddr>,
    /// Run the tokio-tungstenite WebSocket server on ADDR instead (any
    /// path; each message answered uppercased; needs --features
    /// tokio-compare).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    serve_tokio_ws: Option<SocketAddr>,
    /// Framing of the tokio server.
    #[arg(long, value_enum, default_value_t = ServerFraming::Auto)]
    server_framing: ServerFraming,
}

/// Framings the tokio server may be configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ServerFraming {
    /// Decide on the first byte: 0x00 means frame, anything else raw.
    Auto,
    /// No boundaries.
    Raw,
    /// Lines ending in LF.
    Line,
    /// Length-prefixed frames.
    Frame,
}

fn main() {
    let cli = Cli::parse();
    std::process::exit(run(&cli));
}

/// Exit status: 0, or 1 on a failed check or failure.
fn run(cli: &Cli) -> i32 {
    if let Some(addr) = cli.serve_echo {
        return match shout_bench::echo_server::serve(addr) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("shout-bench: echo server on {addr}: {e}");
                1
            }
        };
    }
    if let Some(addr) = cli.serve_tokio {
        return serve_tokio(addr, cli.server_framing);
    }
    if let Some(addr) = cli.serve_tokio_ws {
        return serve_tokio_ws(addr);
    }
    let Some(addr) = cli.addr else {
        unreachable!("the parser requires ADDR, --serve-echo, --serve-tokio or --serve-tokio-ws");
    };
    if let Err(why) = ws_flags(cli) {
        eprintln!("shout-bench: {why}");
        return 2;
    }
    let tls = match tls_client(cli) {
        Ok(t) => t,
        Err(why) => {
            eprintln!("shout-bench: {why}");
            return 2;
        }
    };
    let spec = Spec {
        addr,
        mode: cli.mode,
        connections: cli.connections.unwrap_or(cli.mode.default_connections()),
        depth: cli
            .depth
            .unwrap_or(if cli.mode == Mode::Hostile { 4 } else { 1 }),
        payload: cli.payload,
        duration: cli.duration,
        bytes: cli.bytes as u64,
        expect: if cli.echo {
            Expect::Echo
        } else {
            Expect::Upper
        },
        hello: cli.hello,
        ws: cli.ws,
        ws_binary: cli.ws_binary,
        server_pid: cli.server_pid,
        tls,
    };
    if spec.mode == Mode::Hostile {
        return hostile(cli, spec);
    }
    match shout_bench::run(&spec) {
        Ok(r) => print_report(cli.json, || r.to_json(), || r.print_table(), r.errors),
        Err(e) => {
            eprintln!(
                "shout-bench: {} run against {addr} failed: {e}",
                spec.mode.name()
            );
            1
        }
    }
}

/// The TLS client of `--tls`, after checking that the mode goes with it;
/// the message for a usage error (exit status 2).
fn tls_client(cli: &Cli) -> Result<Option<shout_bench::tls::Client>, String> {
    let name = cli.mode.name();
    match (cli.mode.tls(), cli.tls) {
        ((_, true), false) => {
            return Err(format!(
                "--mode {name} measures TLS handshakes: give --tls \
                 (and --ca cert.pem for a self-signed server)"
            ))
        }
        ((false, _), true) => {
            return Err(format!(
                "--tls is for the TCP modes raw, line, frame, hold, ws and handshake, not {name}"
            ))
        }
        (_, false) => return Ok(None),
        _ => {}
    }
    shout_bench::tls::Client::new(cli.ca.as_deref(), &cli.server_name).map(Some)
}

/// `--ws` and `--ws-binary` go with the WebSocket runs only; the message
/// for a usage error (exit status 2).
fn ws_flags(cli: &Cli) -> Result<(), String> {
    if cli.ws && cli.mode != Mode::Hold {
        return Err(format!(
            "--ws is for --mode hold (--mode ws is WebSocket already), not {}",
            cli.mode.name()
        ));
    }
    if cli.ws_binary && cli.mode != Mode::Ws && !cli.ws {
        return Err("--ws-binary is for --mode ws and --mode hold --ws".into());
    }
    Ok(())
}

/// Prints a report as JSON or as a table; the exit status its errors give.
fn print_report(
    json: bool,
    to_json: impl FnOnce() -> serde_json::Value,
    table: impl FnOnce(),
    errors: u64,
) -> i32 {
    if json {
        println!("{}", to_json());
    } else {
        table();
    }
    i32::from(errors > 0)
}

/// The hostile soak: its own options and its own report.
fn hostile(cli: &Cli, good: Spec) -> i32 {
    let scaled = Mix::scaled(cli.hostile);
    let mix = Mix {
        idle: cli.hostile_idle.unwrap_or(scaled.idle),
        slowloris: cli.hostile_slowloris.unwrap_or(scaled.slowloris),
        garbage: cli.hostile_garbage.unwrap_or(scaled.garbage),
        stalled: cli.hostile_stalled.unwrap_or(scaled.stalled),
        never_read: cli.hostile_never_read.unwrap_or(scaled.never_read),
        reset_storm: cli.hostile_reset_storm.unwrap_or(scaled.reset_storm),
        half_open: cli.hostile_half_open.unwrap_or(scaled.half_open),
    };
    let addr = good.addr;
    let soak = Soak {
        good,
        baseline: cli.soak_baseline,
        settle: cli.settle,
        mix,
        stall_bytes: cli.stall_bytes,
    };
    match shout_bench::hostile::run(&soak) {
        Ok(r) => print_report(cli.json, || r.to_json(), || r.print_table(), r.errors),
        Err(e) => {
            eprintln!("shout-bench: hostile soak of {addr} failed: {e}");
            1
        }
    }
}

#[cfg(feature = "tokio-compare")]
fn serve_tokio(addr: SocketAddr, framing: ServerFraming) -> i32 {
    use shout_core::Framing;
    let framing = match framing {
        ServerFraming::Auto => Framing::Auto,
        ServerFraming::Raw => Framing::Raw,
        ServerFraming::Line => Framing::Line,
        ServerFraming::Frame => Framing::Frame,
    };
    let d = shout_core::Config::default();
    match shout_bench::tokio_server::serve(addr, framing, d.max_payload, d.max_line) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shout-bench: tokio server on {addr}: {e}");
            1
        }
    }
}

#[cfg(not(feature = "tokio-compare"))]
fn serve_tokio(_addr: SocketAddr, _framing: ServerFraming) -> i32 {
    eprintln!(
        "shout-bench: this build has no tokio comparison server; \
         build with --features tokio-compare"
    );
    2
}

#[cfg(feature = "tokio-compare")]
fn serve_tokio_ws(addr: SocketAddr) -> i32 {
    match shout_bench::tokio_ws_server::serve(addr) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shout-bench: tokio-tungstenite server on {addr}: {e}");
            1
        }
    }
}

#[cfg(not(feature = "tokio-compare"))]
fn serve_tokio_ws(_addr: SocketAddr) -> i32 {
    eprintln!(
        "shout-bench: this build has no tokio-tungstenite server; \
         build with --features tokio-compare"
    );
    2
}

/// An address: `IP:PORT`, or `HOST:PORT` resolved to its first address.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let bad = || format!("'{s}' is not an address (expected IP:PORT, e.g. 127.0.0.1:8002)");
    if !s.contains(':') {
        return Err(bad());
    }
    s.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Seconds, fractional allowed, not negative, to the microsecond (the
/// contract's rule, read by the core).
fn parse_secs(s: &str) -> Result<Duration, String> {
    shout_core::Duration::parse_secs(s)
        .map(|d| Duration::from_micros(d.as_micros()))
        .map_err(|e| format!("'{s}' {e}"))
}

/// A whole number, 0 allowed.
fn parse_count(s: &str) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .map_err(|_| format!("'{s}' is not a whole number"))
}

/// A whole number that fits a frame length (u32).
fn parse_u32(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| format!("'{s}' is not a whole number up to 4294967295"))
}

/// A whole number of at least 1.
fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exactly_one_of_addr_serve_echo_serve_tokio() {
        for args in [
            &[][..],
            &["127.0.0.1:1", "--serve-echo", "127.0.0.1:2"],
            &[
                "--serve-echo",
                "127.0.0.1:2",
                "--serve-tokio",
                "127.0.0.1:3",
            ],
            &["--serve-tokio-ws", "127.0.0.1:2", "127.0.0.1:1"],
            &["--mode", "hold", "--ws", "--hello", "127.0.0.1:1"],
            &["-c", "0", "127.0.0.1:1"],
            &["-s", "-1", "127.0.0.1:1"],
            &["--mode", "json", "127.0.0.1:1"],
            &["nowhere"],
        ] {
            let err =
                Cli::try_parse_from(std::iter::once("shout-bench").chain(args.iter().copied()))
                    .expect_err(&format!("{args:?} must be refused"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
        let cli = Cli::try_parse_from(["shout-bench", "-s", "0.25", "127.0.0.1:1"]).unwrap();
        assert_eq!(cli.duration, Duration::from_millis(250));
        assert_eq!(cli.mode, Mode::Frame);
        let cli = Cli::try_parse_from([
            "shout-bench",
            "--mode",
            "hostile",
            "--hostile",
            "200",
            "--hostile-idle",
            "0",
            "127.0.0.1:1",
        ])
        .unwrap();
        assert_eq!(cli.mode, Mode::Hostile);
        assert_eq!(
            (cli.hostile, cli.hostile_idle, cli.depth),
            (200, Some(0), None)
        );
        assert_eq!(cli.soak_baseline, Duration::from_secs(3));
    }
}

//! The `shout-bench` binary: parses the command line and hands over to
//! the library. Wiring only.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::{ArgGroup, Parser, ValueEnum};
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

With --serve-echo or --serve-tokio it is a server instead (printing \
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

  # server memory: hold 10,000 connections, each after a HELLO
  shout-bench --mode hold -c 10000 -s 2 --hello --server-pid PID 127.0.0.1:8002

  # server CPU time per response, machine-readable
  shout-bench --json --server-pid PID --mode line 127.0.0.1:8002

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
#[command(group(ArgGroup::new("what").args(["addr", "serve_echo", "serve_tokio"]).required(true)))]
struct Cli {
    /// The server to load.
    #[arg(value_name = "ADDR", value_parser = parse_addr)]
    addr: Option<SocketAddr>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Frame)]
    mode: Mode,
    /// Connections (UDP: sockets) [default: 1 for raw and udp, 64 for
    /// line and frame, 10000 for hold].
    #[arg(short = 'c', long, value_name = "N", value_parser = parse_positive)]
    connections: Option<usize>,
    /// Requests in flight per connection (line, frame, udp).
    #[arg(short = 'd', long, value_name = "N", default_value = "1", value_parser = parse_positive)]
    depth: usize,
    /// Payload bytes per request (line: the LF included).
    #[arg(short = 'b', long, value_name = "BYTES", default_value = "64", value_parser = parse_positive)]
    payload: usize,
    /// Seconds to measure, fractional allowed (hold: to hold after
    /// everything is connected).
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
    #[arg(long)]
    hello: bool,
    /// The server's process id: reports its memory growth (hold) and the
    /// CPU time it used during the measurement (other modes).
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print the result as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Run the no-transform mio echo server (the ceiling) on ADDR
    /// instead.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    serve_echo: Option<SocketAddr>,
    /// Run the tokio + tokio-util server on ADDR instead (framing from
    /// --server-framing; needs --features tokio-compare).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    serve_tokio: Option<SocketAddr>,
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
    let Some(addr) = cli.addr else {
        unreachable!("the parser requires ADDR, --serve-echo or --serve-tokio");
    };
    let spec = Spec {
        addr,
        mode: cli.mode,
        connections: cli.connections.unwrap_or(cli.mode.default_connections()),
        depth: cli.depth,
        payload: cli.payload,
        duration: cli.duration,
        bytes: cli.bytes as u64,
        expect: if cli.echo {
            Expect::Echo
        } else {
            Expect::Upper
        },
        hello: cli.hello,
        server_pid: cli.server_pid,
    };
    match shout_bench::run(&spec) {
        Ok(report) => {
            if cli.json {
                println!("{}", report.to_json());
            } else {
                report.print_table();
            }
            i32::from(report.errors > 0)
        }
        Err(e) => {
            eprintln!(
                "shout-bench: {} run against {addr} failed: {e}",
                spec.mode.name()
            );
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
    }
}

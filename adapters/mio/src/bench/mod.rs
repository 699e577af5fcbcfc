//! `shout bench`: a load generator that verifies every response, and the
//! two servers the benchmarks compare against.
//!
//! Modes: `raw` bulk (N connections each streaming M bytes: MB/s), `line`
//! and `frame` request/response (N connections, D requests in flight,
//! B-byte payloads, S seconds: req/s and latency percentiles), `udp`
//! request/response, and `hold` (N idle connections, optionally with a
//! HELLO each, to measure a server's memory through `--server-pid`).
//!
//! `--serve-echo ADDR` runs the no-transform mio echo server (the
//! ceiling) and `--serve-tokio ADDR` the tokio + tokio-util version (built
//! with `--features tokio-compare`), each in this process so it can be
//! pinned with `taskset` like `shout serve`.

mod echo_server;
mod load;
#[cfg(feature = "tokio-compare")]
mod tokio_server;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;

use crate::cli::{parse_addr, parse_positive, parse_secs, ServerFraming};

/// `shout bench` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").args(["addr", "serve_echo", "serve_tokio"]).required(true)))]
pub struct BenchArgs {
    /// The server to load.
    #[arg(value_name = "ADDR", value_parser = parse_addr)]
    pub addr: Option<SocketAddr>,
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Mode::Frame)]
    pub mode: Mode,
    /// Connections (UDP: sockets) [default: 1 for raw and udp, 64 for
    /// line and frame, 10000 for hold].
    #[arg(short = 'c', long, value_parser = parse_positive)]
    pub connections: Option<usize>,
    /// Requests in flight per connection.
    #[arg(short = 'd', long, default_value = "1", value_parser = parse_positive)]
    pub depth: usize,
    /// Payload bytes per request (line: the LF included).
    #[arg(short = 'b', long, default_value = "64", value_parser = parse_positive)]
    pub payload: usize,
    /// Seconds to run (hold: to hold after everything is connected).
    #[arg(short = 's', long, default_value = "5", value_parser = parse_secs)]
    pub duration: shout_core::Duration,
    /// Raw bulk: bytes each connection streams.
    #[arg(long, default_value = "268435456", value_parser = parse_positive)]
    pub bytes: usize,
    /// The server echoes without transforming (the echo ceiling): expect
    /// the request bytes back and skip the frame handshake.
    #[arg(long)]
    pub echo: bool,
    /// Hold: send a frame HELLO on each connection and wait for the reply.
    #[arg(long)]
    pub hello: bool,
    /// The server's process id: reports its memory growth (hold) and the
    /// CPU time it used during the measurement (other modes).
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run the no-transform mio echo server on ADDR instead.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub serve_echo: Option<SocketAddr>,
    /// Run the tokio + tokio-util server on ADDR instead (framing from
    /// --server-framing).
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub serve_tokio: Option<SocketAddr>,
    /// Framing of the tokio server.
    #[arg(long, value_enum, default_value_t = ServerFraming::Auto)]
    pub server_framing: ServerFraming,
}

/// What a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Bulk streaming on raw framing.
    Raw,
    /// Line request/response.
    Line,
    /// Frame request/response.
    Frame,
    /// UDP request/response.
    Udp,
    /// Connect and hold.
    Hold,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Raw => "raw",
            Mode::Line => "line",
            Mode::Frame => "frame",
            Mode::Udp => "udp",
            Mode::Hold => "hold",
        }
    }
}

/// What responses must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Upper,
    Echo,
}

/// One run, fully specified.
struct Spec {
    addr: SocketAddr,
    mode: Mode,
    connections: usize,
    depth: usize,
    payload: usize,
    duration: Duration,
    bytes: u64,
    expect: Expect,
    hello: bool,
    server_pid: Option<u32>,
}

/// The figures of a run.
struct Report {
    mode: Mode,
    connections: usize,
    depth: usize,
    payload: usize,
    seconds: f64,
    responses: u64,
    bytes: u64,
    p50_us: Option<u32>,
    p99_us: Option<u32>,
    p999_us: Option<u32>,
    errors: u64,
    first_error: Option<String>,
    lost: Option<u64>,
    rss_growth: Option<i64>,
    rss_per_connection: Option<f64>,
    /// CPU time the server used during the measured window.
    server_cpu_ns: Option<u64>,
}

impl Report {
    fn new(
        spec: &Spec,
        seconds: f64,
        responses: u64,
        bytes: u64,
        latencies: &mut [u32],
        errors: u64,
        first_error: Option<String>,
    ) -> Report {
        latencies.sort_unstable();
        let pct = |p: f64| -> Option<u32> {
            if latencies.is_empty() {
                return None;
            }
            let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
            Some(latencies[i - 1])
        };
        Report {
            mode: spec.mode,
            connections: spec.connections,
            depth: spec.depth,
            payload: spec.payload,
            seconds,
            responses,
            bytes,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            p999_us: pct(0.999),
            errors,
            first_error,
            lost: None,
            rss_growth: None,
            rss_per_connection: None,
            server_cpu_ns: None,
        }
    }

    fn rate(&self) -> f64 {
        self.responses as f64 / self.seconds.max(1e-9)
    }

    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }

    fn cpu_per_response(&self) -> Option<f64> {
        let ns = self.server_cpu_ns? as f64;
        (self.responses > 0).then(|| ns / self.responses as f64)
    }

    fn cpu_per_byte(&self) -> Option<f64> {
        let ns = self.server_cpu_ns? as f64;
        (self.bytes > 0).then(|| ns / self.bytes as f64)
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "mode": self.mode.name(),
            "connections": self.connections,
            "depth": self.depth,
            "payload": self.payload,
            "seconds": self.seconds,
            "responses": self.responses,
            "requests_per_second": self.rate(),
            "bytes": self.bytes,
            "mb_per_second": self.mb_per_s(),
            "latency_us": {"p50": self.p50_us, "p99": self.p99_us, "p999": self.p999_us},
            "errors": self.errors,
            "first_error": self.first_error,
            "udp_lost": self.lost,
            "server_rss_growth_bytes": self.rss_growth,
            "server_rss_bytes_per_connection": self.rss_per_connection,
            "server_cpu_seconds": self.server_cpu_ns.map(|n| n as f64 / 1e9),
            "server_cpu_ns_per_response": self.cpu_per_response(),
            "server_cpu_ns_per_byte": self.cpu_per_byte(),
        })
    }

    fn print_table(&self) {
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        match self.mode {
            Mode::Raw => {
                println!(
                    "{:<6} {:>6} {:>14} {:>9} {:>10} {:>7}",
                    "mode", "conns", "bytes", "seconds", "MB/s", "errors"
                );
                println!(
                    "{:<6} {:>6} {:>14} {:>9.3} {:>10.1} {:>7}",
                    "raw",
                    self.connections,
                    self.bytes,
                    self.seconds,
                    self.mb_per_s(),
                    self.errors
                );
            }
            Mode::Hold => {
                println!(
                    "{:<6} {:>7} {:>10} {:>18} {:>14} {:>7}",
                    "mode", "held", "setup s", "server RSS growth", "bytes/conn", "errors"
                );
                println!(
                    "{:<6} {:>7} {:>10.2} {:>18} {:>14} {:>7}",
                    "hold",
                    self.responses,
                    self.seconds,
                    self.rss_growth.map_or("-".into(), |g| g.to_string()),
                    self.rss_per_connection
                        .map_or("-".into(), |g| format!("{g:.1}")),
                    self.errors
                );
            }
            _ => {
                println!(
                    "{:<6} {:>6} {:>6} {:>8} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8} {:>7}",
                    "mode",
                    "conns",
                    "depth",
                    "payload",
                    "seconds",
                    "responses",
                    "req/s",
                    "p50 us",
                    "p99 us",
                    "p999 us",
                    "errors"
                );
                println!(
                    "{:<6} {:>6} {:>6} {:>8} {:>8.2} {:>11} {:>11.0} {:>8} {:>8} {:>8} {:>7}",
                    self.mode.name(),
                    self.connections,
                    self.depth,
                    self.payload,
                    self.seconds,
                    self.responses,
                    self.rate(),
                    opt(self.p50_us),
                    opt(self.p99_us),
                    opt(self.p999_us),
                    self.errors
                );
            }
        }
        if let Some(ns) = self.server_cpu_ns {
            let per = match self.mode {
                Mode::Raw => self.cpu_per_byte().map(|v| format!("{:.3} ns per byte", v)),
                _ => self
                    .cpu_per_response()
                    .map(|v| format!("{:.0} ns per response", v)),
            };
            println!(
                "server CPU: {:.3} s ({})",
                ns as f64 / 1e9,
                per.unwrap_or_else(|| "-".into())
            );
        }
        if let Some(e) = &self.first_error {
            println!("first error: {e}");
        }
    }
}

/// Resident memory of a process, in bytes (`VmRSS` of /proc/PID/status).
fn rss_bytes(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other(format!("no VmRSS for process {pid}")))
}

/// CPU time a process has used so far, all threads, in nanoseconds
/// (the first field of each /proc/PID/task/TID/schedstat).
fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        let text = std::fs::read_to_string(path).ok()?;
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// Runs `shout bench`; returns the exit status (1 on any verification
/// error or failure).
pub fn run(args: &BenchArgs) -> i32 {
    if let Some(addr) = args.serve_echo {
        return match echo_server::serve(addr) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("shout: echo server on {addr}: {e}");
                1
            }
        };
    }
    if let Some(addr) = args.serve_tokio {
        return serve_tokio(addr, args);
    }
    let Some(addr) = args.addr else {
        eprintln!("shout: error: bench needs a server address");
        return 2;
    };
    let connections = args.connections.unwrap_or(match args.mode {
        Mode::Raw | Mode::Udp => 1,
        Mode::Line | Mode::Frame => 64,
        Mode::Hold => 10_000,
    });
    let spec = Spec {
        addr,
        mode: args.mode,
        connections,
        depth: args.depth,
        payload: args.payload,
        duration: Duration::from_micros(args.duration.as_micros()),
        bytes: args.bytes as u64,
        expect: if args.echo {
            Expect::Echo
        } else {
            Expect::Upper
        },
        hello: args.hello,
        server_pid: args.server_pid,
    };
    let result = match spec.mode {
        Mode::Raw | Mode::Line | Mode::Frame => load::run_tcp(&spec),
        Mode::Udp => load::run_udp(&spec),
        Mode::Hold => load::run_hold(&spec),
    };
    match result {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                report.print_table();
            }
            i32::from(report.errors > 0)
        }
        Err(e) => {
            eprintln!("shout: bench failed: {e}");
            1
        }
    }
}

#[cfg(feature = "tokio-compare")]
fn serve_tokio(addr: SocketAddr, args: &BenchArgs) -> i32 {
    let d = shout_core::Config::default();
    match tokio_server::serve(addr, args.server_framing.into(), d.max_payload, d.max_line) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("shout: tokio server on {addr}: {e}");
            1
        }
    }
}

#[cfg(not(feature = "tokio-compare"))]
fn serve_tokio(_addr: SocketAddr, _args: &BenchArgs) -> i32 {
    eprintln!(
        "shout: this build has no tokio comparison server; build with --features tokio-compare"
    );
    2
}

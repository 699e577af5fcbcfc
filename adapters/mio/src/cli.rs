//! The command line of the contract: `shout serve` and `shout send`.
//! Every bad value is refused by the parser with a clear
//! message and exit status 2 (clap's usage-error status).

use std::net::{SocketAddr, ToSocketAddrs};

use clap::{Args, Parser, Subcommand, ValueEnum};
use shout_core::{Config, Duration, Framing, TransformKind};

/// SHOUT/1, the uppercase echo: server and client.
#[derive(Debug, Parser)]
#[command(name = "shout", version, about, propagate_version = true)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace);
    /// RUST_LOG overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve SHOUT/1 on TCP (and UDP with --udp).
    Serve(ServeArgs),
    /// Send messages to a server and print its answers.
    Send(SendArgs),
}

/// `shout serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8002", value_parser = parse_addr)]
    pub listen: SocketAddr,
    /// How requests are delimited; auto: a first byte 0x00 means frame,
    /// `GET ` web (a browser: the page at http://ADDR/), 0x16 TLS (with
    /// --tls-cert), anything else raw.
    #[arg(long, value_enum, default_value_t = ServerFraming::Auto)]
    pub framing: ServerFraming,
    /// The uppercase mapping.
    #[arg(long, value_enum, default_value_t = TransformArg::Ascii)]
    pub transform: TransformArg,
    /// Also serve UDP on the same port.
    #[arg(long)]
    pub udp: bool,
    /// Largest frame payload accepted (at least 6).
    #[arg(long, value_name = "BYTES", default_value = "1048576", value_parser = parse_max_payload, allow_negative_numbers = true)]
    pub max_payload: u32,
    /// Longest accepted line, CR and LF included (at least 1).
    #[arg(long, value_name = "BYTES", default_value = "65536", value_parser = parse_max_line, allow_negative_numbers = true)]
    pub max_line: u32,
    /// Connections open at once, across all threads (at least 1).
    #[arg(long, value_name = "N", default_value = "10000", value_parser = parse_positive, allow_negative_numbers = true)]
    pub max_connections: usize,
    /// Close a connection after this long with nothing received or sent
    /// (fractional allowed; 0 turns it off).
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs, allow_negative_numbers = true)]
    pub idle_timeout: Duration,
    /// How long a shutdown lets requests in progress finish.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs, allow_negative_numbers = true)]
    pub drain_timeout: Duration,
    /// The most bytes held in memory for all connections together
    /// (payloads waiting to be whole, output a socket would not take);
    /// a connection that needs more waits until enough is free.
    #[arg(long, value_name = "BYTES", default_value = "268435456", value_parser = parse_positive, allow_negative_numbers = true)]
    pub max_buffered: usize,
    /// How log lines are written on stderr: text, or JSON lines (one
    /// object a line; connection lines at info level are then on by
    /// default: who, framing, bytes each way, requests, why, how long).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics (GET /metrics) on this address, on a
    /// thread of its own.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    pub metrics: Option<SocketAddr>,
    /// Every TCP connection must begin with a PROXY protocol header (v1 or
    /// v2, as HAProxy and nginx send them); its source address is the
    /// client's in the logs. A connection without one is closed unanswered.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// Serve TLS 1.2 and 1.3 with this certificate chain (PEM), with
    /// --tls-key. With --framing auto a connection whose first byte is
    /// 0x16 is TLS and the others are plain; with an explicit framing
    /// every connection must be TLS. Make a test certificate with:
    /// openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes
    /// -keyout key.pem -out cert.pem -days 30 -subj /CN=localhost
    /// -addext subjectAltName=DNS:localhost,IP:127.0.0.1
    /// -addext basicConstraints=critical,CA:FALSE
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Each connection's kernel receive and send buffer (SO_RCVBUF,
    /// SO_SNDBUF; the kernel caps them at net.core.rmem_max/wmem_max).
    /// Small buffers keep a client that sends without reading from
    /// holding megabytes of kernel memory; 0 leaves them to the kernel's
    /// autotuning, which moves bulk data with less CPU (for clients you
    /// trust, or behind a balancer that limits them).
    #[arg(long, value_name = "BYTES", default_value_t = crate::server::DEFAULT_SOCKET_BUFFER, value_parser = parse_socket_buffer, allow_negative_numbers = true)]
    pub socket_buffer: usize,
    /// Event loop threads [default: the available cores].
    #[arg(long, value_name = "N", value_parser = parse_positive, allow_negative_numbers = true)]
    pub threads: Option<usize>,
}

/// How `shout serve` writes its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// Framings a server may be configured with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServerFraming {
    /// Decide on the first byte.
    Auto,
    /// No boundaries.
    Raw,
    /// Lines ending in LF.
    Line,
    /// Length-prefixed frames.
    Frame,
    /// HTTP/1.1 and WebSocket: the page at /, messages on /ws.
    Web,
}

impl From<ServerFraming> for Framing {
    fn from(f: ServerFraming) -> Framing {
        match f {
            ServerFraming::Auto => Framing::Auto,
            ServerFraming::Raw => Framing::Raw,
            ServerFraming::Line => Framing::Line,
            ServerFraming::Frame => Framing::Frame,
            ServerFraming::Web => Framing::Web,
        }
    }
}

/// Transforms named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransformArg {
    /// a-z to A-Z, every other byte unchanged.
    Ascii,
    /// Full Unicode uppercase of UTF-8 text.
    Unicode,
}

impl ServeArgs {
    /// The server options these flags describe, or the message for a
    /// value this build cannot serve.
    pub fn options(&self) -> Result<crate::server::Options, String> {
        let transform = match self.transform {
            TransformArg::Ascii => TransformKind::Ascii,
            TransformArg::Unicode => TransformKind::Unicode,
        };
        let idle = (self.idle_timeout != Duration::ZERO).then_some(self.idle_timeout);
        let config = Config::default()
            .with_framing(self.framing.into())
            .with_transform(transform)
            .with_max_payload(self.max_payload)
            .with_max_line(self.max_line)
            .with_idle_timeout(idle)
            .with_drain_timeout(self.drain_timeout);
        let config = config.validate().map_err(|e| e.to_string())?;
        if self.max_payload as usize > self.max_buffered {
            return Err(format!(
                "--max-payload {} is over --max-buffered {}: a payload that large could never be held",
                self.max_payload, self.max_buffered
            ));
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::server::Certified::load(cert, key)?),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        Ok(crate::server::Options {
            listen: self.listen,
            config,
            udp: self.udp,
            max_connections: self.max_connections,
            threads,
            max_buffered: self.max_buffered,
            proxy_protocol: self.proxy_protocol,
            metrics: self.metrics,
            tls,
            socket_buffer: std::num::NonZeroUsize::new(self.socket_buffer),
        })
    }
}

/// `shout send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// How to talk to the server.
    #[arg(long, value_enum, default_value_t = ClientFraming::Frame)]
    pub framing: ClientFraming,
    /// Talk TLS (1.2 or 1.3); the server's certificate is checked.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: trust the certificates in this PEM file instead of the
    /// usual web roots (for a self-signed server, its own cert.pem).
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca: Option<std::path::PathBuf>,
    /// With --tls: the name the server's certificate must carry [default:
    /// the host part of ADDR].
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub server_name: Option<String>,
    /// The server's address (IP:PORT or HOST:PORT).
    #[arg(value_name = "ADDR", value_parser = parse_target)]
    pub addr: Target,
    /// Messages to send; none: stream standard input.
    #[arg(value_name = "MESSAGE")]
    pub messages: Vec<String>,
}

/// An address as given, and what it resolved to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The host part as written (a name or an IP address).
    pub host: String,
    /// The address connected to.
    pub addr: SocketAddr,
}

/// `HOST:PORT` or `IP:PORT`, keeping the host for TLS's server name.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let addr = parse_addr(s)?;
    let host = match s.rsplit_once(':') {
        Some((h, _)) => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        None => addr.ip().to_string(),
    };
    Ok(Target { host, addr })
}

impl SendArgs {
    /// Where to connect and how, or the message for a bad --ca or name.
    pub fn endpoint(&self) -> Result<crate::client::Endpoint, String> {
        let tls = if self.tls {
            let name = self.server_name.as_deref().unwrap_or(&self.addr.host);
            Some(crate::client::TlsTarget::new(self.ca.as_deref(), name)?)
        } else {
            None
        };
        Ok(crate::client::Endpoint {
            addr: self.addr.addr,
            tls,
        })
    }
}

/// Framings a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClientFraming {
    /// HELLO, one DATA per message, CLOSE.
    Frame,
    /// One line per message.
    Line,
    /// One connection per message.
    Raw,
    /// A WebSocket on /ws: one text message per message, then a Close.
    Web,
}

/// An address: `IP:PORT`, or `HOST:PORT` resolved to its first address.
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
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

/// Seconds, fractional allowed, not negative.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    Duration::parse_secs(s).map_err(|e| format!("'{s}' {e}"))
}

/// A whole number of at least 1.
pub fn parse_positive(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("'{s}' is not a whole number")),
    }
}

/// `--socket-buffer`: 0 (the kernel's autotuning), or 4 KiB to 1 GiB.
fn parse_socket_buffer(s: &str) -> Result<usize, String> {
    const MIN: usize = 4096;
    const MAX: usize = 1 << 30;
    match s.trim().parse::<usize>() {
        Ok(0) => Ok(0),
        Ok(n) if (MIN..=MAX).contains(&n) => Ok(n),
        Ok(_) => Err(format!(
            "must be 0 (the kernel's autotuning) or {MIN} to {MAX} bytes"
        )),
        Err(_) => Err(format!("'{s}' is not a whole number of bytes")),
    }
}

fn parse_u32_at_least(s: &str, min: u32) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a whole number of bytes (0 to 4294967295)"))?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

/// `--max-payload`: at least 6, room for a HELLO.
pub fn parse_max_payload(s: &str) -> Result<u32, String> {
    parse_u32_at_least(s, 6).map_err(|e| format!("{e} (a HELLO payload is 6 bytes)"))
}

/// `--max-line`: at least 1.
pub fn parse_max_line(s: &str) -> Result<u32, String> {
    parse_u32_at_least(s, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use proptest::prelude::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_contract_s() {
        let cli = Cli::try_parse_from(["shout", "serve"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!("not serve")
        };
        let o = a.options().unwrap();
        assert_eq!(o.listen, "127.0.0.1:8002".parse().unwrap());
        assert_eq!(*o.config.get(), Config::default());
        assert_eq!(o.max_connections, 10_000);
        assert!(!o.udp);
        assert!(o.threads >= 1);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["serve", "--threads", "0"][..],
            &["serve", "--max-connections", "0"],
            &["serve", "--max-line", "0"],
            &["serve", "--max-payload", "5"],
            &["serve", "--idle-timeout", "-1"],
            &["serve", "--drain-timeout", "x"],
            &["serve", "--listen", "nowhere"],
            &["serve", "--framing", "json"],
            &["serve", "--bogus"],
            &["send"],
        ] {
            let err = Cli::try_parse_from(std::iter::once("shout").chain(args.iter().copied()))
                .expect_err(&format!("{args:?} must be refused"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn zero_idle_timeout_turns_it_off() {
        let cli = Cli::try_parse_from(["shout", "serve", "--idle-timeout", "0"]).unwrap();
        let Command::Serve(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.options().unwrap().config.idle_timeout, None);
    }

    proptest! {
        #[test]
        fn seconds_round_trip(ms in 0u64..10_000_000) {
            let s = format!("{}.{:03}", ms / 1000, ms % 1000);
            prop_assert_eq!(parse_secs(&s).unwrap(), Duration::from_millis(ms));
        }

        #[test]
        fn seconds_never_panic(s in ".*") {
            let _ = parse_secs(&s);
            let _ = parse_positive(&s);
            let _ = parse_max_payload(&s);
        }
    }
}

//! The figures of a run, as a table or as one JSON object.

use serde_json::json;

use crate::{Mode, Spec};

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; none when empty.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[i - 1])
}

/// The figures of a run.
pub struct Report {
    /// What was measured.
    pub mode: Mode,
    /// Over TLS.
    pub tls: bool,
    /// WebSocket runs (ws, hold --ws): `"text"` or `"binary"` messages.
    pub ws_message: Option<&'static str>,
    /// Connections (UDP: sockets).
    pub connections: usize,
    /// Requests in flight per connection.
    pub depth: usize,
    /// Payload bytes per request.
    pub payload: usize,
    /// The measured window (hold: the time to set everything up).
    pub seconds: f64,
    /// Responses checked in the window (hold: connections held;
    /// handshake: connections through their whole life).
    pub responses: u64,
    /// Bytes received and checked.
    pub bytes: u64,
    /// Median latency, microseconds (handshake: of a whole connection).
    pub p50_us: Option<u32>,
    /// 99th percentile latency, microseconds.
    pub p99_us: Option<u32>,
    /// 99.9th percentile latency, microseconds.
    pub p999_us: Option<u32>,
    /// Connections (or datagrams) that failed a check.
    pub errors: u64,
    /// What the first failure was.
    pub first_error: Option<String>,
    /// UDP: datagrams not answered within a second.
    pub lost: Option<u64>,
    /// Hold: the server's RSS after minus before, bytes.
    pub rss_growth: Option<i64>,
    /// Hold: that growth per held connection.
    pub rss_per_connection: Option<f64>,
    /// CPU time the server used during the measured window.
    pub server_cpu_ns: Option<u64>,
}

impl Report {
    /// A report with the percentiles of `latencies` (sorted here).
    pub(crate) fn new(
        spec: &Spec,
        seconds: f64,
        responses: u64,
        bytes: u64,
        latencies: &mut [u32],
        errors: u64,
        first_error: Option<String>,
    ) -> Report {
        latencies.sort_unstable();
        let pct = |p: f64| percentile(latencies, p);
        Report {
            mode: spec.mode,
            tls: spec.tls.is_some(),
            ws_message: (spec.mode == Mode::Ws || (spec.mode == Mode::Hold && spec.ws))
                .then_some(if spec.ws_binary { "binary" } else { "text" }),
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

    /// Responses per second.
    pub fn rate(&self) -> f64 {
        self.responses as f64 / self.seconds.max(1e-9)
    }

    /// Megabytes (10^6) received per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }

    /// The server's CPU nanoseconds per response.
    pub fn cpu_per_response(&self) -> Option<f64> {
        let ns = self.server_cpu_ns? as f64;
        (self.responses > 0).then(|| ns / self.responses as f64)
    }

    /// The server's CPU nanoseconds per byte received.
    pub fn cpu_per_byte(&self) -> Option<f64> {
        let ns = self.server_cpu_ns? as f64;
        (self.bytes > 0).then(|| ns / self.bytes as f64)
    }

    /// One JSON object (the fields `bench/summarize.py` reads).
    pub fn to_json(&self) -> serde_json::Value {
        let handshakes = self.mode == Mode::Handshake;
        json!({
            "mode": self.mode.name(),
            "tls": self.tls,
            "ws_message": self.ws_message,
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
            "handshakes": handshakes.then_some(self.responses),
            "handshakes_per_second": handshakes.then(|| self.rate()),
        })
    }

    /// A small table on stdout.
    pub fn print_table(&self) {
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        let mut label = self.mode.name().to_string();
        match (self.mode, self.ws_message) {
            (Mode::Hold, Some(_)) => label.push_str("-ws"),
            (_, Some("binary")) => label.push_str("-bin"),
            _ => {}
        }
        if self.tls && self.mode != Mode::Handshake {
            label.push_str("+tls");
        }
        // The mode column: 6 wide, wider for a longer label.
        let w = label.len().max(6);
        match self.mode {
            Mode::Raw => {
                println!(
                    "{:<w$} {:>6} {:>14} {:>9} {:>10} {:>7}",
                    "mode", "conns", "bytes", "seconds", "MB/s", "errors"
                );
                println!(
                    "{:<w$} {:>6} {:>14} {:>9.3} {:>10.1} {:>7}",
                    label,
                    self.connections,
                    self.bytes,
                    self.seconds,
                    self.mb_per_s(),
                    self.errors
                );
            }
            Mode::Hold => {
                println!(
                    "{:<w$} {:>7} {:>10} {:>18} {:>14} {:>7}",
                    "mode", "held", "setup s", "server RSS growth", "bytes/conn", "errors"
                );
                println!(
                    "{:<w$} {:>7} {:>10.2} {:>18} {:>14} {:>7}",
                    label,
                    self.responses,
                    self.seconds,
                    self.rss_growth.map_or("-".into(), |g| g.to_string()),
                    self.rss_per_connection
                        .map_or("-".into(), |g| format!("{g:.1}")),
                    self.errors
                );
            }
            Mode::Handshake => {
                println!(
                    "{:<w$} {:>6} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8} {:>7}",
                    "mode",
                    "conns",
                    "seconds",
                    "handshakes",
                    "hs/s",
                    "p50 us",
                    "p99 us",
                    "p999 us",
                    "errors"
                );
                println!(
                    "{:<w$} {:>6} {:>8.2} {:>11} {:>11.0} {:>8} {:>8} {:>8} {:>7}",
                    label,
                    self.connections,
                    self.seconds,
                    self.responses,
                    self.rate(),
                    opt(self.p50_us),
                    opt(self.p99_us),
                    opt(self.p999_us),
                    self.errors
                );
            }
            _ => {
                println!(
                    "{:<w$} {:>6} {:>6} {:>8} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8} {:>7}",
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
                    "{:<w$} {:>6} {:>6} {:>8} {:>8.2} {:>11} {:>11.0} {:>8} {:>8} {:>8} {:>7}",
                    label,
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
        if self.mode == Mode::Ws {
            println!("payload: {:.1} MB/s each way", self.mb_per_s());
        }
        if let Some(ns) = self.server_cpu_ns {
            let per = match self.mode {
                Mode::Raw => self.cpu_per_byte().map(|v| format!("{:.3} ns per byte", v)),
                Mode::Handshake => self
                    .cpu_per_response()
                    .map(|v| format!("{:.0} us per handshake", v / 1e3)),
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

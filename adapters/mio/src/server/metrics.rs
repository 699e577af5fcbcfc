//! `--metrics ADDR`: counters kept by each event loop, summed when scraped,
//! served over HTTP on a thread of their own.
//!
//! Each event loop owns one [`Counters`], a cache-line-aligned array of
//! atomics only that loop writes (a relaxed load and store, no locked
//! instruction, no line shared with another loop); the scrape thread reads
//! them all and adds them up. A slow or silent scraper only ever holds the
//! metrics thread.
//!
//! The exposition is written here rather than by a crate: `prometheus`'s
//! counters are atomics shared by every writer, which would put one
//! written cache line on every loop's request path, and
//! `prometheus-client` writes OpenMetrics only, which `promtool check
//! metrics` (2.42) rejects. The two formats are a page of code.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Framing};

/// Indexes of [`Counters`].
pub(crate) const ACCEPTED: usize = 0;
pub(crate) const REFUSED_MAX_CONNECTIONS: usize = 1;
pub(crate) const ACCEPT_ERRORS: usize = 2;
pub(crate) const UDP_DATAGRAMS: usize = 3;
pub(crate) const RECEIVED_BYTES: usize = 4;
pub(crate) const SENT_BYTES: usize = 5;
pub(crate) const PROXY_OK: usize = 6;
pub(crate) const PROXY_REFUSED: usize = 7;
pub(crate) const TLS_OK: usize = 8;
pub(crate) const TLS_FAILED: usize = 9;
const SESSIONS: usize = 10; // + framing: raw, line, frame, web
const CLOSES: usize = 14; // + close kind, see CLOSE_REASONS
const REQUESTS: usize = 21; // + line, frame, web
const ERRORS: usize = 24; // + code - 1
/// A gauge: bytes of the memory budget this loop's connections hold.
pub(crate) const BUFFERED: usize = 30;
const N: usize = 31;

const FRAMINGS: [&str; 4] = ["raw", "line", "frame", "web"];
const REQUEST_FRAMINGS: [&str; 3] = ["line", "frame", "web"];
/// The `reason` label values of `shout_session_closes_total`.
pub(crate) const CLOSE_REASONS: [&str; 7] = [
    "end",
    "protocol_error",
    "idle_timeout",
    "shutdown",
    "drain_timeout",
    "io_error",
    "proxy_refused",
];

/// How a connection ended, as `shout_session_closes_total` counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    End,
    ProtocolError,
    IdleTimeout,
    Shutdown,
    DrainTimeout,
    IoError,
    ProxyRefused,
}

impl Ended {
    /// The session's own reason; `error_sent`: whether it sent an ERROR
    /// (a frame cut off after its answer began just closes: the client
    /// ended it).
    pub(crate) fn of(reason: CloseReason, error_sent: bool) -> Ended {
        match reason {
            CloseReason::EndOfInput | CloseReason::PeerClosed | CloseReason::PeerError => {
                Ended::End
            }
            CloseReason::Truncated if !error_sent => Ended::End,
            // The page; any other status is an error answer.
            CloseReason::HttpResponse(200) => Ended::End,
            CloseReason::IdleTimeout => Ended::IdleTimeout,
            CloseReason::Shutdown => Ended::Shutdown,
            CloseReason::DrainTimeout => Ended::DrainTimeout,
            _ => Ended::ProtocolError,
        }
    }

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        CLOSE_REASONS[self as usize]
    }
}

/// One event loop's counters (see the module docs).
#[repr(align(128))]
pub(crate) struct Counters {
    v: [AtomicU64; N],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            v: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Counters {
    /// Adds `n` to counter `i`. Only the owning loop calls it.
    #[inline]
    pub(crate) fn add(&self, i: usize, n: u64) {
        let c = &self.v[i];
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// Sets gauge `i`.
    pub(crate) fn set(&self, i: usize, n: u64) {
        self.v[i].store(n, Ordering::Relaxed);
    }

    pub(crate) fn session_opened(&self, framing: Framing) {
        if let Some(i) = framing_index(framing) {
            self.add(SESSIONS + i, 1);
        }
    }

    pub(crate) fn ended(&self, how: Ended) {
        self.add(CLOSES + how as usize, 1);
    }

    /// `n` more requests of a session of this framing.
    pub(crate) fn requests(&self, framing: Framing, n: u64) {
        if let Some(i) = framing_index(framing).and_then(|i| i.checked_sub(1)) {
            self.add(REQUESTS + i, n);
        }
    }

    pub(crate) fn error_sent(&self, code: ErrorCode) {
        let i = (code as usize).clamp(1, 6) - 1;
        self.add(ERRORS + i, 1);
    }

    /// Counter `i` now.
    pub(crate) fn get(&self, i: usize) -> u64 {
        self.v[i].load(Ordering::Relaxed)
    }
}

fn framing_index(f: Framing) -> Option<usize> {
    match f {
        Framing::Raw => Some(0),
        Framing::Line => Some(1),
        Framing::Frame => Some(2),
        Framing::Web => Some(3),
        _ => None,
    }
}

/// What a scrape reads besides the loops' counters.
pub(crate) struct Sources {
    pub(crate) loops: Vec<Arc<Counters>>,
    pub(crate) connections: Arc<AtomicUsize>,
    pub(crate) draining: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) buffered_limit: usize,
}

/// Which exposition format a scrape asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// The Prometheus text format, version 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// One metric family being written.
struct Family<'a> {
    out: &'a mut String,
    format: Format,
}

impl Family<'_> {
    /// Writes HELP and TYPE. `name` is the sample name (counters end in
    /// `_total`; OpenMetrics names the family without it).
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let family = match (self.format, kind) {
            (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.out, "# HELP {family} {help}");
        let _ = writeln!(self.out, "# TYPE {family} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{v}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// The whole exposition, every series the contract lists.
pub(crate) fn render(src: &Sources, format: Format) -> String {
    let sum = |i: usize| -> u64 { src.loops.iter().map(|c| c.get(i)).sum() };
    let mut out = String::with_capacity(4096);
    let mut f = Family {
        out: &mut out,
        format,
    };
    let plain: [(&str, &str, &str, u64); 9] = [
        (
            "shout_connections_open",
            "gauge",
            "TCP connections open now.",
            src.connections.load(Ordering::Relaxed) as u64,
        ),
        (
            "shout_connections_accepted_total",
            "counter",
            "TCP connections admitted (a refused one counts only as refused).",
            sum(ACCEPTED),
        ),
        (
            "shout_received_bytes_total",
            "counter",
            "SHOUT/1 bytes received (TCP sessions, plaintext inside TLS, UDP payloads; no PROXY header).",
            sum(RECEIVED_BYTES),
        ),
        (
            "shout_sent_bytes_total",
            "counter",
            "SHOUT/1 bytes sent (TCP sessions, plaintext inside TLS, UDP payloads).",
            sum(SENT_BYTES),
        ),
        (
            "shout_udp_datagrams_total",
            "counter",
            "UDP datagrams answered.",
            sum(UDP_DATAGRAMS),
        ),
        (
            "shout_accept_errors_total",
            "counter",
            "Failed accepts (out of descriptors, most likely).",
            sum(ACCEPT_ERRORS),
        ),
        (
            "shout_buffered_bytes",
            "gauge",
            "Bytes of the memory budget held for connections now.",
            sum(BUFFERED),
        ),
        (
            "shout_buffered_bytes_limit",
            "gauge",
            "The memory budget (--max-buffered).",
            src.buffered_limit as u64,
        ),
        (
            "shout_draining",
            "gauge",
            "1 while a shutdown drains the connections, else 0.",
            u64::from(src.draining.load(Ordering::Relaxed)),
        ),
    ];
    for (name, kind, help, value) in plain {
        f.head(name, kind, help);
        f.sample(name, &[], value);
    }
    let name = "shout_connections_refused_total";
    f.head(name, "counter", "TCP connections refused, by reason.");
    f.sample(
        name,
        &[("reason", "max_connections")],
        sum(REFUSED_MAX_CONNECTIONS),
    );
    let name = "shout_sessions_total";
    f.head(name, "counter", "Sessions, by the framing they chose.");
    for (i, fr) in FRAMINGS.iter().enumerate() {
        f.sample(name, &[("framing", fr)], sum(SESSIONS + i));
    }
    let name = "shout_session_closes_total";
    f.head(name, "counter", "Connections ended, by how they ended.");
    for (i, r) in CLOSE_REASONS.iter().enumerate() {
        f.sample(name, &[("reason", r)], sum(CLOSES + i));
    }
    let name = "shout_requests_total";
    f.head(
        name,
        "counter",
        "Requests: lines, DATA and PING frames, WebSocket messages.",
    );
    for (i, fr) in REQUEST_FRAMINGS.iter().enumerate() {
        f.sample(name, &[("framing", fr)], sum(REQUESTS + i));
    }
    let name = "shout_protocol_errors_total";
    f.head(name, "counter", "ERROR frames sent, by code.");
    for code in 1..=6usize {
        let label = code.to_string();
        f.sample(name, &[("code", &label)], sum(ERRORS + code - 1));
    }
    let name = "shout_tls_handshakes_total";
    f.head(name, "counter", "TLS handshakes, by result.");
    f.sample(name, &[("result", "ok")], sum(TLS_OK));
    f.sample(name, &[("result", "failed")], sum(TLS_FAILED));
    let name = "shout_proxy_headers_total";
    f.head(name, "counter", "PROXY protocol headers, by result.");
    f.sample(name, &[("result", "ok")], sum(PROXY_OK));
    f.sample(name, &[("result", "refused")], sum(PROXY_REFUSED));
    process(&mut f);
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The standard process series, from /proc/self.
fn process(f: &mut Family<'_>) {
    let page = rustix::param::page_size() as u64;
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * page);
    let fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count());
    // Fields after the command name (which may hold spaces): utime is the
    // 14th field of the line, stime the 15th, starttime the 22nd.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> f64 {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let cpu = (field(14) + field(15)) / ticks;
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0);
    let start = boot + field(22) / ticks;
    f.head(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    f.sample("process_resident_memory_bytes", &[], rss);
    f.head(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
    );
    f.sample("process_open_fds", &[], fds);
    f.head(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    f.sample("process_cpu_seconds_total", &[], cpu);
    f.head(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    f.sample("process_start_time_seconds", &[], start);
}

/// The longest a scraper may take to send its whole request (one deadline,
/// however slowly the bytes trickle in), and to read the answer.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head accepted.
const MAX_REQUEST: usize = 8192;
/// Scrapes served at once; more wait in the listen queue.
const MAX_SCRAPERS: usize = 16;

/// Binds `addr` and serves scrapes on threads of their own.
pub(crate) fn start(addr: SocketAddr, src: Sources) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| io::Error::other(format!("cannot serve metrics on {addr}: {e}")))?;
    let bound = listener.local_addr()?;
    let src = Arc::new(src);
    let busy = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("shout-metrics".into())
        .spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if busy.load(Ordering::SeqCst) >= MAX_SCRAPERS {
                    continue; // dropped: the scraper retries
                }
                busy.fetch_add(1, Ordering::SeqCst);
                let (src, mine) = (src.clone(), busy.clone());
                let spawned = std::thread::Builder::new()
                    .name("shout-scrape".into())
                    .spawn(move || {
                        let _ = scrape(stream, &src);
                        mine.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    busy.fetch_sub(1, Ordering::SeqCst);
                }
            }
        })?;
    Ok(bound)
}

/// Serves one scrape connection: one request, one answer, close.
fn scrape(mut stream: TcpStream, src: &Sources) -> io::Result<()> {
    let deadline = std::time::Instant::now() + SCRAPE_TIMEOUT;
    stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let (status, format) = loop {
        if len == buf.len() {
            break ("400 Bad Request", None); // head too large
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(()); // too slow: just close
        }
        stream.set_read_timeout(Some(left))?;
        let n = match stream.read(&mut buf[len..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => return Err(e), // timed out or reset: just close
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Partial) => continue,
            Err(_) => break ("400 Bad Request", None),
            Ok(httparse::Status::Complete(_)) => {
                let path = req.path.unwrap_or("");
                let path = path.split('?').next().unwrap_or("");
                if req.method != Some("GET") && req.method != Some("HEAD") {
                    break ("405 Method Not Allowed", None);
                }
                if path != "/metrics" {
                    break ("404 Not Found", None);
                }
                let om = req.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("accept") && asks_for_openmetrics(h.value)
                });
                let format = if om {
                    Format::OpenMetrics
                } else {
                    Format::Text
                };
                break ("200 OK", Some((format, req.method == Some("HEAD"))));
            }
        }
    };
    let (body, content_type, head_only) = match format {
        Some((f, head)) => (render(src, f), f.content_type(), head),
        None => (format!("{status}\n"), "text/plain; charset=utf-8", false),
    };
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut answer = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        answer.push_str(&body);
    }
    stream.write_all(answer.as_bytes())?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

/// Whether an Accept header value names OpenMetrics with a quality above
/// zero.
fn asks_for_openmetrics(value: &[u8]) -> bool {
    String::from_utf8_lossy(value).split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        parts.next() == Some("application/openmetrics-text")
            && parts.all(|p| {
                p.strip_prefix("q=")
                    .is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0))
            })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn accept_names_openmetrics_only_with_a_positive_quality() {
        assert!(super::asks_for_openmetrics(
            b"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;q=0.1"
        ));
        assert!(!super::asks_for_openmetrics(
            b"application/openmetrics-text;q=0, text/plain"
        ));
        assert!(!super::asks_for_openmetrics(b"text/plain"));
    }

    use super::*;

    fn sources() -> Sources {
        let c = Arc::new(Counters::default());
        c.add(ACCEPTED, 3);
        c.session_opened(Framing::Line);
        c.requests(Framing::Line, 5);
        c.error_sent(ErrorCode::Busy);
        c.ended(Ended::IdleTimeout);
        let d = Arc::new(Counters::default());
        d.add(ACCEPTED, 2);
        Sources {
            loops: vec![c, d],
            connections: Arc::new(AtomicUsize::new(1)),
            draining: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            buffered_limit: 1000,
        }
    }

    #[test]
    fn loops_are_summed_and_every_label_exists_from_the_start() {
        let text = render(&sources(), Format::Text);
        for line in [
            "shout_connections_accepted_total 5",
            "shout_sessions_total{framing=\"line\"} 1",
            "shout_sessions_total{framing=\"web\"} 0",
            "shout_requests_total{framing=\"line\"} 5",
            "shout_protocol_errors_total{code=\"6\"} 1",
            "shout_protocol_errors_total{code=\"1\"} 0",
            "shout_session_closes_total{reason=\"idle_timeout\"} 1",
            "shout_session_closes_total{reason=\"proxy_refused\"} 0",
            "shout_connections_open 1",
            "shout_buffered_bytes_limit 1000",
            "# TYPE shout_connections_accepted_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_ends_with_eof() {
        let om = render(&sources(), Format::OpenMetrics);
        assert!(om.contains("# TYPE shout_connections_accepted counter\n"));
        assert!(om.contains("\nshout_connections_accepted_total 5\n"));
        assert!(om.ends_with("# EOF\n"));
    }
}

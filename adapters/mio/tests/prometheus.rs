//! `--metrics ADDR` against the real Prometheus tools: `promtool check
//! metrics` validates the exposition, and a Prometheus server scrapes it
//! and answers queries over what it scraped. The HTTP endpoint itself is
//! held to its limits: 404 for another path, 400 for a malformed or
//! oversized request head, a silent scraper closed after the scrape
//! timeout while other scrapes are served meanwhile.
//!
//! Both tools come from Debian's `prometheus` package (2.42), which
//! `.ci/run` installs when it is missing; without it these tests fail,
//! never skip.

mod common;

use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

const PROMTOOL: &str = "/usr/bin/promtool";
const PROMETHEUS: &str = "/usr/bin/prometheus";
/// The longest the Prometheus server gets to start, scrape and show a
/// value in a query.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(30);
/// The server's scrape timeout (`SCRAPE_TIMEOUT` in the metrics module).
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head the metrics endpoint accepts.
const MAX_REQUEST: usize = 8192;

/// `path`, asserting the tool is installed.
fn tool(path: &'static str) -> &'static str {
    assert!(
        Path::new(path).is_file(),
        "{path} is missing: .ci/run installs Debian's prometheus package (apt-get install prometheus)"
    );
    path
}

// ---- HTTP, by hand ------------------------------------------------------

/// Reads until the peer closes. A reset after some bytes arrived ends the
/// answer too (a server closing with unread input resets); a reset
/// before any byte, or a timeout, is an error.
fn read_to_close(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !out.is_empty() => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// Sends `request` as it is and reads the whole answer.
fn raw_http(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    read_to_close(&mut s).expect("an answer, then close")
}

/// One HTTP answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// The status line and the header lines.
    head: String,
    body: String,
}

impl Answer {
    /// Splits `bytes` into status, head and body; with a Content-Length,
    /// checks the body has exactly that length.
    fn parse(bytes: &[u8]) -> Answer {
        let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 answer");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {text:?}"));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        let answer = Answer {
            status,
            head: head.to_string(),
            body: body.to_string(),
        };
        if let Some(len) = answer.header("content-length") {
            assert_eq!(
                len.parse::<usize>().unwrap(),
                answer.body.len(),
                "Content-Length and body disagree: {answer:?}"
            );
        }
        answer
    }

    /// The value of header `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// `GET path` over HTTP/1.1 with the `extra` header lines (each ending in
/// CRLF), `Connection: close`.
fn get(addr: SocketAddr, path: &str, extra: &str) -> Answer {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
    Answer::parse(&raw_http(addr, request.as_bytes()))
}

/// A scrape of `/metrics` in the text format, asserting 200.
fn scrape(addr: SocketAddr) -> String {
    let a = get(addr, "/metrics", "Accept: text/plain\r\n");
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

/// The value of the series written exactly `series` (name and labels as
/// the exposition writes them) in a text exposition.
fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        let (name, v) = l.rsplit_once(' ')?;
        (name == series).then(|| v.parse().ok())?
    })
}

/// Scrapes until every `(series, value)` holds (bounded), and gives that
/// exposition.
fn scrape_until(addr: SocketAddr, want: &[(&str, f64)]) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let text = scrape(addr);
        if want.iter().all(|(s, v)| value(&text, s) == Some(*v)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "the metrics never showed {want:?}:\n{text}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// `common::run_bounded`, its stdout as text.
fn run_bounded(cmd: Command, stdin: &[u8]) -> (ExitStatus, String, String) {
    let (status, out, err) = common::run_bounded(cmd, stdin);
    (status, String::from_utf8_lossy(&out).into_owned(), err)
}

/// A little of every kind of traffic: a raw exchange, a frame session and
/// a UDP datagram. Gives the bytes (received, sent) the server should
/// count.
fn traffic(server: &Serve) -> (usize, usize) {
    let raw = exchange(server.addr, b"hello");
    assert_eq!(raw, b"HELLO");
    let mut input = HELLO.to_vec();
    input.extend_from_slice(&frame(1, b"hi"));
    input.extend_from_slice(&frame(4, b""));
    let framed = exchange(server.addr, &input);
    let frames = parse_frames(&framed);
    assert_eq!(frames[1], (1, b"HI".to_vec()), "{frames:?}");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(WAIT)).unwrap();
    udp.send_to(b"udp", server.udp.unwrap()).unwrap();
    let mut buf = [0u8; 64];
    let n = udp.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"UDP");
    (5 + input.len() + 3, raw.len() + framed.len() + n)
}

// ---- promtool and the endpoint ----------------------------------------

/// The scrape configuration `deploy/` offers is one promtool accepts.
#[test]
fn the_deploy_scrape_config_is_valid() {
    let promtool = tool(PROMTOOL);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/prometheus.yml");
    let mut cmd = Command::new(promtool);
    cmd.args(["check", "config", config]);
    let (status, out, err) = run_bounded(cmd, b"");
    assert!(status.success(), "promtool check config: {out}{err}");
}

#[test]
fn promtool_check_metrics_accepts_the_exposition_and_the_values_add_up() {
    let promtool = tool(PROMTOOL);
    let server = Serve::start(&["--metrics", "127.0.0.1:0", "--udp"]);
    let metrics = server.metrics_addr();
    let before = scrape(metrics);
    let (received, sent) = traffic(&server);
    let text = scrape_until(
        metrics,
        &[
            ("shout_connections_accepted_total", 2.0),
            ("shout_session_closes_total{reason=\"end\"}", 2.0),
            ("shout_connections_open", 0.0),
            ("shout_udp_datagrams_total", 1.0),
        ],
    );
    for exposition in [&before, &text] {
        let mut cmd = Command::new(promtool);
        cmd.args(["check", "metrics"]);
        let (status, out, err) = run_bounded(cmd, exposition.as_bytes());
        assert!(
            status.success() && out.trim().is_empty() && err.trim().is_empty(),
            "promtool check metrics: {status}\nstdout: {out}\nstderr: {err}\non:\n{exposition}"
        );
    }
    for (series, want) in [
        ("shout_sessions_total{framing=\"raw\"}", 1.0),
        ("shout_sessions_total{framing=\"frame\"}", 1.0),
        ("shout_sessions_total{framing=\"line\"}", 0.0),
        ("shout_sessions_total{framing=\"web\"}", 0.0),
        ("shout_requests_total{framing=\"frame\"}", 1.0),
        ("shout_requests_total{framing=\"line\"}", 0.0),
        ("shout_received_bytes_total", received as f64),
        ("shout_sent_bytes_total", sent as f64),
        ("shout_protocol_errors_total{code=\"1\"}", 0.0),
        (
            "shout_connections_refused_total{reason=\"max_connections\"}",
            0.0,
        ),
        ("shout_draining", 0.0),
        ("shout_buffered_bytes", 0.0),
    ] {
        assert_eq!(value(&text, series), Some(want), "{series} in\n{text}");
    }
    // The process series are this process's, and plausible.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start = value(&text, "process_start_time_seconds").unwrap();
    assert!(
        (now - start).abs() < 600.0,
        "process_start_time_seconds {start} is far from now ({now})"
    );
    let rss = value(&text, "process_resident_memory_bytes").unwrap();
    assert!(rss > 1e6, "process_resident_memory_bytes {rss}");
    let fds = value(&text, "process_open_fds").unwrap();
    assert!(fds >= 3.0, "process_open_fds {fds}");
    assert!(value(&text, "process_cpu_seconds_total").unwrap() >= 0.0);
}

/// The metric families a text or OpenMetrics exposition declares, with
/// their types.
fn families(exposition: &str) -> BTreeSet<(String, String)> {
    exposition
        .lines()
        .filter_map(|l| {
            let mut w = l.strip_prefix("# TYPE ")?.split(' ');
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

#[test]
fn openmetrics_when_accept_asks_for_it() {
    let server = Serve::start(&["--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let text = get(metrics, "/metrics", "");
    assert_eq!(text.status, 200, "{text:?}");
    let content_type = text.header("content-type").unwrap();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "{content_type}"
    );
    assert!(!text.body.contains("# EOF"));
    let om = get(
        metrics,
        "/metrics",
        "Accept: application/openmetrics-text; version=1.0.0\r\n",
    );
    assert_eq!(om.status, 200, "{om:?}");
    let content_type = om.header("content-type").unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(
        om.body.trim_end_matches('\n').ends_with("# EOF"),
        "{}",
        om.body
    );
    assert_eq!(om.body.matches("# EOF").count(), 1);
    // Counter families are named without `_total`, their samples with it;
    // otherwise the same families as the text format.
    let text_families = families(&text.body);
    let om_families = families(&om.body);
    assert_eq!(text_families.len(), om_families.len());
    for (name, kind) in &om_families {
        if kind == "counter" {
            assert!(!name.ends_with("_total"), "# TYPE {name} counter");
            assert!(
                text_families.contains(&(format!("{name}_total"), kind.clone())),
                "{name}"
            );
            assert!(
                om.body
                    .lines()
                    .any(|l| l.starts_with(&format!("{name}_total"))),
                "no {name}_total sample"
            );
            assert!(om.body.contains(&format!("# HELP {name} ")), "{name}");
        } else {
            assert!(
                text_families.contains(&(name.clone(), kind.clone())),
                "{name}"
            );
        }
    }
    assert!(om_families.contains(&("shout_requests".into(), "counter".into())));
    // The samples are the same (values aside: the process series move).
    let samples = |body: &str| -> Vec<String> {
        body.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect()
    };
    assert_eq!(samples(&text.body), samples(&om.body));
}

#[test]
fn another_path_is_404_and_a_malformed_or_oversized_head_is_400() {
    let server = Serve::start(&["--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    for path in ["/", "/metric", "/metrics/x", "/favicon.ico"] {
        let a = get(metrics, path, "");
        assert_eq!(a.status, 404, "{path}: {a:?}");
        assert!(a.head.starts_with("HTTP/1.1 404 "), "{path}: {a:?}");
    }
    let status_line = |bytes: &[u8]| -> String {
        let text = String::from_utf8_lossy(bytes);
        text.split("\r\n").next().unwrap_or("").to_string()
    };
    for request in [
        &b"BLAH\r\n\r\n"[..],
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
    ] {
        let got = raw_http(metrics, request);
        assert!(
            status_line(&got).starts_with("HTTP/1.1 400 "),
            "{request:?}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    // A head with no end: at the limit the server answers without waiting
    // for more...
    let mut head = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
    head.resize(MAX_REQUEST, b'a');
    let got = raw_http(metrics, &head);
    assert!(
        status_line(&got).starts_with("HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    // ...and past it (the server stops reading, so the rest may reset the
    // connection, but after the answer).
    let mut s = connect(metrics);
    let mut writer = s.try_clone().unwrap();
    let mut big = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
    big.resize(4 * MAX_REQUEST, b'a');
    let feeder = thread::spawn(move || {
        let _ = writer.write_all(&big); // may fail once the server closes
    });
    let got = read_to_close(&mut s).expect("a 400, then close");
    assert!(
        status_line(&got).starts_with("HTTP/1.1 400 "),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    feeder.join().unwrap();
    // Still serving.
    assert!(scrape(metrics).contains("shout_connections_open 0"));
}

#[test]
fn a_silent_scraper_is_closed_after_the_timeout_and_holds_up_no_other() {
    let server = Serve::start(&["--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let t0 = Instant::now();
    let mut silent = connect(metrics);
    let mut partial = connect(metrics);
    partial.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    thread::sleep(Duration::from_millis(200));
    // Scrapes made meanwhile are answered at once.
    for _ in 0..3 {
        let t = Instant::now();
        let text = scrape(metrics);
        assert!(text.contains("# TYPE shout_requests_total counter"));
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a scrape took {:?} while another scraper was silent",
            t.elapsed()
        );
    }
    for (what, s) in [("silent", &mut silent), ("partial", &mut partial)] {
        s.set_read_timeout(Some(SCRAPE_TIMEOUT + Duration::from_secs(3)))
            .unwrap();
        let mut b = [0u8; 256];
        let closed = match s.read(&mut b) {
            Ok(0) => true,
            Ok(n) => panic!(
                "{what}: the server sent {:?} to a scraper that sent no request",
                String::from_utf8_lossy(&b[..n])
            ),
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        };
        let at = t0.elapsed();
        assert!(closed, "{what}: not closed after {at:?}");
        assert!(
            at >= SCRAPE_TIMEOUT - Duration::from_millis(500)
                && at <= SCRAPE_TIMEOUT + Duration::from_millis(1500),
            "{what}: closed after {at:?}, the scrape timeout is {SCRAPE_TIMEOUT:?}"
        );
    }
    assert!(scrape(metrics).contains("shout_connections_open 0"));
}

// ---- a Prometheus server ----------------------------------------------

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Percent-encodes everything but the unreserved characters of a URL.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET path` over HTTP/1.0 (so that the answer is never chunked and the
/// server closes after it), without panicking on a refused connection.
fn try_get_http10(addr: SocketAddr, path: &str) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(WAIT))?;
    s.set_write_timeout(Some(WAIT))?;
    // No half-close: Go's server takes it for a client gone away and
    // cancels the request.
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    Ok(Answer::parse(&read_to_close(&mut s)?))
}

/// The tail of a log, for a failure's message.
fn tail(log: &str) -> &str {
    let mut at = log.len().saturating_sub(4000);
    while !log.is_char_boundary(at) {
        at += 1;
    }
    &log[at..]
}

/// A Prometheus server scraping one target every second, all it writes
/// inside a temporary directory of its own; killed on drop.
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    /// Dropped (removed) after the process is killed.
    dir: TempDir,
}

impl Prometheus {
    /// Starts it with the one job `shout` scraping `target`, and waits
    /// (bounded) until it is ready.
    fn start(target: SocketAddr) -> Prometheus {
        let bin = tool(PROMETHEUS);
        let dir = TempDir::new("prometheus");
        std::fs::write(
            dir.0.join("prometheus.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: shout\n    static_configs:\n      \
                 - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        // The port is found free and released, so another process may
        // take it first: a failed bind is retried on another.
        let mut log = String::new();
        for _ in 0..3 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut child = Prometheus::spawn(bin, &dir.0, addr);
            match Prometheus::wait_ready(&mut child, addr, &dir.0) {
                Ok(()) => return Prometheus { child, addr, dir },
                Err(why) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    log = why;
                    if !log.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("prometheus did not start:\n{}", tail(&log));
    }

    /// `prometheus` with every path it writes (or reads) inside `dir`.
    fn spawn(bin: &str, dir: &Path, addr: SocketAddr) -> Child {
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let inside = |name: &str| dir.join(name).display().to_string();
        Command::new(bin)
            .arg(format!("--config.file={}", inside("prometheus.yml")))
            .arg(format!("--storage.tsdb.path={}", inside("data")))
            .arg("--storage.tsdb.retention.time=1h")
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--web.console.templates={}", inside("consoles")))
            .arg(format!(
                "--web.console.libraries={}",
                inside("console_libraries")
            ))
            .current_dir(dir)
            .env("HOME", dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {bin}: {e}"))
    }

    /// Waits until `/-/ready` answers 200; on an exit or the deadline,
    /// gives the log.
    fn wait_ready(child: &mut Child, addr: SocketAddr, dir: &Path) -> Result<(), String> {
        let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
        let deadline = Instant::now() + PROMETHEUS_WAIT;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Err(format!("{}\nprometheus exited: {status}", log()));
            }
            if let Ok(a) = try_get_http10(addr, "/-/ready") {
                if a.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{}\nprometheus not ready in {PROMETHEUS_WAIT:?}",
                    log()
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("prometheus.log")).unwrap_or_default()
    }

    /// `GET /api/v1/PATH`; gives the `data` of a success.
    fn api(&self, path: &str) -> serde_json::Value {
        let a = try_get_http10(self.addr, &format!("/api/v1/{path}"))
            .unwrap_or_else(|e| panic!("/api/v1/{path}: {e}\n{}", tail(&self.log())));
        let mut v: serde_json::Value = serde_json::from_str(&a.body)
            .unwrap_or_else(|e| panic!("/api/v1/{path}: {e} in {a:?}"));
        assert_eq!(v["status"], "success", "/api/v1/{path}: {a:?}");
        v["data"].take()
    }

    /// The instant query `expr` now: each series' labels and value.
    fn query(&self, expr: &str) -> Vec<(serde_json::Value, String)> {
        let data = self.api(&format!("query?query={}", percent_encode(expr)));
        assert_eq!(data["resultType"], "vector", "{expr}: {data}");
        data["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let value = r["value"][1].as_str().unwrap().to_string();
                (r["metric"].clone(), value)
            })
            .collect()
    }

    /// Polls until `expr` gives one series, of value `want` (bounded).
    fn wait_for(&self, expr: &str, want: &str) {
        let deadline = Instant::now() + PROMETHEUS_WAIT;
        loop {
            let got = self.query(expr);
            if got.len() == 1 && got[0].1 == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{expr} never was {want} in {PROMETHEUS_WAIT:?}; last {got:?}\n\
                 targets: {}\nlog:\n{}",
                self.api("targets"),
                tail(&self.log())
            );
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_prometheus_server_scrapes_it_and_sees_the_requests() {
    let server = Serve::start(&["--framing", "line", "--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let prom = Prometheus::start(metrics);
    prom.wait_for("up{job=\"shout\"}", "1");
    // Every series exists from the start, at 0.
    prom.wait_for("shout_requests_total{job=\"shout\",framing=\"line\"}", "0");
    prom.wait_for("shout_sessions_total{job=\"shout\",framing=\"web\"}", "0");
    // The target is healthy, and every sample of the exposition was
    // ingested.
    let targets = prom.api("targets?state=active");
    let active = targets["activeTargets"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{targets}");
    assert_eq!(active[0]["labels"]["job"], "shout", "{targets}");
    assert_eq!(active[0]["health"], "up", "{targets}");
    assert_eq!(active[0]["lastError"], "", "{targets}");
    let samples = scrape(metrics)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    prom.wait_for(
        "scrape_samples_scraped{job=\"shout\"}",
        &samples.to_string(),
    );

    // The workload: 5 line-mode connections at once, 3 lines each.
    let clients: Vec<_> = (0..5)
        .map(|i| {
            let addr = server.addr;
            thread::spawn(move || {
                let input = format!("one {i}\ntwo {i}\nthree {i}\n");
                let got = exchange(addr, input.as_bytes());
                assert_eq!(got, upper(input.as_bytes()));
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    prom.wait_for("shout_requests_total{job=\"shout\",framing=\"line\"}", "15");
    prom.wait_for("shout_sessions_total{framing=\"line\"}", "5");
    prom.wait_for("shout_session_closes_total{reason=\"end\"}", "5");
    prom.wait_for("shout_connections_accepted_total", "5");
    prom.wait_for("shout_connections_open", "0");
    prom.wait_for("sum(shout_protocol_errors_total)", "0");
    prom.wait_for("count(shout_protocol_errors_total)", "6");
    prom.wait_for("count(shout_session_closes_total)", "7");
    prom.wait_for("up{job=\"shout\"}", "1");
}

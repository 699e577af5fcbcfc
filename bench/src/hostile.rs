//! The hostile soak: do good clients still get every answer, and fast,
//! while thousands of connections misbehave?
//!
//! Three threads and one timeline:
//!
//! 1. The good clients (one `mio` thread, the frame request/response
//!    machinery of [`crate::load`], every byte checked by
//!    [`crate::verify`]) connect, get the server's HELLO, and run alone for
//!    the baseline.
//! 2. The hostile thread (one `mio` thread for every hostile socket) then
//!    opens the mix of [`Mix`] and keeps it misbehaving, while the same
//!    good clients run on for the soak's duration.
//! 3. At the end both stop; once every socket is closed the server is left
//!    to settle and its memory is read once more.
//!
//! The calling thread keeps time, samples the server's RSS every 100 ms
//! (with a server pid) and prints a progress line on stderr once a second.
//! Everything is bounded: the whole soak ends by itself after the
//! baseline, the duration, the settle time and a few seconds of grace.
//!
//! The frames sent (the HELLO, the stalled DATA header, the partial header
//! of the half-open connections) are built with [`shout_core::wire`]; the
//! server's frames are read back with its [`HeaderReader`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;
use shout_core::wire::{
    ClientHello, Header, HeaderReader, Kind, ServerHello, SERVER_HELLO_PAYLOAD,
};
use shout_core::TransformKind;

use crate::load::{self, Conn, Stage};
use crate::report::percentile;
use crate::{sys, Mode, Spec};

/// How long the good clients may take to connect and get their HELLOs.
const SETUP_LIMIT: Duration = Duration::from_secs(30);
/// How often the server's RSS is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// A reset-storm loop's pause between one reset and its next connect.
const RESET_PAUSE: Duration = Duration::from_millis(100);
/// A slowloris connection's pause between two bytes.
const SLOWLORIS_EVERY: Duration = Duration::from_secs(1);
/// Receive and send buffer sizes asked for on a never-read socket, so that
/// hundreds of them do not tie up gigabytes of the kernel's memory (the
/// server's side of each still fills up).
const NEVER_READ_RCVBUF: usize = 16 * 1024;
const NEVER_READ_SNDBUF: usize = 64 * 1024;
/// The most the hostile thread waits in one poll.
const HOSTILE_TICK: Duration = Duration::from_millis(20);

/// How many hostile connections of each kind a soak opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// Connect and never send.
    pub idle: usize,
    /// Send one byte of a line (never its LF) about once a second.
    pub slowloris: usize,
    /// Send random bytes at once, then read until closed: half start with
    /// 0x00 (the server decides on frame and must answer ERROR), half are
    /// printable text (raw).
    pub garbage: usize,
    /// HELLO, a DATA header announcing --stall-bytes, half its payload,
    /// then nothing (store-and-forward under `--transform unicode`).
    pub stalled: usize,
    /// Send raw ascii continuously and never read the answers.
    pub never_read: usize,
    /// Loops that connect, send a few bytes and close with a reset
    /// (SO_LINGER 0), again and again.
    pub reset_storm: usize,
    /// Send part of a frame header, shut down the sending side, never read.
    pub half_open: usize,
}

impl Mix {
    /// The default mix: 10,000 connections.
    pub const DEFAULT: Mix = Mix {
        idle: 6000,
        slowloris: 1000,
        garbage: 1000,
        stalled: 200,
        never_read: 500,
        reset_storm: 100,
        half_open: 1200,
    };

    /// The default mix scaled to `total` connections (rounded down, the
    /// rest idle).
    pub fn scaled(total: usize) -> Mix {
        let d = Mix::DEFAULT;
        let of = |n: usize| n * total / d.total();
        let mut m = Mix {
            idle: 0,
            slowloris: of(d.slowloris),
            garbage: of(d.garbage),
            stalled: of(d.stalled),
            never_read: of(d.never_read),
            reset_storm: of(d.reset_storm),
            half_open: of(d.half_open),
        };
        m.idle = total - m.total();
        m
    }

    /// Connections in the mix.
    pub fn total(&self) -> usize {
        self.idle
            + self.slowloris
            + self.garbage
            + self.stalled
            + self.never_read
            + self.reset_storm
            + self.half_open
    }

    /// Sockets of each group.
    fn per_group(&self) -> [(Group, usize); GROUPS.len()] {
        let frame = self.garbage.div_ceil(2);
        [
            (Group::Idle, self.idle),
            (Group::Slowloris, self.slowloris),
            (Group::GarbageFrame, frame),
            (Group::GarbageText, self.garbage - frame),
            (Group::Stalled, self.stalled),
            (Group::NeverRead, self.never_read),
            (Group::ResetStorm, self.reset_storm),
            (Group::HalfOpen, self.half_open),
        ]
    }
}

/// One hostile soak, fully specified.
#[derive(Clone, Debug)]
pub struct Soak {
    /// The good clients: address, connections, depth, payload, the
    /// duration under load, what answers must be, the server's pid.
    pub good: Spec,
    /// How long the good clients run alone first.
    pub baseline: Duration,
    /// How long after every socket is closed the server's RSS is read.
    pub settle: Duration,
    /// The hostile connections.
    pub mix: Mix,
    /// The payload a stalled connection's DATA header announces.
    pub stall_bytes: u32,
}

/// The good clients' figures in one phase.
#[derive(Clone, Debug, Default)]
pub struct Phase {
    /// How long the phase lasted.
    pub seconds: f64,
    /// Responses checked in it.
    pub responses: u64,
    /// Median latency, microseconds.
    pub p50_us: Option<u32>,
    /// 99th percentile latency, microseconds.
    pub p99_us: Option<u32>,
    /// 99.9th percentile latency, microseconds.
    pub p999_us: Option<u32>,
    /// CPU time the server used in it.
    pub server_cpu_ns: Option<u64>,
}

impl Phase {
    fn new(seconds: f64, responses: u64, latencies: &mut [u32], cpu: Option<u64>) -> Phase {
        latencies.sort_unstable();
        Phase {
            seconds,
            responses,
            p50_us: percentile(latencies, 0.50),
            p99_us: percentile(latencies, 0.99),
            p999_us: percentile(latencies, 0.999),
            server_cpu_ns: cpu,
        }
    }

    /// Responses per second.
    pub fn rate(&self) -> f64 {
        self.responses as f64 / self.seconds.max(1e-9)
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "seconds": self.seconds,
            "responses": self.responses,
            "requests_per_second": self.rate(),
            "latency_us": {"p50": self.p50_us, "p99": self.p99_us, "p999": self.p999_us},
            "server_cpu_seconds": self.server_cpu_ns.map(|n| n as f64 / 1e9),
        })
    }
}

/// How one hostile group's connections ended.
#[derive(Clone, Debug, Default)]
pub struct GroupReport {
    /// The group's name.
    pub name: &'static str,
    /// Its sockets (reset storm: loops, each connecting again and again).
    pub sockets: usize,
    /// Connections established (reset storm: every round).
    pub connected: u64,
    /// Connects that failed.
    pub connect_failed: u64,
    /// Connects still under way (or not yet begun) when the soak ended.
    pub still_connecting: u64,
    /// Closed by the server (end of stream) without an ERROR frame.
    pub closed: u64,
    /// Closed by the server after an ERROR frame, by code.
    pub closed_error: BTreeMap<u16, u64>,
    /// Reset (or broken) by the server.
    pub reset: u64,
    /// Still open when the soak ended.
    pub open_at_end: u64,
    /// Reset storm: connections we reset ourselves.
    pub reset_by_us: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received (groups that read).
    pub bytes_received: u64,
    /// Why the first failed connect failed.
    pub first_connect_error: Option<String>,
}

impl GroupReport {
    fn to_json(&self) -> serde_json::Value {
        let codes: serde_json::Map<String, serde_json::Value> = self
            .closed_error
            .iter()
            .map(|(code, n)| (code.to_string(), json!(n)))
            .collect();
        json!({
            "sockets": self.sockets,
            "connected": self.connected,
            "connect_failed": self.connect_failed,
            "still_connecting": self.still_connecting,
            "closed_by_server": self.closed,
            "closed_by_server_after_error": codes,
            "reset_by_server": self.reset,
            "open_at_end": self.open_at_end,
            "reset_by_us": self.reset_by_us,
            "bytes_sent": self.bytes_sent,
            "bytes_received": self.bytes_received,
            "first_connect_error": self.first_connect_error,
        })
    }
}

/// The server's resident memory over the soak, bytes.
#[derive(Clone, Debug, Default)]
pub struct Rss {
    /// Before anything connected.
    pub idle_before: u64,
    /// At the end of the baseline, the good clients connected.
    pub before_hostile: Option<u64>,
    /// The most any sample showed.
    pub peak: u64,
    /// After every socket was closed and the server left to settle.
    pub after_settle: Option<u64>,
    /// Samples taken.
    pub samples: u64,
}

/// The figures of a hostile soak.
#[derive(Clone, Debug)]
pub struct SoakReport {
    /// The server.
    pub addr: SocketAddr,
    /// Good connections.
    pub connections: usize,
    /// Requests in flight per good connection.
    pub depth: usize,
    /// DATA payload bytes per request.
    pub payload: usize,
    /// The good clients alone.
    pub baseline: Phase,
    /// The good clients beside the hostile mix.
    pub loaded: Phase,
    /// Good connections that failed (a wrong byte, an ERROR, a close, or
    /// requests still unanswered 5 s after the end).
    pub errors: u64,
    /// What the first failure was.
    pub first_error: Option<String>,
    /// Requests still unanswered at the end.
    pub unanswered: u64,
    /// Hostile connections asked for.
    pub hostile: usize,
    /// How long until every hostile socket had connected (or failed) once.
    pub hostile_ramp_seconds: Option<f64>,
    /// The most hostile connections open at once.
    pub hostile_peak_open: usize,
    /// The stalled connections' announced DATA payload.
    pub stall_bytes: u32,
    /// How each group's connections ended.
    pub groups: Vec<GroupReport>,
    /// The transform the server named in its HELLO to a stalled
    /// connection.
    pub server_transform: Option<TransformKind>,
    /// The server's memory (with a pid).
    pub rss: Option<Rss>,
    /// The settle time before the last RSS reading.
    pub settle_seconds: f64,
}

impl SoakReport {
    /// Under load over alone: requests/s, p50, p99, p999.
    fn ratios(&self) -> [Option<f64>; 4] {
        let r = |a: Option<u32>, b: Option<u32>| {
            a.zip(b)
                .filter(|(_, b)| *b > 0)
                .map(|(a, b)| a as f64 / b as f64)
        };
        let (b, l) = (&self.baseline, &self.loaded);
        [
            (b.responses > 0).then(|| l.rate() / b.rate()),
            r(l.p50_us, b.p50_us),
            r(l.p99_us, b.p99_us),
            r(l.p999_us, b.p999_us),
        ]
    }

    /// One JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        let [rate, p50, p99, p999] = self.ratios();
        let groups: serde_json::Map<String, serde_json::Value> = self
            .groups
            .iter()
            .map(|g| (g.name.to_string(), g.to_json()))
            .collect();
        json!({
            "mode": Mode::Hostile.name(),
            "addr": self.addr.to_string(),
            "connections": self.connections,
            "depth": self.depth,
            "payload": self.payload,
            "baseline": self.baseline.to_json(),
            "loaded": self.loaded.to_json(),
            "loaded_over_baseline": {
                "requests_per_second": rate, "p50": p50, "p99": p99, "p999": p999,
            },
            "errors": self.errors,
            "first_error": self.first_error,
            "unanswered": self.unanswered,
            "hostile": {
                "connections": self.hostile,
                "ramp_seconds": self.hostile_ramp_seconds,
                "peak_open": self.hostile_peak_open,
                "stall_bytes": self.stall_bytes,
                "groups": groups,
            },
            "server_transform": self.server_transform.map(|t| t.name()),
            "server_rss_bytes": self.rss.as_ref().map(|r| json!({
                "idle_before": r.idle_before,
                "before_hostile": r.before_hostile,
                "peak": r.peak,
                "after_settle": r.after_settle,
                "samples": r.samples,
            })),
            "settle_seconds": self.settle_seconds,
        })
    }

    /// Tables on stdout.
    pub fn print_table(&self) {
        let opt = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        let ratio = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        let cpu = |v: Option<u64>| v.map_or("-".to_string(), |n| format!("{:.3}", n as f64 / 1e9));
        println!(
            "hostile soak of {}: {} good connections x {} in flight, {}-byte DATA; {} hostile",
            self.addr, self.connections, self.depth, self.payload, self.hostile
        );
        println!(
            "{:<12} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8} {:>10}",
            "good", "seconds", "responses", "req/s", "p50 us", "p99 us", "p999 us", "server cpu"
        );
        for (name, p) in [("alone", &self.baseline), ("under load", &self.loaded)] {
            println!(
                "{:<12} {:>8.2} {:>11} {:>11.0} {:>8} {:>8} {:>8} {:>10}",
                name,
                p.seconds,
                p.responses,
                p.rate(),
                opt(p.p50_us),
                opt(p.p99_us),
                opt(p.p999_us),
                cpu(p.server_cpu_ns),
            );
        }
        let [rate, p50, p99, p999] = self.ratios();
        println!(
            "{:<12} {:>8} {:>11} {:>11} {:>8} {:>8} {:>8}",
            "load/alone",
            "",
            "",
            ratio(rate),
            ratio(p50),
            ratio(p99),
            ratio(p999)
        );
        println!(
            "good errors: {} (requests unanswered at the end: {})",
            self.errors, self.unanswered
        );
        if let Some(e) = &self.first_error {
            println!("first error: {e}");
        }
        println!();
        println!(
            "{:<16} {:>7} {:>9} {:>7} {:>7} {:>7} {:>6} {:>7} {:>7}  closed after ERROR (code: n)",
            "hostile",
            "sockets",
            "connected",
            "failed",
            "closed",
            "reset",
            "open",
            "by us",
            "MB sent"
        );
        for g in &self.groups {
            let codes: Vec<String> = g
                .closed_error
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect();
            println!(
                "{:<16} {:>7} {:>9} {:>7} {:>7} {:>7} {:>6} {:>7} {:>7.1}  {}",
                g.name,
                g.sockets,
                g.connected,
                g.connect_failed + g.still_connecting,
                g.closed,
                g.reset,
                g.open_at_end,
                g.reset_by_us,
                g.bytes_sent as f64 / 1e6,
                if codes.is_empty() {
                    "-".to_string()
                } else {
                    codes.join(", ")
                }
            );
        }
        println!(
            "hostile: all connected (or failed) once in {}, at most {} open at once; \
             stalled DATA announces {} bytes",
            self.hostile_ramp_seconds
                .map_or("-".into(), |s| format!("{s:.2} s")),
            self.hostile_peak_open,
            self.stall_bytes
        );
        if let Some(t) = self.server_transform {
            println!("server transform (its HELLO): {}", t.name());
        }
        if let Some(r) = &self.rss {
            let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0));
            println!(
                "server RSS: idle {}, before hostile {}, peak {}, {:.1} s after closing {} ({} samples)",
                mib(r.idle_before),
                r.before_hostile.map_or("-".into(), mib),
                mib(r.peak),
                self.settle_seconds,
                r.after_settle.map_or("-".into(), mib),
                r.samples
            );
        }
    }
}

/// Phases, as the good thread sees them.
const SETUP: u8 = 0;
const BASELINE: u8 = 1;
const LOADED: u8 = 2;
const STOP: u8 = 3;

/// What the threads share with the one keeping time.
#[derive(Default)]
struct Shared {
    phase: AtomicU8,
    /// Good responses counted so far (baseline and loaded).
    responses: AtomicU64,
    /// Good connections failed so far.
    good_errors: AtomicU64,
    /// Hostile connections open now.
    hostile_open: AtomicUsize,
    /// Tells the hostile thread to close everything and report.
    hostile_stop: AtomicBool,
}

/// Runs the soak `soak` describes; an error when the good clients cannot
/// even be set up or a thread fails.
pub fn run(soak: &Soak) -> io::Result<SoakReport> {
    sys::raise_open_files_limit();
    let need = soak.good.connections + soak.mix.total() + 64;
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    if limit.current.is_some_and(|l| l < need as u64) {
        eprintln!(
            "shout-bench: warning: the open files limit ({:?}) is below the {need} sockets \
             of this soak; some connects will fail",
            limit.current
        );
    }
    let pid = soak.good.server_pid;
    let mut clock = Clock::new(pid)?;
    let shared = Arc::new(Shared::default());

    let (ready_tx, ready_rx) = mpsc::channel();
    let good_spec = Spec {
        mode: Mode::Frame,
        ..soak.good.clone()
    };
    let good = {
        let shared = shared.clone();
        thread::Builder::new()
            .name("good clients".into())
            .spawn(move || good_clients(&good_spec, &shared, ready_tx))?
    };
    if ready_rx
        .recv_timeout(SETUP_LIMIT + Duration::from_secs(5))
        .is_err()
    {
        shared.phase.store(STOP, Ordering::Release);
        return Err(match join(good)? {
            Err(e) => e,
            Ok(_) => io::Error::other("the good clients were not set up in time"),
        });
    }

    // Alone.
    let cpu0 = pid.and_then(sys::cpu_ns);
    let t0 = Instant::now();
    shared.phase.store(BASELINE, Ordering::Release);
    clock.run_until(t0 + soak.baseline, &shared, "alone");

    // Under load.
    let t1 = Instant::now();
    let cpu1 = pid.and_then(sys::cpu_ns);
    shared.phase.store(LOADED, Ordering::Release);
    let before_hostile = clock.sample_now();
    let hostile = {
        let shared = shared.clone();
        let (addr, mix, stall) = (soak.good.addr, soak.mix, soak.stall_bytes);
        thread::Builder::new()
            .name("hostile".into())
            .spawn(move || hostile_mix(addr, mix, stall, &shared))?
    };
    clock.run_until(t1 + soak.good.duration, &shared, "under load");
    let t2 = Instant::now();
    let cpu2 = pid.and_then(sys::cpu_ns);
    shared.phase.store(STOP, Ordering::Release);
    shared.hostile_stop.store(true, Ordering::Release);

    // Both threads close their sockets and report; bounded by the good
    // clients' grace for their last answers.
    let limit = Instant::now() + load::GRACE + Duration::from_secs(5);
    while !(good.is_finished() && hostile.is_finished()) && Instant::now() < limit {
        clock.run_until(Instant::now() + SAMPLE_EVERY, &shared, "closing");
    }
    if !(good.is_finished() && hostile.is_finished()) {
        return Err(io::Error::other("the soak's threads did not stop in time"));
    }
    let h = join(hostile)??;
    let g = join(good)??;
    let t3 = Instant::now();
    clock.run_until(t3 + soak.settle, &shared, "settling");
    let after_settle = clock.sample_now();

    let mut g = g;
    let [_, mut lat_base, mut lat_load, _] = std::mem::take(&mut g.latencies);
    let mut first_error = g.first_error;
    let mut errors = g.errors;
    if g.unanswered > 0 {
        errors += g.unanswered_conns;
        first_error.get_or_insert_with(|| {
            format!(
                "{} requests on {} connections still unanswered {} s after the soak",
                g.unanswered,
                g.unanswered_conns,
                load::GRACE.as_secs()
            )
        });
    }
    let span = |a: Option<u64>, b: Option<u64>| a.zip(b).map(|(a, b)| b.saturating_sub(a));
    Ok(SoakReport {
        addr: soak.good.addr,
        connections: soak.good.connections,
        depth: soak.good.depth,
        payload: soak.good.payload,
        baseline: Phase::new(
            (t1 - t0).as_secs_f64(),
            g.responses[BASELINE as usize],
            &mut lat_base,
            span(cpu0, cpu1),
        ),
        loaded: Phase::new(
            (t2 - t1).as_secs_f64(),
            g.responses[LOADED as usize],
            &mut lat_load,
            span(cpu1, cpu2),
        ),
        errors,
        first_error,
        unanswered: g.unanswered,
        hostile: soak.mix.total(),
        hostile_ramp_seconds: h.ramp.map(|d| d.as_secs_f64()),
        hostile_peak_open: h.peak_open,
        stall_bytes: soak.stall_bytes,
        groups: h.groups,
        server_transform: h.transform,
        rss: clock.rss.map(|mut r| {
            r.before_hostile = before_hostile;
            r.after_settle = after_settle;
            r
        }),
        settle_seconds: t3.elapsed().as_secs_f64(),
    })
}

/// A thread's result, its panic an error.
fn join<T>(h: JoinHandle<T>) -> io::Result<T> {
    h.join()
        .map_err(|_| io::Error::other("a soak thread panicked"))
}

/// The timekeeper: RSS samples every 100 ms, a progress line a second.
struct Clock {
    pid: Option<u32>,
    start: Instant,
    next_sample: Instant,
    next_line: Instant,
    last_responses: u64,
    rss: Option<Rss>,
    last_rss: Option<u64>,
}

impl Clock {
    fn new(pid: Option<u32>) -> io::Result<Clock> {
        let now = Instant::now();
        let rss = match pid {
            Some(p) => {
                let b = sys::rss_bytes(p).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("the server's memory (/proc/{p}/status): {e}"),
                    )
                })?;
                Some(Rss {
                    idle_before: b,
                    peak: b,
                    samples: 1,
                    ..Rss::default()
                })
            }
            None => None,
        };
        Ok(Clock {
            pid,
            start: now,
            next_sample: now + SAMPLE_EVERY,
            next_line: now + Duration::from_secs(1),
            last_responses: 0,
            last_rss: rss.as_ref().map(|r| r.idle_before),
            rss,
        })
    }

    /// Reads the server's RSS now (none without a pid, or once it is gone).
    fn sample_now(&mut self) -> Option<u64> {
        let b = sys::rss_bytes(self.pid?).ok()?;
        if let Some(r) = self.rss.as_mut() {
            r.peak = r.peak.max(b);
            r.samples += 1;
        }
        self.last_rss = Some(b);
        Some(b)
    }

    /// Samples and reports until `until`.
    fn run_until(&mut self, until: Instant, shared: &Shared, label: &str) {
        loop {
            let now = Instant::now();
            if now >= self.next_sample {
                self.next_sample += SAMPLE_EVERY;
                if self.next_sample < now {
                    self.next_sample = now + SAMPLE_EVERY;
                }
                self.sample_now();
            }
            if now >= self.next_line {
                self.next_line += Duration::from_secs(1);
                let total = shared.responses.load(Ordering::Relaxed);
                let rate = total - self.last_responses;
                self.last_responses = total;
                let rss = self.last_rss.map_or(String::new(), |b| {
                    format!("  server RSS {:.1} MiB", b as f64 / (1024.0 * 1024.0))
                });
                eprintln!(
                    "bench hostile: {:5.1} s  {label:<10}  good {rate}/s ({total} checked, {} failed)  \
                     hostile open {}{rss}",
                    now.duration_since(self.start).as_secs_f64(),
                    shared.good_errors.load(Ordering::Relaxed),
                    shared.hostile_open.load(Ordering::Relaxed),
                );
            }
            if now >= until {
                return;
            }
            let wake = until.min(self.next_sample).min(self.next_line);
            thread::sleep(wake.saturating_duration_since(now));
        }
    }
}

/// The good clients' figures, by phase.
#[derive(Default)]
struct GoodResult {
    responses: [u64; 4],
    latencies: [Vec<u32>; 4],
    errors: u64,
    first_error: Option<String>,
    unanswered: u64,
    unanswered_conns: u64,
}

/// The good clients: frame request/response on `spec.connections`
/// connections, every byte checked, in whatever phase `shared` says; sends
/// on `ready` once every connection has the server's HELLO and its first
/// requests are out.
fn good_clients(spec: &Spec, shared: &Shared, ready: mpsc::Sender<()>) -> io::Result<GoodResult> {
    debug_assert_eq!(shared.phase.load(Ordering::Acquire), SETUP);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let script = load::script(spec)?;
    let mut conns = Vec::with_capacity(spec.connections);
    for key in 0..spec.connections {
        conns.push(Conn::new(
            load::connect_one(&poll, spec.addr, key)?,
            script.checker.clone(),
            spec.depth,
        ));
    }
    let mut buf = vec![0u8; load::CHUNK];
    let mut res = GoodResult::default();
    let mut running = 0usize;
    let mut started = false;
    let setup_limit = Instant::now() + SETUP_LIMIT;
    let mut stop_at = None::<Instant>;
    loop {
        let now = Instant::now();
        if shared.phase.load(Ordering::Acquire) == STOP {
            let t = *stop_at.get_or_insert(now);
            let quiet = conns
                .iter()
                .all(|c| c.stage == Stage::Done || c.in_flight.is_empty());
            if quiet || !started || now >= t + load::GRACE {
                break;
            }
        }
        if !started && now > setup_limit {
            return Err(io::Error::other(format!(
                "the good connections were not set up within {} s",
                SETUP_LIMIT.as_secs()
            )));
        }
        poll.poll(&mut events, Some(Duration::from_millis(20)))?;
        let now = Instant::now();
        let phase = shared.phase.load(Ordering::Acquire);
        let more = phase != STOP;
        let slot = usize::from(phase);
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if c.stage == Stage::Done {
                continue;
            }
            if c.stage == Stage::Connecting {
                match load::connected(c, &script, spec.addr)? {
                    None => continue, // not connected yet
                    Some(true) => running += 1,
                    Some(false) => {}
                }
            }
            let before = res.responses[slot];
            let outcome = load::drive_rr(
                c,
                &script.request,
                spec.depth,
                more,
                &mut buf,
                now,
                &mut res.latencies[slot],
                &mut res.responses[slot],
                &mut running,
            );
            if phase == BASELINE || phase == LOADED {
                shared
                    .responses
                    .fetch_add(res.responses[slot] - before, Ordering::Relaxed);
            }
            if let Err(why) = outcome {
                if !started {
                    return Err(io::Error::other(format!(
                        "setting up a good connection: {why}"
                    )));
                }
                res.errors += 1;
                shared.good_errors.fetch_add(1, Ordering::Relaxed);
                res.first_error.get_or_insert(why);
                c.stage = Stage::Done;
                let _ = poll.registry().deregister(&mut c.stream);
            }
        }
        if !started && running == spec.connections {
            // Everyone has the server's HELLO: the first requests go out
            // together, and the timekeeper may start the baseline.
            started = true;
            let t = Instant::now();
            for c in conns.iter_mut() {
                for _ in 0..spec.depth {
                    c.out.extend_from_slice(&script.request);
                    c.in_flight.push_back(t);
                }
                if let Err(why) = load::flush(c) {
                    return Err(io::Error::other(format!(
                        "setting up a good connection: {why}"
                    )));
                }
            }
            let _ = ready.send(());
        }
    }
    for c in &conns {
        if c.stage != Stage::Done && !c.in_flight.is_empty() {
            res.unanswered += c.in_flight.len() as u64;
            res.unanswered_conns += 1;
        }
    }
    Ok(res)
}

/// The hostile groups, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    Idle,
    Slowloris,
    GarbageFrame,
    GarbageText,
    Stalled,
    NeverRead,
    ResetStorm,
    HalfOpen,
}

const GROUPS: [Group; 8] = [
    Group::Idle,
    Group::Slowloris,
    Group::GarbageFrame,
    Group::GarbageText,
    Group::Stalled,
    Group::NeverRead,
    Group::ResetStorm,
    Group::HalfOpen,
];

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Idle => "idle",
            Group::Slowloris => "slowloris",
            Group::GarbageFrame => "garbage-frame",
            Group::GarbageText => "garbage-text",
            Group::Stalled => "stalled-unicode",
            Group::NeverRead => "never-read",
            Group::ResetStorm => "reset-storm",
            Group::HalfOpen => "half-open",
        }
    }

    /// Reads (and discards) what the server sends; the others never read
    /// and learn how they ended from the socket's state and a peek.
    fn reads(self) -> bool {
        !matches!(self, Group::NeverRead | Group::HalfOpen | Group::ResetStorm)
    }

    /// The server speaks frames to it: its ERROR frames are looked for.
    fn frames(self) -> bool {
        matches!(self, Group::GarbageFrame | Group::Stalled | Group::HalfOpen)
    }
}

/// A small deterministic generator (SplitMix64) for the garbage and the
/// order the groups connect in.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Reads the server's frames well enough to see its HELLO and its ERROR
/// code.
#[derive(Clone, Debug, Default)]
struct Sniffer {
    header: HeaderReader,
    /// The frame whose payload is arriving, and what is left of it.
    frame: Option<(u8, u32)>,
    /// The first bytes of that payload.
    kept: Vec<u8>,
    error: Option<u16>,
    hello: Option<ServerHello>,
}

impl Sniffer {
    fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            match self.frame {
                None => {
                    let (n, header) = self.header.read(input);
                    input = &input[n..];
                    if let Some(h) = header {
                        self.frame = Some((h.kind, h.len));
                        self.kept.clear();
                        if h.len == 0 {
                            self.end_frame();
                        }
                    }
                }
                Some((kind, left)) => {
                    let k = (left as usize).min(input.len());
                    let keep = SERVER_HELLO_PAYLOAD.saturating_sub(self.kept.len()).min(k);
                    self.kept.extend_from_slice(&input[..keep]);
                    input = &input[k..];
                    self.frame = Some((kind, left - k as u32));
                    if left as usize == k {
                        self.end_frame();
                    }
                }
            }
        }
    }

    fn end_frame(&mut self) {
        if let Some((kind, _)) = self.frame.take() {
            match Kind::from_u8(kind) {
                Some(Kind::Error) => self.note_error(),
                Some(Kind::Hello) => self.hello = ServerHello::parse(&self.kept).ok(),
                _ => {}
            }
        }
    }

    fn note_error(&mut self) {
        if let [a, b, ..] = self.kept[..] {
            self.error.get_or_insert(u16::from_be_bytes([a, b]));
        }
    }

    /// The ERROR code seen, counting an ERROR frame cut short once its
    /// code arrived.
    fn error_code(&mut self) -> Option<u16> {
        if matches!(self.frame, Some((k, _)) if k == Kind::Error as u8) {
            self.note_error();
        }
        self.error
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SlotState {
    /// Waiting to connect (the ramp, or a reset storm's pause).
    Queued,
    Connecting,
    Open,
    Done,
}

/// One hostile socket (a reset storm's: one loop).
struct Slot {
    group: Group,
    stream: Option<TcpStream>,
    state: SlotState,
    /// What to send once connected.
    out: Rc<[u8]>,
    out_at: usize,
    /// Bytes sent on this connection (slowloris: where in its line).
    sent: u64,
    sniff: Sniffer,
    /// Connected or failed at least once.
    resolved: bool,
}

/// How a hostile connection ended.
enum End {
    Closed,
    Reset,
}

/// The hostile thread's findings.
struct HostileResult {
    groups: Vec<GroupReport>,
    ramp: Option<Duration>,
    peak_open: usize,
    transform: Option<TransformKind>,
}

/// The hostile thread's state.
struct Mob {
    poll: Poll,
    addr: SocketAddr,
    slots: Vec<Slot>,
    stats: Vec<GroupReport>,
    queue: VecDeque<usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    connecting: usize,
    open: usize,
    unresolved: usize,
    transform: Option<TransformKind>,
    /// The never-read bulk, sent over and over.
    bulk: Rc<[u8]>,
    /// The slowloris line (no LF), a byte at a time.
    line: Rc<[u8]>,
}

/// Opens `mix` against `addr` and keeps it misbehaving until told to stop.
fn hostile_mix(
    addr: SocketAddr,
    mix: Mix,
    stall_bytes: u32,
    shared: &Shared,
) -> io::Result<HostileResult> {
    let mut rng = Rng(0x5EED_0F5A_0A00);
    let stalled: Rc<[u8]> = {
        let mut s = ClientHello::frame().to_vec();
        s.extend_from_slice(&Header::new(Kind::Data, stall_bytes).to_bytes());
        s.extend(load::letters(stall_bytes as usize / 2));
        s.into()
    };
    let half_open: Rc<[u8]> = ClientHello::frame()[..3].into();
    let reset: Rc<[u8]> = load::letters(6).into();
    let none: Rc<[u8]> = Rc::from(&[][..]);
    let mut slots = Vec::with_capacity(mix.total());
    let mut stats = Vec::new();
    for (group, n) in mix.per_group() {
        stats.push(GroupReport {
            name: group.name(),
            sockets: n,
            ..GroupReport::default()
        });
        for _ in 0..n {
            let out = match group {
                Group::GarbageFrame => garbage(&mut rng, true),
                Group::GarbageText => garbage(&mut rng, false),
                Group::Stalled => stalled.clone(),
                Group::HalfOpen => half_open.clone(),
                Group::ResetStorm => reset.clone(),
                Group::Idle | Group::Slowloris | Group::NeverRead => none.clone(),
            };
            slots.push(Slot {
                group,
                stream: None,
                state: SlotState::Queued,
                out,
                out_at: 0,
                sent: 0,
                sniff: Sniffer::default(),
                resolved: false,
            });
        }
    }
    // Every group from the start: connect in a shuffled order.
    let mut order: Vec<usize> = (0..slots.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut mob = Mob {
        poll: Poll::new()?,
        addr,
        unresolved: slots.len(),
        slots,
        stats,
        queue: order.into(),
        timers: BinaryHeap::new(),
        connecting: 0,
        open: 0,
        transform: None,
        bulk: load::letters(16 * 1024).into(),
        line: load::letters(26 * 40).into(),
    };
    let start = Instant::now();
    let mut ramp = None;
    let mut peak_open = 0;
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; load::CHUNK];
    while !shared.hostile_stop.load(Ordering::Acquire) {
        while mob.connecting < load::CONNECTING_AT_ONCE {
            let Some(i) = mob.queue.pop_front() else {
                break;
            };
            mob.connect(i);
        }
        let now = Instant::now();
        let wait = mob.timers.peek().map_or(HOSTILE_TICK, |Reverse((t, _))| {
            t.saturating_duration_since(now).min(HOSTILE_TICK)
        });
        mob.poll.poll(&mut events, Some(wait))?;
        for ev in events.iter() {
            mob.event(ev, &mut buf);
        }
        mob.fire_timers(Instant::now());
        if ramp.is_none() && mob.unresolved == 0 {
            ramp = Some(start.elapsed());
        }
        peak_open = peak_open.max(mob.open);
        shared.hostile_open.store(mob.open, Ordering::Relaxed);
    }
    for s in &mob.slots {
        let g = &mut mob.stats[s.group as usize];
        match s.state {
            SlotState::Open => g.open_at_end += 1,
            SlotState::Connecting => g.still_connecting += 1,
            // A reset-storm loop between two rounds has nothing open.
            SlotState::Queued if s.group != Group::ResetStorm => g.still_connecting += 1,
            SlotState::Queued | SlotState::Done => {}
        }
    }
    drop(mob.slots); // every socket closed here
    shared.hostile_open.store(0, Ordering::Relaxed);
    Ok(HostileResult {
        groups: mob.stats,
        ramp,
        peak_open,
        transform: mob.transform,
    })
}

/// What a garbage connection sends: 0x00 and random bytes (frame), or
/// printable text that cannot begin `GET ` (raw).
fn garbage(rng: &mut Rng, frame: bool) -> Rc<[u8]> {
    let n = 16 + rng.below(240);
    let mut g: Vec<u8> = if frame {
        std::iter::once(0)
            .chain((1..n).map(|_| rng.next() as u8))
            .collect()
    } else {
        (0..n).map(|_| b' ' + rng.below(95) as u8).collect()
    };
    if !frame && g[0] == b'G' {
        g[0] = b'g';
    }
    g.into()
}

impl Mob {
    fn connect(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let connected = TcpStream::connect(self.addr).and_then(|mut stream| {
            self.poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match connected {
            Ok(stream) => {
                if s.group == Group::NeverRead {
                    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(
                        &stream,
                        NEVER_READ_RCVBUF,
                    );
                    let _ = rustix::net::sockopt::set_socket_send_buffer_size(
                        &stream,
                        NEVER_READ_SNDBUF,
                    );
                }
                s.stream = Some(stream);
                s.state = SlotState::Connecting;
                s.out_at = 0;
                s.sent = 0;
                s.sniff = Sniffer::default();
                self.connecting += 1;
            }
            Err(e) => self.connect_failed(i, &e, false),
        }
    }

    fn connect_failed(&mut self, i: usize, e: &io::Error, was_connecting: bool) {
        let s = &mut self.slots[i];
        let g = &mut self.stats[s.group as usize];
        g.connect_failed += 1;
        g.first_connect_error
            .get_or_insert_with(|| format!("connect: {e}"));
        s.stream = None;
        if was_connecting {
            self.connecting -= 1;
        }
        if !s.resolved {
            s.resolved = true;
            self.unresolved -= 1;
        }
        if s.group == Group::ResetStorm {
            s.state = SlotState::Queued;
            self.timers.push(Reverse((Instant::now() + RESET_PAUSE, i)));
        } else {
            s.state = SlotState::Done;
        }
    }

    fn event(&mut self, ev: &mio::event::Event, buf: &mut [u8]) {
        let i = ev.token().0;
        match self.slots[i].state {
            SlotState::Connecting => {
                let Some(stream) = self.slots[i].stream.as_ref() else {
                    return;
                };
                if let Ok(Some(e)) | Err(e) = stream.take_error() {
                    self.connect_failed(i, &e, true);
                    return;
                }
                if stream.peer_addr().is_err() {
                    return; // not connected yet
                }
                self.connected(i);
            }
            SlotState::Open => {}
            SlotState::Queued | SlotState::Done => return,
        }
        if self.slots[i].state != SlotState::Open {
            return;
        }
        let group = self.slots[i].group;
        if group.reads() {
            if let Err(end) = self.read_all(i, buf) {
                return self.end(i, end);
            }
        } else if ev.is_error() || ev.is_read_closed() {
            return self.end_unread(i);
        }
        if let Err(end) = self.write_out(i) {
            self.end(i, end);
        }
    }

    fn connected(&mut self, i: usize) {
        self.connecting -= 1;
        self.open += 1;
        let now = Instant::now();
        let s = &mut self.slots[i];
        s.state = SlotState::Open;
        if !s.resolved {
            s.resolved = true;
            self.unresolved -= 1;
        }
        self.stats[s.group as usize].connected += 1;
        match s.group {
            Group::Slowloris => {
                // Spread over the second, so they do not all send at once.
                let stagger = Duration::from_millis((i as u64 * 7919) % 1000);
                self.timers.push(Reverse((now + stagger, i)));
            }
            Group::ResetStorm => {
                let _ = self.write_out(i);
                let s = &mut self.slots[i];
                if let Some(stream) = s.stream.take() {
                    let _ = rustix::net::sockopt::set_socket_linger(&stream, Some(Duration::ZERO));
                    drop(stream); // a reset, not a FIN
                }
                s.state = SlotState::Queued;
                self.open -= 1;
                self.stats[Group::ResetStorm as usize].reset_by_us += 1;
                self.timers.push(Reverse((now + RESET_PAUSE, i)));
            }
            _ => {}
        }
    }

    /// Reads and discards what has arrived; `Err` when the connection
    /// ended.
    fn read_all(&mut self, i: usize, buf: &mut [u8]) -> Result<(), End> {
        let s = &mut self.slots[i];
        let Some(mut stream) = s.stream.as_ref() else {
            return Ok(());
        };
        loop {
            match stream.read(buf) {
                Ok(0) => return Err(End::Closed),
                Ok(n) => {
                    self.stats[s.group as usize].bytes_received += n as u64;
                    if s.group.frames() {
                        s.sniff.feed(&buf[..n]);
                        if self.transform.is_none() {
                            self.transform = s.sniff.hello.map(|h| h.transform);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Reset),
            }
        }
    }

    /// Sends what is due; `Err` when the connection turned out broken.
    fn write_out(&mut self, i: usize) -> Result<(), End> {
        let s = &mut self.slots[i];
        let Some(mut stream) = s.stream.as_ref() else {
            return Ok(());
        };
        let g = &mut self.stats[s.group as usize];
        loop {
            let pending: &[u8] = if s.group == Group::NeverRead {
                &self.bulk[s.out_at..]
            } else {
                &s.out[s.out_at..]
            };
            if pending.is_empty() {
                if s.group == Group::HalfOpen && s.sent > 0 {
                    let _ = stream.shutdown(Shutdown::Write);
                    s.sent = 0; // shut down once
                }
                return Ok(());
            }
            match stream.write(pending) {
                Ok(n) => {
                    g.bytes_sent += n as u64;
                    s.out_at += n;
                    if s.group == Group::NeverRead && s.out_at == self.bulk.len() {
                        s.out_at = 0;
                    }
                    if s.group == Group::HalfOpen {
                        s.sent += n as u64;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(End::Reset),
            }
        }
    }

    /// A connection that never reads saw its peer close or reset: which,
    /// and (peeking, so nothing is consumed) whether an ERROR frame came.
    fn end_unread(&mut self, i: usize) {
        let s = &mut self.slots[i];
        let Some(stream) = s.stream.as_ref() else {
            return;
        };
        if let Ok(Some(_)) | Err(_) = stream.take_error() {
            return self.end(i, End::Reset);
        }
        if s.group.frames() {
            let mut head = [0u8; 64];
            let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
            if let Ok((n, _)) = rustix::net::recv(stream, &mut head[..], flags) {
                s.sniff.feed(&head[..n]);
            }
        }
        self.end(i, End::Closed)
    }

    fn end(&mut self, i: usize, end: End) {
        let s = &mut self.slots[i];
        let g = &mut self.stats[s.group as usize];
        match end {
            End::Reset => g.reset += 1,
            End::Closed => match s.sniff.error_code() {
                Some(code) => *g.closed_error.entry(code).or_default() += 1,
                None => g.closed += 1,
            },
        }
        s.stream = None;
        s.state = SlotState::Done;
        self.open -= 1;
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > now {
                return;
            }
            self.timers.pop();
            match (self.slots[i].group, &self.slots[i].state) {
                (Group::ResetStorm, SlotState::Queued) => self.queue.push_back(i),
                (Group::Slowloris, SlotState::Open) => {
                    let next = (t + SLOWLORIS_EVERY).max(now);
                    self.timers.push(Reverse((next, i)));
                    if let Err(end) = self.slowloris_byte(i) {
                        self.end(i, end);
                    }
                }
                _ => {}
            }
        }
    }

    /// One more byte of the line, never its end.
    fn slowloris_byte(&mut self, i: usize) -> Result<(), End> {
        let s = &mut self.slots[i];
        let Some(mut stream) = s.stream.as_ref() else {
            return Ok(());
        };
        let at = (s.sent % self.line.len() as u64) as usize;
        match stream.write(&self.line[at..at + 1]) {
            Ok(n) => {
                s.sent += n as u64;
                self.stats[Group::Slowloris as usize].bytes_sent += n as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(_) => Err(End::Reset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shout_core::wire::{ErrorCode, ErrorFrame};

    #[test]
    fn the_default_mix_is_ten_thousand_and_scales() {
        assert_eq!(Mix::DEFAULT.total(), 10_000);
        assert_eq!(Mix::scaled(10_000), Mix::DEFAULT);
        for n in [0, 1, 7, 200, 2000, 12_345] {
            assert_eq!(Mix::scaled(n).total(), n);
        }
        let m = Mix::scaled(200);
        assert!(m.slowloris > 0 && m.stalled > 0 && m.reset_storm > 0 && m.half_open > 0);
        let groups = m.per_group();
        assert_eq!(groups.iter().map(|(_, n)| n).sum::<usize>(), 200);
        for (i, (g, _)) in groups.iter().enumerate() {
            assert_eq!(GROUPS[i], *g);
            assert_eq!(*g as usize, i);
        }
    }

    #[test]
    fn the_sniffer_finds_hello_and_error_split_anywhere() {
        let hello = ServerHello {
            max_payload: 1 << 20,
            transform: TransformKind::Unicode,
        }
        .frame();
        let error = ErrorFrame::new(ErrorCode::IdleTimeout, &[b"idle"]);
        let mut wire = hello.to_vec();
        wire.extend_from_slice(error.as_bytes());
        for split in 0..=wire.len() {
            let mut s = Sniffer::default();
            s.feed(&wire[..split]);
            s.feed(&wire[split..]);
            assert_eq!(s.hello.map(|h| h.transform), Some(TransformKind::Unicode));
            assert_eq!(s.error_code(), Some(5));
        }
        // An ERROR cut off after its code still counts.
        let mut s = Sniffer::default();
        s.feed(&error.as_bytes()[..8]);
        assert_eq!(s.error_code(), Some(5));
        let mut s = Sniffer::default();
        s.feed(&error.as_bytes()[..6]);
        assert_eq!(s.error_code(), None);
    }

    #[test]
    fn garbage_decides_as_intended() {
        let mut rng = Rng(1);
        for _ in 0..1000 {
            assert_eq!(garbage(&mut rng, true)[0], 0);
            let text = garbage(&mut rng, false);
            assert!(text.iter().all(|b| (b' '..=b'~').contains(b)));
            assert!(!text.starts_with(b"G"));
        }
    }
}

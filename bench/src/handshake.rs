//! TLS handshakes per second: for the run's duration, `connections`
//! TLS connections at a time (one after another with one), each a whole
//! life: connect, a full handshake (no resumption, the certificate
//! checked), `abc` sent and `ABC` checked (raw framing, which `auto`
//! picks inside TLS), a close_notify sent, and the server's close_notify
//! awaited, then the socket closed. Only a connection that went through
//! all of it counts; anything else is an error. Its latency is that whole
//! life.

use std::io;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll};
use slab::Slab;

use crate::load::{self, handshake_error, Progress, CHUNK};
use crate::tls::Tls;
use crate::verify::Checker;
use crate::{sys, Report, Spec};

/// What each connection sends once through the handshake.
const REQUEST: &[u8] = b"abc";

/// A connection in flight longer than this is an error.
const STUCK: Duration = load::GRACE;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Handshaking,
    /// `abc` sent; the answer checked as it comes.
    Answer,
    /// The answer whole, our close_notify sent; the server's awaited.
    Closing,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Handshaking => "in the handshake",
            Phase::Answer => "waiting for the answer",
            Phase::Closing => "waiting for the server's close_notify",
        }
    }
}

/// One connection in flight.
struct Attempt {
    stream: TcpStream,
    tls: Box<Tls>,
    phase: Phase,
    began: Instant,
    checker: Checker,
    /// Plaintext bytes received (counted once the life is over).
    received: u64,
}

/// Runs handshake mode (see the module): `spec.tls` must be set.
pub fn run(spec: &Spec) -> io::Result<Report> {
    let client = spec
        .tls
        .as_ref()
        .ok_or_else(|| io::Error::other("handshake mode needs TLS (--tls)"))?;
    sys::raise_open_files_limit();
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let checker = Checker::stream(load::expected(spec.expect, REQUEST).into());
    let mut live: Slab<Attempt> = Slab::with_capacity(spec.connections);
    let mut buf = vec![0u8; CHUNK];
    let mut latencies: Vec<u32> = Vec::new();
    let mut completed = 0u64;
    let mut bytes = 0u64;
    let mut errors = 0u64;
    let mut first_error: Option<String> = None;
    let mut fail = |errors: &mut u64, why: String| {
        *errors += 1;
        first_error.get_or_insert(why);
    };
    let mut progress = Progress::new("handshake");
    let cpu_start = spec.server_pid.and_then(sys::cpu_ns);
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut next_scan = start + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // New connections only between batches of events: a key is never
        // reused while an event for its old connection may be pending.
        while live.len() < spec.connections {
            let entry = live.vacant_entry();
            let stream = match load::connect_one(&poll, spec.addr, entry.key()) {
                Ok(s) => s,
                Err(e) => {
                    // Out of sockets or ports: try again after a poll.
                    fail(&mut errors, format!("connect to {}: {e}", spec.addr));
                    break;
                }
            };
            entry.insert(Attempt {
                stream,
                tls: client.session()?,
                phase: Phase::Connecting,
                began: Instant::now(),
                checker: checker.clone(),
                received: 0,
            });
        }
        let wait = (deadline - now).min(Duration::from_millis(100));
        poll.poll(&mut events, Some(wait))?;
        let now = Instant::now();
        for ev in events.iter() {
            let key = ev.token().0;
            let Some(a) = live.get_mut(key) else {
                continue;
            };
            let outcome = step(a, &mut buf);
            if matches!(outcome, Ok(false)) {
                continue;
            }
            let mut a = live.remove(key);
            let _ = poll.registry().deregister(&mut a.stream);
            match outcome {
                Ok(_) => {
                    bytes += a.received;
                    let us = now.duration_since(a.began).as_micros();
                    latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                    completed += 1;
                }
                Err(why) => fail(&mut errors, why),
            }
        }
        if now >= next_scan {
            next_scan += Duration::from_secs(1);
            let stuck: Vec<usize> = live
                .iter()
                .filter(|(_, a)| now.duration_since(a.began) > STUCK)
                .map(|(k, _)| k)
                .collect();
            for k in stuck {
                let mut a = live.remove(k);
                let _ = poll.registry().deregister(&mut a.stream);
                fail(
                    &mut errors,
                    format!(
                        "a connection still {} after {} s",
                        a.phase.name(),
                        STUCK.as_secs()
                    ),
                );
            }
        }
        progress.tick(now, || {
            let secs = now.duration_since(start).as_secs_f64().max(1e-9);
            format!(
                "{completed} handshakes ({:.0}/s), {errors} errors",
                completed as f64 / secs
            )
        });
    }
    let end = Instant::now();
    let cpu_end = spec.server_pid.and_then(sys::cpu_ns);
    // Those in flight at the end are left unfinished, not counted; but a
    // run where none finished at all is no measurement.
    if completed == 0 && errors == 0 {
        let phases: Vec<&str> = live.iter().map(|(_, a)| a.phase.name()).collect();
        errors = phases.len().max(1) as u64;
        first_error = Some(format!(
            "no connection went through its handshake and exchange in {:.1} s ({})",
            spec.duration.as_secs_f64(),
            phases.first().copied().unwrap_or("none opened")
        ));
    }
    let mut r = Report::new(
        spec,
        end.duration_since(start).as_secs_f64(),
        completed,
        bytes,
        &mut latencies,
        errors,
        first_error,
    );
    r.payload = REQUEST.len();
    r.server_cpu_ns = cpu_start.zip(cpu_end).map(|(a, b)| b.saturating_sub(a));
    Ok(r)
}

/// A connection got an event: takes it as far as the socket allows; true
/// once its life is over as it must be.
fn step(a: &mut Attempt, buf: &mut [u8]) -> Result<bool, String> {
    if a.phase == Phase::Connecting {
        if let Ok(Some(e)) | Err(e) = a.stream.take_error() {
            return Err(format!("connect: {e}"));
        }
        if a.stream.peer_addr().is_err() {
            return Ok(false); // not connected yet
        }
        let _ = a.stream.set_nodelay(true);
        a.phase = Phase::Handshaking;
    }
    if a.phase == Phase::Handshaking {
        match a.tls.handshake(&a.stream, buf) {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(e) => return Err(handshake_error(&e)),
        }
        match a.tls.write(&a.stream, REQUEST) {
            Ok(n) if n == REQUEST.len() => {}
            Ok(_) | Err(_) => return Err("rustls did not take the 3-byte request".into()),
        }
        a.phase = Phase::Answer;
    }
    loop {
        match a.tls.push(&a.stream) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(format!("write: {e}")),
            _ => {}
        }
        // The plaintext lands in the first half of `buf`.
        let n = match a.tls.read(&a.stream, buf) {
            Ok(0) if a.phase == Phase::Closing => return Ok(true),
            Ok(0) => return Err("the server closed the connection before its answer".into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(format!("read ({}): {e}", a.phase.name())),
        };
        a.received += n as u64;
        if a.phase == Phase::Closing {
            return Err(format!("{n} bytes more than the answer"));
        }
        let fed = a.checker.feed(&buf[..n])?;
        if fed.responses > 1 || (fed.responses == 1 && a.checker.mid_response()) {
            return Err("more bytes than the answer".into());
        }
        if fed.responses == 1 {
            a.tls.close(&a.stream).map_err(|e| format!("write: {e}"))?;
            a.phase = Phase::Closing;
        }
    }
}

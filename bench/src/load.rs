//! The load generator: one `mio` loop on one thread driving every
//! connection (so it can be pinned to one core), checking every byte of
//! every response (through [`crate::verify`]) against what the transform
//! must give. The frames it sends are built with [`shout_core::wire`].
//! With TLS ([`crate::tls`]) the same, on the plaintext: the handshake is
//! part of setting a connection up, before the clock starts.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use shout_core::wire::{ClientHello, Header, Kind};

use crate::tls::{self, Tls};
use crate::verify::{self, Checker};
use crate::{sys, ws, Expect, Mode, Report, Spec};

/// The most the load writes or reads at once. 60 KiB, not 64: a 64 KiB
/// write does not fit the kernel's 64 KiB segments with their headers and
/// cost the load's core a fifth more per byte on loopback (BENCHMARKS.md,
/// "Reads and writes of 60 KiB"), which made the load, not the server,
/// the limit for 1 MiB messages.
pub(crate) const CHUNK: usize = 60 * 1024;
/// Connections being set up at once (keeps the listen queue from
/// overflowing when thousands connect).
pub(crate) const CONNECTING_AT_ONCE: usize = 256;
/// How long a run may wait for its last responses after the deadline.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// A connection in [`Stage::Connecting`] got an event: `None` while the
/// connect is still under way; once connected, sends the script's hello
/// and says whether the connection runs at once (no TLS handshake and no
/// hello reply to wait for).
pub(crate) fn connected(
    c: &mut Conn,
    script: &Script,
    addr: SocketAddr,
) -> io::Result<Option<bool>> {
    if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
        return Err(io::Error::other(format!("connect to {addr}: {e}")));
    }
    if c.stream.peer_addr().is_err() {
        return Ok(None);
    }
    let _ = c.stream.set_nodelay(true);
    c.out.extend_from_slice(&script.hello);
    if c.tls.is_some() {
        c.stage = Stage::Tls;
        Ok(Some(false))
    } else if script.hello_reply {
        c.stage = Stage::Handshake;
        Ok(Some(false))
    } else {
        c.stage = Stage::Running;
        Ok(Some(true))
    }
}

/// A connection in [`Stage::Tls`] got an event: drives the handshake;
/// `None` while it is under way; once done, says whether the connection
/// runs at once (no hello reply to wait for), as [`connected`] does.
pub(crate) fn tls_handshake(
    c: &mut Conn,
    script: &Script,
    buf: &mut [u8],
) -> Result<Option<bool>, String> {
    let Some(t) = c.tls.as_mut() else {
        unreachable!("a connection in Stage::Tls has a TLS session");
    };
    match t.handshake(&c.stream, buf) {
        Ok(false) => return Ok(None),
        Ok(true) => {}
        Err(e) => return Err(handshake_error(&e)),
    }
    // The hello waited in rustls: it goes now.
    flush(c)?;
    if script.hello_reply {
        c.stage = Stage::Handshake;
        Ok(Some(false))
    } else {
        c.stage = Stage::Running;
        Ok(Some(true))
    }
}

/// What a failed TLS handshake reports: rustls's reason (a certificate
/// refused, an alert), or what the socket said, named as the handshake.
pub(crate) fn handshake_error(e: &io::Error) -> String {
    let s = e.to_string();
    let hint = if s.contains("CaUsedAsEndEntity") {
        " (the server's certificate is a CA certificate: make it with \
         basicConstraints=critical,CA:FALSE, as --help shows)"
    } else {
        ""
    };
    if s.starts_with("TLS") {
        format!("{s}{hint}")
    } else {
        format!("TLS handshake: {s}{hint}")
    }
}

/// Reads what the server sent: plaintext, through TLS when there is a
/// session; the semantics of a socket read.
pub(crate) fn read_from(
    stream: &TcpStream,
    tls: &mut Option<Box<Tls>>,
    buf: &mut [u8],
) -> io::Result<usize> {
    match tls {
        Some(t) => t.read(stream, buf),
        None => (&*stream).read(buf),
    }
}

/// Writes plaintext, through TLS when there is a session; the semantics
/// of a socket write.
pub(crate) fn write_to(
    stream: &TcpStream,
    tls: &mut Option<Box<Tls>>,
    data: &[u8],
) -> io::Result<usize> {
    match tls {
        Some(t) => t.write(stream, data),
        None => (&*stream).write(data),
    }
}

/// Sends the TLS records a session holds (nothing to do without one);
/// `WouldBlock` is not an error here: the next writable edge sends the
/// rest.
pub(crate) fn push(stream: &TcpStream, tls: &mut Option<Box<Tls>>) -> Result<(), String> {
    match tls.as_mut().map(|t| t.push(stream)) {
        Some(Err(e)) if e.kind() != io::ErrorKind::WouldBlock => Err(format!("write: {e}")),
        _ => Ok(()),
    }
}

/// `n` bytes of the alphabet, over and over: what every request carries.
pub(crate) fn letters(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What the server must send back for `request`.
pub(crate) fn expected(expect: Expect, request: &[u8]) -> Vec<u8> {
    match expect {
        Expect::Upper => request.to_ascii_uppercase(),
        Expect::Echo => request.to_vec(),
    }
}

/// What every connection of a TCP run sends and how its responses are
/// checked, every request alike.
pub(crate) struct Script {
    /// Sent once connected (a frame HELLO, or nothing).
    pub(crate) hello: Vec<u8>,
    /// The reply to `hello` must arrive before the requests start.
    pub(crate) hello_reply: bool,
    /// One request (request/response modes).
    pub(crate) request: Vec<u8>,
    /// Raw bulk: the bytes streamed, over and over.
    pattern: Vec<u8>,
    /// A fresh checker for one connection.
    pub(crate) checker: Checker,
    /// Every connection speaks TLS.
    pub(crate) tls: Option<tls::Client>,
}

pub(crate) fn script(spec: &Spec) -> io::Result<Script> {
    Ok(match spec.mode {
        Mode::Raw => {
            let pattern = letters(CHUNK);
            Script {
                hello: Vec::new(),
                hello_reply: false,
                request: Vec::new(),
                checker: Checker::stream(expected(spec.expect, &pattern).into()),
                pattern,
                tls: spec.tls.clone(),
            }
        }
        Mode::Line => {
            let mut request = letters(spec.payload.saturating_sub(1));
            request.push(b'\n');
            Script {
                hello: Vec::new(),
                hello_reply: false,
                checker: Checker::stream(expected(spec.expect, &request).into()),
                request,
                pattern: Vec::new(),
                tls: spec.tls.clone(),
            }
        }
        Mode::Frame => {
            let payload = letters(spec.payload);
            let len = u32::try_from(payload.len())
                .map_err(|_| io::Error::other("a frame payload is at most 4294967295 bytes"))?;
            let mut request = Header::new(Kind::Data, len).to_bytes().to_vec();
            request.extend_from_slice(&payload);
            // The echo ceiling speaks no protocol: no handshake, and the
            // request frame comes back as it went.
            let handshake = spec.expect == Expect::Upper;
            Script {
                hello: if handshake {
                    ClientHello::frame().to_vec()
                } else {
                    Vec::new()
                },
                hello_reply: handshake,
                request,
                pattern: Vec::new(),
                checker: Checker::frames(expected(spec.expect, &payload).into(), handshake),
                tls: spec.tls.clone(),
            }
        }
        Mode::Udp | Mode::Hold | Mode::Hostile | Mode::Handshake | Mode::Ws => {
            unreachable!("not a TCP request/response mode of this loop")
        }
    })
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Connecting,
    /// Connected; the TLS handshake under way.
    Tls,
    /// Waiting for the server's HELLO.
    Handshake,
    Running,
    Done,
}

pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    /// The TLS session, when the connection speaks TLS.
    pub(crate) tls: Option<Box<Tls>>,
    pub(crate) stage: Stage,
    pub(crate) out: Vec<u8>,
    out_at: usize,
    pub(crate) in_flight: VecDeque<Instant>,
    checker: Checker,
    sent: u64,
    pub(crate) received: u64,
}

impl Conn {
    /// A connection being set up, checked by `checker`, with room for
    /// `depth` requests in flight.
    pub(crate) fn new(stream: TcpStream, checker: Checker, depth: usize) -> Conn {
        Conn {
            stream,
            tls: None,
            stage: Stage::Connecting,
            out: Vec::new(),
            out_at: 0,
            in_flight: VecDeque::with_capacity(depth),
            checker,
            sent: 0,
            received: 0,
        }
    }
}

/// Progress lines on stderr, once a second.
pub(crate) struct Progress {
    start: Instant,
    next: Instant,
    label: &'static str,
}

impl Progress {
    pub(crate) fn new(label: &'static str) -> Self {
        let start = Instant::now();
        Progress {
            start,
            next: start + Duration::from_secs(1),
            label,
        }
    }

    pub(crate) fn tick(&mut self, now: Instant, what: impl FnOnce() -> String) {
        if now >= self.next {
            self.next += Duration::from_secs(1);
            let t = now.duration_since(self.start).as_secs_f64();
            eprintln!("bench {}: {t:5.1} s  {}", self.label, what());
        }
    }
}

pub(crate) fn connect_one(poll: &Poll, addr: SocketAddr, key: usize) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    poll.registry()
        .register(&mut s, Token(key), Interest::READABLE | Interest::WRITABLE)?;
    Ok(s)
}

/// Raw bulk, line and frame request/response.
pub fn run_tcp(spec: &Spec) -> io::Result<Report> {
    sys::raise_open_files_limit();
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let script = script(spec)?;
    let bulk = spec.mode == Mode::Raw;
    let mut conns: Vec<Conn> = Vec::with_capacity(spec.connections);
    for key in 0..spec.connections {
        let mut c = Conn::new(
            connect_one(&poll, spec.addr, key)?,
            script.checker.clone(),
            spec.depth,
        );
        c.tls = script.tls.as_ref().map(tls::Client::session).transpose()?;
        conns.push(c);
    }
    let mut buf = vec![0u8; CHUNK];
    let mut latencies: Vec<u32> = Vec::new();
    let mut completed: u64 = 0;
    let mut errors: u64 = 0;
    let mut first_error: Option<String> = None;
    let mut running = 0usize;
    let mut start = None::<Instant>;
    let mut deadline = None::<Instant>;
    let mut finished_at = None::<Instant>;
    let mut progress = Progress::new(spec.mode.name());
    let setup_limit = Instant::now() + Duration::from_secs(30);
    let mut active = spec.connections;
    let mut cpu_start = None::<u64>;
    let mut cpu_end = None::<u64>;
    loop {
        let now = Instant::now();
        if start.is_none() && now > setup_limit {
            return Err(io::Error::other("connections were not set up within 30 s"));
        }
        if let Some(d) = deadline {
            if !bulk && now >= d && cpu_end.is_none() {
                cpu_end = spec.server_pid.and_then(sys::cpu_ns);
            }
            if now >= d + GRACE {
                break;
            }
            if !bulk && now >= d && conns.iter().all(|c| c.in_flight.is_empty()) {
                break;
            }
        }
        if active == 0 {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        let now = Instant::now();
        for ev in events.iter() {
            let key = ev.token().0;
            let c = &mut conns[key];
            if c.stage == Stage::Done {
                continue;
            }
            if c.stage == Stage::Connecting {
                match connected(c, &script, spec.addr)? {
                    None => continue, // not connected yet
                    Some(true) => running += 1,
                    Some(false) => {}
                }
            }
            if c.stage == Stage::Tls {
                match tls_handshake(c, &script, &mut buf) {
                    Ok(None) => continue, // still shaking hands
                    Ok(Some(true)) => running += 1,
                    Ok(Some(false)) => {}
                    // The certificate refused, an alert: nothing can be
                    // measured.
                    Err(why) => {
                        return Err(io::Error::other(format!("setting up a connection: {why}")))
                    }
                }
            }
            let result = if bulk && start.is_none() {
                Ok(()) // bulk starts when everyone is connected
            } else if bulk {
                drive_bulk(c, spec.bytes, &script.pattern, &mut buf)
            } else {
                drive_rr(
                    c,
                    &script.request,
                    spec.depth,
                    deadline.is_none_or(|d| now < d),
                    &mut buf,
                    now,
                    &mut latencies,
                    &mut completed,
                    &mut running,
                )
            };
            if let Err(why) = result {
                if start.is_none() {
                    // A connection that cannot even be set up (a bad
                    // HELLO, an ERROR): nothing fair can be measured.
                    return Err(io::Error::other(format!("setting up a connection: {why}")));
                }
                errors += 1;
                first_error.get_or_insert(why);
                c.stage = Stage::Done;
                active -= 1;
            } else if bulk && c.received >= spec.bytes {
                c.stage = Stage::Done;
                active -= 1;
                if active == 0 {
                    finished_at = Some(now);
                    cpu_end = spec.server_pid.and_then(sys::cpu_ns);
                }
            }
        }
        if start.is_none() && running == spec.connections {
            // Everyone connected (and through the TLS handshake and the
            // HELLO exchange): the clock starts now, for everyone.
            let t = Instant::now();
            start = Some(t);
            deadline = Some(t + spec.duration);
            cpu_start = spec.server_pid.and_then(sys::cpu_ns);
            if !bulk {
                for c in conns.iter_mut() {
                    for _ in 0..spec.depth {
                        c.out.extend_from_slice(&script.request);
                        c.in_flight.push_back(t);
                    }
                    if let Err(why) = flush(c) {
                        errors += 1;
                        first_error.get_or_insert(why);
                    }
                }
            } else {
                for c in conns.iter_mut() {
                    let _ = drive_bulk(c, spec.bytes, &script.pattern, &mut buf);
                }
            }
        }
        if let Some(s) = start {
            let total: u64 = conns.iter().map(|c| c.received).sum();
            progress.tick(now, || {
                if bulk {
                    format!("{:.0} MB received", total as f64 / 1e6)
                } else {
                    let secs = now.duration_since(s).as_secs_f64().max(1e-9);
                    format!("{completed} responses ({:.0}/s)", completed as f64 / secs)
                }
            });
        }
    }
    for c in conns.iter_mut() {
        if let (Some(t), false) = (c.tls.as_mut(), c.stage == Stage::Done) {
            let _ = t.close(&c.stream); // the end of input, as TLS says it
        }
    }
    let start = start.ok_or_else(|| io::Error::other("no connection was set up"))?;
    let end = if bulk {
        finished_at.unwrap_or_else(Instant::now)
    } else {
        deadline.unwrap_or_else(Instant::now)
    };
    let seconds = end.duration_since(start).as_secs_f64();
    let bytes: u64 = conns.iter().map(|c| c.received).sum();
    if bulk {
        for c in &conns {
            if c.received < spec.bytes && c.stage != Stage::Done {
                errors += 1;
                first_error.get_or_insert_with(|| "bulk transfer did not finish".into());
            }
        }
    }
    let mut r = Report::new(
        spec,
        seconds,
        completed,
        bytes,
        &mut latencies,
        errors,
        first_error,
    );
    r.server_cpu_ns = cpu_start.zip(cpu_end).map(|(a, b)| b.saturating_sub(a));
    Ok(r)
}

/// Raw bulk: write `total` bytes of the pattern, then half-close; check
/// the transformed bytes as they come back.
fn drive_bulk(c: &mut Conn, total: u64, pattern: &[u8], buf: &mut [u8]) -> Result<(), String> {
    if c.stage != Stage::Running {
        return Ok(());
    }
    push(&c.stream, &mut c.tls)?;
    while c.sent < total {
        let at = (c.sent % pattern.len() as u64) as usize;
        let n = (pattern.len() - at).min((total - c.sent) as usize);
        match write_to(&c.stream, &mut c.tls, &pattern[at..at + n]) {
            Ok(k) => {
                c.sent += k as u64;
                if c.sent == total {
                    // The end of input: a half-close, or a close_notify.
                    match c.tls.as_mut() {
                        Some(t) => t.close(&c.stream).map_err(|e| format!("write: {e}"))?,
                        None => {
                            let _ = c.stream.shutdown(std::net::Shutdown::Write);
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    push(&c.stream, &mut c.tls)?;
    loop {
        match read_from(&c.stream, &mut c.tls, buf) {
            Ok(0) => {
                if c.received < total {
                    return Err(format!(
                        "server closed after {} of {total} bytes",
                        c.received
                    ));
                }
                return Ok(());
            }
            Ok(n) => {
                c.checker.feed(&buf[..n])?;
                c.received += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

pub(crate) fn flush(c: &mut Conn) -> Result<(), String> {
    while c.out_at < c.out.len() {
        match write_to(&c.stream, &mut c.tls, &c.out[c.out_at..]) {
            Ok(n) => {
                c.sent += n as u64;
                c.out_at += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return push(&c.stream, &mut c.tls);
            }
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    c.out.clear();
    c.out_at = 0;
    push(&c.stream, &mut c.tls)
}

/// Request/response: check every response byte, time each response, keep
/// `depth` requests in flight until the deadline.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive_rr(
    c: &mut Conn,
    request: &[u8],
    depth: usize,
    more: bool,
    buf: &mut [u8],
    now: Instant,
    latencies: &mut Vec<u32>,
    completed: &mut u64,
    running: &mut usize,
) -> Result<(), String> {
    flush(c)?;
    loop {
        let n = match read_from(&c.stream, &mut c.tls, buf) {
            Ok(0) => {
                if c.in_flight.is_empty() && !more {
                    c.stage = Stage::Done;
                    return Ok(());
                }
                return Err("server closed the connection".into());
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(format!("read: {e}")),
        };
        c.received += n as u64;
        let fed = c.checker.feed(&buf[..n])?;
        if fed.hello.is_some() && c.stage == Stage::Handshake {
            c.stage = Stage::Running;
            *running += 1;
        }
        let done = usize::try_from(fed.responses).unwrap_or(usize::MAX);
        if done > c.in_flight.len() || (done == c.in_flight.len() && c.checker.mid_response()) {
            return Err("a response nobody asked for".into());
        }
        for sent in c.in_flight.drain(..done) {
            if more {
                let us = now.duration_since(sent).as_micros();
                latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                *completed += 1;
            }
        }
        if more && done > 0 {
            while c.in_flight.len() < depth {
                c.out.extend_from_slice(request);
                c.in_flight.push_back(now);
            }
        }
    }
    flush(c)
}

/// UDP request/response: `connections` sockets, `depth` datagrams each in
/// flight; a datagram unanswered for a second counts as lost and is sent
/// again.
pub fn run_udp(spec: &Spec) -> io::Result<Report> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let letters = letters(spec.payload);
    let want = expected(spec.expect, &letters);
    let bind: SocketAddr = if spec.addr.is_ipv4() {
        "127.0.0.1:0".parse().unwrap()
    } else {
        "[::1]:0".parse().unwrap()
    };
    let mut socks = Vec::new();
    for key in 0..spec.connections {
        let mut s = UdpSocket::bind(bind)?;
        s.connect(spec.addr)?;
        poll.registry()
            .register(&mut s, Token(key), Interest::READABLE)?;
        socks.push((s, VecDeque::<Instant>::with_capacity(spec.depth)));
    }
    let mut latencies = Vec::new();
    let mut completed = 0u64;
    let mut errors = 0u64;
    let mut lost = 0u64;
    let mut first_error = None;
    let mut buf = vec![0u8; 65_536];
    let start = Instant::now();
    let deadline = start + spec.duration;
    let cpu_start = spec.server_pid.and_then(sys::cpu_ns);
    for (s, q) in socks.iter_mut() {
        for _ in 0..spec.depth {
            s.send(&letters)?;
            q.push_back(start);
        }
    }
    let mut progress = Progress::new("udp");
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        let now = Instant::now();
        for ev in events.iter() {
            let (s, q) = &mut socks[ev.token().0];
            loop {
                match s.recv(&mut buf) {
                    Ok(n) => {
                        if let Err(why) = verify::datagram(&buf[..n], &want) {
                            errors += 1;
                            first_error.get_or_insert(why);
                        }
                        if let Some(sent) = q.pop_front() {
                            let us = now.duration_since(sent).as_micros();
                            latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                            completed += 1;
                        }
                        if now < deadline && s.send(&letters).is_ok() {
                            q.push_back(now);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("udp: {e}"));
                        break;
                    }
                }
            }
        }
        for (s, q) in socks.iter_mut() {
            if q.front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(1))
            {
                lost += q.len() as u64;
                q.clear();
                for _ in 0..spec.depth {
                    if s.send(&letters).is_ok() {
                        q.push_back(now);
                    }
                }
            }
        }
        progress.tick(now, || format!("{completed} datagrams answered"));
    }
    let cpu_end = spec.server_pid.and_then(sys::cpu_ns);
    if lost > 0 {
        first_error.get_or_insert_with(|| format!("{lost} datagrams lost"));
    }
    let seconds = spec.duration.as_secs_f64();
    let bytes = completed * spec.payload as u64;
    let mut r = Report::new(
        spec,
        seconds,
        completed,
        bytes,
        &mut latencies,
        errors,
        first_error,
    );
    r.lost = Some(lost);
    r.server_cpu_ns = cpu_start.zip(cpu_end).map(|(a, b)| b.saturating_sub(a));
    Ok(r)
}

/// One connection of a hold run.
struct Held {
    stream: TcpStream,
    /// The TLS session, when the connection speaks TLS.
    tls: Option<Box<Tls>>,
    /// Through the TLS handshake (or none to do).
    shaken: bool,
    hello_sent: bool,
    /// Checks the server's HELLO until it has arrived.
    hello: Option<Checker>,
    /// `--ws`: the WebSocket, until its 101 and one message answered.
    ws: Option<Box<ws::Session>>,
    held: bool,
}

/// Connect-and-hold: open `connections` connections (optionally with a
/// frame HELLO each, whose reply is checked, or with `--ws` each a
/// WebSocket after its 101 and one message answered; with TLS, each once
/// through its handshake), hold them, and report the server's RSS
/// growth.
pub fn run_hold(spec: &Spec) -> io::Result<Report> {
    sys::raise_open_files_limit();
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let rss_before = spec.server_pid.map(sys::rss_bytes).transpose()?;
    let hello_check = spec.hello.then(|| Checker::frames(Rc::from(&[][..]), true));
    let ws_script = spec.ws.then(|| ws::Script::new(spec));
    let mut rng = ws::Rng::new();
    let mut conns: Vec<Option<Held>> = Vec::with_capacity(spec.connections);
    let mut connecting = 0usize;
    let mut held = 0usize;
    let mut failed = 0usize;
    let mut errors = 0u64;
    let mut first_error = None;
    let mut progress = Progress::new("hold");
    let limit = Instant::now() + Duration::from_secs(60);
    let mut buf = vec![0u8; CHUNK];
    let start = Instant::now();
    while held + failed < spec.connections {
        if Instant::now() > limit {
            return Err(io::Error::other(format!(
                "only {held} of {} connections set up in 60 s",
                spec.connections
            )));
        }
        while connecting < CONNECTING_AT_ONCE && conns.len() < spec.connections {
            let key = conns.len();
            let tls = spec.tls.as_ref().map(tls::Client::session).transpose()?;
            conns.push(Some(Held {
                stream: connect_one(&poll, spec.addr, key)?,
                shaken: tls.is_none(),
                tls,
                hello_sent: false,
                hello: hello_check.clone(),
                ws: ws_script
                    .as_ref()
                    .map(|w| Box::new(ws::Session::new(w, &mut rng))),
                held: false,
            }));
            connecting += 1;
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            let key = ev.token().0;
            let Some(h) = conns[key].as_mut() else {
                continue;
            };
            if h.held {
                continue;
            }
            let outcome = if h.stream.peer_addr().is_err() {
                match h.stream.take_error() {
                    Ok(Some(e)) | Err(e) => Err(format!("connect: {e}")),
                    Ok(None) => continue, // not connected yet
                }
            } else {
                hold_step(h, spec.hello, ws_script.as_ref(), &mut rng, &mut buf)
            };
            match outcome {
                Ok(false) => {}
                Ok(true) => {
                    h.held = true;
                    held += 1;
                    connecting -= 1;
                    // Quiet from now on: only a close would wake us (and
                    // the socket taking TLS records rustls still holds).
                    let interest = if h.tls.as_ref().is_some_and(|t| t.wants_write()) {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    poll.registry()
                        .reregister(&mut h.stream, Token(key), interest)?;
                }
                Err(why) => {
                    errors += 1;
                    first_error.get_or_insert(why);
                    conns[key] = None;
                    failed += 1;
                    connecting -= 1;
                }
            }
        }
        progress.tick(Instant::now(), || format!("{held} connections held"));
    }
    let set_up = start.elapsed().as_secs_f64();
    // Let the server settle, then hold for the duration and watch for
    // closes.
    let until = Instant::now() + spec.duration.max(Duration::from_secs(1));
    while Instant::now() < until {
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        for ev in events.iter() {
            if let Some(h) = conns[ev.token().0].as_mut() {
                // A TLS session may get records (tickets) with no
                // plaintext: WouldBlock.
                let closed = match read_from(&h.stream, &mut h.tls, &mut buf) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                } || push(&h.stream, &mut h.tls).is_err();
                if closed {
                    errors += 1;
                    first_error.get_or_insert_with(|| "the server closed a held connection".into());
                    conns[ev.token().0] = None;
                }
            }
        }
    }
    let rss_after = spec.server_pid.map(sys::rss_bytes).transpose()?;
    let mut r = Report::new(
        spec,
        set_up,
        held as u64,
        0,
        &mut Vec::new(),
        errors,
        first_error,
    );
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        r.rss_growth = Some(b as i64 - a as i64);
        r.rss_per_connection = Some((b as f64 - a as f64) / held.max(1) as f64);
    }
    Ok(r)
}

/// A connected connection of a hold run got an event: drives its TLS
/// handshake, then sends its HELLO (with `hello`) and reads the reply, or
/// (with a WebSocket) its upgrade and one message; true once it is ready
/// to hold.
fn hold_step(
    h: &mut Held,
    hello: bool,
    ws: Option<&ws::Script>,
    rng: &mut ws::Rng,
    buf: &mut [u8],
) -> Result<bool, String> {
    if let (Some(t), false) = (h.tls.as_mut(), h.shaken) {
        match t.handshake(&h.stream, buf) {
            Ok(false) => return Ok(false),
            Ok(true) => h.shaken = true,
            Err(e) => return Err(handshake_error(&e)),
        }
    }
    if let (Some(s), Some(script)) = (h.ws.as_mut(), ws) {
        if !s.exchange_one(&h.stream, &mut h.tls, script, rng, buf)? {
            return Ok(false);
        }
        h.ws = None; // nothing of it is needed while held
        return Ok(true);
    }
    if hello && !h.hello_sent {
        h.hello_sent = true;
        // 9 bytes into an empty socket (or rustls): they are taken.
        let _ = write_to(&h.stream, &mut h.tls, &ClientHello::frame());
    }
    push(&h.stream, &mut h.tls)?;
    await_hello(h, buf)
}

/// Reads what has arrived of the server's HELLO; true once the connection
/// is ready to hold (at once without a HELLO).
fn await_hello(h: &mut Held, buf: &mut [u8]) -> Result<bool, String> {
    let Some(check) = h.hello.as_mut() else {
        return Ok(true);
    };
    loop {
        match read_from(&h.stream, &mut h.tls, buf) {
            Ok(0) => return Err("the server closed before its HELLO".into()),
            Ok(n) => {
                if check.feed(&buf[..n])?.hello.is_some() {
                    h.hello = None;
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

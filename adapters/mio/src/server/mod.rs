//! `shout serve`: SHOUT/1 over TCP (and UDP) on `mio`.
//!
//! One event loop per thread (a `Worker`), each with its own listener on
//! the shared port (`SO_REUSEPORT`), its own connections, timers and
//! buffers: threads share nothing but the connection count and the
//! shutdown flag. Sockets are edge-triggered and read until `WouldBlock`
//! (with a per-wake-up budget so one busy peer cannot starve the rest);
//! writable interest is registered only while a connection has output the
//! socket would not take.

mod budget;
mod connection;
mod held;
mod listener;
mod metrics;
mod signals;
mod timers;
mod tls;
mod udp;

use std::collections::VecDeque;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};
use shout_core::wire::{ErrorCode, ErrorFrame};
use shout_core::{Event, Framing, Instant, ValidConfig};
use slab::Slab;

pub use listener::{bind, Bound, Transport};
pub use signals::Stopped;
pub use tls::Certified;

use crate::clock::Clock;
use budget::{Budget, Share};
use connection::{Buffers, Conn, Cx, Pipe, Session, Sessions, Step};
use metrics::{Counters, Ended};
use timers::Timers;

use connection::{BUFFER_SIZE, READ_SIZE};

/// The kernel's receive and send buffer of each connection unless
/// `--socket-buffer` says otherwise. Left to autotuning they grow to
/// tcp_rmem/tcp_wmem's maximum (32 and 4 MiB here), and a few hundred
/// clients that send without reading then hold the host's whole TCP
/// memory, stalling every connection on it (RELIABILITY.md). The price:
/// the client waits for window more often, and the kernel work that
/// frees it runs in the server's reads (raw bulk about 11 % more server
/// CPU per byte than autotuned buffers; BENCHMARKS.md).
pub const DEFAULT_SOCKET_BUFFER: usize = 256 * 1024;

/// How soon accepting is tried again after it failed for want of
/// descriptors, when none of this loop's connections closes first (the
/// contract allows 100 ms).
const ACCEPT_RETRY: shout_core::Duration = shout_core::Duration::from_millis(50);

/// How often connections waiting for the memory budget look again, in
/// case another event loop freed some.
const STARVED_RETRY: shout_core::Duration = shout_core::Duration::from_millis(10);

const WAKER: Token = Token(usize::MAX);
/// Tokens of a loop's listening sockets: `SOCKETS + 2i` for TCP listener
/// `i`, `SOCKETS + 2i + 1` for UDP socket `i` (far above any connection's
/// slab key).
const SOCKETS: usize = usize::MAX - 1 - 2 * MAX_SOCKETS;
const MAX_SOCKETS: usize = 1024;

/// What a token names.
enum Source {
    Listener(usize),
    Udp,
    Waker,
    Conn(usize),
}

fn source(token: Token) -> Source {
    match token.0 {
        t if t == WAKER.0 => Source::Waker,
        t if t >= SOCKETS && (t - SOCKETS).is_multiple_of(2) => Source::Listener((t - SOCKETS) / 2),
        t if t >= SOCKETS => Source::Udp,
        key => Source::Conn(key),
    }
}

/// Everything `shout serve` was asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen (port 0: any free port).
    pub listen: SocketAddr,
    /// Session settings, validated once.
    pub config: ValidConfig,
    /// Also serve UDP on the same port.
    pub udp: bool,
    /// Connections open at once across all threads, lingering ones included.
    pub max_connections: usize,
    /// Event loops.
    pub threads: usize,
    /// The most bytes held in user space for all connections together.
    pub max_buffered: usize,
    /// Every TCP connection begins with a PROXY protocol header (v1 or v2).
    pub proxy_protocol: bool,
    /// Serve Prometheus metrics on this address.
    pub metrics: Option<SocketAddr>,
    /// Serve TLS with this certificate: with `auto`, to connections whose
    /// first byte is 0x16; else to every connection.
    pub tls: Option<Certified>,
    /// Each connection's SO_RCVBUF and SO_SNDBUF; `None` leaves them to
    /// the kernel's autotuning.
    pub socket_buffer: Option<NonZeroUsize>,
}

/// State the event loops share.
struct Shared {
    connections: Arc<AtomicUsize>,
    /// Event loops whose listeners are still open: sessions drain only
    /// once every loop has stopped accepting.
    listening: AtomicUsize,
    /// Every event loop, to wake when the last one stops accepting.
    loops: std::sync::OnceLock<Vec<Arc<Waker>>>,
    budget: Arc<Budget>,
    shutdown: Arc<AtomicBool>,
    /// Each event loop's counters, summed by a scrape.
    counters: Vec<Arc<Counters>>,
    running: AtomicUsize,
    failed: AtomicBool,
    done: Option<Waker>,
}

/// A started server: its addresses and a handle to stop it.
pub struct Running {
    listening: Vec<(SocketAddr, Transport)>,
    metrics: Option<SocketAddr>,
    shared: Arc<Shared>,
    wakers: Vec<Arc<Waker>>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// The address it listens on (the real port): its first TCP
    /// listener's.
    pub fn local_addr(&self) -> SocketAddr {
        self.listening
            .iter()
            .find(|(_, t)| *t == Transport::Tcp)
            .unwrap_or(&self.listening[0])
            .0
    }

    /// Where it serves metrics, if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics
    }

    /// Every socket it serves, in the order `serve` announces them.
    pub fn listening(&self) -> &[(SocketAddr, Transport)] {
        &self.listening
    }

    /// Starts a graceful shutdown; returns at once.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            let _ = w.wake();
        }
    }

    /// True once every event loop has finished.
    pub fn is_done(&self) -> bool {
        self.shared.running.load(Ordering::SeqCst) == 0
    }

    /// Connections open now, across all threads.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Bytes of the memory budget taken now, and the most taken at once.
    pub fn buffered(&self) -> (usize, usize) {
        (self.shared.budget.taken(), self.shared.budget.peak())
    }

    /// Waits for every event loop; an error if one of them failed.
    pub fn join(self) -> Result<(), ServeError> {
        let mut ok = true;
        for t in self.threads {
            ok &= t.join().is_ok();
        }
        if ok && !self.shared.failed.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(ServeError::EventLoop)
        }
    }
}

/// Binds and starts the event loops. `done` is woken when they have all
/// finished.
pub fn start(options: &Options, done: Option<Waker>) -> io::Result<Running> {
    let threads = options.threads.max(1);
    let bound = match listener::inherited(threads)? {
        Some(passed) => passed,
        None => listener::bind(options.listen, threads, options.udp)?,
    };
    raise_open_files_limit();
    let shared = Arc::new(Shared {
        connections: Arc::new(AtomicUsize::new(0)),
        listening: AtomicUsize::new(threads),
        loops: std::sync::OnceLock::new(),
        budget: Arc::new(Budget::new(options.max_buffered)),
        shutdown: Arc::new(AtomicBool::new(false)),
        counters: (0..threads).map(|_| Arc::default()).collect(),
        running: AtomicUsize::new(threads),
        failed: AtomicBool::new(false),
        done,
    });
    let mut workers = Vec::with_capacity(threads);
    for (id, sockets) in bound.loops.into_iter().enumerate() {
        workers.push(Worker::new(id, options, shared.clone(), sockets)?);
    }
    let wakers: Vec<Arc<Waker>> = workers.iter().map(|w| w.waker.clone()).collect();
    shared.budget.set_loops(wakers.clone());
    let _ = shared.loops.set(wakers.clone());
    let mut handles = Vec::with_capacity(threads);
    for w in workers {
        let spawned = std::thread::Builder::new()
            .name(format!("shout-loop-{}", w.id))
            .spawn(move || w.run());
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.shutdown.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
    }
    let metrics = match options.metrics {
        Some(addr) => Some(metrics::start(
            addr,
            metrics::Sources {
                loops: shared.counters.clone(),
                connections: shared.connections.clone(),
                draining: shared.shutdown.clone(),
                buffered_limit: options.max_buffered,
            },
        )?),
        None => None,
    };
    Ok(Running {
        listening: bound.announced,
        metrics,
        shared,
        wakers,
        threads: handles,
    })
}

/// Why `shout serve` stopped other than by a clean drain.
#[derive(Debug)]
pub enum ServeError {
    /// The signal handlers could not be installed.
    Signals(io::Error),
    /// The address could not be bound (the message says why).
    Bind(String),
    /// An event loop failed (logged when it happened).
    EventLoop,
    /// A second signal came during the drain: exit at once.
    Interrupted(i32),
}

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServeError::Signals(e) => write!(f, "cannot install signal handlers: {e}"),
            ServeError::Bind(msg) => f.write_str(msg),
            ServeError::EventLoop => f.write_str("an event loop failed"),
            ServeError::Interrupted(sig) => write!(f, "second signal ({sig}), exiting now"),
        }
    }
}

impl std::error::Error for ServeError {}

/// `shout serve`: binds, announces the address on stderr, serves until a
/// signal and a drain.
pub fn serve(options: &Options) -> Result<(), ServeError> {
    let (signal_loop, done) = signals::SignalLoop::install().map_err(ServeError::Signals)?;
    let running = start(options, Some(done))
        .map_err(|e| ServeError::Bind(describe_bind_error(options.listen, &e)))?;
    let mut err = io::stderr().lock();
    for (addr, transport) in running.listening() {
        let _ = writeln!(err, "listening on {addr} ({transport})");
    }
    if let Some(addr) = running.metrics_addr() {
        let _ = writeln!(err, "metrics on {addr}");
    }
    drop(err);
    let stopped = signal_loop.run(&running);
    let (_, peak) = running.buffered();
    tracing::info!(
        "memory budget: at most {peak} of {} bytes were taken at once",
        options.max_buffered
    );
    match stopped {
        Stopped::Drained => running.join(),
        Stopped::Interrupted(sig) => Err(ServeError::Interrupted(sig)),
        Stopped::Failed(e) => {
            tracing::error!("waiting for signals: {e}");
            Err(ServeError::EventLoop)
        }
    }
}

fn describe_bind_error(addr: SocketAddr, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!("cannot listen on {addr}: address already in use"),
        io::ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr}: address not available on this machine")
        }
        io::ErrorKind::PermissionDenied => format!("cannot listen on {addr}: permission denied"),
        // Socket activation's own errors say what they are about.
        io::ErrorKind::Other => e.to_string(),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// Holding many connections needs many descriptors: lifts the soft
/// limit to the hard one.
pub fn raise_open_files_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        if setrlimit(Resource::Nofile, lim).is_err() {
            tracing::warn!("could not raise the open files limit");
        }
    }
}

/// One event loop: a listener, its connections, their sessions and timers.
struct Worker {
    id: usize,
    poll: Poll,
    waker: Arc<Waker>,
    /// The TCP listeners (none once shutting down).
    listeners: Vec<TcpListener>,
    udps: Vec<UdpSocket>,
    /// A UDP socket may have datagrams left to serve.
    udp_pending: bool,
    conns: Slab<Conn>,
    sessions: Sessions,
    timers: Timers,
    bufs: Buffers,
    share: Share,
    counters: Arc<Counters>,
    /// Connections waiting for the budget, oldest first.
    starved: VecDeque<usize>,
    ready: Vec<usize>,
    shared: Arc<Shared>,
    config: ValidConfig,
    max_connections: usize,
    proxy_protocol: bool,
    socket_buffer: Option<NonZeroUsize>,
    tls: Option<Certified>,
    clock: Clock,
    drain_until: Option<Instant>,
    /// The listeners are closed (a shutdown began).
    stopped_accepting: bool,
    /// Accepting failed for want of descriptors: when to try again
    /// (sooner when one of ours closes).
    accept_retry: Option<Instant>,
    /// Failed accepts since the last warning, and when that was.
    accept_failures: u64,
    accept_warned: Option<Instant>,
    /// When this loop last warned that the budget is spent.
    starved_warned: Option<Instant>,
}

impl Worker {
    fn new(
        id: usize,
        options: &Options,
        shared: Arc<Shared>,
        sockets: listener::Sockets,
    ) -> io::Result<Worker> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        if sockets.tcp.len() > MAX_SOCKETS || sockets.udp.len() > MAX_SOCKETS {
            return Err(io::Error::other(format!(
                "at most {MAX_SOCKETS} listening sockets of each kind"
            )));
        }
        let mut listeners = Vec::with_capacity(sockets.tcp.len());
        for (i, tcp) in sockets.tcp.into_iter().enumerate() {
            let mut l = TcpListener::from_std(tcp);
            poll.registry()
                .register(&mut l, Token(SOCKETS + 2 * i), Interest::READABLE)?;
            listeners.push(l);
        }
        let mut udps = Vec::with_capacity(sockets.udp.len());
        for (i, udp) in sockets.udp.into_iter().enumerate() {
            let mut u = UdpSocket::from_std(udp);
            poll.registry()
                .register(&mut u, Token(SOCKETS + 2 * i + 1), Interest::READABLE)?;
            udps.push(u);
        }
        Ok(Worker {
            id,
            poll,
            waker,
            listeners,
            udps,
            udp_pending: false,
            conns: Slab::new(),
            sessions: Sessions::new(options.config),
            timers: Timers::default(),
            bufs: Buffers::new(BUFFER_SIZE, options.tls.is_some()),
            share: Share::new(
                shared.budget.clone(),
                options.threads,
                connection::read_reservation(READ_SIZE, &options.config),
            ),
            starved: VecDeque::new(),
            counters: shared.counters[id].clone(),
            ready: Vec::new(),
            shared,
            config: options.config,
            max_connections: options.max_connections,
            proxy_protocol: options.proxy_protocol,
            socket_buffer: options.socket_buffer,
            tls: options.tls.clone(),
            clock: Clock::new(),
            drain_until: None,
            stopped_accepting: false,
            accept_retry: None,
            accept_failures: 0,
            accept_warned: None,
            starved_warned: None,
        })
    }

    fn run(mut self) {
        if let Err(e) = self.event_loop() {
            tracing::error!(worker = self.id, "event loop failed: {e}");
            self.shared.failed.store(true, Ordering::SeqCst);
            if !self.stopped_accepting {
                // The others must not wait for this loop to stop accepting.
                self.stopped_accepting = true;
                if self.shared.listening.fetch_sub(1, Ordering::SeqCst) == 1 {
                    for w in self.shared.loops.get().into_iter().flatten() {
                        let _ = w.wake();
                    }
                }
            }
        }
        // Whatever is still open is closed as it is (drain deadline).
        let left = self.conns.len();
        if left > 0 {
            tracing::debug!(
                worker = self.id,
                "closing {left} connections at the drain deadline"
            );
            self.shared.connections.fetch_sub(left, Ordering::SeqCst);
            for _ in 0..left {
                self.counters.ended(Ended::DrainTimeout);
            }
        }
        if self.shared.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(w) = &self.shared.done {
                let _ = w.wake();
            }
        }
    }

    fn event_loop(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut tokens: Vec<(Token, bool)> = Vec::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            let now = self.clock.now();
            tokens.clear();
            tokens.extend(events.iter().map(|e| (e.token(), e.is_read_closed())));
            for &(token, read_closed) in &tokens {
                match source(token) {
                    Source::Listener(i) => self.accept(i, now),
                    Source::Udp => self.udp_pending = true,
                    Source::Waker => {}
                    Source::Conn(key) => self.process(key, now, !read_closed),
                }
            }
            if self.udp_pending {
                self.serve_udp();
            }
            if !self.ready.is_empty() {
                let ready = std::mem::take(&mut self.ready);
                for key in ready {
                    self.process(key, now, false);
                }
            }
            self.expire_timers(now);
            self.share.yield_if_short();
            if !self.starved.is_empty() {
                self.retry_starved(now);
            }
            if self.accept_retry.is_some_and(|at| now >= at) {
                self.accept_retry = None;
                for i in 0..self.listeners.len() {
                    self.accept(i, now);
                }
            }
            if self.shared.shutdown.load(Ordering::SeqCst) {
                if !self.stopped_accepting {
                    self.stop_accepting(now);
                }
                if self.drain_until.is_none() && self.shared.listening.load(Ordering::SeqCst) == 0 {
                    self.begin_shutdown(now);
                }
            }
            if let Some(until) = self.drain_until {
                if self.conns.is_empty() || now >= until {
                    return Ok(());
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<std::time::Duration> {
        if !self.ready.is_empty() || self.udp_pending {
            return Some(std::time::Duration::ZERO);
        }
        let retry = (!self.starved.is_empty()).then(|| self.clock.now() + STARVED_RETRY);
        let next = [
            self.timers.next(),
            self.drain_until,
            self.accept_retry,
            retry,
        ]
        .into_iter()
        .flatten()
        .min()?;
        let wait = next.saturating_since(self.clock.now());
        Some(std::time::Duration::from_micros(wait.as_micros()))
    }

    /// Accepts what listener `i` has queued.
    fn accept(&mut self, i: usize, now: Instant) {
        loop {
            let Some(listener) = self.listeners.get(i) else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return self.accept_failed(now, &e),
            };
            let before = self.shared.connections.fetch_add(1, Ordering::SeqCst);
            if before >= self.max_connections {
                self.shared.connections.fetch_sub(1, Ordering::SeqCst);
                self.refuse(stream, peer);
                continue;
            }
            let _ = stream.set_nodelay(true);
            if let Some(size) = self.socket_buffer {
                let sock = socket2::SockRef::from(&stream);
                let _ = sock.set_recv_buffer_size(size.get());
                let _ = sock.set_send_buffer_size(size.get());
            }
            let entry = self.conns.vacant_entry();
            let key = entry.key();
            let mut conn = Conn::new(stream, now, self.proxy_protocol, self.tls.is_some());
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut conn.stream, Token(key), Interest::READABLE)
            {
                tracing::warn!(worker = self.id, "cannot watch a connection: {e}");
                self.shared.connections.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let conn = entry.insert(conn);
            self.counters.add(metrics::ACCEPTED, 1);
            tracing::trace!(worker = self.id, conn = key, %peer, "accepted");
            if let Some(at) = conn.deadline(&self.sessions, self.config.idle_timeout) {
                self.timers.arm(&mut conn.timer, key, at);
            }
        }
    }

    /// Accepting failed (out of descriptors, most likely): the waiting
    /// connections stay queued and are tried again when one of ours
    /// closes or after [`ACCEPT_RETRY`], since an edge-triggered listener
    /// raises no new event for them. One warning a second at most.
    fn accept_failed(&mut self, now: Instant, e: &io::Error) {
        self.accept_failures += 1;
        self.counters.add(metrics::ACCEPT_ERRORS, 1);
        self.accept_retry = Some(now + ACCEPT_RETRY);
        let due = self
            .accept_warned
            .is_none_or(|at| now >= at + shout_core::Duration::from_secs(1));
        if due {
            tracing::warn!(
                worker = self.id,
                "accept failed {} time(s) since the last warning: {e}; waiting connections stay queued and are accepted once descriptors are free",
                self.accept_failures
            );
            self.accept_failures = 0;
            self.accept_warned = Some(now);
        }
    }

    /// The budget is spent: says so, at most once every ten seconds.
    fn warn_starved(&mut self) {
        let now = self.clock.now();
        if self
            .starved_warned
            .is_some_and(|at| now < at + shout_core::Duration::from_secs(10))
        {
            return;
        }
        self.starved_warned = Some(now);
        tracing::warn!(
            worker = self.id,
            "the memory budget (--max-buffered {}) is spent: {} connection(s) wait, unread, until bytes are freed",
            self.shared.budget.limit(),
            self.starved.len()
        );
    }

    /// Offers the budget to the connections waiting for it, oldest first,
    /// until one still finds too little.
    fn retry_starved(&mut self, now: Instant) {
        while let Some(&key) = self.starved.front() {
            self.starved.pop_front();
            match self.conns.get_mut(key) {
                Some(conn) if conn.starved => conn.starved = false,
                _ => continue, // gone, or woken already
            }
            self.process(key, now, false);
            if self.conns.get(key).is_some_and(|c| c.starved) {
                // Still too little: it keeps its place at the front.
                if let Some(k) = self.starved.pop_back() {
                    self.starved.push_front(k);
                }
                return;
            }
        }
    }

    /// Over max_connections: an explicit frame server says BUSY without
    /// reading; any other closes at once. Nothing lingers or counts.
    fn refuse(&self, stream: TcpStream, peer: SocketAddr) {
        tracing::debug!(worker = self.id, %peer, "refused: max_connections reached");
        self.counters.add(metrics::REFUSED_MAX_CONNECTIONS, 1);
        if self.config.framing == Framing::Frame {
            self.counters.error_sent(ErrorCode::Busy);
            let busy =
                ErrorFrame::new(ErrorCode::Busy, &[b"server busy (max_connections reached)"]);
            let _ = (&stream).write(busy.as_bytes());
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }

    /// Drives one connection after an event (or a yield). `from_event`:
    /// a readiness event that did not report the peer's end.
    fn process(&mut self, key: usize, now: Instant, from_event: bool) {
        // A stale event for a connection already gone does nothing.
        self.step(key, now, from_event, Conn::advance);
    }

    /// Runs one step of connection `key` (`act`: advance, a timer, a
    /// shutdown) with what the loop lends it, then settles the result.
    fn step(
        &mut self,
        key: usize,
        now: Instant,
        short_read_drains: bool,
        act: impl FnOnce(&mut Conn, &mut Cx<'_>) -> Step,
    ) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let mut cx = Cx {
            sessions: &mut self.sessions,
            bufs: &mut self.bufs,
            pipe: Pipe {
                limit: self.share.limit(),
                share: &mut self.share,
                now,
                short_read_drains,
                in_place: self.config.transform.is_length_preserving(),
                growth: self.config.transform.max_growth(),
                max_payload: self.config.max_payload as usize,
                counters: &self.counters,
                tls: self.tls.as_ref(),
                auto: self.config.framing == Framing::Auto,
            },
            drain_timeout: self.config.drain_timeout,
        };
        let step = act(conn, &mut cx);
        self.settle(key, step);
    }

    /// After a step: logs the session's events, dispatches the step, and
    /// arms what the connection waits for next.
    fn settle(&mut self, key: usize, step: Step) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(conn.session) {
            account(self.id, key, s, &self.counters);
        }
        self.counters
            .set(metrics::BUFFERED, self.share.held() as u64);
        match step {
            Step::Close(why) => return self.close(key, why),
            Step::Yield => self.ready.push(key),
            Step::Starved if !conn.starved => {
                conn.starved = true;
                self.starved.push_back(key);
                self.warn_starved();
            }
            Step::Starved | Step::Wait => {}
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let want_writable = conn.wants_write();
        if want_writable != conn.writable {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poll
                .registry()
                .reregister(&mut conn.stream, Token(key), interest)
                .is_err()
            {
                return self.close(key, "cannot watch the socket");
            }
            conn.writable = want_writable;
        }
        if let Some(at) = conn.deadline(&self.sessions, self.config.idle_timeout) {
            self.timers.arm(&mut conn.timer, key, at);
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        while let Some((at, key)) = self.timers.pop_due(now) {
            let Some(conn) = self.conns.get_mut(key) else {
                continue;
            };
            if conn.timer.at() != Some(at) {
                continue; // stale: the connection re-armed earlier
            }
            conn.timer.clear();
            self.step(key, now, false, Conn::on_timer);
        }
        let conns = &self.conns;
        self.timers.compact(conns.len(), |at, key| {
            conns.get(key).is_some_and(|c| c.timer.at() == Some(at))
        });
    }

    /// The first step of a shutdown: takes the connections already queued
    /// on this loop's listeners (closing a listener resets them, and a
    /// balancer cannot retry a connection it saw established), then closes
    /// the listeners. The last loop to do so wakes the others, so that no
    /// session is sent CLOSE while any listener of this server still takes
    /// connections: a client that reconnects at a CLOSE is refused, and its
    /// balancer picks another server.
    fn stop_accepting(&mut self, now: Instant) {
        tracing::debug!(worker = self.id, "stop accepting");
        for i in 0..self.listeners.len() {
            self.accept(i, now);
        }
        for mut l in std::mem::take(&mut self.listeners) {
            let _ = self.poll.registry().deregister(&mut l);
        }
        for mut u in std::mem::take(&mut self.udps) {
            let _ = self.poll.registry().deregister(&mut u);
        }
        self.udp_pending = false;
        self.stopped_accepting = true;
        if self.shared.listening.fetch_sub(1, Ordering::SeqCst) == 1 {
            for w in self.shared.loops.get().into_iter().flatten() {
                let _ = w.wake();
            }
        }
    }

    /// Every listener is closed: every session drains what was waiting
    /// at this moment.
    fn begin_shutdown(&mut self, now: Instant) {
        tracing::debug!(worker = self.id, "shutting down");
        self.drain_until = Some(now + self.config.drain_timeout);
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in keys {
            self.step(key, now, false, Conn::shutdown);
        }
    }

    fn serve_udp(&mut self) {
        let (input, output) = self.bufs.split();
        let mut more = false;
        for u in &self.udps {
            more |= udp::serve(u, self.config.transform, input, output, &self.counters);
        }
        self.udp_pending = more;
    }

    fn close(&mut self, key: usize, why: &'static str) {
        let Some(mut conn) = self.conns.try_remove(key) else {
            return;
        };
        let now = self.clock.now();
        let ended = match self.sessions.remove(&mut conn.session) {
            Some(mut s) => {
                account(self.id, key, &mut s, &self.counters);
                let ended = match (why, s.closed) {
                    ("PROXY header refused", _) => Ended::ProxyRefused,
                    (_, Some(reason)) => Ended::of(reason, s.server.tally().error_sent().is_some()),
                    _ => Ended::IoError,
                };
                log_closed(self.id, key, &s, ended, now);
                ended
            }
            None if why == "PROXY header refused" => Ended::ProxyRefused,
            None if self.drain_until.is_some() => Ended::Shutdown,
            None => Ended::IoError,
        };
        self.counters.ended(ended);
        conn.release(&mut self.share);
        self.counters
            .set(metrics::BUFFERED, self.share.held() as u64);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.shared.connections.fetch_sub(1, Ordering::SeqCst);
        if self.accept_retry.is_some() {
            // A descriptor is free: the queued connections may fit now.
            self.accept_retry = Some(Instant::ZERO);
        }
        tracing::trace!(worker = self.id, conn = key, "connection ended: {why}");
    }
}

/// Takes a session's news into the loop's counters and the log: its
/// opening (one line, with the client and the framing), its close reason,
/// requests and the ERROR it sent since the last look.
fn account(worker: usize, key: usize, s: &mut Session, counters: &Counters) {
    while let Some(event) = s.server.poll_event() {
        match event {
            Event::Opened(framing) => {
                counters.session_opened(framing);
                s.framing = Some(framing);
                tracing::info!(
                    target: "shout::connection",
                    worker,
                    conn = key,
                    client = %s.client,
                    framing = framing_name(framing),
                    "connection opened"
                );
            }
            Event::Closed(reason) => s.closed = Some(reason),
            _ => {}
        }
    }
    let tally = s.server.tally();
    if let Some(framing) = s.framing {
        let new = tally.requests().wrapping_sub(s.counted);
        if new > 0 {
            counters.requests(framing, u64::from(new));
            s.counted = tally.requests();
        }
    }
    if let (Some(code), false) = (tally.error_sent(), s.error_counted) {
        counters.error_sent(code);
        s.error_counted = true;
    }
}

/// The one line for a connection's end: the client (the PROXY header's
/// source if any), framing, bytes each way, requests, why, how long.
fn log_closed(worker: usize, key: usize, s: &Session, ended: Ended, now: Instant) {
    let why = s.closed.map(|r| r.to_string());
    tracing::info!(
        target: "shout::connection",
        worker,
        conn = key,
        client = %s.client,
        framing = s.framing.map_or("none", framing_name),
        bytes_in = s.received,
        bytes_out = s.sent,
        requests = s.server.tally().requests(),
        reason = ended.label(),
        detail = why.as_deref().unwrap_or(""),
        duration_ms = now.saturating_since(s.since).as_micros() / 1000,
        "connection closed"
    );
}

fn framing_name(f: Framing) -> &'static str {
    match f {
        Framing::Raw => "raw",
        Framing::Line => "line",
        Framing::Frame => "frame",
        Framing::Web => "web",
        _ => "auto",
    }
}

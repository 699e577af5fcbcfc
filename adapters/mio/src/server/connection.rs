//! One TCP connection: its socket, its session, where it is in its life,
//! and the few bytes it must keep between events.
//!
//! The hot path holds nothing per connection: input is read into the
//! event loop's buffer, answered by the session (in place when the
//! transform is length-preserving, else into the loop's output buffer) and
//! written straight back. Only when the socket will not take all of it, or
//! the session needs more input in one piece than a read brought (a whole
//! unicode DATA payload), does the connection get a [`Backlog`]; while
//! output waits in it nothing more is read, so a peer that does not read
//! costs one buffer's worth of memory at most, and the backlog is freed
//! once sent. An idle connection is this struct alone (a few dozen bytes):
//! its session is only made when the first event needs it.
//!
//! A connection owns its transitions: [`Conn::advance`] moves bytes and
//! then moves it from open to closing (the session is over, its last
//! output is still going out) to lingering (everything sent, our side shut
//! down, input read and discarded) and says what the event loop must do.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::num::NonZeroU32;

use mio::net::TcpStream;
use shout_core::proxy::{ProxyDecoder, ProxySource};
use shout_core::{CloseReason, Duration, Framing, Instant, Next, Server, ValidConfig};
use slab::Slab;

use super::budget::Share;
use super::held::Held;
use super::metrics::{self, Counters};
use super::timers::Armed;
use super::tls::{self, Certified, Tls, TlsError};

/// Reads per wake-up before a busy connection lets the others run.
const READ_BUDGET: u32 = 16;

/// Where a connection is in its life, with the deadline each stage has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The session runs (or is not made yet: `accepted` starts its idle
    /// clock). `read_eof`: the peer ended its input.
    Open { accepted: Instant, read_eof: bool },
    /// The session is over; its last output is still being sent, until
    /// `until` at the latest.
    Closing { until: Instant, read_eof: bool },
    /// Everything is sent and our side shut down: reading and discarding
    /// until the peer closes or `until`, so that its unread bytes never
    /// turn into a reset that destroys responses it has not read yet.
    Lingering { until: Instant },
}

/// Output the socket would not take, and input not answered yet.
struct Backlog {
    out: Held,
    sent: usize,
    /// Input the session has not consumed: held behind the output, or too
    /// little for it to move on (`min` bytes are needed at once; the
    /// buffer is then made with room for all of them).
    input: Held,
    min: usize,
    /// What this backlog holds of the memory budget: its buffers and room
    /// for the answer to its input ([`Backlog::need`]).
    charge: usize,
}

impl Backlog {
    fn new(out: Held, input: Held, min: usize) -> Box<Backlog> {
        Box::new(Backlog {
            out,
            sent: 0,
            input,
            min,
            charge: 0,
        })
    }

    /// What the budget must hold for this backlog to be answered
    /// whatever the socket does: the bytes it holds, plus room for the
    /// answer to its held input ([`answer_room`]); for a payload waited
    /// for whole, what [`stored_cost`] reserved for it.
    fn need(&self, growth: usize, limit: usize) -> usize {
        if self.min > 1 && self.input.capacity() >= self.min {
            return self.out.capacity() + stored_cost(self.min, growth, limit);
        }
        let room = if self.input.is_empty() {
            0
        } else {
            answer_room(self.input.len(), growth)
        };
        self.out.capacity() + self.input.capacity() + room
    }

    /// A payload waited for whole, its room in the budget not yet
    /// reserved: the connection is read only once it is.
    fn unreserved(&self) -> bool {
        self.min > 1 && self.input.capacity() < self.min
    }
}

/// What a session may add to its answers beyond `growth` bytes per byte
/// taken, once: a HELLO (16 bytes), an ERROR frame (64 at most) or a
/// CLOSE, the line-too-long message, a held partial character.
const ANSWER_EXTRA: usize = 256;

/// The most answer bytes a socket can refuse at once: the session writes
/// its answers into the loop's output window, and each window is sent
/// before the next is made.
const WINDOW: usize = BUFFER_SIZE + 4096;

/// The loop's read buffer: room for the largest UDP datagram.
pub(crate) const BUFFER_SIZE: usize = 64 * 1024;

/// The most a TCP read takes, and so the most one in-place answer writes
/// at once. Not the whole 64 KiB: that byte count does not fit the
/// kernel's 64 KiB segments (headers included), and on loopback it cost
/// a fifth more server CPU per byte than any size a little below it
/// (BENCHMARKS.md, "Reads and writes of 60 KiB").
pub(crate) const READ_SIZE: usize = 60 * 1024;

/// Reads of a connection whose peer stopped reading: small, so that what
/// the socket refuses, and the server must hold, stays small.
const CAUTIOUS_READ: usize = 4096;

/// Room for the answer to `n` bytes of input should the socket refuse it.
fn answer_room(n: usize, growth: usize) -> usize {
    (growth * n).min(WINDOW) + ANSWER_EXTRA
}

/// What a read of `n` bytes reserves: the answer, and the input behind it.
fn read_cost(n: usize, growth: usize) -> usize {
    n + answer_room(n, growth)
}

/// What a payload of `min` bytes waited for whole reserves: all of it, and
/// room for its answer; never more than the whole budget (`limit`), so a
/// payload as large as the budget can still be served (its answer may
/// then pass the limit by up to one window while the socket refuses it).
fn stored_cost(min: usize, growth: usize, limit: usize) -> usize {
    (min + answer_room(min, growth)).min(limit)
}

/// What a connection reserves before a read of a whole `buffer`: room for
/// the answer and the input behind it, and with a transform that answers
/// a payload only whole, a whole payload and its answer.
pub(crate) fn read_reservation(buffer: usize, config: &ValidConfig) -> usize {
    let growth = config.transform.max_growth();
    let read = read_cost(buffer, growth);
    if growth > 1 {
        read + config.max_payload as usize + answer_room(config.max_payload as usize, growth)
    } else {
        read
    }
}

/// How many small reads follow a refused write before reads are whole
/// buffers again.
const CAUTIOUS_READS: u8 = 16;

/// What the event loop must do with a connection after driving it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Waiting for the socket or a timer.
    Wait,
    /// Still has input to read: drive it again after the others.
    Yield,
    /// End the connection now, for this reason (logged).
    Close(&'static str),
    /// The memory budget has no room for what reading it could need:
    /// try again once bytes are freed.
    Starved,
}

/// Index of a connection's session in the loop's [`Sessions`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionKey(NonZeroU32);

/// A session, the client it serves, and what the logs and metrics have
/// been told of it.
pub(crate) struct Session {
    pub(crate) server: Server,
    /// The client's address: the PROXY header's source when there is
    /// one, else the socket's peer. What logs show.
    pub(crate) client: SocketAddr,
    /// When the session was made (its connection accepted).
    pub(crate) since: Instant,
    /// The framing its first byte chose, once it did.
    pub(crate) framing: Option<Framing>,
    /// Why it closed, once it did.
    pub(crate) closed: Option<CloseReason>,
    /// Requests already counted in the metrics.
    pub(crate) counted: u32,
    /// Its ERROR already counted.
    pub(crate) error_counted: bool,
    /// SHOUT/1 bytes received and sent.
    pub(crate) received: u64,
    pub(crate) sent: u64,
}

/// The sessions of one event loop, apart from the connections so that a
/// connection with no session yet costs only its own few bytes. The one
/// place a session is made.
pub(crate) struct Sessions {
    slab: Slab<Session>,
    config: ValidConfig,
}

impl Sessions {
    pub(crate) fn new(config: ValidConfig) -> Self {
        Sessions {
            slab: Slab::new(),
            config,
        }
    }

    /// The connection's session, made now (its idle clock starting at
    /// `since`, for the client `client` names) if it has none yet.
    fn of(
        &mut self,
        key: &mut Option<SessionKey>,
        since: Instant,
        client: impl FnOnce() -> SocketAddr,
    ) -> &mut Session {
        let k = match *key {
            Some(k) => k,
            None => {
                let index = self.slab.insert(Session {
                    server: Server::new(self.config, since),
                    client: client(),
                    since,
                    framing: None,
                    closed: None,
                    counted: 0,
                    error_counted: false,
                    received: 0,
                    sent: 0,
                });
                let k = SessionKey(NonZeroU32::new(index as u32 + 1).expect("index + 1 > 0"));
                *key = Some(k);
                k
            }
        };
        &mut self.slab[k.0.get() as usize - 1]
    }

    fn get(&self, key: Option<SessionKey>) -> Option<&Server> {
        key.map(|k| &self.slab[k.0.get() as usize - 1].server)
    }

    /// The connection's session, if it has one.
    pub(crate) fn get_mut(&mut self, key: Option<SessionKey>) -> Option<&mut Session> {
        key.map(|k| &mut self.slab[k.0.get() as usize - 1])
    }

    /// Takes the session away (to log its last events).
    pub(crate) fn remove(&mut self, key: &mut Option<SessionKey>) -> Option<Session> {
        key.take().map(|k| self.slab.remove(k.0.get() as usize - 1))
    }
}

/// Who a session made now serves: the socket's peer, read when the
/// connection's TLS began if it has TLS (a client that resets right
/// after its handshake is gone by the time its session is made).
fn client(stream: &TcpStream, layer: &Option<Box<Layer>>) -> SocketAddr {
    match layer.as_deref() {
        Some(Layer::Tls(t)) => t.peer,
        _ => peer(stream),
    }
}

/// The socket's peer, or an unspecified address if the socket no longer
/// knows it (the peer already reset).
fn peer(stream: &TcpStream) -> SocketAddr {
    stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// The per-loop buffers every connection shares.
pub(crate) struct Buffers {
    input: Box<[u8]>,
    output: Box<[u8]>,
    /// Where TLS connections read the socket's ciphertext (empty without
    /// TLS).
    cipher: Box<[u8]>,
}

impl Buffers {
    /// `size` bytes of input; output has room for what the session adds to
    /// a full read (headers, HELLO, CLOSE, an ERROR) so one call answers it.
    pub(crate) fn new(size: usize, tls: bool) -> Self {
        Buffers {
            input: vec![0; size].into_boxed_slice(),
            output: vec![0; size + 4096].into_boxed_slice(),
            cipher: vec![0; if tls { size } else { 0 }].into_boxed_slice(),
        }
    }

    /// The read buffer and the output window, for one connection (or the
    /// UDP socket) at a time.
    pub(crate) fn split(&mut self) -> (&mut [u8], &mut [u8]) {
        (&mut self.input, &mut self.output)
    }
}

/// What a connection needs from its event loop for one step.
pub(crate) struct Cx<'a> {
    pub(crate) sessions: &'a mut Sessions,
    pub(crate) bufs: &'a mut Buffers,
    pub(crate) pipe: Pipe<'a>,
    /// How long closing and lingering may last.
    pub(crate) drain_timeout: Duration,
}

/// The part of a step that moves bytes: the loop's share of the memory
/// budget, the time, and how this loop's sessions answer.
pub(crate) struct Pipe<'a> {
    pub(crate) share: &'a mut Share,
    pub(crate) now: Instant,
    /// A read shorter than the buffer may be taken as "the socket is
    /// empty": only when driven by a readiness event that did not also
    /// report the peer's end, which would raise no new event.
    pub(crate) short_read_drains: bool,
    /// Answers may be written over the input (the transform maps each
    /// byte to one byte), saving a pass over every byte.
    pub(crate) in_place: bool,
    /// Most bytes an answer has per byte of request (the transform's).
    pub(crate) growth: usize,
    /// The largest payload a session may ask for whole.
    pub(crate) max_payload: usize,
    /// The memory budget's limit.
    pub(crate) limit: usize,
    /// This loop's counters (bytes, PROXY headers).
    pub(crate) counters: &'a Counters,
    /// The certificate, when connections may be TLS.
    pub(crate) tls: Option<&'a Certified>,
    /// The framing is `auto`: with a certificate, a first byte 0x16 means
    /// TLS and any other plain; else every connection is TLS.
    pub(crate) auto: bool,
}

/// What sits between a connection's socket and its session, for a while
/// or for good. Boxed in the connection, so its size is paid only by the
/// connections that have one (a PROXY header lasts a round trip).
#[allow(clippy::large_enum_variant)]
enum Layer {
    /// With `--proxy-protocol`, until the header is read: its decoder.
    /// The session is made only once the header has said who the client
    /// is.
    Proxy(ProxyDecoder),
    /// TLS, from the first byte (after any PROXY header) to the end.
    Tls(Tls),
}

/// The byte stream a session reads and writes: the socket, or TLS over it.
struct Link<'c> {
    stream: &'c TcpStream,
    tls: Option<&'c mut Tls>,
}

fn link<'c>(stream: &'c TcpStream, layer: &'c mut Option<Box<Layer>>) -> Link<'c> {
    let tls = match layer.as_deref_mut() {
        Some(Layer::Tls(t)) => Some(t),
        _ => None,
    };
    Link { stream, tls }
}

impl Link<'_> {
    /// Reads (or only looks at, if `peek`) what the peer sent. TLS reads
    /// the socket into `cipher`; its failures are `InvalidData`.
    fn read(&mut self, cipher: &mut [u8], buf: &mut [u8], peek: bool) -> io::Result<usize> {
        match self.tls.as_mut() {
            None if peek => self.stream.peek(buf),
            None => (&*self.stream).read(buf),
            Some(t) => t.read(self.stream, cipher, buf, peek).map_err(|e| match e {
                TlsError::Io(e) => e,
                TlsError::Protocol(e) => io::Error::new(io::ErrorKind::InvalidData, e),
            }),
        }
    }

    /// Takes the `n` bytes a peek into `buf` showed.
    fn discard(&mut self, buf: &mut [u8], n: usize) -> io::Result<()> {
        match self.tls.as_mut() {
            None => discard(self.stream, &mut buf[..n]),
            Some(t) => {
                t.consume(n);
                Ok(())
            }
        }
    }

    /// Writes as much of `bytes` as the socket (through TLS) takes now.
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.tls.as_mut() {
            None => write_some(self.stream, bytes),
            Some(t) => t.write(self.stream, bytes),
        }
    }
}

/// A connection of one event loop.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    pub(crate) session: Option<SessionKey>,
    /// Registered for writable events (only while output waits).
    pub(crate) writable: bool,
    /// In the loop's queue of connections waiting for the budget.
    pub(crate) starved: bool,
    /// Reads left to keep small ([`CAUTIOUS_READ`]) since the socket last
    /// refused output.
    cautious: u8,
    phase: Phase,
    backlog: Option<Box<Backlog>>,
    /// A PROXY header being read, or TLS.
    layer: Option<Box<Layer>>,
    /// TLS is served and this connection has not yet said whether it
    /// speaks it (its first byte after any PROXY header does).
    undecided: bool,
    /// This connection's live timer entry.
    pub(crate) timer: Armed,
}

impl Conn {
    /// A connection accepted at `now`; `proxy`: it must begin with a
    /// PROXY protocol header; `tls`: TLS is served (the first byte
    /// decides, or the framing is explicit and it must be TLS).
    pub(crate) fn new(stream: TcpStream, now: Instant, proxy: bool, tls: bool) -> Self {
        Conn {
            stream,
            session: None,
            writable: false,
            starved: false,
            cautious: 0,
            phase: Phase::Open {
                accepted: now,
                read_eof: false,
            },
            backlog: None,
            layer: proxy.then(|| Box::new(Layer::Proxy(ProxyDecoder::new()))),
            undecided: tls,
            timer: Armed::default(),
        }
    }

    /// Moves bytes until the connection must wait, then settles which
    /// stage of its life it is in.
    pub(crate) fn advance(&mut self, cx: &mut Cx<'_>) -> Step {
        let step = match self.phase {
            Phase::Lingering { .. } => return self.linger(cx.bufs),
            Phase::Open { .. } | Phase::Closing { .. } => {
                if self.reading_preamble() {
                    if let Some(step) = self.read_preamble(cx) {
                        return step;
                    }
                }
                if self.undecided {
                    if let Some(step) = self.choose_tls(cx) {
                        return step;
                    }
                }
                if self.tls().is_some_and(|t| t.handshaking()) {
                    if let Some(step) = self.handshake(cx) {
                        return step;
                    }
                }
                let since = self.since(cx.pipe.now);
                let (stream, layer) = (&self.stream, &self.layer);
                let s = cx
                    .sessions
                    .of(&mut self.session, since, || client(stream, layer));
                let c = cx.pipe.counters;
                let (r0, s0) = (c.get(metrics::RECEIVED_BYTES), c.get(metrics::SENT_BYTES));
                let step = self.drive(&mut s.server, cx.bufs, &mut cx.pipe);
                s.received += c.get(metrics::RECEIVED_BYTES).wrapping_sub(r0);
                s.sent += c.get(metrics::SENT_BYTES).wrapping_sub(s0);
                step
            }
        };
        if let Step::Close(_) = step {
            return step;
        }
        let Some(s) = cx.sessions.get(self.session) else {
            return step;
        };
        if let Phase::Open { read_eof, .. } = self.phase {
            if s.is_closed() {
                self.phase = Phase::Closing {
                    until: cx.pipe.now + cx.drain_timeout,
                    read_eof,
                };
            }
        }
        let Phase::Closing { read_eof, .. } = self.phase else {
            return step;
        };
        if !s.is_finished() || self.wants_write() {
            return step;
        }
        // Everything is sent: TLS says so with its close_notify first.
        let stream = &self.stream;
        if let Some(Layer::Tls(t)) = self.layer.as_deref_mut() {
            match t.close(stream) {
                Ok(true) => {}
                Ok(false) => return step,
                Err(_) => return Step::Close("peer gone"),
            }
        }
        // Half-close, then linger unless the peer already ended.
        if read_eof {
            return Step::Close("done");
        }
        if self.stream.shutdown(Shutdown::Write).is_err() {
            return Step::Close("peer gone");
        }
        self.release(cx.pipe.share);
        self.phase = Phase::Lingering {
            until: cx.pipe.now + cx.drain_timeout,
        };
        self.linger(cx.bufs)
    }

    /// A timer came due: the session acts on its deadlines, a closing or
    /// lingering connection past its own is ended.
    pub(crate) fn on_timer(&mut self, cx: &mut Cx<'_>) -> Step {
        match self.phase {
            Phase::Open { .. } if self.reading_preamble() => self.refuse_preamble(
                "the connection idled out inside the PROXY header",
                cx.pipe.counters,
            ),
            // Nothing came: a plain connection's session idles out.
            Phase::Open { .. } if self.undecided && cx.pipe.auto => {
                self.undecided = false;
                self.on_timer(cx)
            }
            Phase::Open { .. } if self.undecided || self.tls().is_some_and(|t| t.handshaking()) => {
                cx.pipe.counters.add(metrics::TLS_FAILED, 1);
                tracing::debug!(peer = %peer(&self.stream), "TLS handshake did not finish within the idle timeout");
                Step::Close("TLS handshake timed out")
            }
            Phase::Open { accepted, .. } => {
                let stream = &self.stream;
                cx.sessions
                    .of(&mut self.session, accepted, || peer(stream))
                    .server
                    .handle_timeout(cx.pipe.now);
                self.advance(cx)
            }
            Phase::Closing { until, .. } if cx.pipe.now >= until => {
                Step::Close("peer did not read its last output in time")
            }
            Phase::Lingering { until } if cx.pipe.now >= until => Step::Close("linger time over"),
            Phase::Closing { .. } | Phase::Lingering { .. } => Step::Wait,
        }
    }

    /// The server is shutting down: the session answers what is waiting
    /// now (held here, plus what the kernel has received for this socket)
    /// and the rest of a request that begins, nothing later.
    pub(crate) fn shutdown(&mut self, cx: &mut Cx<'_>) -> Step {
        let Phase::Open { accepted, .. } = self.phase else {
            return Step::Wait;
        };
        if self.reading_preamble() {
            // No session yet, so nothing of one to finish.
            return Step::Close("shut down before the PROXY header was whole");
        }
        if self.undecided {
            if let Some(Step::Close(why)) = self.choose_tls(cx) {
                return Step::Close(why);
            }
        }
        if self.undecided || self.tls().is_some_and(|t| t.handshaking()) {
            return Step::Close("shut down before the TLS handshake finished");
        }
        let held = self.backlog.as_ref().map_or(0, |b| b.input.len());
        let queued = rustix::io::ioctl_fionread(&self.stream).unwrap_or(0);
        // Through TLS: the plaintext rustls holds, and ciphertext counted
        // as if it were all plaintext (an upper bound: records add 22
        // bytes or more each).
        let in_tls = self.tls().map_or(0, |t| t.pending_input());
        let waiting = held
            .saturating_add(in_tls)
            .saturating_add(usize::try_from(queued).unwrap_or(usize::MAX));
        let stream = &self.stream;
        cx.sessions
            .of(&mut self.session, accepted, || peer(stream))
            .server
            .shutdown(cx.pipe.now, waiting);
        self.advance(cx)
    }

    /// Reads the PROXY header, peeking so that no byte after it is taken
    /// from the socket: those are the session's. `None` once the header is
    /// whole (the session is made, for the client it names); else what
    /// the event loop must do.
    fn read_preamble(&mut self, cx: &mut Cx<'_>) -> Option<Step> {
        let (input, _) = cx.bufs.split();
        loop {
            let Some(Layer::Proxy(decoder)) = self.layer.as_deref_mut() else {
                return None;
            };
            let n =
                match self.stream.peek(input) {
                    Ok(0) => {
                        return Some(self.refuse_preamble(
                            "input ended inside the PROXY header",
                            cx.pipe.counters,
                        ))
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(Step::Wait),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return Some(Step::Close("read failed")),
                };
            let (taken, source) = match decoder.decode(&input[..n]) {
                Ok(x) => x,
                Err(e) => return Some(self.refuse_preamble(e.as_str(), cx.pipe.counters)),
            };
            if discard(&self.stream, &mut input[..taken]).is_err() {
                return Some(Step::Close("read failed"));
            }
            let Some(source) = source else {
                continue; // all of it taken; more to come
            };
            self.layer = None;
            cx.pipe.counters.add(metrics::PROXY_OK, 1);
            let client = match source {
                ProxySource::Client(addr) => addr,
                ProxySource::Local => peer(&self.stream),
            };
            let since = self.since(cx.pipe.now);
            let _ = cx.sessions.of(&mut self.session, since, || client);
            return None;
        }
    }

    fn reading_preamble(&self) -> bool {
        matches!(self.layer.as_deref(), Some(Layer::Proxy(_)))
    }

    fn tls(&self) -> Option<&Tls> {
        match self.layer.as_deref() {
            Some(Layer::Tls(t)) => Some(t),
            _ => None,
        }
    }

    /// Settles whether the connection is TLS: with `auto`, by its first
    /// byte (0x16, a handshake record); else it must be. `None` once
    /// settled; else what the event loop must do.
    fn choose_tls(&mut self, cx: &mut Cx<'_>) -> Option<Step> {
        let config = cx.pipe.tls?;
        if cx.pipe.auto {
            let mut first = [0u8; 1];
            match self.stream.peek(&mut first) {
                Ok(0) => {
                    self.undecided = false;
                    return None;
                }
                Ok(_) if first[0] != 0x16 => {
                    self.undecided = false;
                    return None;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(Step::Wait),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Some(Step::Yield),
                Err(_) => return Some(Step::Close("read failed")),
            }
        }
        self.undecided = false;
        match Tls::new(config, peer(&self.stream)) {
            Ok(t) => {
                self.layer = Some(Box::new(Layer::Tls(t)));
                None
            }
            Err(e) => {
                tracing::warn!("cannot start TLS: {e}");
                Some(Step::Close("TLS could not start"))
            }
        }
    }

    /// Moves the TLS handshake on. `None` once it is done; else what the
    /// event loop must do.
    fn handshake(&mut self, cx: &mut Cx<'_>) -> Option<Step> {
        let stream = &self.stream;
        let Some(Layer::Tls(t)) = self.layer.as_deref_mut() else {
            return None;
        };
        let cipher = &mut cx.bufs.cipher;
        match t.handshake(stream, cipher) {
            Ok(true) => {
                cx.pipe.counters.add(metrics::TLS_OK, 1);
                None
            }
            Ok(false) => Some(Step::Wait),
            Err(e) => {
                cx.pipe.counters.add(metrics::TLS_FAILED, 1);
                let why = match e {
                    TlsError::Io(e) => e.to_string(),
                    TlsError::Protocol(e) => e.to_string(),
                };
                tracing::debug!(peer = %peer(stream), "TLS handshake failed: {why}");
                Some(Step::Close("TLS handshake failed"))
            }
        }
    }

    /// A connection whose PROXY header is missing or bad: closed without
    /// output, the reason logged.
    fn refuse_preamble(&mut self, why: &'static str, counters: &Counters) -> Step {
        counters.add(metrics::PROXY_REFUSED, 1);
        tracing::warn!(peer = %peer(&self.stream), "PROXY header refused: {why}");
        Step::Close("PROXY header refused")
    }

    /// Gives back what the connection holds of the budget (it is closing,
    /// or has nothing more to send).
    pub(crate) fn release(&mut self, share: &mut Share) {
        if let Some(b) = self.backlog.take() {
            share.release(b.charge);
        }
        if let Some(Layer::Tls(t)) = self.layer.as_deref_mut() {
            share.release(std::mem::take(&mut t.charge));
        }
    }

    /// When the event loop must wake this connection next.
    pub(crate) fn deadline(&self, sessions: &Sessions, idle: Option<Duration>) -> Option<Instant> {
        match self.phase {
            Phase::Open { accepted, .. } => match sessions.get(self.session) {
                Some(s) => s.poll_timeout(),
                None => idle.map(|t| accepted + t),
            },
            Phase::Closing { until, .. } | Phase::Lingering { until } => Some(until),
        }
    }

    /// Output waits for the socket: writable events are wanted.
    pub(crate) fn wants_write(&self) -> bool {
        self.backlog.as_ref().is_some_and(|b| b.sent < b.out.len())
            || self.tls().is_some_and(Tls::wants_write)
    }

    /// Moves bytes (see [`Conn::pump`]), then sets what the backlog holds
    /// of the budget to what it needs, giving back the rest of what was
    /// reserved on the way.
    fn drive(&mut self, s: &mut Server, bufs: &mut Buffers, p: &mut Pipe<'_>) -> Step {
        let mut reserved = self
            .backlog
            .as_mut()
            .map_or(0, |b| std::mem::take(&mut b.charge));
        if let Some(Layer::Tls(t)) = self.layer.as_deref_mut() {
            reserved += std::mem::take(&mut t.charge);
        }
        let Buffers {
            input,
            output,
            cipher,
        } = bufs;
        let step = self.pump(s, input, output, cipher, p, &mut reserved);
        self.settle(p, &mut reserved);
        step
    }

    /// Makes `reserved` exactly what the backlog and TLS need.
    fn settle(&mut self, p: &mut Pipe<'_>, reserved: &mut usize) {
        let backlog = self
            .backlog
            .as_ref()
            .map_or(0, |b| b.need(p.growth, p.limit));
        let tls = match self.layer.as_deref_mut() {
            Some(Layer::Tls(t)) => {
                t.charge = t.cost();
                t.charge
            }
            _ => 0,
        };
        let need = backlog + tls;
        if need <= *reserved {
            p.share.release(*reserved - need);
        } else {
            // A session added more than its allowance: the bytes exist,
            // so they are counted (past the limit for a moment).
            p.share.force(need - *reserved);
        }
        *reserved = need;
        if let Some(b) = self.backlog.as_mut() {
            b.charge = backlog;
        }
    }

    /// Sends the backlog, answers held input, then reads and answers
    /// until the socket is empty, blocks, the read budget is spent, or
    /// the memory budget has no room for what a read could need.
    ///
    /// Before each read the connection reserves room for the worst its
    /// bytes could cost should the socket refuse the answer: the answer
    /// itself and the input behind it. With a transform that answers a
    /// payload only whole, it also reserves a whole payload, since the
    /// read may bring the header of one; when that much is not free the
    /// read only peeks, and a payload that cannot be reserved stays in
    /// the kernel, so a connection that waits for the budget holds none
    /// of it and cannot keep others from finishing.
    fn pump(
        &mut self,
        s: &mut Server,
        input: &mut [u8],
        output: &mut [u8],
        cipher: &mut [u8],
        p: &mut Pipe<'_>,
        reserved: &mut usize,
    ) -> Step {
        let now = p.now;
        let mut reads = 0;
        let tls = self.tls().is_some();
        loop {
            let stream = &self.stream;
            if let Some(Layer::Tls(t)) = self.layer.as_deref_mut() {
                // Records rustls holds go first; until they are out
                // nothing more is read.
                match t.flush(stream) {
                    Err(_) => return Step::Close("write failed"),
                    Ok(false) => return Step::Wait,
                    Ok(true) => {}
                }
            }
            if let Some(b) = self.backlog.as_mut() {
                if b.sent < b.out.len() {
                    let before = b.sent;
                    let flushed = flush(&mut link(&self.stream, &mut self.layer), b);
                    p.counters
                        .add(metrics::SENT_BYTES, (b.sent - before) as u64);
                    match flushed {
                        Err(_) => return Step::Close("write failed"),
                        Ok(false) => return Step::Wait,
                        Ok(true) => {
                            s.handle_transmitted(now);
                            b.out = Held::default();
                            b.sent = 0;
                        }
                    }
                }
                if b.input.is_empty() && b.min <= 1 {
                    // All sent and nothing held: no backlog any more.
                    self.backlog = None;
                    self.settle(p, reserved);
                    continue;
                }
                if b.input.len() >= b.min || self.read_eof() || s.is_closed() {
                    // Output all sent, and enough input for the session
                    // (or it closed, by its idle timeout say: then it
                    // discards what is held and sends its last words).
                    let mut held = self.backlog.take().map(|b| b.input).unwrap_or_default();
                    let fed = self.feed(s, held.as_mut_slice(), output, p, reserved, false);
                    if let Err(why) = fed {
                        return Step::Close(why);
                    }
                    drop(held);
                    self.settle(p, reserved);
                    continue;
                }
            }
            if self.backlog.is_none() && s.pending_output_len() > 0 {
                // Bytes a timeout, an end of input or a shutdown queued.
                if let Err(why) = self.feed(s, &mut [], output, p, reserved, false) {
                    return Step::Close(why);
                }
                self.settle(p, reserved);
                continue;
            }
            if s.is_finished() || (self.read_eof() && self.backlog.is_none()) {
                return Step::Wait;
            }
            if reads == READ_BUDGET {
                return Step::Yield;
            }
            let extra = if tls { tls::read_cost(cipher.len()) } else { 0 };
            let buffer = input.len().min(READ_SIZE);
            let Some((limit, peek)) = self.make_room(p, reserved, buffer, extra) else {
                return Step::Starved;
            };
            let buf = &mut input[..limit];
            let got = link(&self.stream, &mut self.layer).read(cipher, buf, peek);
            match got {
                Ok(0) => {
                    self.set_read_eof();
                    let held = self.backlog.as_ref().map_or(0, |b| b.input.len());
                    s.handle_end_of_input(held);
                    if self.backlog.is_none() {
                        // Take the session's final bytes.
                        if let Err(why) = self.feed(s, &mut [], output, p, reserved, false) {
                            return Step::Close(why);
                        }
                    }
                }
                Ok(n) => {
                    reads += 1;
                    if !peek {
                        p.counters.add(metrics::RECEIVED_BYTES, n as u64);
                    }
                    if let Some(b) = self.backlog.as_mut() {
                        // A payload waited for whole, its room reserved.
                        b.input.extend_from_slice(&buf[..n]);
                    } else {
                        let taken = match self.feed(s, &mut buf[..n], output, p, reserved, peek) {
                            Ok(t) => t,
                            Err(why) => return Step::Close(why),
                        };
                        if peek {
                            let mut l = link(&self.stream, &mut self.layer);
                            if l.discard(buf, taken).is_err() {
                                return Step::Close("read failed");
                            }
                            p.counters.add(metrics::RECEIVED_BYTES, taken as u64);
                        }
                    }
                    self.settle(p, reserved);
                    // A short read emptied the socket: with edge-triggered
                    // readiness, bytes arriving later raise a new event, so
                    // the read that would only say `WouldBlock` is skipped
                    // (one syscall less per request; tokio does the same).
                    // (Not through TLS: a plaintext read says nothing of
                    // what the socket holds.)
                    if !tls && short_read_drains(p, n, limit) && self.backlog.is_none() {
                        return Step::Wait;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData && tls => {
                    tracing::debug!(peer = %peer(&self.stream), "TLS failed: {e}");
                    return Step::Close("TLS error");
                }
                Err(_) => return Step::Close("read failed"),
            }
        }
    }

    /// Reserves room for the next read (and `extra` for what TLS may hold
    /// meanwhile); how much to read and whether only to peek, or `None`
    /// when the budget cannot hold even a small read.
    fn make_room(
        &mut self,
        p: &mut Pipe<'_>,
        reserved: &mut usize,
        buffer: usize,
        extra: usize,
    ) -> Option<(usize, bool)> {
        if let Some(b) = self.backlog.as_mut() {
            // A payload waited for whole: read only what it lacks, once
            // the whole of it and its answer are reserved.
            if b.unreserved() {
                let whole = stored_cost(b.min, p.growth, p.limit);
                if whole > *reserved && !p.share.reserve(whole - *reserved) {
                    return None;
                }
                *reserved = (*reserved).max(whole);
                b.input.reserve_exact(b.min - b.input.len());
            }
            return Some(((b.min - b.input.len()).min(buffer), false));
        }
        // As `read_reservation` says, for reads of `n` bytes; smaller
        // reads when the budget is short.
        let full = if self.cautious > 0 {
            CAUTIOUS_READ
        } else {
            buffer
        };
        let stored = stored_cost(p.max_payload, p.growth, p.limit);
        for n in [full, CAUTIOUS_READ, 256, 16] {
            let n = n.min(full);
            let cost = read_cost(n, p.growth) + extra;
            if p.growth > 1 && p.share.reserve(cost + stored) {
                *reserved += cost + stored;
                return Some((n, false));
            }
            if p.share.reserve(cost) {
                *reserved += cost;
                // Without room for a whole payload, a unicode read only
                // peeks, so that a payload's header is never taken
                // without its payload being reserved.
                return Some((n, p.growth > 1));
            }
        }
        None
    }

    /// Offers `input` to the session and writes what it answers, in place
    /// first where the transform allows. Output the socket will not take,
    /// and input the session cannot take yet, become the backlog. Returns
    /// how many bytes of `input` the session or the backlog now has; the
    /// rest (only when `peek`) is a payload the budget could not reserve,
    /// left in the socket.
    fn feed(
        &mut self,
        s: &mut Server,
        input: &mut [u8],
        out: &mut [u8],
        p: &mut Pipe<'_>,
        reserved: &mut usize,
        peek: bool,
    ) -> Result<usize, &'static str> {
        let now = p.now;
        let mut at = 0;
        let mut next = Next::Output;
        let mut stalled = false;
        if p.in_place && !input.is_empty() {
            let q = s.handle_input_in_place(now, input);
            at = q.consumed;
            next = q.next;
            if !self.send(&input[..q.produced], &input[at..], p.counters)? {
                return Ok(input.len());
            }
        }
        loop {
            let rest = input.len() - at;
            match next {
                Next::Finished => return Ok(input.len()),
                Next::Input { min } if rest < min || rest == 0 => {
                    if rest > 0 && !self.hold(&input[at..], min, p, reserved, peek) {
                        return Ok(at);
                    }
                    return Ok(input.len());
                }
                _ if stalled => return Err("session made no progress"),
                _ => {}
            }
            let q = s.handle_input(now, &input[at..], out);
            at += q.consumed;
            stalled = q.consumed == 0 && q.produced == 0;
            next = q.next;
            if !self.send(&out[..q.produced], &input[at..], p.counters)? {
                return Ok(input.len());
            }
        }
    }

    /// Writes `bytes`; what the socket will not take goes to the backlog
    /// with the `unanswered` input. False when it did.
    fn send(
        &mut self,
        bytes: &[u8],
        unanswered: &[u8],
        counters: &Counters,
    ) -> Result<bool, &'static str> {
        if bytes.is_empty() {
            return Ok(true);
        }
        let sent = link(&self.stream, &mut self.layer)
            .write(bytes)
            .map_err(|_| "write failed")?;
        counters.add(metrics::SENT_BYTES, sent as u64);
        if sent == bytes.len() {
            self.cautious = self.cautious.saturating_sub(1);
            return Ok(true);
        }
        // The peer reads slower than it sends: read a little at a time
        // for a while, so what the socket refuses stays small.
        self.cautious = CAUTIOUS_READS;
        self.backlog = Some(Backlog::new(
            Held::from_slice(&bytes[sent..]),
            Held::from_slice(unanswered),
            1,
        ));
        Ok(false)
    }

    /// Keeps the start of a payload the session wants whole, in a buffer
    /// with room for all of it, once the budget has room for it and its
    /// answer. False when it has not and the bytes were only peeked at:
    /// they stay in the socket until the budget has room.
    fn hold(
        &mut self,
        input: &[u8],
        min: usize,
        p: &mut Pipe<'_>,
        reserved: &mut usize,
        peek: bool,
    ) -> bool {
        let whole = stored_cost(min, p.growth, p.limit);
        let room = whole <= *reserved || p.share.reserve(whole - *reserved);
        if room {
            *reserved = (*reserved).max(whole);
            let mut held = Held::with_capacity(min);
            held.extend_from_slice(input);
            self.backlog = Some(Backlog::new(Held::default(), held, min));
            return true;
        }
        if peek {
            self.backlog = Some(Backlog::new(Held::default(), Held::default(), min));
            return false;
        }
        // Read for real without room reserved (not expected: a read that
        // could bring a payload's header reserves one first): keep what
        // came; it is counted all the same.
        self.backlog = Some(Backlog::new(Held::default(), Held::from_slice(input), min));
        true
    }

    /// Reads and discards; [`Step::Close`] once the peer has closed.
    fn linger(&mut self, bufs: &mut Buffers) -> Step {
        let (input, _) = bufs.split();
        for _ in 0..READ_BUDGET {
            match (&self.stream).read(input) {
                Ok(0) => return Step::Close("peer closed"),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close("read failed while lingering"),
            }
        }
        Step::Yield
    }

    /// Where a session made now starts its idle clock: at accept (a
    /// closing connection always has its session already).
    fn since(&self, now: Instant) -> Instant {
        match self.phase {
            Phase::Open { accepted, .. } => accepted,
            _ => now,
        }
    }

    fn read_eof(&self) -> bool {
        matches!(
            self.phase,
            Phase::Open { read_eof: true, .. } | Phase::Closing { read_eof: true, .. }
        )
    }

    fn set_read_eof(&mut self) {
        if let Phase::Open { read_eof, .. } | Phase::Closing { read_eof, .. } = &mut self.phase {
            *read_eof = true;
        }
    }
}

/// Whether a read of `n` bytes when `limit` were asked for emptied the
/// socket (see [`Pipe::short_read_drains`]).
fn short_read_drains(p: &Pipe<'_>, n: usize, limit: usize) -> bool {
    p.short_read_drains && n < limit
}

/// Takes from the socket the bytes a peek showed and the session took.
fn discard(mut r: &TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut at = 0;
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes as much of `bytes` as the socket takes now.
fn write_some(mut w: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match w.write(&bytes[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Sends the backlog's output; true once all of it is sent.
fn flush(w: &mut Link<'_>, b: &mut Backlog) -> io::Result<bool> {
    b.sent += w.write(&b.out.as_slice()[b.sent..])?;
    Ok(b.sent == b.out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection is this struct (plus a timer entry): keep it
    /// small, since 10,000 of them must fit in well under 256 bytes each.
    #[test]
    fn an_idle_connection_is_small() {
        let conn = std::mem::size_of::<Conn>();
        eprintln!("Conn {conn} B, session {} B", std::mem::size_of::<Server>());
        // 56 in release (48 before the PROXY preamble's box); debug builds
        // add mio's 8-byte selector id.
        let limit = if cfg!(debug_assertions) { 64 } else { 56 };
        assert!(conn <= limit, "Conn grew to {conn} bytes");
    }
}

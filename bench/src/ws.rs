//! WebSocket load (`--mode ws`, and the WebSocket side of `--mode hold
//! --ws`), in the same one `mio` loop as the other modes, over TLS too
//! (`wss:`) through [`crate::tls`].
//!
//! Each connection sends `GET /ws` with a random `Sec-WebSocket-Key` and
//! checks the `101 Switching Protocols` (its `Upgrade`, `Connection` and
//! `Sec-WebSocket-Accept`, no extension or subprotocol). Requests are
//! client frames as RFC 6455 has them: FIN, text or binary, masked with a
//! fresh random 4-byte key each, 7/16/64-bit lengths, the payload `-b`
//! lowercase letters. A request is produced as the socket takes it,
//! 60 KiB at a time, so a 1 MiB message never sits whole in a
//! connection's buffer. The server's frames are parsed as they arrive
//! (unmasked, no reserved bit, control frames whole and at most 125
//! bytes); an answer may come in several fragments, and its concatenated
//! payload is checked byte by byte against the uppercased request (one
//! copy shared by every connection), in order, without being kept. A
//! Ping is answered with a Pong; a Pong is ignored; a Close from the
//! server before ours is an error that names its code and reason.
//!
//! The clock starts once every connection has its 101. At the end each
//! connection, its last answer in, sends a Close (1000) and reads until
//! the server's Close, which must carry 1000 back.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use mio::net::TcpStream;
use mio::{Events, Poll};

use crate::load::{self, connect_one, handshake_error, push, read_from, write_to, Progress};
use crate::load::{CHUNK, GRACE};
use crate::tls::{self, Tls};
use crate::verify::{mismatch, show};
use crate::{sys, Report, Spec};

/// RFC 6455 section 1.3: what the key is hashed with.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The most of a response head (the contract's limit for a request head).
const HEAD_MAX: usize = 8192;
/// The status of the Close the run ends with.
const NORMAL: u16 = 1000;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// What every WebSocket connection of a run sends and expects.
pub(crate) struct Script {
    /// The `Host` header.
    host: String,
    /// Text or binary.
    opcode: u8,
    /// One request's payload.
    payload: Rc<[u8]>,
    /// What each answer's payload must be.
    want: Rc<[u8]>,
}

impl Script {
    pub(crate) fn new(spec: &Spec) -> Script {
        let payload = load::letters(spec.payload);
        Script {
            host: spec.addr.to_string(),
            opcode: if spec.ws_binary { OP_BINARY } else { OP_TEXT },
            want: load::expected(spec.expect, &payload).into(),
            payload: payload.into(),
        }
    }
}

/// The masks and keys: xorshift64*, seeded from the process's random
/// hasher keys and the time (the masks need to be unpredictable to a
/// proxy, not secret).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Rng {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.write_u128(t);
        Rng(h.finish() | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn mask(&mut self) -> [u8; 4] {
        ((self.next() >> 32) as u32).to_ne_bytes()
    }

    fn key(&mut self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.next().to_ne_bytes());
        k[8..].copy_from_slice(&self.next().to_ne_bytes());
        k
    }
}

/// The `Sec-WebSocket-Accept` a server must answer `key` with.
pub(crate) fn accept_for(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes())
}

/// Appends a client frame header: FIN, `opcode`, the mask bit, the
/// shortest length encoding, `mask`.
fn frame_header(out: &mut Vec<u8>, opcode: u8, len: usize, mask: [u8; 4]) {
    out.push(0x80 | opcode);
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
}

/// Appends `src`, the bytes at `offset` on of a payload, masked with
/// `mask` (RFC 6455 section 5.3).
fn mask_into(out: &mut Vec<u8>, src: &[u8], mask: [u8; 4], offset: usize) {
    let rot: [u8; 4] = std::array::from_fn(|j| mask[(offset + j) % 4]);
    let m = u32::from_ne_bytes(rot);
    let start = out.len();
    out.extend_from_slice(src);
    let mut words = out[start..].chunks_exact_mut(4);
    for w in &mut words {
        let x = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) ^ m;
        w.copy_from_slice(&x.to_ne_bytes());
    }
    for (b, k) in words.into_remainder().iter_mut().zip(rot) {
        *b ^= k;
    }
}

/// A whole masked control frame (payload at most 125 bytes).
fn control_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], rng: &mut Rng) {
    let mask = rng.mask();
    frame_header(out, opcode, payload.len(), mask);
    mask_into(out, payload, mask, 0);
}

/// The opening handshake's request for `key`.
fn upgrade_request(host: &str, key: &str) -> Vec<u8> {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// Checks a response head (up to and including its empty line): a `101`
/// with the WebSocket upgrade and the Accept for our key, nothing
/// negotiated.
fn check_101(head: &[u8], accept: &str) -> Result<(), String> {
    let text = std::str::from_utf8(head).map_err(|_| "the server's response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") || parts.next() != Some("101") {
        return Err(format!(
            "the server answered the upgrade with {status:?}, not 101"
        ));
    }
    let (mut upgrade, mut connection, mut got_accept) = (false, false, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a malformed header line in the 101: {line:?}"));
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade = value.eq_ignore_ascii_case("websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection = value
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            got_accept = Some(value);
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions")
            || name.eq_ignore_ascii_case("sec-websocket-protocol")
        {
            return Err(format!("the 101 negotiates what was not offered: {line:?}"));
        }
    }
    if !upgrade {
        return Err("the 101 has no `Upgrade: websocket`".into());
    }
    if !connection {
        return Err("the 101's Connection header has no `Upgrade`".into());
    }
    match got_accept {
        Some(a) if a == accept => Ok(()),
        Some(a) => Err(format!(
            "the 101's Sec-WebSocket-Accept is {a:?} (expected {accept:?})"
        )),
        None => Err("the 101 has no Sec-WebSocket-Accept".into()),
    }
}

/// Where the reader is in the server's frame stream.
#[derive(Debug)]
enum In {
    /// Reading a frame header (`fill` bytes of `head` so far).
    Header,
    /// Checking `left` more bytes of a data frame's payload; `fin` ends
    /// the message.
    Data { left: usize, fin: bool },
    /// Collecting a control frame's payload.
    Control { opcode: u8, left: usize },
    /// The server's Close has come.
    Closed,
}

/// What a piece of the server's stream completed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Fed {
    /// Answers complete and correct.
    answers: u64,
    /// Payloads of the Pings to answer.
    pings: Vec<Vec<u8>>,
}

/// Parses and checks the server's frames (see the module).
#[derive(Debug)]
struct Reader {
    want: Rc<[u8]>,
    opcode: u8,
    head: [u8; 10],
    fill: usize,
    state: In,
    /// Payload bytes of the answer under way (none between answers).
    msg: Option<usize>,
    control: Vec<u8>,
    /// The server's Close: its code (none without one) and reason.
    closed: Option<(Option<u16>, String)>,
}

impl Reader {
    fn new(want: Rc<[u8]>, opcode: u8) -> Reader {
        Reader {
            want,
            opcode,
            head: [0; 10],
            fill: 0,
            state: In::Header,
            msg: None,
            control: Vec::new(),
            closed: None,
        }
    }

    /// True while part of an answer has come and the rest has not.
    fn mid_answer(&self) -> bool {
        self.msg.is_some() || (self.fill > 0 && self.head[0] & 0x08 == 0)
    }

    fn feed(&mut self, mut input: &[u8], fed: &mut Fed) -> Result<(), String> {
        while !input.is_empty() {
            match &mut self.state {
                In::Header => {
                    let need = if self.fill < 2 {
                        2
                    } else {
                        match self.head[1] & 0x7F {
                            126 => 4,
                            127 => 10,
                            _ => 2,
                        }
                    };
                    let k = (need - self.fill).min(input.len());
                    self.head[self.fill..self.fill + k].copy_from_slice(&input[..k]);
                    self.fill += k;
                    input = &input[k..];
                    if self.fill == need && (need > 2 || self.head[1] & 0x7F < 126) {
                        self.begin(fed)?;
                    }
                }
                In::Data { left, fin } => {
                    let k = (*left).min(input.len());
                    let at = self.msg.unwrap_or_default();
                    if let Some(bad) = mismatch(&input[..k], &self.want[at..at + k]) {
                        return Err(format!(
                            "wrong answer bytes at payload offset {}: got {}",
                            at + bad,
                            show(&input[bad..k])
                        ));
                    }
                    *left -= k;
                    self.msg = Some(at + k);
                    input = &input[k..];
                    if *left == 0 {
                        let fin = *fin;
                        self.state = In::Header;
                        self.end_data(fin, fed)?;
                    }
                }
                In::Control { opcode, left } => {
                    let k = (*left).min(input.len());
                    self.control.extend_from_slice(&input[..k]);
                    *left -= k;
                    input = &input[k..];
                    if *left == 0 {
                        let opcode = *opcode;
                        self.end_control(opcode, fed)?;
                    }
                }
                In::Closed => return Err("bytes after the server's Close frame".into()),
            }
        }
        Ok(())
    }

    /// A whole header is in `head`: checks it and starts its payload
    /// (a frame without one is finished at once).
    fn begin(&mut self, fed: &mut Fed) -> Result<(), String> {
        let (b0, b1) = (self.head[0], self.head[1]);
        let len = match b1 & 0x7F {
            126 => u64::from(u16::from_be_bytes([self.head[2], self.head[3]])),
            127 => u64::from_be_bytes(self.head[2..10].try_into().unwrap_or_default()),
            n => u64::from(n),
        };
        self.fill = 0;
        let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0F);
        if b0 & 0x70 != 0 {
            return Err(format!("a server frame with reserved bits set ({b0:#04x})"));
        }
        if b1 & 0x80 != 0 {
            return Err("a masked server frame (a server must not mask)".into());
        }
        match opcode {
            OP_CLOSE | OP_PING | OP_PONG => {
                if !fin || len > 125 {
                    return Err(format!(
                        "a control frame (opcode {opcode:#x}) that is fragmented or over 125 bytes"
                    ));
                }
                self.control.clear();
                self.state = In::Control {
                    opcode,
                    left: len as usize,
                };
                if len == 0 {
                    self.end_control(opcode, fed)?;
                }
                return Ok(());
            }
            OP_TEXT | OP_BINARY => {
                if self.msg.is_some() {
                    return Err("a new message inside a fragmented answer".into());
                }
                if opcode != self.opcode {
                    let name = |o| if o == OP_TEXT { "text" } else { "binary" };
                    return Err(format!(
                        "a {} answer to a {} message",
                        name(opcode),
                        name(self.opcode)
                    ));
                }
                self.msg = Some(0);
            }
            OP_CONTINUATION => {
                if self.msg.is_none() {
                    return Err("a continuation frame with no answer started".into());
                }
            }
            _ => return Err(format!("a server frame of unknown opcode {opcode:#x}")),
        }
        let at = self.msg.unwrap_or_default();
        let room = (self.want.len() - at) as u64;
        if len > room {
            return Err(format!(
                "an answer longer than the {}-byte request (a frame of {len} bytes after {at})",
                self.want.len()
            ));
        }
        self.state = In::Data {
            left: len as usize,
            fin,
        };
        if len == 0 {
            self.state = In::Header;
            self.end_data(fin, fed)?;
        }
        Ok(())
    }

    fn end_data(&mut self, fin: bool, fed: &mut Fed) -> Result<(), String> {
        if !fin {
            return Ok(());
        }
        let got = self.msg.take().unwrap_or_default();
        if got != self.want.len() {
            return Err(format!(
                "an answer of {got} bytes (expected {})",
                self.want.len()
            ));
        }
        fed.answers += 1;
        Ok(())
    }

    fn end_control(&mut self, opcode: u8, fed: &mut Fed) -> Result<(), String> {
        self.state = In::Header;
        match opcode {
            OP_PING => fed.pings.push(std::mem::take(&mut self.control)),
            OP_CLOSE => {
                let code = match self.control.len() {
                    0 => None,
                    1 => return Err("a Close frame with a 1-byte payload".into()),
                    _ => Some(u16::from_be_bytes([self.control[0], self.control[1]])),
                };
                let reason = String::from_utf8_lossy(self.control.get(2..).unwrap_or_default());
                self.closed = Some((code, reason.into_owned()));
                self.state = In::Closed;
            }
            _ => {} // a Pong
        }
        Ok(())
    }
}

/// What one read brought.
pub(crate) enum Got {
    /// Nothing now (`WouldBlock`).
    Nothing,
    /// The server's end of the connection.
    Eof,
    /// Bytes: whether they completed the 101, and how many answers.
    Some { opened: bool, answers: u64 },
}

/// One connection's WebSocket, over whatever socket (and TLS session)
/// the caller drives: the opening handshake, requests, checked answers,
/// the closing handshake.
pub(crate) struct Session {
    /// Until the 101: the response head so far and the Accept it must
    /// carry.
    upgrade: Option<(Vec<u8>, String)>,
    /// Bytes to write, from `out_at` on (at most about a [`CHUNK`]).
    out: Vec<u8>,
    out_at: usize,
    /// Requests asked for whose frame has not begun.
    queued: u64,
    /// The request frame being produced: its mask and payload bytes done.
    cur: Option<([u8; 4], usize)>,
    /// Whole control frames (Pongs, the Close) to go between requests.
    control: Vec<u8>,
    reader: Reader,
    requested: u64,
    answered: u64,
}

impl Session {
    /// A session whose upgrade request (with a fresh key) is ready to go.
    pub(crate) fn new(script: &Script, rng: &mut Rng) -> Session {
        let key = base64::engine::general_purpose::STANDARD.encode(rng.key());
        Session {
            upgrade: Some((Vec::new(), accept_for(&key))),
            out: upgrade_request(&script.host, &key),
            out_at: 0,
            queued: 0,
            cur: None,
            control: Vec::new(),
            reader: Reader::new(script.want.clone(), script.opcode),
            requested: 0,
            answered: 0,
        }
    }

    /// Asks for `n` more requests (sent by the next [`Session::flush`]).
    pub(crate) fn send(&mut self, n: u64) {
        self.queued += n;
        self.requested += n;
    }

    /// Queues the Close frame with `code`.
    pub(crate) fn close(&mut self, code: u16, rng: &mut Rng) {
        control_frame(&mut self.control, OP_CLOSE, &code.to_be_bytes(), rng);
    }

    /// The server's Close, once it has come: its code and reason.
    pub(crate) fn server_close(&self) -> Option<&(Option<u16>, String)> {
        self.reader.closed.as_ref()
    }

    /// Produces the next bytes to write, up to about a [`CHUNK`].
    fn fill(&mut self, script: &Script, rng: &mut Rng) {
        let len = script.payload.len();
        while self.out.len() < CHUNK {
            match self.cur {
                None if !self.control.is_empty() => self.out.append(&mut self.control),
                None if self.queued > 0 => {
                    self.queued -= 1;
                    let mask = rng.mask();
                    frame_header(&mut self.out, script.opcode, len, mask);
                    self.cur = Some((mask, 0));
                }
                None => return,
                Some((mask, at)) => {
                    let n = (len - at).min(CHUNK - self.out.len());
                    mask_into(&mut self.out, &script.payload[at..at + n], mask, at);
                    self.cur = (at + n < len).then_some((mask, at + n));
                }
            }
        }
    }

    /// Writes as much as the socket takes of what is due.
    pub(crate) fn flush(
        &mut self,
        stream: &TcpStream,
        tls: &mut Option<Box<Tls>>,
        script: &Script,
        rng: &mut Rng,
    ) -> Result<(), String> {
        loop {
            if self.out_at == self.out.len() {
                self.out.clear();
                self.out_at = 0;
                if self.upgrade.is_none() {
                    self.fill(script, rng);
                }
                if self.out.is_empty() {
                    break;
                }
            }
            match write_to(stream, tls, &self.out[self.out_at..]) {
                Ok(n) => self.out_at += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("write: {e}")),
            }
        }
        push(stream, tls)
    }

    /// One read: the 101 first, then frames, every answer checked.
    pub(crate) fn read(
        &mut self,
        stream: &TcpStream,
        tls: &mut Option<Box<Tls>>,
        buf: &mut [u8],
        rng: &mut Rng,
    ) -> Result<Got, String> {
        let n = match read_from(stream, tls, buf) {
            Ok(0) => return Ok(Got::Eof),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Got::Nothing),
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut fed = Fed::default();
        let mut opened = false;
        if let Some((head, accept)) = self.upgrade.as_mut() {
            let from = head.len().saturating_sub(3);
            head.extend_from_slice(&buf[..n]);
            let Some(i) = head[from..].windows(4).position(|w| w == b"\r\n\r\n") else {
                if head.len() > HEAD_MAX {
                    return Err(format!(
                        "no end of the response head in its first {HEAD_MAX} bytes"
                    ));
                }
                return Ok(Got::Some {
                    opened: false,
                    answers: 0,
                });
            };
            let end = from + i + 4;
            check_101(&head[..end], accept)?;
            let (head, _) = self.upgrade.take().unwrap_or_default();
            opened = true;
            self.reader.feed(&head[end..], &mut fed)?;
        } else {
            self.reader.feed(&buf[..n], &mut fed)?;
        }
        for p in &fed.pings {
            control_frame(&mut self.control, OP_PONG, p, rng);
        }
        self.answered += fed.answers;
        if self.answered > self.requested
            || (self.answered == self.requested && self.reader.mid_answer())
        {
            return Err("an answer nobody asked for".into());
        }
        Ok(Got::Some {
            opened,
            answers: fed.answers,
        })
    }

    /// Hold mode: drives the handshake and one message with its answer;
    /// true once the connection has both and is ready to hold.
    pub(crate) fn exchange_one(
        &mut self,
        stream: &TcpStream,
        tls: &mut Option<Box<Tls>>,
        script: &Script,
        rng: &mut Rng,
        buf: &mut [u8],
    ) -> Result<bool, String> {
        self.flush(stream, tls, script, rng)?;
        loop {
            match self.read(stream, tls, buf, rng)? {
                Got::Nothing => break,
                Got::Eof => return Err(closed_early(self.upgrade.is_some())),
                Got::Some { opened, answers } => {
                    if let Some(c) = self.server_close() {
                        return Err(unexpected_close(c));
                    }
                    if opened {
                        self.send(1);
                    }
                    if answers > 0 {
                        self.flush(stream, tls, script, rng)?;
                        return Ok(true);
                    }
                    self.flush(stream, tls, script, rng)?;
                }
            }
        }
        self.flush(stream, tls, script, rng)?;
        Ok(false)
    }
}

fn closed_early(before_101: bool) -> String {
    if before_101 {
        "the server closed the connection before its 101".into()
    } else {
        "the server closed the connection (no Close frame)".into()
    }
}

fn unexpected_close((code, reason): &(Option<u16>, String)) -> String {
    match code {
        Some(c) => format!("the server sent Close {c} ({reason:?})"),
        None => "the server sent a Close without a status".into(),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Stage {
    Connecting,
    /// Connected; the TLS handshake under way.
    Tls,
    /// The upgrade request sent; waiting for the 101.
    Upgrade,
    Running,
    /// Our Close sent; waiting for the server's.
    Closing,
    Done,
}

struct Conn {
    stream: TcpStream,
    tls: Option<Box<Tls>>,
    stage: Stage,
    session: Session,
    in_flight: VecDeque<Instant>,
}

/// What the event loop keeps across connections.
struct Tally {
    opened: usize,
    latencies: Vec<u32>,
    completed: u64,
}

/// Runs `--mode ws` (see the module).
pub fn run(spec: &Spec) -> io::Result<Report> {
    sys::raise_open_files_limit();
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let script = Script::new(spec);
    let mut rng = Rng::new();
    let mut conns: Vec<Conn> = Vec::with_capacity(spec.connections);
    for key in 0..spec.connections {
        conns.push(Conn {
            stream: connect_one(&poll, spec.addr, key)?,
            tls: spec.tls.as_ref().map(tls::Client::session).transpose()?,
            stage: Stage::Connecting,
            session: Session::new(&script, &mut rng),
            in_flight: VecDeque::with_capacity(spec.depth),
        });
    }
    let mut buf = vec![0u8; CHUNK];
    let mut tally = Tally {
        opened: 0,
        latencies: Vec::new(),
        completed: 0,
    };
    let mut errors = 0u64;
    let mut first_error: Option<String> = None;
    let mut start = None::<Instant>;
    let mut deadline = None::<Instant>;
    let mut cpu_start = None::<u64>;
    let mut cpu_end = None::<u64>;
    let mut left = spec.connections;
    let mut progress = Progress::new("ws");
    let setup_limit = Instant::now() + Duration::from_secs(30);
    loop {
        let now = Instant::now();
        if start.is_none() && now > setup_limit {
            return Err(io::Error::other(format!(
                "only {} of {} connections had their 101 within 30 s",
                tally.opened, spec.connections
            )));
        }
        if let Some(d) = deadline {
            if now >= d && cpu_end.is_none() {
                cpu_end = spec.server_pid.and_then(sys::cpu_ns);
            }
            if now >= d + GRACE || left == 0 {
                break;
            }
        }
        poll.poll(&mut events, Some(Duration::from_millis(100)))?;
        let now = Instant::now();
        let more = deadline.is_none_or(|d| now < d);
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            if c.stage == Stage::Done {
                continue;
            }
            let step = step(
                c, &script, &mut rng, &mut buf, now, more, spec.depth, &mut tally,
            );
            if let Err(why) = step {
                if start.is_none() {
                    // A connection that cannot even be set up (no 101, a
                    // wrong Accept, a TLS failure): nothing fair can be
                    // measured.
                    return Err(io::Error::other(format!("setting up a connection: {why}")));
                }
                errors += 1;
                first_error.get_or_insert(why);
                c.stage = Stage::Done;
            }
            if c.stage == Stage::Done {
                left -= 1;
            }
        }
        if start.is_none() && tally.opened == spec.connections {
            // Everyone has its 101: the clock starts now, for everyone.
            let t = Instant::now();
            start = Some(t);
            deadline = Some(t + spec.duration);
            cpu_start = spec.server_pid.and_then(sys::cpu_ns);
            for c in conns.iter_mut() {
                c.session.send(spec.depth as u64);
                c.in_flight.extend(std::iter::repeat_n(t, spec.depth));
                if let Err(why) = c.session.flush(&c.stream, &mut c.tls, &script, &mut rng) {
                    errors += 1;
                    first_error.get_or_insert(why);
                    c.stage = Stage::Done;
                    left -= 1;
                }
            }
        }
        if let Some(s) = start {
            let done = tally.completed;
            progress.tick(now, || {
                let secs = now.duration_since(s).as_secs_f64().max(1e-9);
                format!("{done} messages answered ({:.0}/s)", done as f64 / secs)
            });
        }
    }
    let start = start.ok_or_else(|| io::Error::other("no connection was set up"))?;
    let end = deadline.unwrap_or_else(Instant::now);
    let unfinished = conns.iter().filter(|c| c.stage != Stage::Done).count();
    if unfinished > 0 {
        errors += unfinished as u64;
        first_error.get_or_insert_with(|| {
            format!(
                "{unfinished} connections had not finished (their last answers, then the \
                 Close handshake) {} s after the end",
                GRACE.as_secs()
            )
        });
    }
    let seconds = end.duration_since(start).as_secs_f64();
    let bytes = tally.completed * spec.payload as u64;
    let mut r = Report::new(
        spec,
        seconds,
        tally.completed,
        bytes,
        &mut tally.latencies,
        errors,
        first_error,
    );
    r.server_cpu_ns = cpu_start.zip(cpu_end).map(|(a, b)| b.saturating_sub(a));
    Ok(r)
}

/// A connection got an event: connects, shakes hands (TLS, then the
/// upgrade), keeps `depth` requests in flight while `more`, then closes.
#[allow(clippy::too_many_arguments)]
fn step(
    c: &mut Conn,
    script: &Script,
    rng: &mut Rng,
    buf: &mut [u8],
    now: Instant,
    more: bool,
    depth: usize,
    tally: &mut Tally,
) -> Result<(), String> {
    if c.stage == Stage::Connecting {
        if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
            return Err(format!("connect: {e}"));
        }
        if c.stream.peer_addr().is_err() {
            return Ok(()); // not connected yet
        }
        let _ = c.stream.set_nodelay(true);
        c.stage = if c.tls.is_some() {
            Stage::Tls
        } else {
            Stage::Upgrade
        };
    }
    if c.stage == Stage::Tls {
        let Some(t) = c.tls.as_mut() else {
            unreachable!("a connection in Stage::Tls has a TLS session");
        };
        match t.handshake(&c.stream, buf) {
            Ok(false) => return Ok(()),
            Ok(true) => c.stage = Stage::Upgrade,
            Err(e) => return Err(handshake_error(&e)),
        }
    }
    c.session.flush(&c.stream, &mut c.tls, script, rng)?;
    loop {
        let (opened, answers) = match c.session.read(&c.stream, &mut c.tls, buf, rng)? {
            Got::Nothing => break,
            Got::Eof => return Err(closed_early(c.stage == Stage::Upgrade)),
            Got::Some { opened, answers } => (opened, answers),
        };
        if opened {
            c.stage = Stage::Running;
            tally.opened += 1;
        }
        let done = usize::try_from(answers).unwrap_or(usize::MAX);
        for sent in c.in_flight.drain(..done.min(c.in_flight.len())) {
            if more {
                let us = now.duration_since(sent).as_micros();
                tally.latencies.push(u32::try_from(us).unwrap_or(u32::MAX));
                tally.completed += 1;
            }
        }
        if more && done > 0 {
            let k = depth - c.in_flight.len();
            c.session.send(k as u64);
            c.in_flight.extend(std::iter::repeat_n(now, k));
        }
        if let Some(close) = c.session.server_close() {
            if c.stage != Stage::Closing {
                return Err(unexpected_close(close));
            }
            if close.0 != Some(NORMAL) {
                return Err(format!(
                    "the server answered Close {NORMAL} with {}",
                    match close.0 {
                        Some(code) => format!("Close {code}"),
                        None => "a Close without a status".into(),
                    }
                ));
            }
            // The closing handshake is done; the end of input, as TLS
            // says it.
            if let Some(t) = c.tls.as_mut() {
                let _ = t.close(&c.stream);
            }
            c.stage = Stage::Done;
            return Ok(());
        }
    }
    if c.stage == Stage::Running && !more && c.in_flight.is_empty() {
        c.session.close(NORMAL, rng);
        c.stage = Stage::Closing;
    }
    c.session.flush(&c.stream, &mut c.tls, script, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(want: &[u8], opcode: u8) -> Reader {
        Reader::new(Rc::from(want), opcode)
    }

    /// A server frame (unmasked).
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![(u8::from(fin) << 7) | opcode];
        let len = payload.len();
        if len < 126 {
            f.push(len as u8);
        } else if len <= 0xFFFF {
            f.push(126);
            f.extend((len as u16).to_be_bytes());
        } else {
            f.push(127);
            f.extend((len as u64).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `wire` in two pieces split at every position.
    fn fed_split(want: &[u8], opcode: u8, wire: &[u8]) -> Vec<Result<Fed, String>> {
        (0..=wire.len())
            .map(|split| {
                let mut r = reader(want, opcode);
                let mut fed = Fed::default();
                r.feed(&wire[..split], &mut fed)?;
                r.feed(&wire[split..], &mut fed)?;
                assert!(!r.mid_answer());
                Ok(fed)
            })
            .collect()
    }

    #[test]
    fn the_rfc_example_accept() {
        // RFC 6455 section 1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn client_frames_are_masked_with_the_shortest_length() {
        let mut rng = Rng::new();
        for len in [1usize, 125, 126, 65_535, 65_536, 200_000] {
            let payload = load::letters(len);
            let mask = rng.mask();
            let mut f = Vec::new();
            frame_header(&mut f, OP_TEXT, len, mask);
            // Masked in uneven pieces, as the socket takes them.
            let mut at = 0;
            while at < len {
                let n = (len - at).min(7 + at % 5);
                mask_into(&mut f, &payload[at..at + n], mask, at);
                at += n;
            }
            let (ext, hdr) = match len {
                0..=125 => (len as u8, 2),
                126..=65_535 => (126, 4),
                _ => (127, 10),
            };
            assert_eq!(f[0], 0x81);
            assert_eq!(f[1], 0x80 | ext, "{len}");
            assert_eq!(&f[hdr..hdr + 4], &mask);
            let body: Vec<u8> = f[hdr + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(body, payload, "{len}");
        }
    }

    #[test]
    fn fragmented_answers_split_anywhere() {
        let mut wire = frame(true, OP_TEXT, b"ABCDEF");
        wire.extend(frame(false, OP_TEXT, b"AB"));
        wire.extend(frame(true, OP_PING, b"hi")); // between fragments
        wire.extend(frame(false, OP_CONTINUATION, b""));
        wire.extend(frame(true, OP_CONTINUATION, b"CDEF"));
        wire.extend(frame(true, OP_PONG, b""));
        for r in fed_split(b"ABCDEF", OP_TEXT, &wire) {
            let fed = r.unwrap();
            assert_eq!(fed.answers, 2);
            assert_eq!(fed.pings, vec![b"hi".to_vec()]);
        }
        // 16- and 64-bit lengths.
        let big = load::expected(crate::Expect::Upper, &load::letters(70_000));
        let mut wire = frame(false, OP_BINARY, &big[..300]);
        wire.extend(frame(true, OP_CONTINUATION, &big[300..]));
        let mut r = reader(&big, OP_BINARY);
        let mut fed = Fed::default();
        for piece in wire.chunks(999) {
            r.feed(piece, &mut fed).unwrap();
        }
        assert_eq!(fed.answers, 1);
    }

    #[test]
    fn every_byte_and_every_rule_is_checked() {
        let good = frame(true, OP_TEXT, b"ABC");
        for i in 2..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x20;
            assert!(reader(b"ABC", OP_TEXT)
                .feed(&bad, &mut Fed::default())
                .is_err());
        }
        let cases: [(&[u8], &str); 9] = [
            (&frame(true, OP_BINARY, b"ABC"), "binary answer"),
            (&[0x81 | 0x40, 3, b'A', b'B', b'C'], "reserved"),
            (&[0x81, 0x83, 0, 0, 0, 0], "masked"),
            (&frame(true, OP_CONTINUATION, b"ABC"), "continuation"),
            (&frame(true, 0x3, b""), "unknown opcode"),
            (&frame(false, OP_PING, b""), "control frame"),
            (&frame(true, OP_TEXT, b"ABCD"), "longer"),
            (&frame(true, OP_TEXT, b"AB"), "2 bytes"),
            (
                &[frame(false, OP_TEXT, b"A"), frame(true, OP_TEXT, b"BC")].concat(),
                "new message",
            ),
        ];
        for (wire, what) in cases {
            let e = reader(b"ABC", OP_TEXT)
                .feed(wire, &mut Fed::default())
                .unwrap_err();
            assert!(e.contains(what), "{what}: {e}");
        }
    }

    #[test]
    fn a_close_is_kept_with_its_code_and_reason() {
        let mut p = 1001u16.to_be_bytes().to_vec();
        p.extend(b"going away");
        let mut r = reader(b"ABC", OP_TEXT);
        r.feed(&frame(true, OP_CLOSE, &p), &mut Fed::default())
            .unwrap();
        assert_eq!(r.closed, Some((Some(1001), "going away".into())));
        assert!(r.feed(b"x", &mut Fed::default()).is_err());
    }

    #[test]
    fn the_101_is_checked() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = accept_for(key);
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\n\
             Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert_eq!(check_101(good.as_bytes(), &accept), Ok(()));
        for (bad, what) in [
            (good.replace("101 Switching", "400 Bad"), "not 101"),
            (good.replace(&accept, "x"), "Accept"),
            (
                good.replace("upgrade: WebSocket", "upgrade: h2c"),
                "Upgrade",
            ),
            (good.replace("keep-alive, Upgrade", "close"), "Connection"),
            (
                good.replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: x\r\n\r\n"),
                "negotiates",
            ),
        ] {
            let e = check_101(bad.as_bytes(), &accept).unwrap_err();
            assert!(e.contains(what), "{what}: {e}");
        }
    }
}

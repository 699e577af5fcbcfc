//! Shared by the host tests: an in-memory link that misbehaves on purpose,
//! a reference model of what a link must carry, and SHOUT/1 input makers.
#![allow(dead_code)]

pub mod client;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use shout_core::{Config, Instant, Server};
use shout_embedded_io::LinkMode;

/// Every `ErrorKind` a link may report.
pub const KINDS: [ErrorKind; 18] = [
    ErrorKind::Other,
    ErrorKind::NotFound,
    ErrorKind::PermissionDenied,
    ErrorKind::ConnectionRefused,
    ErrorKind::ConnectionReset,
    ErrorKind::ConnectionAborted,
    ErrorKind::NotConnected,
    ErrorKind::AddrInUse,
    ErrorKind::AddrNotAvailable,
    ErrorKind::BrokenPipe,
    ErrorKind::AlreadyExists,
    ErrorKind::InvalidInput,
    ErrorKind::InvalidData,
    ErrorKind::TimedOut,
    ErrorKind::Interrupted,
    ErrorKind::Unsupported,
    ErrorKind::OutOfMemory,
    ErrorKind::WriteZero,
];

/// Which link call an injected failure hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ReadReady,
    Read,
    WriteReady,
    Write,
}

/// How a [`TestLink`] misbehaves.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Seed of the link's own random choices.
    pub seed: u64,
    /// Largest read it returns (at least 1).
    pub max_read: usize,
    /// Largest write it accepts (at least 1): short writes.
    pub max_write: usize,
    /// Percent of readiness checks that say "not ready" though it is.
    pub not_ready_pct: u32,
    /// Percent of read and write calls that fail with `Interrupted` first.
    pub interrupted_pct: u32,
    /// Report end of input (`Ok(0)`) once the input is used up; otherwise
    /// the link just never becomes read-ready again, like a UART.
    pub eof: bool,
    /// Fail the n-th call of this kind once with this error.
    pub fail: Option<(Op, u32, ErrorKind)>,
    /// The n-th write returns `Ok(0)` once.
    pub write_zero_at: Option<u32>,
}

impl Behaviour {
    pub fn plain() -> Self {
        Behaviour {
            seed: 1,
            max_read: usize::MAX,
            max_write: usize::MAX,
            not_ready_pct: 0,
            interrupted_pct: 0,
            eof: true,
            fail: None,
            write_zero_at: None,
        }
    }
}

/// An in-memory link: reads from a fixed input, records what is written.
pub struct TestLink {
    input: Vec<u8>,
    pos: usize,
    pub output: Vec<u8>,
    b: Behaviour,
    rng: u64,
    counts: [u32; 4],
    /// Failures it injected, in order.
    pub injected: Vec<(Op, ErrorKind)>,
    /// How many times it returned `Ok(0)` from read.
    pub eofs: u32,
    /// How many times it returned `Ok(0)` from write.
    pub zeros: u32,
}

impl TestLink {
    pub fn new(input: &[u8], b: Behaviour) -> Self {
        TestLink {
            input: input.to_vec(),
            pos: 0,
            output: Vec::new(),
            rng: b.seed | 1,
            b,
            counts: [0; 4],
            injected: Vec::new(),
            eofs: 0,
            zeros: 0,
        }
    }

    /// All input has been read.
    pub fn drained(&self) -> bool {
        self.pos == self.input.len()
    }

    /// How many times `write` was called.
    pub fn write_calls(&self) -> u32 {
        self.counts[Op::Write as usize]
    }

    /// Appends input, as if more arrived on the wire.
    pub fn push_input(&mut self, more: &[u8]) {
        self.input.extend_from_slice(more);
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pct(&mut self, p: u32) -> bool {
        p > 0 && (self.next() % 100) < p as u64
    }

    fn below(&mut self, max: usize) -> usize {
        1 + (self.next() % max.min(1 << 20) as u64) as usize
    }

    /// Counts a call and injects the scheduled failure, if this is it.
    fn call(&mut self, op: Op) -> Result<(), ErrorKind> {
        let i = op as usize;
        self.counts[i] += 1;
        if let Some((fop, n, kind)) = self.b.fail {
            if fop == op && self.counts[i] == n {
                self.injected.push((op, kind));
                return Err(kind);
            }
        }
        if matches!(op, Op::Read | Op::Write) && self.pct(self.b.interrupted_pct) {
            return Err(ErrorKind::Interrupted);
        }
        Ok(())
    }
}

impl ErrorType for TestLink {
    type Error = ErrorKind;
}

impl Read for TestLink {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.call(Op::Read)?;
        assert!(!buf.is_empty(), "the driver read into an empty buffer");
        let rest = self.input.len() - self.pos;
        if rest == 0 {
            assert!(self.b.eof, "read called on a link that is not ready");
            self.eofs += 1;
            return Ok(0);
        }
        let n = rest.min(buf.len()).min(self.below(self.b.max_read));
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl ReadReady for TestLink {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.call(Op::ReadReady)?;
        if self.pct(self.b.not_ready_pct) {
            return Ok(false);
        }
        Ok(self.pos < self.input.len() || self.b.eof)
    }
}

impl Write for TestLink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.call(Op::Write)?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.b.write_zero_at == Some(self.counts[Op::Write as usize]) {
            self.zeros += 1;
            return Ok(0);
        }
        let n = buf.len().min(self.below(self.b.max_write));
        self.output.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl WriteReady for TestLink {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        self.call(Op::WriteReady)?;
        Ok(!self.pct(self.b.not_ready_pct))
    }
}

/// What the link must carry for `input`, worked out by driving
/// `shout_core::Server`s by hand through a large window; on a continuous
/// link the input after a session's end starts the next one. Returns
/// the output before the input ends (when nothing moves any more), and the
/// whole output once the end of input was handled. Time stands still.
pub fn reference(config: Config, mode: LinkMode, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::ZERO;
    let mut out = Vec::new();
    let mut window = [0u8; 256];
    let mut server = Server::new(config, now).expect("test config is valid");
    let mut i = 0;
    let mut eof = false;
    let mut before_end = None;
    let mut budget = 10 * input.len() + 1000;
    // A length-preserving session is fed one byte per call, so each
    // session ends exactly at the byte that closed it. A unicode session
    // answers a DATA only when its whole payload is offered at once, so it
    // gets all the rest (only compared on connections, which end at the
    // first close).
    let one_at_a_time = config.transform.is_length_preserving();
    loop {
        budget -= 1;
        assert!(budget > 0, "reference model stuck");
        if server.is_finished() {
            if mode == LinkMode::Stream || (i == input.len() && eof) {
                break;
            }
            if i == input.len() {
                // Everything answered; the end of input would only reach
                // a fresh session, which closes without a byte.
                before_end = Some(out.clone());
                break;
            }
            server = Server::new(config, now).unwrap();
            if eof {
                server.handle_end_of_input();
            }
            continue;
        }
        let was_closed = server.is_closed();
        let piece: &[u8] = if was_closed {
            &[]
        } else if one_at_a_time {
            &input[i..(i + 1).min(input.len())]
        } else {
            &input[i..]
        };
        let p = server.handle_input(now, piece, &mut window);
        out.extend_from_slice(&window[..p.produced]);
        i += p.consumed;
        if p.consumed == 0 && p.produced == 0 && server.is_closed() == was_closed {
            assert!(!eof, "reference model stuck after end of input");
            before_end = Some(out.clone());
            eof = true;
            server.handle_end_of_input();
        }
    }
    (before_end.unwrap_or_else(|| out.clone()), out)
}

/// A frame: kind, u32 BE length, payload.
pub fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The client HELLO frame.
pub fn hello() -> Vec<u8> {
    frame(0, b"SHOUT\x01")
}

/// The server HELLO frame for a max_payload and the ascii transform.
pub fn server_hello(max_payload: u32) -> Vec<u8> {
    let mut p = b"SHOUT\x01".to_vec();
    p.extend_from_slice(&max_payload.to_be_bytes());
    p.push(0);
    frame(0, &p)
}

/// What a continuous link (a UART) must carry for `input` arriving as one
/// burst that is then followed by silence longer than the idle timeout:
/// [`reference`] without end of input, then the last session's idle
/// timeout (a frame session sends ERROR 5, a raw one just ends).
pub fn reference_burst_then_quiet(config: Config, input: &[u8]) -> Vec<u8> {
    let now = Instant::ZERO;
    let mut out = Vec::new();
    let mut window = [0u8; 256];
    let mut server = Server::new(config, now).expect("valid config");
    let mut i = 0;
    let mut budget = 10 * input.len() + 1000;
    loop {
        budget -= 1;
        assert!(budget > 0, "reference model stuck");
        if server.is_finished() {
            if i == input.len() {
                return out;
            }
            server = Server::new(config, now).unwrap();
        }
        let was_closed = server.is_closed();
        let piece: &[u8] = if was_closed {
            &[]
        } else {
            &input[i..(i + 1).min(input.len())]
        };
        let p = server.handle_input(now, piece, &mut window);
        out.extend_from_slice(&window[..p.produced]);
        i += p.consumed;
        if p.consumed == 0 && p.produced == 0 && server.is_closed() == was_closed {
            break;
        }
    }
    assert_eq!(
        i,
        input.len(),
        "a length-preserving session takes all input"
    );
    if server.framing().is_some() {
        let idle = config.idle_timeout.expect("an idle timeout");
        server.handle_timeout(now + idle);
        while !server.is_finished() {
            budget -= 1;
            assert!(budget > 0, "reference model stuck at the timeout");
            let p = server.handle_input(now + idle, &[], &mut window);
            out.extend_from_slice(&window[..p.produced]);
        }
    }
    out
}

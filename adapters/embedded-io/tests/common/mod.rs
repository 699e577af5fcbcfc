//! Shared by the host tests: an in-memory link that misbehaves on purpose,
//! what a link must carry (the test kit's model of a session, chained the
//! way a UART chains sessions), and SHOUT/1 frames from the test kit's
//! encoders.
#![allow(dead_code)]

pub(crate) mod client;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use shout_core::{Config, TransformKind};
use shout_embedded_io::LinkMode;
use shout_testkit::{frames, model, Driver, Plan};

/// Every `ErrorKind` a link may report.
pub(crate) const KINDS: [ErrorKind; 18] = [
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
pub(crate) enum Op {
    ReadReady,
    Read,
    WriteReady,
    Write,
}

/// How a [`TestLink`] misbehaves.
#[derive(Clone, Debug)]
pub(crate) struct Behaviour {
    /// Seed of the link's own random choices.
    pub(crate) seed: u64,
    /// Largest read it returns (at least 1).
    pub(crate) max_read: usize,
    /// Largest write it accepts (at least 1): short writes.
    pub(crate) max_write: usize,
    /// Percent of readiness checks that say "not ready" though it is.
    pub(crate) not_ready_pct: u32,
    /// Percent of read and write calls that fail with `Interrupted` first.
    pub(crate) interrupted_pct: u32,
    /// Report end of input (`Ok(0)`) once the input is used up; otherwise
    /// the link just never becomes read-ready again, like a UART.
    pub(crate) eof: bool,
    /// Fail the n-th call of this kind once with this error.
    pub(crate) fail: Option<(Op, u32, ErrorKind)>,
    /// The n-th write returns `Ok(0)` once.
    pub(crate) write_zero_at: Option<u32>,
}

impl Behaviour {
    pub(crate) fn plain() -> Self {
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
pub(crate) struct TestLink {
    input: Vec<u8>,
    pos: usize,
    pub(crate) output: Vec<u8>,
    b: Behaviour,
    rng: u64,
    counts: [u32; 4],
    /// Failures it injected, in order.
    pub(crate) injected: Vec<(Op, ErrorKind)>,
    /// How many times it returned `Ok(0)` from read.
    pub(crate) eofs: u32,
    /// How many times it returned `Ok(0)` from write.
    pub(crate) zeros: u32,
    /// While set, the link is never write-ready (a stalled receiver).
    pub(crate) write_blocked: bool,
}

impl TestLink {
    pub(crate) fn new(input: &[u8], b: Behaviour) -> Self {
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
            write_blocked: false,
        }
    }

    /// All input has been read.
    pub(crate) fn drained(&self) -> bool {
        self.pos == self.input.len()
    }

    /// How many input bytes have been read.
    pub(crate) fn read_so_far(&self) -> usize {
        self.pos
    }

    /// How many times `write` was called.
    pub(crate) fn write_calls(&self) -> u32 {
        self.counts[Op::Write as usize]
    }

    /// Appends input, as if more arrived on the wire.
    pub(crate) fn push_input(&mut self, more: &[u8]) {
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
        Ok(!self.write_blocked && !self.pct(self.b.not_ready_pct))
    }
}

/// What the link must carry for `input`: the test kit's model of each
/// session, chained as a continuous link chains them (the input after a
/// session's end starts the next one). Returns the output while the input
/// has not ended (everything up to the last byte answered, the last
/// session still open), and the whole output once the input ended.
pub(crate) fn reference(config: Config, mode: LinkMode, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    (
        chain(config, mode, input, Then::Quiet),
        chain(config, mode, input, Then::EndOfInput),
    )
}

/// What a continuous link (a UART) must carry for `input` arriving as one
/// burst that is then followed by silence longer than the idle timeout:
/// the sessions [`reference`] chains, the last one ended by its idle
/// timeout (a frame session sends ERROR 5, a raw one just ends).
pub(crate) fn reference_burst_then_quiet(config: Config, input: &[u8]) -> Vec<u8> {
    chain(config, LinkMode::Continuous, input, Then::Idle)
}

/// What the link must carry when a shutdown signal comes with the first
/// `mark` bytes of `input` read, all of them taken by the session open
/// then (so a driver that reads only when the session asks, with a
/// transform that needs no more than a byte to go on). The sessions that
/// closed on their own up to `mark` are answered as [`reference`] says; the
/// open one drains as the test kit's model says (`serve_shutdown`); none
/// starts after it.
pub(crate) fn reference_shutdown(
    config: Config,
    mode: LinkMode,
    input: &[u8],
    mark: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    // On a continuous link, the sessions that closed by `mark` come first.
    while mode == LinkMode::Continuous && at < input.len() {
        let rest = &input[at..];
        let mut session = Driver::new(config, &Plan::new(&[], &[]));
        session.push(rest);
        session.answer();
        let end = at + session.consumed();
        if !session.server().is_finished() || end > mark {
            break;
        }
        out.extend(model::serve(&config, rest).output);
        at = end;
    }
    if at == input.len() && at > 0 {
        return out; // no session was open at the signal
    }
    out.extend(model::serve_shutdown(&config, &input[at..], mark - at).output);
    out
}

/// What the client does once all of the input has arrived.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Nothing: the link stays open and quiet, time stands still.
    Quiet,
    /// It ends the input.
    EndOfInput,
    /// It stays quiet until the idle timeout fires.
    Idle,
}

/// The sessions a link carries for `input`, one after another. Each one's
/// output comes from the model (`Then::Quiet` leaves the last session
/// open, which the model has no outcome for: that one comes from the kit's
/// checked driver of the core); where each ends, and so where the next
/// begins, comes from the kit's driver, offered all the rest at once.
fn chain(config: Config, mode: LinkMode, input: &[u8], then: Then) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let rest = &input[at..];
        let mut session = Driver::new(config, &Plan::new(&[], &[]));
        session.push(rest);
        session.answer();
        let closed = session.server().is_finished();
        out.extend(match then {
            Then::Quiet => session.observed().output,
            Then::EndOfInput => model::serve(&config, rest).output,
            Then::Idle => model::serve_until_idle(&config, rest).output,
        });
        at += session.consumed();
        // A session still open took the rest; on a connection there is only
        // one; after the last byte a fresh session would see nothing (and
        // close, if the input ended, without a byte).
        if !closed || mode == LinkMode::Stream || at == input.len() {
            return out;
        }
    }
}

/// A frame: kind, u32 BE length, payload (the kit's encoder, with a plain
/// `u8` kind).
pub(crate) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    frames::frame(kind, payload)
}

/// The client HELLO frame.
pub(crate) fn hello() -> Vec<u8> {
    frames::client_hello(b"")
}

/// The server HELLO frame for a max_payload and the ascii transform.
pub(crate) fn server_hello(max_payload: u32) -> Vec<u8> {
    frames::server_hello_with(max_payload, TransformKind::Ascii)
}

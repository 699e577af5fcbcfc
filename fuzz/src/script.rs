//! The input of `server_session_differential`: a configuration, the bytes a
//! client sends (built from pieces, so a fuzzer reaches whole HELLOs and
//! frames quickly), and a script of what the caller does with them.
//!
//! Byte layout (forward-only, zeros past the end):
//!
//! ```text
//! framing u8 (bit 2: unicode) | max_payload u8 | max_line u8 | idle u8 | drain u8
//! final-window sizes (count u8 % 16, then that many u8)
//! piece count u8, pieces (tag u8 % 8, then the tag's fields)
//! ops until the end (op u8 % 10, then the op's fields)
//! ```

use shout_core::wire::Kind;
use shout_core::{Config, Duration};
use shout_testkit::frames;

use crate::{
    framing_from, max_line_from, max_payload_from, transform_from, valid, FromReader, Reader,
};

/// A piece of the client's input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Tag 0: length u8, bytes.
    Bytes(Vec<u8>),
    /// Tag 1: one byte `v`: `v % 4` extra payload bytes, and `(v >> 2) % 4`
    /// picks valid / version 2 / bad magic / 5-byte payload.
    Hello(u8),
    /// Tag 2: a DATA frame: length u8, payload.
    Data(Vec<u8>),
    /// Tag 3: a PING frame: length u8, payload.
    Ping(Vec<u8>),
    /// Tag 4: a header alone: kind u8, length u32 BE.
    Header(u8, u32),
    /// Tag 5: a CLOSE frame.
    Close,
    /// Tag 6: a line: length u8, bytes, then LF.
    Line(Vec<u8>),
    /// Tag 7: any frame: kind u8, length u8, payload.
    Frame(u8, Vec<u8>),
}

impl Piece {
    /// The bytes this piece stands for.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Piece::Bytes(b) => b.clone(),
            Piece::Hello(v) => {
                let extra = vec![b'x'; (v % 4) as usize];
                match (v >> 2) % 4 {
                    0 => frames::client_hello(&extra),
                    1 => {
                        let mut p = b"SHOUT\x02".to_vec();
                        p.extend_from_slice(&extra);
                        frames::frame(Kind::Hello, &p)
                    }
                    2 => {
                        let mut p = b"SHOUX\x01".to_vec();
                        p.extend_from_slice(&extra);
                        frames::frame(Kind::Hello, &p)
                    }
                    _ => frames::frame(Kind::Hello, b"SHOUT"),
                }
            }
            Piece::Data(p) => frames::data(p),
            Piece::Ping(p) => frames::ping(p),
            Piece::Header(k, len) => frames::header(*k, *len).to_vec(),
            Piece::Close => frames::close(),
            Piece::Line(l) => {
                let mut b = l.clone();
                b.push(b'\n');
                b
            }
            Piece::Frame(k, p) => frames::frame(*k, p),
        }
    }

    fn read(r: &mut Reader<'_>) -> Piece {
        let tag = r.u8() % 8;
        let vec = |r: &mut Reader<'_>| {
            let n = r.u8() as usize;
            r.take(n).to_vec()
        };
        match tag {
            0 => Piece::Bytes(vec(r)),
            1 => Piece::Hello(r.u8()),
            2 => Piece::Data(vec(r)),
            3 => Piece::Ping(vec(r)),
            4 => Piece::Header(r.u8(), r.u32()),
            5 => Piece::Close,
            6 => Piece::Line(vec(r)),
            _ => {
                let k = r.u8();
                Piece::Frame(k, vec(r))
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        let vec = |out: &mut Vec<u8>, b: &[u8]| {
            let n = u8::try_from(b.len()).expect("piece payloads are under 256 bytes");
            out.push(n);
            out.extend_from_slice(b);
        };
        match self {
            Piece::Bytes(b) => {
                out.push(0);
                vec(out, b)
            }
            Piece::Hello(v) => out.extend_from_slice(&[1, *v]),
            Piece::Data(b) => {
                out.push(2);
                vec(out, b)
            }
            Piece::Ping(b) => {
                out.push(3);
                vec(out, b)
            }
            Piece::Header(k, len) => {
                out.extend_from_slice(&[4, *k]);
                out.extend_from_slice(&len.to_be_bytes());
            }
            Piece::Close => out.push(5),
            Piece::Line(b) => {
                out.push(6);
                vec(out, b)
            }
            Piece::Frame(k, b) => {
                out.extend_from_slice(&[7, *k]);
                vec(out, b)
            }
        }
    }
}

/// One thing the caller does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// 0: `n` more input bytes arrive (u16 BE; 0 = all that is left).
    Read(u16),
    /// 1: `handle_input` with everything read and unconsumed, and a window
    /// of this many bytes (u8; 255 = 4096; 0 allowed).
    Offer(u8),
    /// 2: the clock moves by `n` * 100 µs (u16 BE).
    Advance(u16),
    /// 3: `handle_timeout(now)`, whether due or not.
    Timeout,
    /// 4: the clock jumps to `poll_timeout()` (if any, and later) and
    /// `handle_timeout` runs there.
    WakeAtDeadline,
    /// 5: `handle_transmitted(now)`.
    Transmitted,
    /// 6: the client ends its input: nothing more will arrive than what
    /// was read so far (`handle_end_of_input` with the bytes held).
    EndOfInput,
    /// 7: the signal: `shutdown(now, waiting)`, `waiting` being the bytes
    /// held unconsumed plus `n` (u8) more already in the link (at most what
    /// the client has not sent yet, and none once its input ended).
    Shutdown(u8),
    /// 8: the clock moves by `n` seconds (u8).
    AdvanceSecs(u8),
    /// 9: `poll_output` with a window of this many bytes (u8; 255 = 4096):
    /// only a flush.
    Poll(u8),
}

impl Op {
    fn read(r: &mut Reader<'_>) -> Op {
        match r.u8() % 10 {
            0 => Op::Read(r.u16()),
            1 => Op::Offer(r.u8()),
            2 => Op::Advance(r.u16()),
            3 => Op::Timeout,
            4 => Op::WakeAtDeadline,
            5 => Op::Transmitted,
            6 => Op::EndOfInput,
            7 => Op::Shutdown(r.u8()),
            8 => Op::AdvanceSecs(r.u8()),
            _ => Op::Poll(r.u8()),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Op::Read(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Op::Offer(w) => out.extend_from_slice(&[1, w]),
            Op::Advance(n) => {
                out.push(2);
                out.extend_from_slice(&n.to_be_bytes());
            }
            Op::Timeout => out.push(3),
            Op::WakeAtDeadline => out.push(4),
            Op::Transmitted => out.push(5),
            Op::EndOfInput => out.push(6),
            Op::Shutdown(n) => out.extend_from_slice(&[7, n]),
            Op::AdvanceSecs(s) => out.extend_from_slice(&[8, s]),
            Op::Poll(w) => out.extend_from_slice(&[9, w]),
        }
    }
}

/// A window size from an op's byte.
pub fn window_from(b: u8) -> usize {
    if b == 255 {
        4096
    } else {
        b as usize
    }
}

/// The most ops one script runs (the rest of the input is ignored).
pub const MAX_OPS: usize = 2048;

/// A whole run of `server_session_differential`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    /// Byte 0 (framing in bits 0-1, unicode transform in bit 2), 1 (max_payload), 2 (max_line), 3 (idle: 0 = none,
    /// else that many ms), 4 (drain: that many ms).
    pub config_bytes: [u8; 5],
    /// Window sizes for the final phase (cycled; see [`crate::Sizes`]).
    pub final_windows: Vec<u8>,
    /// What the client sends, in order.
    pub pieces: Vec<Piece>,
    /// What the caller does.
    pub ops: Vec<Op>,
}

impl Script {
    /// The configuration the first five bytes stand for.
    pub fn config(&self) -> Config {
        let [f, mp, ml, idle, drain] = self.config_bytes;
        let config = Config::default()
            .with_framing(framing_from(f))
            .with_transform(transform_from(f & 4 != 0))
            .with_max_payload(max_payload_from(mp))
            .with_max_line(max_line_from(ml))
            .with_idle_timeout((idle != 0).then(|| Duration::from_millis(idle as u64)))
            .with_drain_timeout(Duration::from_millis(drain as u64));
        valid(config)
    }

    /// The client's whole input.
    pub fn input(&self) -> Vec<u8> {
        self.pieces.iter().flat_map(|p| p.bytes()).collect()
    }

    /// The script's bytes: what [`FromReader::read`] reads back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.config_bytes.to_vec();
        assert!(self.final_windows.len() < 16);
        out.push(self.final_windows.len() as u8);
        out.extend_from_slice(&self.final_windows);
        out.push(u8::try_from(self.pieces.len()).expect("under 256 pieces"));
        for p in &self.pieces {
            p.write(&mut out);
        }
        for op in &self.ops {
            op.write(&mut out);
        }
        out
    }
}

impl FromReader for Script {
    fn read(r: &mut Reader<'_>) -> Script {
        let config_bytes = [r.u8(), r.u8(), r.u8(), r.u8(), r.u8()];
        let n = (r.u8() % 16) as usize;
        let final_windows = r.take(n).to_vec();
        let pieces = (0..r.u8()).map(|_| Piece::read(r)).collect();
        let mut ops = Vec::new();
        while !r.is_empty() && ops.len() < MAX_OPS {
            ops.push(Op::read(r));
        }
        Script {
            config_bytes,
            final_windows,
            pieces,
            ops,
        }
    }
}

crate::arbitrary_via_reader!(Script);

use super::ascii::{upper, upper_into};
use super::Transform;

/// Full Unicode uppercase (`char::to_uppercase`: `ß` → `SS`, `ŉ` → `ʼN`)
/// over a UTF-8 stream; bytes that are not valid UTF-8 pass through
/// unchanged.
///
/// Streaming: an incomplete sequence at the end of a piece (at most 3
/// bytes) is held until the next piece completes or breaks it, so the
/// output never depends on where the stream was split. Runs of ASCII take
/// the same vectorised path as [`super::Ascii`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unicode {
    held: [u8; 3],
    held_len: u8,
}

/// What the bytes at the start of a slice are.
enum Unit {
    /// A valid scalar value encoded in `len` bytes.
    Char(char, usize),
    /// One byte that cannot start (or continue) a valid sequence here.
    Invalid,
    /// A valid prefix of a sequence that needs more bytes.
    Incomplete,
}

/// The length a lead byte announces and the range its second byte must be
/// in (which rules out overlong forms, surrogates and values past U+10FFFF).
fn lead(b: u8) -> Option<(usize, core::ops::RangeInclusive<u8>)> {
    Some(match b {
        0xC2..=0xDF => (2, 0x80..=0xBF),
        0xE0 => (3, 0xA0..=0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80..=0xBF),
        0xED => (3, 0x80..=0x9F),
        0xF0 => (4, 0x90..=0xBF),
        0xF1..=0xF3 => (4, 0x80..=0xBF),
        0xF4 => (4, 0x80..=0x8F),
        _ => return None,
    })
}

/// Decodes the non-ASCII unit at the start of `s` (which is not empty).
fn decode(s: &[u8]) -> Unit {
    let Some((len, second)) = lead(s[0]) else {
        return Unit::Invalid;
    };
    for (i, &b) in s.iter().enumerate().take(len).skip(1) {
        let ok = if i == 1 {
            second.contains(&b)
        } else {
            (0x80..=0xBF).contains(&b)
        };
        if !ok {
            return Unit::Invalid;
        }
    }
    if s.len() < len {
        return Unit::Incomplete;
    }
    match core::str::from_utf8(&s[..len])
        .ok()
        .and_then(|t| t.chars().next())
    {
        Some(c) => Unit::Char(c, len),
        None => Unit::Invalid,
    }
}

/// Writes the uppercase of `c` into `out`; `None` if it does not fit.
fn upper_char(c: char, out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for u in c.to_uppercase() {
        let w = u.len_utf8();
        if out.len() - n < w {
            return None;
        }
        u.encode_utf8(&mut out[n..n + w]);
        n += w;
    }
    Some(n)
}

/// Bytes per step of the ASCII fast path: small enough that checking a
/// block and then uppercasing it both run in L1.
const BLOCK: usize = 128;

/// Uppercases the ASCII run at the start of `input` into `out`, a block at
/// a time while whole blocks are ASCII; returns its length.
fn ascii_prefix(input: &[u8], out: &mut [u8]) -> usize {
    let limit = input.len().min(out.len());
    // Short runs (text in most scripts) skip the block machinery.
    let probe = limit.min(16);
    let head = input[..probe].iter().take_while(|b| b.is_ascii()).count();
    if head < probe {
        upper_into(&input[..head], &mut out[..head]);
        return head;
    }
    let mut n = 0;
    while n + BLOCK <= limit {
        // One fused pass: uppercase the block and OR its bytes together.
        // If a byte >= 0x80 shows up, the block's output is simply written
        // again by the slow path.
        let mut seen = 0u8;
        for (o, &b) in out[n..n + BLOCK].iter_mut().zip(&input[n..n + BLOCK]) {
            seen |= b;
            *o = upper(b);
        }
        if seen >= 0x80 {
            // The block's output is right up to its first non-ASCII byte.
            let k = input[n..n + BLOCK]
                .iter()
                .take_while(|b| b.is_ascii())
                .count();
            return n + k;
        }
        n += BLOCK;
    }
    let tail = input[n..limit].iter().take_while(|b| b.is_ascii()).count();
    upper_into(&input[n..n + tail], &mut out[n..n + tail]);
    n + tail
}

impl Unicode {
    /// Maps one unit at the start of `s`: returns `(consumed, written)`,
    /// `(0, 0)` when `out` lacks room, or `None` when `s` ends inside a
    /// sequence.
    fn unit(s: &[u8], out: &mut [u8]) -> Option<(usize, usize)> {
        match decode(s) {
            Unit::Char(c, len) => Some(upper_char(c, out).map_or((0, 0), |w| (len, w))),
            Unit::Invalid if out.is_empty() => Some((0, 0)),
            Unit::Invalid => {
                out[0] = s[0];
                Some((1, 1))
            }
            Unit::Incomplete => None,
        }
    }

    /// Completes (or breaks) the held sequence with the start of `input`.
    fn resolve_held(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let held = self.held_len as usize;
        let mut tmp = [0u8; 4];
        tmp[..held].copy_from_slice(&self.held[..held]);
        let extra = input.len().min(4 - held);
        tmp[held..held + extra].copy_from_slice(&input[..extra]);
        match Self::unit(&tmp[..held + extra], out) {
            None => {
                // Still incomplete: hold the new bytes too.
                self.held[held..held + extra].copy_from_slice(&input[..extra]);
                self.held_len += extra as u8;
                (extra, 0)
            }
            Some((0, _)) => (0, 0),
            Some((k, w)) if k <= held => {
                // The held bytes broke apart: drop what was emitted.
                self.held.copy_within(k..held, 0);
                self.held_len -= k as u8;
                (0, w)
            }
            Some((k, w)) => {
                self.held_len = 0;
                (k - held, w)
            }
        }
    }
}

impl Transform for Unicode {
    const MAX_HELD: usize = 3;
    const LENGTH_PRESERVING: bool = false;

    fn apply(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        let (mut i, mut o) = (0, 0);
        while self.held_len > 0 && i < input.len() {
            let (c, w) = self.resolve_held(&input[i..], &mut out[o..]);
            if c == 0 && w == 0 {
                return (i, o);
            }
            i += c;
            o += w;
        }
        while i < input.len() {
            let run = ascii_prefix(&input[i..], &mut out[o..]);
            if run > 0 {
                i += run;
                o += run;
                continue;
            }
            match Self::unit(&input[i..], &mut out[o..]) {
                Some((0, _)) => break,
                Some((c, w)) => {
                    i += c;
                    o += w;
                }
                None => {
                    let rest = input.len() - i;
                    self.held[..rest].copy_from_slice(&input[i..]);
                    self.held_len = rest as u8;
                    i = input.len();
                }
            }
        }
        (i, o)
    }

    fn flush(&mut self, out: &mut [u8]) -> usize {
        let n = (self.held_len as usize).min(out.len());
        out[..n].copy_from_slice(&self.held[..n]);
        self.held.copy_within(n..self.held_len as usize, 0);
        self.held_len -= n as u8;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at `split` with a roomy window, then flushes.
    fn run(input: &[u8], split: usize) -> ([u8; 64], usize) {
        let mut t = Unicode::default();
        let mut out = [0u8; 64];
        let mut o = 0;
        for piece in [&input[..split], &input[split..]] {
            let mut i = 0;
            while i < piece.len() {
                let (c, w) = t.apply(&piece[i..], &mut out[o..]);
                assert!(c > 0 || w > 0, "no progress");
                i += c;
                o += w;
            }
        }
        o += t.flush(&mut out[o..]);
        (out, o)
    }

    #[test]
    fn special_cases_at_every_split() {
        let cases: [(&str, &str); 6] = [
            ("straße", "STRASSE"),
            ("ŉ", "ʼN"),
            ("ΐ", "\u{399}\u{308}\u{301}"),
            ("ﬀ é ǰ", "FF É J̌"),
            ("և 𐐨", "ԵՒ 𐐀"),
            ("ᾳ", "ΑΙ"),
        ];
        for (input, want) in cases {
            for split in 0..=input.len() {
                let (out, n) = run(input.as_bytes(), split);
                assert_eq!(&out[..n], want.as_bytes(), "{input:?} split at {split}");
            }
        }
    }

    #[test]
    fn invalid_bytes_pass_through_at_every_split() {
        let input = b"a\xC3(b\xE2\x82\xF0\x9F\x98\xFFz\xED\xA0\x80\xE2\x82";
        let want = b"A\xC3(B\xE2\x82\xF0\x9F\x98\xFFZ\xED\xA0\x80\xE2\x82";
        for split in 0..=input.len() {
            let (out, n) = run(input, split);
            assert_eq!(&out[..n], want, "split at {split}");
        }
    }

    #[test]
    fn waits_for_room_for_a_whole_expansion() {
        let mut t = Unicode::default();
        let mut out = [0u8; 1];
        assert_eq!(t.apply("ß".as_bytes(), &mut out), (0, 0));
        let mut out = [0u8; 2];
        assert_eq!(t.apply("ß".as_bytes(), &mut out), (2, 2));
        assert_eq!(&out, b"SS");
    }
}

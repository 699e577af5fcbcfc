//! WebSocket frames (RFC 6455 section 5), server side: client frames are
//! read header by header, their payload unmasked and answered as it
//! arrives, one answer frame per client frame.

/// The longest client frame header: 2 bytes, 8 of length, 4 of mask.
const MAX_HEADER: usize = 14;

/// Opcode: the next fragment of a message.
pub const CONTINUATION: u8 = 0x0;
/// Opcode: a text message (UTF-8).
pub const TEXT: u8 = 0x1;
/// Opcode: a binary message.
pub const BINARY: u8 = 0x2;
/// Opcode: Close, with an optional status code and reason.
pub const CLOSE: u8 = 0x8;
/// Opcode: Ping.
pub const PING: u8 = 0x9;
/// Opcode: Pong.
pub const PONG: u8 = 0xA;

/// Close status codes the server sends.
pub(crate) const GOING_AWAY: u16 = 1001;
pub(crate) const PROTOCOL_ERROR: u16 = 1002;
pub(crate) const INVALID_DATA: u16 = 1007;
pub(crate) const TOO_BIG: u16 = 1009;

/// A frame's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The frame ends its message.
    pub fin: bool,
    /// The three reserved bits, as they came.
    pub rsv: u8,
    /// What the frame is ([`TEXT`], [`CLOSE`], ...).
    pub opcode: u8,
    /// The masking key (client frames have one, server frames none).
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub len: u64,
}

/// Assembles a frame header that may arrive a byte at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderReader {
    bytes: [u8; MAX_HEADER],
    fill: u8,
}

impl HeaderReader {
    /// A reader that has seen nothing.
    pub const fn new() -> Self {
        HeaderReader {
            bytes: [0; MAX_HEADER],
            fill: 0,
        }
    }

    /// No byte of a header is held.
    pub fn is_empty(&self) -> bool {
        self.fill == 0
    }

    /// The header's length once its first two bytes are in.
    fn wanted(&self) -> usize {
        if self.fill < 2 {
            return 2;
        }
        let len = match self.bytes[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.bytes[1] & 0x80 != 0 { 4 } else { 0 };
        2 + len + mask
    }

    /// Takes what it needs of `input`: how many bytes, and the header once
    /// it is whole.
    pub fn read(&mut self, input: &[u8]) -> (usize, Option<FrameHeader>) {
        let mut taken = 0;
        loop {
            let want = self.wanted();
            let fill = self.fill as usize;
            if fill == want {
                let h = self.parse();
                self.fill = 0;
                return (taken, Some(h));
            }
            let n = (want - fill).min(input.len() - taken);
            if n == 0 {
                return (taken, None);
            }
            self.bytes[fill..fill + n].copy_from_slice(&input[taken..taken + n]);
            self.fill += n as u8;
            taken += n;
        }
    }

    fn parse(&self) -> FrameHeader {
        let b = &self.bytes;
        let (len, at) = match b[1] & 0x7F {
            126 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 => {
                let mut l = [0u8; 8];
                l.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(l), 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = (b[1] & 0x80 != 0).then(|| [b[at], b[at + 1], b[at + 2], b[at + 3]]);
        FrameHeader {
            fin: b[0] & 0x80 != 0,
            rsv: (b[0] >> 4) & 0x7,
            opcode: b[0] & 0x0F,
            mask,
            len,
        }
    }
}

/// A server frame's header (never masked): its bytes and their count.
pub(crate) fn server_header(fin: bool, opcode: u8, len: u64) -> ([u8; 10], usize) {
    let mut h = [0u8; 10];
    h[0] = if fin { 0x80 } else { 0 } | opcode;
    let n = if len < 126 {
        h[1] = len as u8;
        2
    } else if len <= u64::from(u16::MAX) {
        h[1] = 126;
        h[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        4
    } else {
        h[1] = 127;
        h[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    (h, n)
}

/// A Close frame with `code` and `reason` (at most 60 bytes, so the frame
/// fits the control queue): its bytes and their count.
pub(crate) fn close_frame(code: Option<u16>, reason: &[u8]) -> ([u8; 64], usize) {
    let mut f = [0u8; 64];
    f[0] = 0x80 | CLOSE;
    let Some(code) = code else {
        return (f, 2);
    };
    let reason = &reason[..reason.len().min(60)];
    f[1] = 2 + reason.len() as u8;
    f[2..4].copy_from_slice(&code.to_be_bytes());
    f[4..4 + reason.len()].copy_from_slice(reason);
    (f, 4 + reason.len())
}

/// A client frame's header: masked with `mask`; its bytes and their count.
pub fn client_header(fin: bool, opcode: u8, len: u64, mask: [u8; 4]) -> ([u8; 14], usize) {
    let (h, n) = server_header(fin, opcode, len);
    let mut out = [0u8; 14];
    out[..n].copy_from_slice(&h[..n]);
    out[1] |= 0x80;
    out[n..n + 4].copy_from_slice(&mask);
    (out, n + 4)
}

/// XORs `bytes`, which start `phase` bytes into a payload, with `mask`
/// (masking and unmasking are the same). Eight bytes at a time: a
/// multiple of four keeps the key's phase.
pub fn unmask(bytes: &mut [u8], mask: [u8; 4], phase: usize) {
    let m = [
        mask[phase & 3],
        mask[(phase + 1) & 3],
        mask[(phase + 2) & 3],
        mask[(phase + 3) & 3],
    ];
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut words = bytes.chunks_exact_mut(8);
    for w in &mut words {
        let mut v = [0u8; 8];
        v.copy_from_slice(w);
        w.copy_from_slice(&(u64::from_ne_bytes(v) ^ word).to_ne_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
}

/// Unmasks the `n` bytes at `from` (`phase` bytes into a payload) and
/// writes them at `to`, no later than `from`, uppercasing ASCII letters
/// when `UPPER`: one pass over the payload where unmasking, moving it up
/// to the shorter answer header and uppercasing took three. True when
/// every byte was ASCII, which a UTF-8 check may then skip.
///
/// Blocks go in ascending order and each is read whole before it is
/// written, so a block never overwrites input not yet read (`to <= from`).
pub(crate) fn unmask_within<const UPPER: bool>(
    buf: &mut [u8],
    from: usize,
    to: usize,
    n: usize,
    mask: [u8; 4],
    phase: usize,
) -> bool {
    debug_assert!(to <= from && from + n <= buf.len());
    let key: [u8; BLOCK] = core::array::from_fn(|j| mask[(phase + j) & 3]);
    #[cfg(all(feature = "runtime-avx2", target_arch = "x86_64"))]
    if n >= crate::transform::avx2::MIN_LEN {
        if let Some(ascii) = crate::transform::avx2::unmask_within::<UPPER>(buf, from, to, n, key) {
            return ascii;
        }
    }
    unmask_within_portable::<UPPER>(buf, from, to, n, key)
}

/// The bytes [`unmask_within`] takes at a time; also the AVX2 vector.
const BLOCK: usize = 32;

/// [`unmask_within`] on every target, with the mask as `key` (repeated
/// from the payload's phase).
fn unmask_within_portable<const UPPER: bool>(
    buf: &mut [u8],
    from: usize,
    to: usize,
    n: usize,
    key: [u8; BLOCK],
) -> bool {
    let map = |b: u8| {
        if UPPER {
            crate::transform::ascii::upper(b)
        } else {
            b
        }
    };
    let mut high = [0u8; BLOCK];
    let mut i = 0;
    while i + BLOCK <= n {
        let mut v = [0u8; BLOCK];
        v.copy_from_slice(&buf[from + i..from + i + BLOCK]);
        for j in 0..BLOCK {
            let b = v[j] ^ key[j];
            high[j] |= b;
            v[j] = map(b);
        }
        buf[to + i..to + i + BLOCK].copy_from_slice(&v);
        i += BLOCK;
    }
    let mut tail = 0u8;
    for (j, k) in (i..n).enumerate() {
        let b = buf[from + k] ^ key[j];
        tail |= b;
        buf[to + k] = map(b);
    }
    (high.iter().fold(tail, |a, &b| a | b)) < 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmask_within_is_unmask_then_move_then_uppercase() {
        let mask = [0x37, 0xFA, 0x21, 0x3D];
        // Mixed text (a two-byte character every 8 bytes), all ASCII, and
        // all ASCII but one byte in the first block, a middle one or the
        // tail: the ASCII answer decides whether UTF-8 is checked at all.
        let mixed: [u8; 200] = core::array::from_fn(|i| b"ab\xC3\xA9zZ{`"[i % 8]);
        let ascii: [u8; 200] = core::array::from_fn(|i| b"abzZ{`@ 0"[i % 9]);
        let high_at = |at: usize| {
            let mut t = ascii;
            t[at] = 0x80;
            t
        };
        let texts = [
            mixed,
            ascii,
            high_at(0),
            high_at(70),
            high_at(158),
            high_at(159),
        ];
        for plain in texts {
            for n in [0, 1, 31, 32, 33, 64, 100, 127, 128, 129, 150, 159, 160] {
                for gap in [0, 1, 4, 8, 33] {
                    for phase in 0..4 {
                        check_unmask_within(&plain, n, gap, phase, mask);
                    }
                }
            }
        }
    }

    /// Both paths (the dispatching one and the portable one), both
    /// `UPPER`s, against unmask, move and uppercase done one by one.
    fn check_unmask_within(plain: &[u8; 200], n: usize, gap: usize, phase: usize, mask: [u8; 4]) {
        let from = 40;
        let to = from - gap;
        let mut masked = [0u8; 200];
        masked[from..from + n].copy_from_slice(&plain[..n]);
        unmask(&mut masked[from..from + n], mask, phase);
        let key: [u8; BLOCK] = core::array::from_fn(|j| mask[(phase + j) & 3]);
        let mut upper = *plain;
        upper.make_ascii_uppercase();
        let upper = &upper[..n];
        let is_ascii = plain[..n].is_ascii();
        let at = (n, gap, phase, is_ascii);
        let mut b = masked;
        assert_eq!(
            unmask_within::<true>(&mut b, from, to, n, mask, phase),
            is_ascii,
            "{at:?}"
        );
        assert_eq!(&b[to..to + n], upper, "{at:?}");
        let mut b = masked;
        assert_eq!(
            unmask_within::<false>(&mut b, from, to, n, mask, phase),
            is_ascii,
            "{at:?}"
        );
        assert_eq!(&b[to..to + n], &plain[..n], "{at:?}");
        let mut b = masked;
        assert_eq!(
            unmask_within_portable::<true>(&mut b, from, to, n, key),
            is_ascii,
            "portable {at:?}"
        );
        assert_eq!(&b[to..to + n], upper, "portable {at:?}");
        let mut b = masked;
        assert_eq!(
            unmask_within_portable::<false>(&mut b, from, to, n, key),
            is_ascii,
            "portable {at:?}"
        );
        assert_eq!(&b[to..to + n], &plain[..n], "portable {at:?}");
    }

    #[test]
    fn headers_of_every_length_at_any_split() {
        for (bytes, len) in [
            (&[0x81u8, 0x85, 1, 2, 3, 4][..], 5u64),
            (&[0x82, 0xFE, 0x01, 0x00, 9, 9, 9, 9], 256),
            (&[0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4], 65536),
        ] {
            for cut in 0..=bytes.len() {
                let mut r = HeaderReader::new();
                let (a, h) = r.read(&bytes[..cut]);
                let (b, h2) = if h.is_some() {
                    (0, h)
                } else {
                    r.read(&bytes[cut..])
                };
                assert_eq!(a + b, bytes.len(), "cut {cut}");
                let h = h2.unwrap();
                assert_eq!(h.len, len);
                assert!(h.mask.is_some());
            }
        }
        let (n, h) = HeaderReader::new().read(&[0x89, 0x00]);
        assert_eq!((n, h.unwrap().mask, h.unwrap().opcode), (2, None, PING));
    }

    #[test]
    fn unmasking_in_pieces_equals_unmasking_whole() {
        let mask = [1, 2, 3, 4];
        let plain: [u8; 37] = core::array::from_fn(|i| i as u8);
        let mut whole = plain;
        unmask(&mut whole, mask, 0);
        for (i, b) in whole.iter().enumerate() {
            assert_eq!(*b, plain[i] ^ mask[i % 4]);
        }
        for cut in 0..plain.len() {
            let mut parts = plain;
            let (a, b) = parts.split_at_mut(cut);
            unmask(a, mask, 0);
            unmask(b, mask, cut);
            assert_eq!(parts, whole, "cut {cut}");
        }
    }

    #[test]
    fn server_headers_use_the_shortest_length() {
        assert_eq!(server_header(true, TEXT, 5).1, 2);
        assert_eq!(&server_header(true, TEXT, 126).0[..4], &[0x81, 126, 0, 126]);
        assert_eq!(server_header(false, CONTINUATION, 70_000).1, 10);
    }
}

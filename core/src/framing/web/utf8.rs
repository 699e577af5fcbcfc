//! A streaming UTF-8 check: a text message is judged as a whole, however
//! its bytes are split into frames and reads.

/// Where the check is inside a character.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Utf8 {
    /// Continuation bytes still expected.
    need: u8,
    /// The bounds of the next continuation byte (they narrow after E0,
    /// ED, F0 and F4, RFC 3629).
    lo: u8,
    hi: u8,
}

impl Utf8 {
    pub(crate) const fn new() -> Self {
        Utf8 {
            need: 0,
            lo: 0x80,
            hi: 0xBF,
        }
    }

    /// Checks `bytes`, the next of the message; false at the first byte
    /// that cannot be UTF-8.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> bool {
        // Finish a character begun earlier, then let the library's check
        // (word at a time over ASCII) take the whole characters; only a
        // character cut at the end comes back to the byte loop.
        while self.need > 0 && !bytes.is_empty() {
            if !self.step(bytes[0]) {
                return false;
            }
            bytes = &bytes[1..];
        }
        match core::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) if e.error_len().is_some() => false,
            Err(e) => self.slow(&bytes[e.valid_up_to()..]),
        }
    }

    /// Checks bytes known to be ASCII (at least one): valid unless a
    /// character begun earlier wanted a continuation byte instead.
    pub(crate) fn feed_ascii(&mut self) -> bool {
        self.need == 0
    }

    fn step(&mut self, b: u8) -> bool {
        self.slow(core::slice::from_ref(&b))
    }

    fn slow(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if self.need == 0 {
                if b < 0x80 {
                    continue;
                }
                let (need, lo, hi) = match b {
                    0xC2..=0xDF => (1, 0x80, 0xBF),
                    0xE0 => (2, 0xA0, 0xBF),
                    0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
                    0xED => (2, 0x80, 0x9F),
                    0xF0 => (3, 0x90, 0xBF),
                    0xF1..=0xF3 => (3, 0x80, 0xBF),
                    0xF4 => (3, 0x80, 0x8F),
                    _ => return false,
                };
                *self = Utf8 { need, lo, hi };
            } else {
                if b < self.lo || b > self.hi {
                    return false;
                }
                self.need -= 1;
                self.lo = 0x80;
                self.hi = 0xBF;
            }
        }
        true
    }

    /// The message ends here: true when no character was cut short.
    pub(crate) fn at_end(&self) -> bool {
        self.need == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(bytes: &[u8]) -> bool {
        let mut u = Utf8::new();
        u.feed(bytes) && u.at_end()
    }

    #[test]
    fn edges() {
        assert!(check("aß€😀".as_bytes()));
        assert!(!check(b"\xC0\x80")); // overlong
        assert!(!check(b"\xED\xA0\x80")); // a surrogate
        assert!(!check(b"\xF4\x90\x80\x80")); // past U+10FFFF
        assert!(!check(b"\xE2\x82")); // cut short
        assert!(!check(b"\x80"));
    }

    proptest! {
        #[test]
        fn agrees_with_core_at_any_split(bytes in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..64) {
            let cut = cut.min(bytes.len());
            let mut u = Utf8::new();
            let ok = u.feed(&bytes[..cut]) && u.feed(&bytes[cut..]) && u.at_end();
            prop_assert_eq!(ok, core::str::from_utf8(&bytes).is_ok());
        }
    }
}

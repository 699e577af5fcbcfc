use super::Kind;

/// Bytes in a frame header: kind u8 + length u32 BE.
pub const HEADER_LEN: usize = 5;

/// A frame header as it came off the wire. The kind stays a raw byte so the
/// caller can judge an unknown kind in the order the contract sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The kind byte, possibly unknown.
    pub kind: u8,
    /// Payload length in bytes.
    pub len: u32,
}

impl Header {
    /// A header for a known kind.
    pub const fn new(kind: Kind, len: u32) -> Header {
        Header {
            kind: kind as u8,
            len,
        }
    }

    /// Reads a header from exactly [`HEADER_LEN`] bytes.
    pub const fn parse(bytes: &[u8; HEADER_LEN]) -> Header {
        Header {
            kind: bytes[0],
            len: u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
        }
    }

    /// Reads a header from the start of `bytes`, if it is long enough.
    pub fn parse_prefix(bytes: &[u8]) -> Option<Header> {
        let head: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header::parse(head))
    }

    /// The kind, if the byte names one.
    pub const fn known_kind(&self) -> Option<Kind> {
        Kind::from_u8(self.kind)
    }

    /// The header's wire bytes.
    pub const fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let l = self.len.to_be_bytes();
        [self.kind, l[0], l[1], l[2], l[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header::new(Kind::Data, 0x0102_0304);
        assert_eq!(h.to_bytes(), [1, 1, 2, 3, 4]);
        assert_eq!(Header::parse(&h.to_bytes()), h);
        assert_eq!(Header::parse_prefix(&[9, 0, 0]), None);
        assert_eq!(Header::parse_prefix(&[9, 0, 0, 0, 7, 1]).unwrap().len, 7);
    }
}

/// Assembles a header that may arrive a byte at a time: the one piece of
/// state an incremental frame decoder needs between reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeaderReader {
    bytes: [u8; HEADER_LEN],
    fill: u8,
}

impl HeaderReader {
    /// A reader that has seen nothing.
    pub const fn new() -> Self {
        HeaderReader {
            bytes: [0; HEADER_LEN],
            fill: 0,
        }
    }

    /// True while no byte of the next header has arrived.
    pub const fn is_empty(&self) -> bool {
        self.fill == 0
    }

    /// Takes bytes from the start of `input` until a header is whole;
    /// returns how many it took and the header, once complete. A whole
    /// header at the start of `input` is read in place.
    #[inline]
    pub fn read(&mut self, input: &[u8]) -> (usize, Option<Header>) {
        if self.fill == 0 {
            if let Some(h) = Header::parse_prefix(input) {
                return (HEADER_LEN, Some(h));
            }
        }
        let fill = self.fill as usize;
        let n = (HEADER_LEN - fill).min(input.len());
        self.bytes[fill..fill + n].copy_from_slice(&input[..n]);
        self.fill += n as u8;
        if (self.fill as usize) < HEADER_LEN {
            return (n, None);
        }
        self.fill = 0;
        (n, Some(Header::parse(&self.bytes)))
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn a_header_split_anywhere_reads_the_same() {
        let wire = [2, 0, 0, 1, 0, 9, 9];
        for split in 0..HEADER_LEN {
            let mut r = HeaderReader::new();
            let (a, none) = r.read(&wire[..split]);
            assert_eq!((a, none), (split, None));
            assert_eq!(r.is_empty(), split == 0);
            let (b, h) = r.read(&wire[split..]);
            assert_eq!(a + b, HEADER_LEN);
            assert_eq!(h, Some(Header { kind: 2, len: 256 }));
            assert!(r.is_empty());
        }
    }
}

//! Shared pieces of the fuzz targets: the input formats (each a plain,
//! forward-only byte layout, so the seed generator can write them and
//! `cargo fuzz fmt` can show them). The checked session, its driver, the
//! reference model and the frame encoders are the workspace's test kit,
//! `shout_testkit`, re-exported here as `kit`.
//!
//! Nothing here links libFuzzer: the targets in `fuzz_targets/` do, and the
//! seed generator (`examples/seed_corpora.rs`) uses these formats without it.

use arbitrary::{Arbitrary, Unstructured};
use shout_core::{Config, Framing, TransformKind};
pub use shout_testkit as kit;
pub use shout_testkit::{frames, model, show, CheckedServer, Driver, Plan, Sizes};

pub mod script;

/// Reads a forward-only byte layout: every field is taken from the front,
/// and a field past the end reads as zero (so any byte string is an input).
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// The next byte, or 0 past the end.
    pub fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&b, rest)) => {
                self.bytes = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes, big-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// The next four bytes, big-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.bytes.len());
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        head
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.bytes.len())
    }

    /// True once every byte was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A size list: a count byte (mod 16), then that many size bytes.
    /// Sizes are cycled by [`Sizes`] (a list of zeros gets a 1; an empty
    /// list is one large size); 255 stands for "large" (4096).
    pub fn sizes(&mut self) -> Vec<usize> {
        let n = (self.u8() % 16) as usize;
        self.take(n)
            .iter()
            .map(|&b| if b == 255 { 4096 } else { b as usize })
            .collect()
    }
}

/// Reads the whole of an [`Unstructured`] through a [`Reader`]; used by the
/// hand-written [`Arbitrary`] impls, which keep their layout forward-only.
pub fn with_reader<'a, T>(u: &mut Unstructured<'a>, f: impl FnOnce(&mut Reader<'a>) -> T) -> T {
    let len = u.len();
    let bytes = u.bytes(len).unwrap_or(&[]);
    f(&mut Reader::new(bytes))
}

/// A `max_payload` from one byte: small values (6..=69) where a frame over
/// the limit is easy to write, the default, the largest, and exactly 6.
pub fn max_payload_from(b: u8) -> u32 {
    match b % 4 {
        0 => 6 + (b >> 2) as u32,
        1 => 1 << 20,
        2 => u32::MAX,
        _ => 6,
    }
}

/// A `max_line` from one byte: 1..=64, the default, the largest, or 1.
pub fn max_line_from(b: u8) -> u32 {
    match b % 4 {
        0 => 1 + (b >> 2) as u32,
        1 => 1 << 16,
        2 => u32::MAX,
        _ => 1,
    }
}

/// A framing from the low two bits of a byte.
pub fn framing_from(b: u8) -> Framing {
    [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame][(b % 4) as usize]
}

/// Implemented by input types that read themselves with a [`Reader`].
pub trait FromReader: Sized {
    /// Reads a value from the front of `r` (zeros past the end).
    fn read(r: &mut Reader<'_>) -> Self;
}

/// Implements [`Arbitrary`] for a [`FromReader`] type: the whole input is
/// read forward, so the byte layout stays the documented one.
#[macro_export]
macro_rules! arbitrary_via_reader {
    ($t:ty) => {
        impl<'a> arbitrary::Arbitrary<'a> for $t {
            fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                Ok($crate::with_reader(u, |r| {
                    <$t as $crate::FromReader>::read(r)
                }))
            }
            fn arbitrary_take_rest(mut u: arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
                Self::arbitrary(&mut u)
            }
        }
    };
}

/// Decodes `bytes` as a value of `T` the way a fuzz target would.
pub fn decode<'a, T: Arbitrary<'a>>(bytes: &'a [u8]) -> T {
    T::arbitrary_take_rest(Unstructured::new(bytes)).expect("readers never fail")
}

/// The configured transform of a whole stream, from the kit's model
/// (`str::to_uppercase` of every valid UTF-8 run, invalid bytes unchanged).
pub fn transform_of(kind: TransformKind, bytes: &[u8]) -> Vec<u8> {
    let config = Config::default().with_transform(kind);
    model::transform(&config, bytes)
}

/// A transform from one bit.
pub fn transform_from(unicode: bool) -> TransformKind {
    if unicode {
        TransformKind::Unicode
    } else {
        TransformKind::Ascii
    }
}

/// A configuration the core accepts: the unicode transform caps
/// `max_payload` at a third of `u32::MAX` (a response may triple).
pub fn valid(config: Config) -> Config {
    let growth = config.transform.max_growth() as u32;
    config.with_max_payload(config.max_payload.min(u32::MAX / growth))
}

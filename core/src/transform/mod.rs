//! The uppercase mappings, behind one small streaming trait.
//!
//! A transform is fed a stream a piece at a time and may hold back a few
//! bytes it cannot map yet (an incomplete UTF-8 sequence), so its output
//! never depends on how the stream was split. A length-preserving transform
//! lets a frame session answer a DATA frame as its payload arrives
//! (cut-through); one that is not forces store-and-forward, because the
//! response header carries a length known only at the end.

mod ascii;
mod unicode;

pub use ascii::Ascii;
pub use unicode::Unicode;

use crate::config::TransformKind;

/// A streaming byte transform.
pub trait Transform {
    /// Maps a prefix of `input` into `out`; returns `(consumed, written)`.
    /// Consumes nothing only when `out` is too small for the next piece.
    fn apply(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize);

    /// Ends a stream: writes the bytes held back, unchanged; returns how
    /// many were written. `out` must have room for [`Transform::MAX_HELD`].
    fn flush(&mut self, out: &mut [u8]) -> usize;

    /// The most bytes `apply` may hold back between calls.
    const MAX_HELD: usize;

    /// Whether every input byte maps to exactly one output byte.
    const LENGTH_PRESERVING: bool;
}

/// The transform a [`crate::Config`] picks, chosen at run time.
#[derive(Clone, Debug)]
pub(crate) enum AnyTransform {
    Ascii(Ascii),
}

impl AnyTransform {
    pub(crate) fn new(kind: TransformKind) -> Self {
        match kind {
            TransformKind::Ascii => AnyTransform::Ascii(Ascii),
        }
    }

    #[inline]
    pub(crate) fn apply(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        match self {
            AnyTransform::Ascii(t) => t.apply(input, out),
        }
    }

    pub(crate) fn flush(&mut self, out: &mut [u8]) -> usize {
        match self {
            AnyTransform::Ascii(t) => t.flush(out),
        }
    }
}

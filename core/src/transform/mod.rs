//! The uppercase mappings, behind one small streaming trait.
//!
//! A transform is fed a stream a piece at a time and may hold back a few
//! bytes it cannot map yet (an incomplete UTF-8 sequence), so its output
//! never depends on how the stream was split. A length-preserving transform
//! lets a frame session answer a DATA frame as its payload arrives
//! (cut-through); one that is not forces store-and-forward, because the
//! response header carries a length known only at the end.

pub(crate) mod ascii;
#[cfg(all(feature = "runtime-avx2", target_arch = "x86_64"))]
pub(crate) mod avx2;
#[cfg(feature = "unicode")]
mod unicode;

pub use ascii::Ascii;
#[cfg(feature = "unicode")]
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
    #[cfg(feature = "unicode")]
    Unicode(Unicode),
}

impl AnyTransform {
    pub(crate) fn new(kind: TransformKind) -> Self {
        match kind {
            TransformKind::Ascii => AnyTransform::Ascii(Ascii),
            #[cfg(feature = "unicode")]
            TransformKind::Unicode => AnyTransform::Unicode(Unicode::default()),
            // Config::validate refuses unicode when it is not built in.
            #[cfg(not(feature = "unicode"))]
            TransformKind::Unicode => AnyTransform::Ascii(Ascii),
        }
    }

    #[inline]
    pub(crate) fn apply(&mut self, input: &[u8], out: &mut [u8]) -> (usize, usize) {
        match self {
            AnyTransform::Ascii(t) => t.apply(input, out),
            #[cfg(feature = "unicode")]
            AnyTransform::Unicode(t) => t.apply(input, out),
        }
    }

    /// Maps `buf` onto itself; only a length-preserving transform can, so
    /// the others leave it alone and say so with `false`.
    #[inline]
    pub(crate) fn apply_in_place(&mut self, buf: &mut [u8]) -> bool {
        match self {
            AnyTransform::Ascii(_) => {
                ascii::upper_in_place(buf);
                true
            }
            #[cfg(feature = "unicode")]
            AnyTransform::Unicode(_) => false,
        }
    }

    pub(crate) fn flush(&mut self, out: &mut [u8]) -> usize {
        match self {
            AnyTransform::Ascii(t) => t.flush(out),
            #[cfg(feature = "unicode")]
            AnyTransform::Unicode(t) => t.flush(out),
        }
    }

    pub(crate) fn is_length_preserving(&self) -> bool {
        match self {
            AnyTransform::Ascii(_) => Ascii::LENGTH_PRESERVING,
            #[cfg(feature = "unicode")]
            AnyTransform::Unicode(_) => Unicode::LENGTH_PRESERVING,
        }
    }

    /// How long the transform of the whole of `input` is, held bytes
    /// included, without changing this transform's state.
    pub(crate) fn output_len(&self, input: &[u8]) -> usize {
        let mut t = self.clone();
        let mut scratch = [0u8; 64];
        let mut total = 0;
        let mut i = 0;
        while i < input.len() {
            let (c, w) = t.apply(&input[i..], &mut scratch);
            if c == 0 && w == 0 {
                break; // unreachable: 64 bytes hold any one expansion
            }
            i += c;
            total += w;
        }
        total + t.flush(&mut scratch)
    }
}

/// Transforms one whole message (a UDP datagram) into `out`: returns the
/// length written, or `None` if `out` is too small for all of it (or the
/// transform is not built in).
pub fn transform_message(kind: TransformKind, input: &[u8], out: &mut [u8]) -> Option<usize> {
    if !kind.is_built_in() {
        return None;
    }
    let mut t = AnyTransform::new(kind);
    let (consumed, written) = t.apply(input, out);
    if consumed < input.len() {
        return None;
    }
    let held = t.flush(&mut out[written..]);
    if t.flush(&mut [0u8; 4]) > 0 {
        return None; // the held bytes did not all fit
    }
    Some(written + held)
}

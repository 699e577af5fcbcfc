//! Raw: no boundaries; every byte is answered as soon as it arrives.

use super::Cx;

/// The raw decoder holds no state: the transform holds what little there is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raw;

impl Raw {
    #[inline]
    pub(crate) fn input(&mut self, cx: &mut Cx<'_, '_>, input: &[u8]) -> usize {
        cx.transform(input)
    }
}

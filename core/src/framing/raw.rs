//! Raw: no boundaries; every byte is answered as soon as it arrives.

use super::Cx;
use crate::io::Bytes;
use crate::session::CloseReason;

/// The raw decoder holds no state: the transform holds what little there is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Raw;

impl Raw {
    #[inline]
    pub(crate) fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        loop {
            let n = cx.io.input().len();
            if n == 0 || cx.transform(n) == 0 {
                return None;
            }
        }
    }
}

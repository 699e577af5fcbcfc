//! Line: a request is the bytes up to and including LF, answered as they
//! arrive; a line longer than `max_line` ends the session with an error line.

use super::Cx;
use crate::io::decimal;
use crate::io::Bytes;
use crate::session::CloseReason;

/// Counts the bytes of the line in progress; nothing else is kept.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    len: u32,
}

impl Line {
    pub(crate) const fn new() -> Self {
        Line { len: 0 }
    }

    pub(crate) fn at_boundary(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn input<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> Option<CloseReason> {
        let max = cx.config.max_line;
        loop {
            let rest = cx.io.input();
            if rest.is_empty() || (cx.stop_at_boundary && self.len == 0) {
                return None;
            }
            if self.len >= max {
                // Another byte, LF or not, makes the line longer than max.
                return Some(self.overflow(cx));
            }
            let allowed = rest.len().min((max - self.len) as usize);
            let (end, complete) = match memchr::memchr(b'\n', &rest[..allowed]) {
                Some(p) => (p + 1, true),
                None => (allowed, false),
            };
            let consumed = cx.transform(end);
            if complete && consumed == end {
                self.len = 0;
                cx.tally.request();
            } else {
                self.len += consumed as u32;
            }
            if consumed < end {
                return None; // the window is full
            }
        }
    }

    fn overflow<B: Bytes>(&mut self, cx: &mut Cx<'_, '_, B>) -> CloseReason {
        cx.flush_transform();
        let mut digits = [0u8; 10];
        let digits = decimal(cx.config.max_line, &mut digits);
        let mut msg = [0u8; 64];
        let parts: [&[u8]; 4] = [b"\nerror: line too long (limit ", digits, b" bytes)", b"\n"];
        let mut n = 0;
        for p in parts {
            msg[n..n + p.len()].copy_from_slice(p);
            n += p.len();
        }
        cx.io.emit(&msg[..n]);
        CloseReason::LineTooLong
    }
}

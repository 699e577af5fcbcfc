//! Where a session's bytes go: straight into the caller's window when there
//! is room, else into a small control queue that drains first next time.
//!
//! Only control bytes (frame headers, HELLO, CLOSE, ERROR, the line-length
//! error) ever wait in the queue; payload bytes are transformed straight into
//! the window or not consumed at all. That is what keeps a session's memory
//! independent of `max_payload` and `max_line`.

use heapless::Vec;

/// Room for the largest control burst a session can queue. The queue is
/// drained before any new input is decoded, so it holds one burst at a
/// time, plus at most one more from a timeout. The largest: a line's
/// closing LF after up to 3 held bytes and `error: line too long (limit
/// 4294967295 bytes)\n` (50 bytes); an ERROR frame (at most 49 bytes); a
/// HELLO (16) or a character's spilled uppercase (16) followed by a
/// timeout's ERROR 5 (19). Emitting past it is a bug the debug builds
/// assert on.
pub const CONTROL_CAPACITY: usize = 64;

/// Control bytes waiting for room in the caller's window.
#[derive(Clone, Debug, Default)]
pub(crate) struct Control {
    bytes: Vec<u8, CONTROL_CAPACITY, u8>,
    pos: u8,
}

impl Control {
    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.len() == self.pos as usize
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len() - self.pos as usize
    }

    /// Moves as much as fits into `window`; returns how much moved.
    pub(crate) fn drain_into(&mut self, window: &mut [u8]) -> usize {
        let rest = &self.bytes[self.pos as usize..];
        let n = rest.len().min(window.len());
        window[..n].copy_from_slice(&rest[..n]);
        self.pos += n as u8;
        if self.is_empty() {
            self.bytes.clear();
            self.pos = 0;
        }
        n
    }

    fn push(&mut self, bytes: &[u8]) {
        // Callers emit one burst at a time into an empty queue, so this
        // always fits; truncating instead of panicking keeps the no-panic
        // promise even if that reasoning were ever wrong.
        let room = CONTROL_CAPACITY - self.bytes.len();
        debug_assert!(bytes.len() <= room, "control burst over capacity");
        let _ = self
            .bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// The caller's output window for one call, plus the control queue.
pub(crate) struct Output<'a> {
    window: &'a mut [u8],
    written: usize,
    control: &'a mut Control,
}

impl<'a> Output<'a> {
    pub(crate) fn new(window: &'a mut [u8], control: &'a mut Control) -> Self {
        Output {
            window,
            written: 0,
            control,
        }
    }

    /// Bytes written into the window so far.
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// Moves queued control bytes into the window; true when none are left.
    pub(crate) fn drain_control(&mut self) -> bool {
        let n = self.control.drain_into(&mut self.window[self.written..]);
        self.written += n;
        self.control.is_empty()
    }

    /// True while control bytes wait: nothing else may be written until
    /// they drain, or the output would be reordered.
    pub(crate) fn is_blocked(&self) -> bool {
        !self.control.is_empty()
    }

    /// Appends control bytes after everything emitted so far.
    pub(crate) fn emit(&mut self, bytes: &[u8]) {
        let spare = self.window.len() - self.written;
        if self.control.is_empty() && bytes.len() <= spare {
            self.window[self.written..self.written + bytes.len()].copy_from_slice(bytes);
            self.written += bytes.len();
        } else {
            self.control.push(bytes);
        }
    }

    /// The free part of the window for payload bytes; empty while control
    /// bytes wait.
    #[inline]
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.control.is_empty() {
            &mut self.window[self.written..]
        } else {
            &mut []
        }
    }

    /// Records `n` payload bytes written into [`Output::spare`].
    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.written += n;
    }
}

/// Writes `n` in decimal into `buf`; returns the digits.
pub(crate) fn decimal(n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_waits_for_room_and_keeps_order() {
        let mut control = Control::default();
        let mut window = [0u8; 4];
        let mut out = Output::new(&mut window, &mut control);
        out.emit(b"ab");
        out.emit(b"cdef");
        assert!(out.is_blocked());
        assert_eq!(out.spare().len(), 0);
        assert_eq!(out.written(), 2);
        assert!(!out.drain_control());
        assert_eq!(&window, b"abcd");
        let mut window = [0u8; 4];
        let mut out = Output::new(&mut window, &mut control);
        assert!(out.drain_control());
        assert_eq!(&window[..2], b"ef");
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 10];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(65536, &mut b), b"65536");
        assert_eq!(decimal(u32::MAX, &mut b), b"4294967295");
    }
}

//! The bytes of one call: the input offered, the window answers go into,
//! and the small control queue for what does not fit.
//!
//! A decoder never holds a slice of the input while it writes: it looks at
//! [`Io::input`], decides how many bytes to take, and asks `Io` to take
//! them ([`Io::skip`], [`Io::transform`], [`Io::copy`]). That one rule lets
//! the same decoders answer into a separate window ([`Io::split`]) or into
//! the input buffer itself ([`Io::in_place`]), where output is written
//! behind the read position and never overtakes it.
//!
//! Only control bytes (frame headers, HELLO, CLOSE, ERROR, the line-length
//! error, a character's spilled uppercase) ever wait in the queue; payload
//! is transformed straight into the window or not consumed at all. That is
//! what keeps a session's memory independent of `max_payload` and
//! `max_line`.

use heapless::Vec;

use crate::transform::AnyTransform;

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
    fn drain_into(&mut self, window: &mut [u8]) -> usize {
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

/// Where one call's input and output live. Two shapes, each its own type
/// so that the decoders are compiled for the shapes a program uses and no
/// other (firmware that never answers in place carries none of it).
pub(crate) trait Bytes {
    /// Whether a character whose uppercase finds no room may still go
    /// through the control queue. A full window must not take more input
    /// (backpressure); in place, the room only grows as input is taken, so
    /// the first character has to go that way or nothing ever moves.
    const SPILL_WITHOUT_ROOM: bool;

    /// Every input byte offered.
    fn input(&self) -> &[u8];
    /// The room for output at `written`, given input consumed up to `read`.
    fn room(&mut self, read: usize, written: usize) -> &mut [u8];
    /// Answers `n` input bytes from `read` with their untransformed copy
    /// at `written`; returns how many.
    fn copy(&mut self, read: usize, written: usize, n: usize) -> usize;
    /// Transforms a prefix of `n` input bytes from `read` into the room at
    /// `written`; returns (consumed, written).
    fn transform(
        &mut self,
        t: &mut AnyTransform,
        read: usize,
        written: usize,
        n: usize,
    ) -> (usize, usize);
    /// Unmasks a prefix of the `n` input bytes at `read` and answers it
    /// into the room at `written`, through `t` or unchanged; `check` sees
    /// the bytes taken (unmasked, perhaps already uppercased: ASCII
    /// uppercase keeps UTF-8 as valid or invalid as it was) and whether
    /// they are known to be all ASCII. Returns (taken, written).
    #[cfg(feature = "web")]
    #[allow(clippy::too_many_arguments)]
    fn unmask_answer(
        &mut self,
        t: Option<&mut AnyTransform>,
        read: usize,
        written: usize,
        n: usize,
        mask: [u8; 4],
        phase: usize,
        check: &mut dyn FnMut(&[u8], bool),
    ) -> (usize, usize);
}

/// Unmasks a copy of up to 4 KiB of `input` and answers it into `room`.
#[cfg(feature = "web")]
fn unmask_copy(
    t: Option<&mut AnyTransform>,
    input: &[u8],
    room: &mut [u8],
    mask: [u8; 4],
    phase: usize,
    check: &mut dyn FnMut(&[u8], bool),
) -> (usize, usize) {
    let mut chunk = [0u8; 4096];
    let k = input.len().min(chunk.len());
    chunk[..k].copy_from_slice(&input[..k]);
    crate::framing::web::ws::unmask(&mut chunk[..k], mask, phase);
    let (taken, wrote) = answer_into(t, &chunk[..k], room);
    check(&chunk[..taken], false);
    (taken, wrote)
}

/// Answers `chunk` into `room`: through `t`, or copied.
#[cfg(feature = "web")]
fn answer_into(t: Option<&mut AnyTransform>, chunk: &[u8], room: &mut [u8]) -> (usize, usize) {
    match t {
        Some(t) => t.apply(chunk, room),
        None => {
            let n = chunk.len().min(room.len());
            room[..n].copy_from_slice(&chunk[..n]);
            (n, n)
        }
    }
}

/// Input and output window apart.
pub(crate) struct Split<'a> {
    pub(crate) input: &'a [u8],
    pub(crate) window: &'a mut [u8],
}

impl Bytes for Split<'_> {
    const SPILL_WITHOUT_ROOM: bool = false;

    #[inline]
    fn input(&self) -> &[u8] {
        self.input
    }

    #[inline]
    fn room(&mut self, _read: usize, written: usize) -> &mut [u8] {
        &mut self.window[written..]
    }

    #[inline]
    fn copy(&mut self, read: usize, written: usize, n: usize) -> usize {
        let n = n.min(self.window.len() - written);
        self.window[written..written + n].copy_from_slice(&self.input[read..read + n]);
        n
    }

    #[inline]
    fn transform(
        &mut self,
        t: &mut AnyTransform,
        read: usize,
        written: usize,
        n: usize,
    ) -> (usize, usize) {
        t.apply(&self.input[read..read + n], &mut self.window[written..])
    }

    #[cfg(feature = "web")]
    fn unmask_answer(
        &mut self,
        t: Option<&mut AnyTransform>,
        read: usize,
        written: usize,
        n: usize,
        mask: [u8; 4],
        phase: usize,
        check: &mut dyn FnMut(&[u8], bool),
    ) -> (usize, usize) {
        let input = &self.input[read..read + n];
        unmask_copy(t, input, &mut self.window[written..], mask, phase, check)
    }
}

/// One buffer: input from the read position on, output before it.
pub(crate) struct InPlace<'a>(pub(crate) &'a mut [u8]);

impl Bytes for InPlace<'_> {
    const SPILL_WITHOUT_ROOM: bool = true;

    #[inline]
    fn input(&self) -> &[u8] {
        self.0
    }

    #[inline]
    fn room(&mut self, read: usize, written: usize) -> &mut [u8] {
        &mut self.0[written..read]
    }

    #[inline]
    fn copy(&mut self, read: usize, written: usize, n: usize) -> usize {
        if written < read {
            self.0.copy_within(read..read + n, written);
        }
        n
    }

    #[inline]
    fn transform(
        &mut self,
        t: &mut AnyTransform,
        read: usize,
        written: usize,
        n: usize,
    ) -> (usize, usize) {
        if t.is_length_preserving() {
            if written < read {
                self.0.copy_within(read..read + n, written);
            }
            let mapped = t.apply_in_place(&mut self.0[written..written + n]);
            debug_assert!(mapped, "a length-preserving transform maps in place");
            return (n, n);
        }
        // Output may outgrow the input: only the room behind the read
        // position can take it.
        let (done, rest) = self.0.split_at_mut(read);
        t.apply(&rest[..n], &mut done[written..])
    }

    #[cfg(feature = "web")]
    fn unmask_answer(
        &mut self,
        t: Option<&mut AnyTransform>,
        read: usize,
        written: usize,
        n: usize,
        mask: [u8; 4],
        phase: usize,
        check: &mut dyn FnMut(&[u8], bool),
    ) -> (usize, usize) {
        use crate::framing::web::ws::unmask_within;
        // Byte for byte, so all `n` are taken: unmasked, moved and
        // answered in one pass.
        let ascii = match t {
            None => Some(unmask_within::<false>(
                self.0, read, written, n, mask, phase,
            )),
            Some(AnyTransform::Ascii(_)) => {
                Some(unmask_within::<true>(self.0, read, written, n, mask, phase))
            }
            #[cfg(feature = "unicode")]
            Some(_) => None,
        };
        if let Some(ascii) = ascii {
            check(&self.0[written..written + n], ascii);
            return (n, n);
        }
        // Output may outgrow the input: only the room behind the read
        // position can take it.
        let (done, rest) = self.0.split_at_mut(read);
        unmask_copy(t, &rest[..n], &mut done[written..], mask, phase, check)
    }
}

/// The bytes of one call, with the positions reached so far.
pub(crate) struct Io<'a, B> {
    bytes: B,
    /// Input consumed so far.
    read: usize,
    /// Input the decoder may see: a shutdown or end of input may stop it
    /// short of what was offered.
    limit: usize,
    /// Output written so far.
    written: usize,
    control: &'a mut Control,
    /// A decoder had more to write than the window took (an HTTP
    /// response, a WebSocket payload): it wants room, not input.
    #[cfg(feature = "web")]
    wants_room: bool,
}

impl<'a, B: Bytes> Io<'a, B> {
    pub(crate) fn new(bytes: B, control: &'a mut Control) -> Self {
        let limit = bytes.input().len();
        Io {
            bytes,
            read: 0,
            limit,
            written: 0,
            control,
            #[cfg(feature = "web")]
            wants_room: false,
        }
    }

    /// Input consumed so far.
    pub(crate) fn consumed(&self) -> usize {
        self.read
    }

    /// Output written so far.
    pub(crate) fn written(&self) -> usize {
        self.written
    }

    /// A decoder stopped for want of room in the window.
    pub(crate) fn wants_room(&self) -> bool {
        #[cfg(feature = "web")]
        return self.wants_room;
        #[cfg(not(feature = "web"))]
        false
    }

    /// Lets the decoder see at most `n` more input bytes (`None`: all).
    pub(crate) fn limit_to(&mut self, n: Option<usize>) {
        let offered = self.bytes.input().len();
        self.limit = match n {
            Some(n) => offered.min(self.read.saturating_add(n)),
            None => offered,
        };
    }

    /// The unconsumed input the decoder may see.
    #[inline]
    pub(crate) fn input(&self) -> &[u8] {
        &self.bytes.input()[self.read..self.limit]
    }

    /// Consumes `n` input bytes that produce no output.
    #[inline]
    pub(crate) fn skip(&mut self, n: usize) {
        debug_assert!(self.read + n <= self.limit);
        self.read += n;
    }

    /// Consumes everything offered, limit or not (a closed session
    /// discards what arrives).
    pub(crate) fn discard_all(&mut self) {
        self.read = self.bytes.input().len();
    }

    /// True while control bytes wait: nothing else may be written until
    /// they drain, or the output would be reordered.
    pub(crate) fn is_blocked(&self) -> bool {
        !self.control.is_empty()
    }

    /// Moves queued control bytes into the window; true when none are left.
    pub(crate) fn drain_control(&mut self) -> bool {
        let room = self.bytes.room(self.read, self.written);
        self.written += self.control.drain_into(room);
        self.control.is_empty()
    }

    /// Appends control bytes after everything emitted so far.
    pub(crate) fn emit(&mut self, bytes: &[u8]) {
        if self.control.is_empty() {
            let room = self.bytes.room(self.read, self.written);
            if bytes.len() <= room.len() {
                room[..bytes.len()].copy_from_slice(bytes);
                self.written += bytes.len();
                return;
            }
        }
        self.control.push(bytes);
    }

    /// Answers up to `n` input bytes with their untransformed copy (a PING
    /// payload); returns how many.
    pub(crate) fn copy(&mut self, n: usize) -> usize {
        if !self.control.is_empty() {
            return 0;
        }
        let n = self.bytes.copy(self.read, self.written, n);
        self.read += n;
        self.written += n;
        n
    }

    /// Transforms a prefix of the next `n` input bytes into the window;
    /// returns how many it consumed.
    #[inline]
    pub(crate) fn transform(&mut self, t: &mut AnyTransform, n: usize) -> usize {
        if !self.control.is_empty() {
            return 0;
        }
        let (consumed, wrote) = self.bytes.transform(t, self.read, self.written, n);
        self.read += consumed;
        self.written += wrote;
        if consumed == 0
            && wrote == 0
            && n > 0
            && (B::SPILL_WITHOUT_ROOM || !self.bytes.room(self.read, self.written).is_empty())
        {
            // Less room than the next character's uppercase.
            self.spill(t, n)
        } else {
            consumed
        }
    }

    /// The window had no room for the whole uppercase of the next
    /// character (`ß` is 2 bytes, `ΐ` 6): it goes through the control
    /// queue, so any window size makes progress.
    fn spill(&mut self, t: &mut AnyTransform, n: usize) -> usize {
        let mut first = [0u8; 4];
        let take = n.min(4);
        first[..take].copy_from_slice(&self.input()[..take]);
        self.spill_bytes(t, &first[..take])
    }

    /// Answers `first`, the next input bytes as the transform must see
    /// them, through the control queue; returns how many it took.
    fn spill_bytes(&mut self, t: &mut AnyTransform, first: &[u8]) -> usize {
        let mut spill = [0u8; 16];
        let (consumed, wrote) = t.apply(first, &mut spill);
        self.read += consumed;
        self.emit(&spill[..wrote]);
        consumed
    }

    /// Writes as much of `bytes` as the window has room for now (nothing
    /// while control bytes wait); returns how many. For output too large
    /// for the control queue (an HTTP response, the page).
    #[cfg(feature = "web")]
    pub(crate) fn emit_some(&mut self, bytes: &[u8]) -> usize {
        if !self.control.is_empty() {
            return 0;
        }
        let room = self.bytes.room(self.read, self.written);
        let n = bytes.len().min(room.len());
        room[..n].copy_from_slice(&bytes[..n]);
        self.written += n;
        self.wants_room |= n < bytes.len();
        n
    }

    /// Unmasks (XOR with `mask`, `phase` bytes into the payload) a prefix
    /// of the next `n` input bytes and answers it, through `t` or, without
    /// one, unchanged; `check` sees the bytes taken (unmasked, perhaps
    /// already uppercased) and whether they are known to be all ASCII.
    /// Returns how many were taken (0: no room).
    #[cfg(feature = "web")]
    pub(crate) fn unmask(
        &mut self,
        t: Option<&mut AnyTransform>,
        n: usize,
        mask: [u8; 4],
        phase: usize,
        check: &mut dyn FnMut(&[u8], bool),
    ) -> usize {
        if !self.control.is_empty() || n == 0 {
            return 0;
        }
        let n = n.min(self.limit - self.read);
        let mut t = t;
        let (taken, wrote) = self.bytes.unmask_answer(
            t.as_deref_mut(),
            self.read,
            self.written,
            n,
            mask,
            phase,
            check,
        );
        self.read += taken;
        self.written += wrote;
        if taken > 0 {
            return taken;
        }
        match t {
            // Less room than the next character's uppercase: it goes
            // through the control queue (as `spill` does), so any window
            // makes progress.
            Some(t)
                if B::SPILL_WITHOUT_ROOM
                    || !self.bytes.room(self.read, self.written).is_empty() =>
            {
                let mut first = [0u8; 4];
                let k = n.min(4);
                first[..k].copy_from_slice(&self.input()[..k]);
                crate::framing::web::ws::unmask(&mut first[..k], mask, phase);
                let c = self.spill_bytes(t, &first[..k]);
                check(&first[..c], false);
                self.wants_room |= c == 0;
                c
            }
            _ => {
                self.wants_room = true;
                0
            }
        }
    }

    /// Writes the transform's held-back bytes, unchanged, as control bytes.
    pub(crate) fn flush_transform(&mut self, t: &mut AnyTransform) {
        let mut held = [0u8; 4];
        let n = t.flush(&mut held);
        self.emit(&held[..n]);
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
    use crate::config::TransformKind;

    #[test]
    fn control_waits_for_room_and_keeps_order() {
        let mut control = Control::default();
        let mut window = [0u8; 4];
        let mut io = Io::new(
            Split {
                input: &[],
                window: &mut window,
            },
            &mut control,
        );
        io.emit(b"ab");
        io.emit(b"cdef");
        assert!(io.is_blocked());
        assert_eq!(io.written(), 2);
        assert!(!io.drain_control());
        assert_eq!(&window, b"abcd");
        let mut window = [0u8; 4];
        let mut io = Io::new(
            Split {
                input: &[],
                window: &mut window,
            },
            &mut control,
        );
        assert!(io.drain_control());
        assert_eq!(&window[..2], b"ef");
    }

    #[test]
    fn in_place_output_stays_behind_the_read_position() {
        let mut control = Control::default();
        let mut buf = *b"\x03\0\0\0\0hello";
        let mut t = AnyTransform::new(TransformKind::Ascii);
        let mut io = Io::new(InPlace(&mut buf), &mut control);
        io.skip(5); // a PONG header: consumed, no answer
        io.emit(b"<>"); // fits behind the read position
        assert_eq!(io.transform(&mut t, 5), 5);
        io.emit(b"too long"); // would overtake: queued
        assert!(io.is_blocked());
        assert_eq!(io.written(), 7);
        assert_eq!(&buf[..7], b"<>HELLO");
    }

    #[test]
    fn decimal_digits() {
        let mut b = [0u8; 10];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(65536, &mut b), b"65536");
        assert_eq!(decimal(u32::MAX, &mut b), b"4294967295");
    }
}

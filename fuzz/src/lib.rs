//! Shared pieces of the fuzz targets: the input formats (each a plain,
//! forward-only byte layout, so the seed generator can write them and
//! `cargo fuzz fmt` can show them), and a checked driver that pushes bytes
//! through a [`Server`] and asserts the session's rules after every call.
//!
//! Nothing here links libFuzzer: the targets in `fuzz_targets/` do, and the
//! seed generator (`examples/seed_corpora.rs`) uses these formats without it.

use arbitrary::{Arbitrary, Unstructured};
use shout_core::{
    CloseReason, Config, Duration, Event, Framing, Instant, Progress, Server, TransformKind,
    CONTROL_CAPACITY,
};

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
    /// Sizes are cycled by [`Sizes`]; 255 stands for "large" (4096).
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

/// Cycles through a list of sizes; an empty list means one large size,
/// and a list of zeros means ones (so a plan can always progress).
pub struct Sizes {
    sizes: Vec<usize>,
    at: usize,
}

impl Sizes {
    /// Sizes from a list read by [`Reader::sizes`].
    pub fn new(mut sizes: Vec<usize>) -> Self {
        if sizes.is_empty() {
            sizes.push(1 << 16);
        }
        if sizes.iter().all(|&s| s == 0) {
            sizes.push(1);
        }
        Sizes { sizes, at: 0 }
    }

    /// The next size.
    pub fn next_size(&mut self) -> usize {
        let s = self.sizes[self.at % self.sizes.len()];
        self.at += 1;
        s
    }

    /// How many calls in a row may move nothing before that is a stall:
    /// one full cycle of zeros, and a little slack.
    pub fn patience(&self) -> usize {
        self.sizes.len() + 2
    }
}

/// Everything a checked session produced, and what it reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// Every byte produced, in order.
    pub output: Vec<u8>,
    /// Every event polled, in order.
    pub events: Vec<Event>,
}

impl Seen {
    /// The reason the session closed, if it reported one.
    pub fn close(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match e {
            Event::Closed(r) => Some(*r),
            _ => None,
        })
    }

    /// The framing the session reported opening with.
    pub fn opened(&self) -> Option<Framing> {
        self.events.iter().find_map(|e| match e {
            Event::Opened(f) => Some(*f),
            _ => None,
        })
    }
}

/// A [`Server`] with every call checked against the rules of use that hold
/// whatever the input: windows respected, bounded pending output, no output
/// once finished, linger consumes everything, events in order and once each.
pub struct Checked {
    /// The session under test.
    pub server: Server,
    /// What it produced and reported so far.
    pub seen: Seen,
    /// The clock the caller supplies.
    pub now: Instant,
    window: Vec<u8>,
}

impl Checked {
    /// A new session for `config` at time zero.
    pub fn new(config: Config) -> Self {
        Checked {
            server: Server::new(config, Instant::ZERO).expect("fuzz configs are valid"),
            seen: Seen::default(),
            now: Instant::ZERO,
            window: Vec::new(),
        }
    }

    /// One `handle_input` with a window of `w` bytes; checks the call.
    pub fn offer(&mut self, input: &[u8], w: usize) -> Progress {
        let was_closed = self.server.is_closed();
        let was_finished = self.server.is_finished();
        let pending_before = self.server.pending_output_len();
        let needed = self.server.input_needed();
        self.window.clear();
        self.window.resize(w, 0xEE);
        let p = self.server.handle_input(self.now, input, &mut self.window);
        assert!(
            p.consumed <= input.len(),
            "consumed {} of {} bytes",
            p.consumed,
            input.len()
        );
        assert!(p.produced <= w, "produced {} into {w} bytes", p.produced);
        if was_finished {
            assert_eq!(p.produced, 0, "output after is_finished");
        }
        if was_closed {
            // Linger: once its pending bytes are out, a closed session
            // consumes and discards everything offered.
            if p.produced == pending_before {
                assert_eq!(
                    p.consumed,
                    input.len(),
                    "a closed session must discard all input"
                );
            }
            assert!(
                p.produced <= pending_before,
                "a closed session produced {} new bytes (only {pending_before} were pending)",
                p.produced
            );
        }
        if pending_before > 0 && w > 0 {
            assert!(
                p.produced > 0,
                "pending output did not move into a {w}-byte window"
            );
        }
        if w > 0 && !input.is_empty() && input.len() >= needed && !was_finished {
            assert!(
                p.consumed > 0 || p.produced > 0,
                "no progress: {} bytes offered (input_needed {needed}) into a {w}-byte window",
                input.len()
            );
        }
        self.seen
            .output
            .extend_from_slice(&self.window[..p.produced]);
        self.after_call();
        p
    }

    /// `handle_timeout(now)`; checks that it closes exactly when
    /// `poll_timeout` said a deadline had passed. Returns true if it closed.
    pub fn timeout(&mut self) -> bool {
        let was_closed = self.server.is_closed();
        let due = self.server.poll_timeout().is_some_and(|d| self.now >= d);
        self.server.handle_timeout(self.now);
        let closed = !was_closed && self.server.is_closed();
        assert_eq!(
            closed,
            due,
            "handle_timeout at {:?}: closed {closed}, but poll_timeout said due {due} ({:?})",
            self.now,
            self.server.poll_timeout()
        );
        self.after_call();
        closed
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
    }

    /// Checks what holds after any call: bounded pending output, accessor
    /// consistency, and takes the events (checking their order).
    pub fn after_call(&mut self) {
        let s = &self.server;
        let pending = s.pending_output_len();
        assert!(
            pending <= CONTROL_CAPACITY,
            "{pending} bytes pending, over CONTROL_CAPACITY {CONTROL_CAPACITY}"
        );
        assert_eq!(s.has_pending_output(), pending > 0);
        assert_eq!(s.is_finished(), s.is_closed() && pending == 0);
        assert_eq!(s.is_closed(), s.state() == shout_core::State::Closed);
        if s.is_closed() {
            assert_eq!(s.poll_timeout(), None, "a closed session has no deadline");
        }
        while let Some(e) = self.server.poll_event() {
            match e {
                Event::Opened(f) => {
                    assert_ne!(f, Framing::Auto, "opened as Auto");
                    assert!(
                        self.seen.events.is_empty(),
                        "Opened after {:?}",
                        self.seen.events
                    );
                }
                Event::Closed(_) => assert!(
                    self.seen.close().is_none(),
                    "closed twice: {:?} then {e:?}",
                    self.seen.events
                ),
            }
            self.seen.events.push(e);
        }
        assert_eq!(
            self.seen.close().is_some(),
            self.server.is_closed(),
            "Closed event vs is_closed"
        );
        assert_eq!(
            self.seen.opened(),
            self.server.framing(),
            "Opened event vs framing()"
        );
    }

    /// Feeds `input` in reads cut by `splits` through windows cut by
    /// `windows`, without ending the input, until everything is consumed
    /// and a call with a non-empty window moves nothing (or the session
    /// finishes). Panics if the session stalls.
    pub fn feed(&mut self, input: &[u8], splits: &mut Sizes, windows: &mut Sizes) {
        let mut read = 0;
        let mut consumed = 0;
        let mut stalls = 0;
        let patience = splits.patience() + windows.patience();
        loop {
            if self.server.is_finished() && consumed == input.len() {
                return;
            }
            let more = if read < input.len() {
                let n = splits.next_size().min(input.len() - read);
                read += n;
                n > 0
            } else {
                false
            };
            let w = windows.next_size();
            let p = self.offer(&input[consumed..read], w);
            consumed += p.consumed;
            let moved = p.consumed > 0 || p.produced > 0;
            let waits = consumed == read || self.server.input_needed() > read - consumed;
            if !moved && w > 0 && read == input.len() && waits {
                // Quiet: the session waits for more input (a unicode DATA
                // payload waits to be whole) or for time.
                return;
            }
            if moved || more {
                stalls = 0;
            } else {
                stalls += 1;
                assert!(
                    stalls <= patience,
                    "stalled: {stalls} calls moved nothing (read {read}/{}, consumed {consumed}, \
                     state {:?}, pending {})",
                    input.len(),
                    self.server.state(),
                    self.server.pending_output_len()
                );
            }
        }
    }

    /// Ends the input and takes the final bytes through `windows`;
    /// panics if the session does not finish within a bound.
    pub fn finish(&mut self, windows: &mut Sizes) {
        self.server.handle_end_of_input();
        self.drain(windows);
    }

    /// Takes output with empty input until the session is finished;
    /// panics if that does not happen within a bound.
    pub fn drain(&mut self, windows: &mut Sizes) {
        let mut stalls = 0;
        let patience = windows.patience();
        // Each call either moves a byte or is one of at most `patience`
        // zero-size windows in a row; the rest is a small burst.
        for _ in 0..(CONTROL_CAPACITY + 8) * (patience + 1) {
            if self.server.is_finished() {
                return;
            }
            let w = windows.next_size();
            let p = self.offer(&[], w);
            if p.produced == 0 {
                stalls += 1;
                assert!(
                    stalls <= patience,
                    "no progress towards finishing: state {:?}, pending {}",
                    self.server.state(),
                    self.server.pending_output_len()
                );
            } else {
                stalls = 0;
            }
        }
        panic!(
            "session not finished after the bound: state {:?}, pending {}",
            self.server.state(),
            self.server.pending_output_len()
        );
    }
}

/// Shows bytes as escaped ASCII for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
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

/// The contract's `unicode` transform of a whole stream, written here from
/// `std` alone: every valid UTF-8 scalar value replaced by
/// `char::to_uppercase`, every byte that is not valid UTF-8 unchanged.
pub fn unicode_upper(mut bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let upper = |out: &mut Vec<u8>, s: &str| {
        let mut buf = [0u8; 4];
        for c in s.chars().flat_map(char::to_uppercase) {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    };
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                upper(&mut out, s);
                return out;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                upper(&mut out, std::str::from_utf8(valid).expect("valid prefix"));
                let bad = e.error_len().unwrap_or(rest.len());
                out.extend_from_slice(&rest[..bad]);
                bytes = &rest[bad..];
            }
        }
    }
}

/// The transform a configuration names, applied to a whole stream.
pub fn transform_of(kind: TransformKind, bytes: &[u8]) -> Vec<u8> {
    match kind {
        TransformKind::Ascii => bytes.to_ascii_uppercase(),
        TransformKind::Unicode => unicode_upper(bytes),
    }
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
    match config.transform {
        TransformKind::Unicode => config.with_max_payload(config.max_payload.min(u32::MAX / 3)),
        TransformKind::Ascii => config,
    }
}

//! Shared helpers for the end-to-end tests: a reference model of a server
//! session ([`model`]) and drivers that push bytes through a real
//! [`Server`] the way a caller with odd read and write sizes would.

pub mod model;

use shout_core::{Event, Instant, Server, CONTROL_CAPACITY};

/// A caller never holds more than this much unconsumed input (its buffer).
const MAX_BUFFERED: usize = 1 << 16;

/// The size used for an empty `splits` or `windows` list.
const WHOLE: usize = 1 << 20;

/// Cycles through a list of sizes; an empty list means "large".
struct Sizes<'a> {
    sizes: &'a [usize],
    at: usize,
}

impl<'a> Sizes<'a> {
    fn new(sizes: &'a [usize], what: &str) -> Self {
        assert!(
            sizes.is_empty() || sizes.iter().any(|&s| s > 0),
            "drive: every {what} size is zero, so the session can never make progress"
        );
        Sizes { sizes, at: 0 }
    }

    fn next(&mut self) -> usize {
        if self.sizes.is_empty() {
            return WHOLE;
        }
        let s = self.sizes[self.at % self.sizes.len()];
        self.at += 1;
        s
    }

    /// How many calls in a row may make no progress before that is a stall.
    fn patience(&self) -> usize {
        self.sizes.len() + 1
    }
}

/// One caller: the input it has read so far and what it has offered.
struct Feeder<'a> {
    input: &'a [u8],
    read: usize,
    consumed: usize,
    splits: Sizes<'a>,
    windows: Sizes<'a>,
    window: Vec<u8>,
    output: Vec<u8>,
    stalls: usize,
    calls: usize,
}

impl<'a> Feeder<'a> {
    fn new(input: &'a [u8], splits: &'a [usize], windows: &'a [usize]) -> Self {
        Feeder {
            input,
            read: 0,
            consumed: 0,
            splits: Sizes::new(splits, "split"),
            windows: Sizes::new(windows, "window"),
            window: Vec::new(),
            output: Vec::new(),
            stalls: 0,
            calls: 0,
        }
    }

    fn all_read(&self) -> bool {
        self.read == self.input.len()
    }

    /// Reads the next chunk of input (if the buffer has room); true if any
    /// byte came in.
    /// The buffer grows past [`MAX_BUFFERED`] only as far as the session
    /// says it needs (a whole DATA payload under a unicode transform).
    fn read_chunk(&mut self, server: &Server) -> bool {
        let limit = MAX_BUFFERED.max(server.input_needed());
        if self.all_read() || self.read - self.consumed >= limit {
            return false;
        }
        let n = self.splits.next().min(self.input.len() - self.read);
        self.read += n;
        n > 0
    }

    /// One `handle_input` call with the next window size; returns the
    /// progress and checks the session's bounds.
    fn offer(&mut self, server: &mut Server, now: Instant) -> shout_core::Progress {
        let w = self.windows.next();
        self.window.clear();
        self.window.resize(w, 0);
        let pending = &self.input[self.consumed..self.read];
        let p = server.handle_input(now, pending, &mut self.window);
        self.calls += 1;
        assert!(
            p.consumed <= pending.len(),
            "consumed {} of {} offered bytes",
            p.consumed,
            pending.len()
        );
        assert!(
            p.produced <= w,
            "produced {} into a {w}-byte window",
            p.produced
        );
        if w == 0 {
            assert_eq!(p.produced, 0, "produced into a zero-size window");
        }
        assert!(
            server.pending_output_len() <= CONTROL_CAPACITY,
            "{} bytes wait inside the session, over CONTROL_CAPACITY ({CONTROL_CAPACITY})",
            server.pending_output_len()
        );
        self.consumed += p.consumed;
        self.output.extend_from_slice(&self.window[..p.produced]);
        p
    }

    /// One call with no input (a flush, or "nothing more is waiting").
    fn offer_empty(&mut self, server: &mut Server, now: Instant) -> shout_core::Progress {
        let read = self.read;
        let consumed = self.consumed;
        // Offer nothing by pretending the buffer is empty for this call.
        self.read = self.consumed;
        let p = self.offer(server, now);
        self.read = read;
        debug_assert_eq!(self.consumed, consumed);
        p
    }

    /// Counts calls that moved nothing; panics when that goes on for longer
    /// than the size lists can explain.
    fn note(&mut self, progressed: bool, server: &Server) {
        if progressed {
            self.stalls = 0;
            return;
        }
        self.stalls += 1;
        let patience = self.splits.patience() + self.windows.patience() + 2;
        assert!(
            self.stalls <= patience,
            "the session stopped making progress: {} calls in a row moved nothing \
             (read {} of {} input bytes, consumed {}, {} output bytes so far, \
             state {:?}, pending output {}, after {} calls)",
            self.stalls,
            self.read,
            self.input.len(),
            self.consumed,
            self.output.len(),
            server.state(),
            server.pending_output_len(),
            self.calls
        );
    }
}

/// Feeds `input` to `server` in reads of the sizes in `splits` (cycling),
/// takes output through windows of the sizes in `windows` (cycling, zero
/// allowed), signals end of input as soon as the last byte has been read
/// (possibly before it was offered), and loops until the session
/// [is finished](Server::is_finished). Returns everything it produced.
///
/// An empty size list means one large size. After every call it checks
/// that the session holds at most [`CONTROL_CAPACITY`] bytes of output and
/// never writes past a window. Panics with a clear message if the session
/// stops making progress.
pub fn drive(server: &mut Server, input: &[u8], splits: &[usize], windows: &[usize]) -> Vec<u8> {
    let now = Instant::ZERO;
    let mut f = Feeder::new(input, splits, windows);
    let mut ended = false;
    while !server.is_finished() {
        let mut progressed = f.read_chunk(server);
        if f.all_read() && !ended {
            server.handle_end_of_input();
            ended = true;
            progressed = true;
        }
        let p = f.offer(server, now);
        progressed |= p.consumed > 0 || p.produced > 0;
        f.note(progressed, server);
    }
    f.output
}

/// Like [`drive`], but the client never ends its input: once all of it is
/// answered and the session has nothing more to say, the idle timeout is
/// fired at the deadline the session asks for, and the final output is
/// taken. Panics if the session has no idle deadline by then (no
/// `idle_timeout` configured) while still open.
pub fn drive_until_idle(
    server: &mut Server,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Vec<u8> {
    let mut f = Feeder::new(input, splits, windows);
    if answer_all(server, &mut f) && !server.is_closed() {
        let deadline = server
            .poll_timeout()
            .expect("drive_until_idle: the session is open but has no idle deadline");
        server.handle_timeout(deadline);
        assert!(
            server.is_closed(),
            "the idle timeout did not close the session"
        );
    }
    take_the_rest(server, &mut f);
    f.output
}

/// Like [`drive_until_idle`], but once all of `input` is answered the
/// server is shut down: it is told that nothing more is waiting, and if it
/// is still open then (a request in progress), the drain deadline passes.
pub fn drive_then_shutdown(
    server: &mut Server,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Vec<u8> {
    let now = Instant::ZERO;
    let mut f = Feeder::new(input, splits, windows);
    if answer_all(server, &mut f) && !server.is_closed() {
        server.shutdown(now);
        // "Nothing more is waiting": empty input, whatever the windows.
        loop {
            let p = f.offer_empty(server, now);
            if server.is_closed()
                || (p.produced == 0 && !f.window.is_empty() && !server.has_pending_output())
            {
                break;
            }
            f.note(p.produced > 0, server);
        }
        if !server.is_closed() {
            let deadline = now + server.config().drain_timeout;
            server.handle_timeout(deadline);
            assert!(
                server.is_closed(),
                "the drain deadline did not close the session"
            );
        }
    }
    take_the_rest(server, &mut f);
    f.output
}

/// Offers all of the input without ending it, until a call with a real
/// window finds nothing more to do; false if the session finished first.
fn answer_all(server: &mut Server, f: &mut Feeder<'_>) -> bool {
    let now = Instant::ZERO;
    loop {
        if server.is_finished() {
            return false;
        }
        let mut progressed = f.read_chunk(server);
        let p = f.offer(server, now);
        progressed |= p.consumed > 0 || p.produced > 0;
        let quiet = f.all_read()
            && f.consumed == f.read
            && !progressed
            && !f.window.is_empty()
            && !server.has_pending_output();
        if quiet {
            return true;
        }
        f.note(progressed, server);
    }
}

/// Takes the output of a closed session until it is finished.
fn take_the_rest(server: &mut Server, f: &mut Feeder<'_>) {
    while !server.is_finished() {
        let p = f.offer_empty(server, Instant::ZERO);
        f.note(p.produced > 0, server);
    }
}

/// Every event the session has queued, oldest first.
pub fn events(server: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

/// The close reason among `events`, if the session closed.
pub fn close_reason(events: &[Event]) -> Option<shout_core::CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed(r) => Some(*r),
        _ => None,
    })
}

/// What a real session did: its output and its events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Every byte the session produced.
    pub output: Vec<u8>,
    /// Every event it queued, oldest first.
    pub events: Vec<Event>,
}

impl Observed {
    /// The reason the session closed, if it did.
    pub fn close(&self) -> Option<shout_core::CloseReason> {
        close_reason(&self.events)
    }
}

/// A new [`Server`] for `config`, created at [`Instant::ZERO`].
pub fn new_server(config: shout_core::Config) -> Server {
    Server::new(config, Instant::ZERO).expect("test configuration is valid")
}

/// A way of driving a session: [`drive`], [`drive_until_idle`] or
/// [`drive_then_shutdown`].
type Driver = fn(&mut Server, &[u8], &[usize], &[usize]) -> Vec<u8>;

/// Runs a fresh session over `input` with `driver` and collects what it
/// produced and reported.
fn observe_with(
    driver: Driver,
    config: shout_core::Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    let mut server = new_server(config);
    let output = driver(&mut server, input, splits, windows);
    Observed {
        output,
        events: events(&mut server),
    }
}

/// Runs a fresh session over `input` with [`drive`] (end of input after
/// the last byte).
pub fn observe(
    config: shout_core::Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    observe_with(drive, config, input, splits, windows)
}

/// Runs a fresh session over `input` with [`drive_until_idle`].
pub fn observe_until_idle(
    config: shout_core::Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    observe_with(drive_until_idle, config, input, splits, windows)
}

/// Runs a fresh session over `input` with [`drive_then_shutdown`].
pub fn observe_then_shutdown(
    config: shout_core::Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    observe_with(drive_then_shutdown, config, input, splits, windows)
}

/// A few ways of cutting reads and windows that cover the usual trouble:
/// all at once, byte by byte, zero-size windows in between, odd sizes.
pub const SPLIT_PLANS: &[(&[usize], &[usize])] = &[
    (&[], &[]),
    (&[1], &[1]),
    (&[1], &[0, 1]),
    (&[0, 2, 3], &[3, 0, 0, 2]),
    (&[7, 1, 4], &[5, 1, 16]),
    (&[5], &[64]),
];

/// Bytes as escaped ASCII, for readable assertion failures.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Asserts that a session over `input` (end of input after it) produces
/// exactly `output` and closes for `close`, for every plan in
/// [`SPLIT_PLANS`], and that the reference model says the same.
#[track_caller]
pub fn expect_served(
    config: shout_core::Config,
    input: &[u8],
    output: &[u8],
    close: shout_core::CloseReason,
) {
    for (splits, windows) in SPLIT_PLANS {
        let seen = observe(config, input, splits, windows);
        assert_eq!(
            show(&seen.output),
            show(output),
            "core output, reads {splits:?}, windows {windows:?}"
        );
        assert_eq!(
            seen.close(),
            Some(close),
            "core close reason, reads {splits:?}, windows {windows:?}"
        );
    }
    let m = model::serve(&config, input);
    assert_eq!(show(&m.output), show(output), "model output");
    assert_eq!(m.close, close, "model close reason");
}

/// Like [`expect_served`], but the client goes silent after `input` until
/// the idle timeout fires.
#[track_caller]
pub fn expect_idled(
    config: shout_core::Config,
    input: &[u8],
    output: &[u8],
    close: shout_core::CloseReason,
) {
    for (splits, windows) in SPLIT_PLANS {
        let seen = observe_until_idle(config, input, splits, windows);
        assert_eq!(
            show(&seen.output),
            show(output),
            "core output, reads {splits:?}, windows {windows:?}"
        );
        assert_eq!(
            seen.close(),
            Some(close),
            "core close reason, reads {splits:?}, windows {windows:?}"
        );
    }
    let m = model::serve_until_idle(&config, input);
    assert_eq!(show(&m.output), show(output), "model output");
    assert_eq!(m.close, close, "model close reason");
}

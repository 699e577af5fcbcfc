//! A [`Server`] whose every call is checked against the rules of use that
//! hold whatever the input: the one place those rules are written down for
//! the tests, the fuzzers and the drivers built on it.
//!
//! After every call, [`CheckedServer`] asserts that
//!
//! * the session never wrote past the window and never consumed more than
//!   it was offered; in place, its answer stays behind the read position;
//! * at most [`CONTROL_CAPACITY`] bytes wait inside it;
//! * [`Next`] says what is true: `Finished` exactly when
//!   [`Server::is_finished`], `Input { min }` only with no output waiting
//!   and fewer than `min` bytes left unconsumed, `min > 1` only in a frame
//!   session under a transform that is not length-preserving (a DATA
//!   payload waiting to be whole), and never more than `max_payload`;
//! * a call that could move something did: output waiting moves into a
//!   non-empty window, and input offered that the session asked for is
//!   taken or answered (no stall);
//! * a finished session produces nothing and a closed one only its pending
//!   bytes, then consumes and discards everything offered (it lingers);
//! * `handle_timeout` closes exactly when `poll_timeout` said a deadline
//!   had passed, and a closed session has no deadline;
//! * events come once each, `Opened` (never as `Auto`) before `Closed`,
//!   and agree with [`Server::framing`] and [`Server::is_closed`].

use shout_core::{
    CloseReason, Config, Duration, Event, Framing, Instant, Next, Progress, Server, State,
    ValidConfig, CONTROL_CAPACITY,
};

/// A [`Server`] with every call checked, and everything it produced and
/// reported collected.
#[derive(Debug)]
pub struct CheckedServer {
    server: Server,
    config: ValidConfig,
    now: Instant,
    output: Vec<u8>,
    events: Vec<Event>,
    next: Next,
    window: Vec<u8>,
    scratch: Vec<u8>,
    calls: usize,
    largest_min: usize,
}

impl CheckedServer {
    /// A new session for `config`, its clock at [`Instant::ZERO`].
    ///
    /// Panics if `config` is invalid.
    pub fn new(config: Config) -> Self {
        let config = config.validate().expect("a valid test configuration");
        Self::with_valid(config, Instant::ZERO)
    }

    /// A new session for an already validated configuration, at `now`.
    ///
    /// Made as on a link ([`Server::on_link`]), where `auto` never chooses
    /// the web framing: the kit's model knows raw, line and frame, and
    /// the web framing has tests of its own ([`CheckedServer::web`]).
    pub fn with_valid(config: ValidConfig, now: Instant) -> Self {
        Self::made(Server::on_link(config, now), config, now)
    }

    /// A new TCP session for `config`, which may serve the web framing.
    ///
    /// Panics if `config` is invalid.
    pub fn web(config: Config) -> Self {
        let config = config.validate().expect("a valid test configuration");
        Self::made(Server::new(config, Instant::ZERO), config, Instant::ZERO)
    }

    fn made(server: Server, config: ValidConfig, now: Instant) -> Self {
        CheckedServer {
            server,
            config,
            now,
            output: Vec::new(),
            events: Vec::new(),
            next: Next::Input { min: 1 },
            window: Vec::new(),
            scratch: Vec::new(),
            calls: 0,
            largest_min: 1,
        }
    }

    /// The session under test.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The configuration the session was made from.
    pub fn config(&self) -> &Config {
        self.config.get()
    }

    /// The caller's clock.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves the caller's clock forward by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
    }

    /// Sets the caller's clock; it never goes back.
    pub fn set_now(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// What the last call that moved bytes said comes next
    /// (`Input { min: 1 }` before the first).
    pub fn next(&self) -> Next {
        self.next
    }

    /// Every byte the session produced so far, in order.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Every event the session reported so far, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The reason the session closed, once it reported one.
    pub fn close_reason(&self) -> Option<CloseReason> {
        close_reason(&self.events)
    }

    /// The framing the session reported opening with.
    pub fn opened(&self) -> Option<Framing> {
        self.events.iter().find_map(|e| match e {
            Event::Opened(f) => Some(*f),
            _ => None,
        })
    }

    /// How many calls that move bytes were made.
    pub fn calls(&self) -> usize {
        self.calls
    }

    /// The largest `min` any `Next::Input` asked for.
    pub fn largest_min(&self) -> usize {
        self.largest_min
    }

    /// The output and events, taking them out of the checker.
    pub fn into_parts(self) -> (Server, Vec<u8>, Vec<Event>) {
        (self.server, self.output, self.events)
    }

    /// The least input a call must offer before it must make progress.
    fn needed(&self) -> usize {
        match self.next {
            Next::Input { min } => min.max(1),
            _ => 1,
        }
    }

    /// `handle_input(now, input, window)` with a window of `w` bytes;
    /// checks the call and keeps what it produced.
    pub fn offer(&mut self, input: &[u8], w: usize) -> Progress {
        let before = Before::of(self);
        let now = self.now;
        let mut window = std::mem::take(&mut self.window);
        if window.len() < w {
            window = vec![0u8; w];
        }
        let p = self.server.handle_input(now, input, &mut window[..w]);
        self.output.extend_from_slice(&window[..p.produced]);
        self.window = window;
        self.check_call("handle_input", &before, input.len(), Some(w), p);
        p
    }

    /// `handle_input_in_place(now, buf)` on a copy of `input`; checks the
    /// call (the answer never overtakes the read position) and keeps the
    /// answer, `buf[..produced]`. The unconsumed rest is the caller's to
    /// offer again, with [`CheckedServer::offer`] when the session asks for
    /// a window ([`Next::Output`]).
    pub fn offer_in_place(&mut self, input: &[u8]) -> Progress {
        let before = Before::of(self);
        let now = self.now;
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        buf.extend_from_slice(input);
        let p = self.server.handle_input_in_place(now, &mut buf);
        assert!(
            p.produced <= p.consumed,
            "in place, produced {} bytes but consumed only {}: the answer overtook the input",
            p.produced,
            p.consumed
        );
        assert!(p.consumed <= input.len());
        assert_eq!(
            &buf[p.consumed..],
            &input[p.consumed..],
            "in place, the unconsumed input was overwritten"
        );
        self.output.extend_from_slice(&buf[..p.produced]);
        self.scratch = buf;
        self.check_call("handle_input_in_place", &before, input.len(), None, p);
        p
    }

    /// `poll_output(now, window)` with a window of `w` bytes: only a flush,
    /// so it consumes nothing.
    pub fn flush(&mut self, w: usize) -> Progress {
        let before = Before::of(self);
        let now = self.now;
        let mut window = std::mem::take(&mut self.window);
        if window.len() < w {
            window = vec![0u8; w];
        }
        let p = self.server.poll_output(now, &mut window[..w]);
        self.output.extend_from_slice(&window[..p.produced]);
        self.window = window;
        assert_eq!(p.consumed, 0, "poll_output consumed input");
        self.check_call("poll_output", &before, 0, Some(w), p);
        p
    }

    /// `handle_end_of_input(held)`: the caller holds `held` bytes not
    /// consumed yet, and will offer them.
    pub fn end_of_input(&mut self, held: usize) {
        self.server.handle_end_of_input(held);
        self.after_call();
    }

    /// `shutdown(now, waiting)`: `waiting` bytes (held unconsumed, plus
    /// those still in the link) were waiting at the signal.
    pub fn shutdown(&mut self, waiting: usize) {
        self.server.shutdown(self.now, waiting);
        self.after_call();
    }

    /// `handle_transmitted(now)`.
    pub fn transmitted(&mut self) {
        self.server.handle_transmitted(self.now);
        self.after_call();
    }

    /// `handle_timeout(now)`; checks that it closes exactly when
    /// `poll_timeout` said a deadline had passed. True if it closed.
    pub fn timeout(&mut self) -> bool {
        let was_closed = self.server.is_closed();
        let deadline = self.server.poll_timeout();
        let due = deadline.is_some_and(|d| self.now >= d);
        self.server.handle_timeout(self.now);
        let closed = !was_closed && self.server.is_closed();
        assert_eq!(
            closed, due,
            "handle_timeout at {:?}: closed {closed}, but poll_timeout said {deadline:?}",
            self.now
        );
        self.after_call();
        closed
    }

    /// The caller sleeps until the deadline `poll_timeout` gives and calls
    /// `handle_timeout` then. Panics if the session has no deadline; true
    /// if it closed (a deadline that passes always closes).
    pub fn wake_at_deadline(&mut self) -> bool {
        let deadline = self
            .server
            .poll_timeout()
            .expect("the session waits for something but has no deadline");
        self.set_now(deadline);
        let closed = self.timeout();
        assert!(
            closed,
            "the deadline at {deadline:?} passed and did not close"
        );
        closed
    }

    /// Checks one call that moved bytes.
    fn check_call(
        &mut self,
        what: &str,
        before: &Before,
        offered: usize,
        window: Option<usize>,
        p: Progress,
    ) {
        self.calls += 1;
        let s = &self.server;
        let pending = s.pending_output_len();
        assert!(
            p.consumed <= offered,
            "{what}: consumed {} of {offered} offered bytes",
            p.consumed
        );
        if let Some(w) = window {
            assert!(
                p.produced <= w,
                "{what}: produced {} into {w} bytes",
                p.produced
            );
        }
        assert!(
            pending <= CONTROL_CAPACITY,
            "{what}: {pending} bytes wait inside the session, over CONTROL_CAPACITY \
             ({CONTROL_CAPACITY})"
        );
        if before.finished {
            assert_eq!(p.produced, 0, "{what}: output after the session finished");
        }
        if before.closed {
            assert!(
                p.produced <= before.pending,
                "{what}: a closed session produced {} new bytes ({} were pending)",
                p.produced,
                before.pending
            );
            if p.produced == before.pending {
                assert_eq!(
                    p.consumed, offered,
                    "{what}: a closed session with nothing pending must discard all input"
                );
            }
        }
        let room = window.unwrap_or(0) > 0;
        if before.pending > 0 && room {
            assert!(
                p.produced > 0,
                "{what}: {} pending bytes did not move into a {}-byte window",
                before.pending,
                window.unwrap_or(0)
            );
        }
        // Closing is a move too: a head cut short by the end of input
        // closes the web session with nothing to answer.
        let moved = p.consumed > 0
            || p.produced > 0
            || pending != before.pending
            || (s.is_closed() && !before.closed);
        let in_place = window.is_none();
        let could_move = if in_place {
            // In place, pending output has no room before any input is
            // taken: only a call with nothing pending must move.
            before.pending == 0
        } else {
            room
        };
        // A session may instead say it needs more than was offered: a
        // request head's length is known only once it is whole.
        let needs_more = matches!(p.next, Next::Input { min } if min > offered);
        if could_move && !before.finished && offered >= before.needed {
            assert!(
                moved || needs_more,
                "{what}: no progress: {offered} bytes offered (the session asked for {}) \
                 {}, state {:?}, next was {:?}",
                before.needed,
                match window {
                    Some(w) => format!("into a {w}-byte window"),
                    None => "in place".to_string(),
                },
                s.state(),
                before.next
            );
        }
        self.check_next(what, p, offered);
        self.next = p.next;
        self.after_call();
    }

    /// Checks that `p.next` says what is true after the call.
    fn check_next(&mut self, what: &str, p: Progress, offered: usize) {
        let s = &self.server;
        let unconsumed = offered - p.consumed;
        match p.next {
            Next::Finished => assert!(
                s.is_finished(),
                "{what}: Next::Finished but the session is not finished ({:?}, {} pending)",
                s.state(),
                s.pending_output_len()
            ),
            Next::Output => assert!(
                !s.is_finished(),
                "{what}: Next::Output from a finished session"
            ),
            Next::Input { min } => {
                assert!(!s.is_closed(), "{what}: Next::Input from a closed session");
                assert!(min >= 1, "{what}: Next::Input {{ min: 0 }}");
                assert_eq!(
                    s.pending_output_len(),
                    0,
                    "{what}: Next::Input while output waits inside"
                );
                assert!(
                    unconsumed < min,
                    "{what}: Next::Input {{ min: {min} }} with {unconsumed} bytes left unconsumed"
                );
                if min > 1 && s.framing() == Some(Framing::Web) {
                    // A request head waits whole (at most 8192 bytes), a
                    // frame's payload under unicode too (at most max_payload).
                    let config = self.config.get();
                    let most = (config.max_payload as usize).max(8192);
                    assert!(
                        min <= most,
                        "{what}: Next::Input {{ min: {min} }} over {most} in a web session"
                    );
                } else if min > 1 {
                    let config = self.config.get();
                    assert!(
                        s.framing() == Some(Framing::Frame)
                            && !config.transform.is_length_preserving(),
                        "{what}: Next::Input {{ min: {min} }} outside a frame session under a \
                         transform that is not length-preserving ({:?}, {:?})",
                        s.framing(),
                        config.transform
                    );
                    assert!(
                        min <= config.max_payload as usize,
                        "{what}: Next::Input {{ min: {min} }} over max_payload {}",
                        config.max_payload
                    );
                }
                self.largest_min = self.largest_min.max(min);
            }
            other => panic!("{what}: a Next this kit does not know: {other:?}"),
        }
        if s.is_finished() {
            assert_eq!(
                p.next,
                Next::Finished,
                "{what}: the session is finished but said {:?}",
                p.next
            );
        }
    }

    /// Checks what holds after any call, and takes the events.
    fn after_call(&mut self) {
        let s = &self.server;
        let pending = s.pending_output_len();
        assert!(
            pending <= CONTROL_CAPACITY,
            "{pending} bytes pending, over CONTROL_CAPACITY {CONTROL_CAPACITY}"
        );
        assert_eq!(s.is_finished(), s.is_closed() && pending == 0);
        assert_eq!(s.is_closed(), s.state() == State::Closed);
        if s.is_closed() {
            assert_eq!(s.poll_timeout(), None, "a closed session has no deadline");
        }
        while let Some(e) = self.server.poll_event() {
            match e {
                Event::Opened(f) => {
                    assert_ne!(f, Framing::Auto, "opened as Auto");
                    assert!(self.events.is_empty(), "Opened after {:?}", self.events);
                }
                Event::Closed(_) => assert!(
                    close_reason(&self.events).is_none(),
                    "closed twice: {:?} then {e:?}",
                    self.events
                ),
                other => panic!("an event this kit does not know: {other:?}"),
            }
            self.events.push(e);
        }
        assert_eq!(
            close_reason(&self.events).is_some(),
            self.server.is_closed(),
            "Closed event vs is_closed"
        );
        assert_eq!(
            self.opened(),
            self.server.framing(),
            "Opened event vs framing()"
        );
    }
}

/// The session as it was before a call.
struct Before {
    closed: bool,
    finished: bool,
    pending: usize,
    needed: usize,
    next: Next,
}

impl Before {
    fn of(s: &CheckedServer) -> Self {
        Before {
            closed: s.server.is_closed(),
            finished: s.server.is_finished(),
            pending: s.server.pending_output_len(),
            needed: s.needed(),
            next: s.next,
        }
    }
}

/// The close reason among `events`, if the session closed.
pub fn close_reason(events: &[Event]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Closed(r) => Some(*r),
        _ => None,
    })
}

//! The one checked driver of a [`Server`]: a caller with odd read and
//! window sizes, acting on what each call says comes [`Next`].
//!
//! The [`Driver`] moves a client's bytes into a [`CheckedServer`] the way
//! an event loop would:
//!
//! * `Next::Input { min }`: it reads (in reads of the plan's split sizes)
//!   until it holds at least `min` unconsumed bytes or nothing more has
//!   arrived, then offers everything it holds;
//! * `Next::Output`: it offers what it holds again, with the next window;
//! * `Next::Finished`: it stops.
//!
//! Windows come from the plan's window sizes, zero allowed. Once the whole
//! input is read it calls `handle_end_of_input(held)` with the exact count
//! of bytes it holds unconsumed ([`Ending::EndOfInput`]), or stays silent
//! and, when the session waits for input that will not come, sleeps until
//! `poll_timeout` and calls `handle_timeout` ([`Ending::Silent`]: the idle
//! timeout, or the drain deadline after a shutdown). A [`ShutdownAt`] in
//! the plan signals a shutdown once a given number of input bytes has
//! arrived, with `waiting` = bytes held + bytes still in the link, so the
//! contract's rule 7 can be checked against [`crate::model::serve_shutdown`].
//! In place ([`Plan::in_place`]) it answers with `handle_input_in_place`
//! first and offers the unconsumed rest through a window when asked.
//!
//! Every call is checked by [`CheckedServer`]; the driver adds that the
//! session never stalls: a bounded number of rounds in a row that move
//! nothing (zero-size reads and windows explain some) is a failure.

use shout_core::{CloseReason, Config, Event, Framing, Next, Server};

use crate::checked::{close_reason, CheckedServer};

/// The size used for an empty list of sizes: one large read or window.
pub const WHOLE: usize = 1 << 20;

/// Cycles through a list of sizes. An empty list means one large size
/// ([`WHOLE`]); a list of zeros gets a 1 added, so a plan always progresses.
#[derive(Clone, Debug)]
pub struct Sizes {
    sizes: Vec<usize>,
    at: usize,
}

impl Sizes {
    /// Sizes cycling through `sizes`.
    pub fn new(sizes: &[usize]) -> Self {
        let mut sizes = sizes.to_vec();
        if sizes.is_empty() {
            sizes.push(WHOLE);
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

    /// How many sizes in a row may be zero: one cycle of the list.
    pub fn patience(&self) -> usize {
        self.sizes.len() + 1
    }
}

/// When a shutdown signal comes, and what was waiting then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownAt {
    /// The signal comes once this many input bytes have arrived at the
    /// caller (reads stop there until it has come); past the input's end
    /// it comes when the input is all read.
    pub after: usize,
    /// Bytes after those that were already in the link (the socket's
    /// receive queue, a UART's FIFO) at the signal. The driver passes
    /// `waiting` = bytes it holds unconsumed + `in_link`, so the drain's
    /// mark is `after + in_link` bytes into the input whatever the splits.
    pub in_link: usize,
}

/// What the client does once all of its input has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It ends its input: `handle_end_of_input(held)`.
    EndOfInput,
    /// It goes silent and never ends: when the session waits for input,
    /// the clock jumps to the session's next deadline (idle, or drain).
    Silent,
}

/// What the session runs on, which decides what the caller does with the
/// bytes it holds once the session has closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A connection (a socket): the caller goes on offering what it holds,
    /// and the closed session consumes and discards it (it lingers).
    Connection,
    /// A continuous link (a UART): once the session has closed the caller
    /// only flushes it; the bytes after its end belong to the next session
    /// ([`run_link`]).
    Continuous,
}

/// How a [`Driver`] cuts reads and windows, and how the session ends.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Read sizes, cycled (zero allowed; empty: one large read).
    pub splits: Vec<usize>,
    /// Window sizes, cycled (zero allowed; empty: one large window).
    pub windows: Vec<usize>,
    /// Answer with `handle_input_in_place` first, then a window for the
    /// rest when the session asks for one.
    pub in_place: bool,
    /// A shutdown signal, if any.
    pub shutdown: Option<ShutdownAt>,
    /// What the client does after its last byte.
    pub ending: Ending,
    /// What the session runs on.
    pub link: Link,
}

impl Plan {
    /// Reads of `splits` and windows of `windows`, then end of input.
    pub fn new(splits: &[usize], windows: &[usize]) -> Self {
        Plan {
            splits: splits.to_vec(),
            windows: windows.to_vec(),
            in_place: false,
            shutdown: None,
            ending: Ending::EndOfInput,
            link: Link::Connection,
        }
    }

    /// The same plan, answering in place first.
    pub fn in_place(mut self, on: bool) -> Self {
        self.in_place = on;
        self
    }

    /// The same plan, with a shutdown once `after` bytes have arrived and
    /// `in_link` more were waiting in the link.
    pub fn shutdown(mut self, after: usize, in_link: usize) -> Self {
        self.shutdown = Some(ShutdownAt { after, in_link });
        self
    }

    /// The same plan, ending as `ending` says.
    pub fn ending(mut self, ending: Ending) -> Self {
        self.ending = ending;
        self
    }

    /// The same plan, on `link`.
    pub fn link(mut self, link: Link) -> Self {
        self.link = link;
        self
    }
}

/// Where the input stood when the shutdown signal came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signal {
    /// Input bytes that had arrived at the caller.
    pub read: usize,
    /// Input bytes the session had consumed.
    pub consumed: usize,
    /// The count passed to `shutdown`: held unconsumed + in the link.
    pub waiting: usize,
}

impl Signal {
    /// How far into the input the bytes waiting at the signal reach.
    pub fn mark(&self) -> usize {
        self.consumed + self.waiting
    }
}

/// What a driven session did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Every byte the session produced, in order.
    pub output: Vec<u8>,
    /// Every event it reported, oldest first.
    pub events: Vec<Event>,
    /// Input bytes that arrived at the caller.
    pub read: usize,
    /// Input bytes the session consumed (a closed session that lingers
    /// consumes and discards what it is offered after its output).
    pub consumed: usize,
    /// Input bytes the session had consumed when it closed: the call that
    /// closes stops at the point of closing.
    pub consumed_at_close: Option<usize>,
    /// The shutdown signal, if one came.
    pub signal: Option<Signal>,
    /// The largest `min` a `Next::Input` asked for.
    pub largest_min: usize,
}

impl Observed {
    /// The reason the session closed, if it did.
    pub fn close(&self) -> Option<CloseReason> {
        close_reason(&self.events)
    }

    /// The framing the session reported opening with.
    pub fn opened(&self) -> Option<Framing> {
        self.events.iter().find_map(|e| match e {
            Event::Opened(f) => Some(*f),
            _ => None,
        })
    }
}

/// A caller driving one [`CheckedServer`] through a [`Plan`]; the client's
/// bytes may be given at once ([`run`]) or in parts ([`Driver::push`],
/// [`Driver::answer`]) to look at the session in between.
#[derive(Debug)]
pub struct Driver {
    s: CheckedServer,
    input: Vec<u8>,
    read: usize,
    consumed: usize,
    splits: Sizes,
    windows: Sizes,
    in_place: bool,
    shutdown: Option<ShutdownAt>,
    link: Link,
    signal: Option<Signal>,
    ended: bool,
    consumed_at_close: Option<usize>,
}

/// How a round of the driver's loop ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Until {
    /// The session waits for input that has not arrived: stop there.
    Quiet,
    /// Run to the end, ending the input once it is all read.
    EndOfInput,
    /// Run to the end; when the session waits for input, wake at its
    /// deadline.
    Silent,
}

impl Driver {
    /// A driver of a fresh session for `config` (at [`shout_core::Instant::ZERO`]).
    pub fn new(config: Config, plan: &Plan) -> Self {
        Self::with_checked(CheckedServer::new(config), plan)
    }

    /// A driver of a session already made (and perhaps already used).
    pub fn with_checked(s: CheckedServer, plan: &Plan) -> Self {
        Driver {
            s,
            input: Vec::new(),
            read: 0,
            consumed: 0,
            splits: Sizes::new(&plan.splits),
            windows: Sizes::new(&plan.windows),
            in_place: plan.in_place,
            shutdown: plan.shutdown,
            link: plan.link,
            signal: None,
            ended: false,
            consumed_at_close: None,
        }
    }

    /// The checked session.
    pub fn checked(&self) -> &CheckedServer {
        &self.s
    }

    /// The checked session, to make calls of one's own between rounds.
    pub fn checked_mut(&mut self) -> &mut CheckedServer {
        &mut self.s
    }

    /// The session itself.
    pub fn server(&self) -> &Server {
        self.s.server()
    }

    /// Bytes read (arrived at the caller) and not consumed yet.
    pub fn held(&self) -> usize {
        self.read - self.consumed
    }

    /// Input bytes the session consumed so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// More bytes from the client, to arrive after those given before.
    /// Panics once the input has ended.
    pub fn push(&mut self, bytes: &[u8]) {
        assert!(!self.ended, "bytes pushed after the end of input");
        self.input.extend_from_slice(bytes);
    }

    /// Runs until every byte pushed so far has arrived and the session
    /// waits for more (or is finished); the input does not end.
    pub fn answer(&mut self) {
        self.run_until(Until::Quiet);
    }

    /// Runs to the end: the input ends once it is all read, then the
    /// session's output is taken until it is finished.
    pub fn finish(&mut self) {
        self.run_until(Until::EndOfInput);
    }

    /// Runs to the end with a silent client: whenever the session waits
    /// for input, the clock jumps to its next deadline.
    pub fn finish_silent(&mut self) {
        self.run_until(Until::Silent);
    }

    /// What the session did so far.
    pub fn observed(&self) -> Observed {
        Observed {
            output: self.s.output().to_vec(),
            events: self.s.events().to_vec(),
            read: self.read,
            consumed: self.consumed,
            consumed_at_close: self.consumed_at_close,
            signal: self.signal,
            largest_min: self.s.largest_min(),
        }
    }

    /// Lets bytes arrive until at least `min` are held (or nothing more
    /// can come now); signals the shutdown and the end of input when their
    /// moment comes. True if anything arrived or was signalled.
    fn arrive(&mut self, min: usize, until: Until) -> bool {
        let mut changed = false;
        loop {
            let all_read = self.read == self.input.len();
            if let Some(at) = self.shutdown {
                // Past the end of the input, the signal comes once it is all
                // read (and known to be all: not while more may be pushed).
                let due = self.read >= at.after || (all_read && until != Until::Quiet);
                if self.signal.is_none() && due {
                    let waiting = self.held() + at.in_link;
                    self.signal = Some(Signal {
                        read: self.read,
                        consumed: self.consumed,
                        waiting,
                    });
                    self.s.shutdown(waiting);
                    self.took(0);
                    changed = true;
                }
            }
            if all_read && until == Until::EndOfInput && !self.ended {
                self.ended = true;
                self.s.end_of_input(self.held());
                self.took(0);
                changed = true;
            }
            if self.held() >= min || all_read {
                return changed;
            }
            let limit = match self.shutdown {
                Some(at) if self.signal.is_none() => at.after.min(self.input.len()),
                _ => self.input.len(),
            };
            let n = self.splits.next_size().min(limit - self.read);
            self.read += n;
            changed |= n > 0;
        }
    }

    /// Offers everything held: in place first if the plan says so, then
    /// through the next window (a flush when nothing is held).
    fn offer(&mut self) {
        let keeps_input = self.link == Link::Continuous && self.s.server().is_closed();
        if keeps_input {
            // What the caller holds is the next session's.
            let w = self.windows.next_size();
            let _ = self.s.flush(w);
            return;
        }
        if self.in_place && self.held() > 0 {
            let p = self.s.offer_in_place(&self.input[self.consumed..self.read]);
            self.took(p.consumed);
            if p.next != Next::Output {
                return;
            }
        }
        let w = self.windows.next_size();
        let p = if self.held() == 0 {
            self.s.flush(w)
        } else {
            self.s.offer(&self.input[self.consumed..self.read], w)
        };
        self.took(p.consumed);
    }

    /// A call consumed `n` bytes; notes where the session closed.
    fn took(&mut self, n: usize) {
        self.consumed += n;
        if self.consumed_at_close.is_none() && self.s.server().is_closed() {
            self.consumed_at_close = Some(self.consumed);
        }
    }

    fn run_until(&mut self, until: Until) {
        let patience = self.splits.patience() + self.windows.patience() + 4;
        let mut quiet_rounds = 0;
        let mut rounds = 0usize;
        let bound = 64 * (self.input.len() + 1024) * (patience + 1);
        loop {
            rounds += 1;
            assert!(
                rounds <= bound,
                "the driver made {rounds} rounds without the session finishing: {}",
                self.describe()
            );
            let pending = self.s.server().pending_output_len();
            let (consumed, produced) = (self.consumed, self.s.output().len());
            let changed = match self.s.next() {
                Next::Finished => {
                    // A finished session still answers calls (it lingers);
                    // the caller stops here.
                    assert!(self.s.server().is_finished());
                    return;
                }
                Next::Input { min } => {
                    let changed = self.arrive(min, until);
                    let starved = self.read == self.input.len() && self.held() < min;
                    if !changed && starved {
                        match until {
                            Until::Quiet => return,
                            Until::Silent => {
                                self.s.wake_at_deadline();
                                self.took(0);
                            }
                            Until::EndOfInput => {}
                        }
                    }
                    changed
                }
                Next::Output => false,
                other => panic!("a Next this kit does not know: {other:?}"),
            };
            self.offer();
            let moved = changed
                || self.consumed != consumed
                || self.s.output().len() != produced
                || self.s.server().pending_output_len() != pending;
            if moved {
                quiet_rounds = 0;
            } else {
                quiet_rounds += 1;
                assert!(
                    quiet_rounds <= patience,
                    "the session stopped making progress: {quiet_rounds} rounds in a row moved \
                     nothing ({})",
                    self.describe()
                );
            }
        }
    }

    fn describe(&self) -> String {
        let s = self.s.server();
        format!(
            "read {} of {} input bytes, consumed {}, {} output bytes, state {:?}, \
             {} bytes pending, next {:?}, signal {:?}, ended {}, after {} calls",
            self.read,
            self.input.len(),
            self.consumed,
            self.s.output().len(),
            s.state(),
            s.pending_output_len(),
            self.s.next(),
            self.signal,
            self.ended,
            self.s.calls()
        )
    }
}

/// Runs a fresh session for `config` over `input` as `plan` says, to the
/// end, and returns what it did.
pub fn run(config: Config, input: &[u8], plan: &Plan) -> Observed {
    let mut d = Driver::new(config, plan);
    d.push(input);
    match plan.ending {
        Ending::EndOfInput => d.finish(),
        Ending::Silent => d.finish_silent(),
    }
    d.observed()
}

/// Sessions back to back on a continuous link (a UART): each fresh
/// session gets the input the one before left when it closed, driven as
/// `plan` says (the plan's shutdown, if any, applies to the first only);
/// the input ends, or the client goes silent, in whichever session is
/// running then. Stops once a session closed with no input left after it
/// (a session that would see no byte would close without one).
pub fn run_link(config: Config, input: &[u8], plan: &Plan) -> Vec<Observed> {
    let mut sessions = Vec::new();
    let mut at = 0;
    let mut plan = plan.clone().link(Link::Continuous);
    loop {
        let mut d = Driver::new(config, &plan);
        d.push(&input[at..]);
        match plan.ending {
            Ending::EndOfInput => d.finish(),
            Ending::Silent => d.finish_silent(),
        }
        let seen = d.observed();
        let used = seen.consumed_at_close.expect("a finished session closed");
        assert!(
            used > 0 || plan.shutdown.is_some(),
            "a session on the link closed without taking a byte ({} left)",
            input.len() - at
        );
        at += used;
        sessions.push(seen);
        plan.shutdown = None;
        if at == input.len() {
            return sessions;
        }
    }
}

/// Reads of `splits`, windows of `windows`, end of input after the last
/// byte.
pub fn observe(config: Config, input: &[u8], splits: &[usize], windows: &[usize]) -> Observed {
    run(config, input, &Plan::new(splits, windows))
}

/// Like [`observe`], but the client goes silent after its last byte until
/// the idle timeout fires (which needs an `idle_timeout`).
pub fn observe_until_idle(
    config: Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    run(
        config,
        input,
        &Plan::new(splits, windows).ending(Ending::Silent),
    )
}

/// Like [`observe_until_idle`], but once all of `input` has arrived the
/// server is shut down with nothing more in the link; a request in
/// progress then waits until the drain deadline (which should come before
/// the idle timeout).
pub fn observe_then_shutdown(
    config: Config,
    input: &[u8],
    splits: &[usize],
    windows: &[usize],
) -> Observed {
    let plan = Plan::new(splits, windows)
        .shutdown(input.len(), 0)
        .ending(Ending::Silent);
    run(config, input, &plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{client_hello, close, data};
    use shout_core::Framing;

    #[test]
    fn sessions_on_a_continuous_link_take_turns() {
        let config = Config::default().with_framing(Framing::Auto);
        let first = [client_hello(b""), data(b"a"), close()].concat();
        let input = [&first[..], b"raw after"].concat();
        for plan in [Plan::new(&[], &[]), Plan::new(&[1], &[1, 0])] {
            let sessions = run_link(config, &input, &plan);
            assert_eq!(sessions.len(), 2);
            assert_eq!(sessions[0].consumed_at_close, Some(first.len()));
            assert_eq!(sessions[0].close(), Some(CloseReason::PeerClosed));
            assert_eq!(sessions[1].output, b"RAW AFTER");
            assert_eq!(sessions[1].opened(), Some(Framing::Raw));
        }
    }

    #[test]
    fn a_connection_lingers_after_its_close() {
        let config = Config::default();
        let input = [client_hello(b""), close(), b"ignored".to_vec()].concat();
        let seen = run(config, &input, &Plan::new(&[4], &[3]));
        assert_eq!(seen.consumed_at_close, Some(16));
        assert_eq!(seen.close(), Some(CloseReason::PeerClosed));
    }
}

use crate::config::{Config, ConfigError, Framing};
use crate::framing::{detect, Cx, Decoder};
use crate::output::{Control, Output};
use crate::session::lifecycle::Unreported;
use crate::session::{CloseReason, Event, State};
use crate::time::{Duration, Instant};
use crate::transform::AnyTransform;

/// How much one [`Server::handle_input`] call moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Input bytes taken; the caller keeps the rest and offers it again.
    pub consumed: usize,
    /// Bytes written at the start of the output window, ready to send.
    pub produced: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Active,
    Draining,
    Closed,
}

/// One server session of SHOUT/1: a connection, or a session on a link.
///
/// # How to drive it
///
/// * Offer input and an output window with [`handle_input`]. It answers as
///   much of the input as the window has room for and says how much of
///   each it used ([`Progress`]). Send the produced bytes; keep the
///   unconsumed input and offer it again. A call with no input only flushes
///   output; during a shutdown it also means "nothing more is waiting".
/// * When the peer ends its input, call [`handle_end_of_input`], then keep
///   calling [`handle_input`] (with any input still unconsumed) until
///   [`is_closed`]: the final bytes (CLOSE, an ERROR, held-back bytes) come
///   out through it like any other.
/// * Ask [`poll_timeout`] when to wake up next and call
///   [`handle_timeout`] then (a late or early call is harmless).
/// * Call [`shutdown`] to drain: requests in progress finish, none starts.
/// * Take [`Event`]s with [`poll_event`] for logs and counters.
/// * When [`is_closed`] and [`has_pending_output`] is false, nothing more
///   will ever be produced: send what you hold, then close the link. The
///   call that closes consumes input only up to the point where the session
///   ended (after a CLOSE header, before an offending byte); input offered
///   in later calls is consumed and discarded, which is what a lingering
///   socket wants. A continuous link (a UART) gives the rest to a new
///   session instead.
///
/// The window may be any size, down to one byte: output is the same
/// however the input is split and however small the windows are. Output
/// that did not fit waits inside the session (at most
/// [`CONTROL_CAPACITY`](crate::CONTROL_CAPACITY) bytes, headers and control
/// frames only) and comes first next call.
///
/// [`handle_input`]: Server::handle_input
/// [`handle_end_of_input`]: Server::handle_end_of_input
/// [`is_closed`]: Server::is_closed
/// [`poll_timeout`]: Server::poll_timeout
/// [`handle_timeout`]: Server::handle_timeout
/// [`shutdown`]: Server::shutdown
/// [`poll_event`]: Server::poll_event
/// [`has_pending_output`]: Server::has_pending_output
#[derive(Clone, Debug)]
pub struct Server {
    config: Config,
    decoder: Decoder,
    transform: AnyTransform,
    control: Control,
    events: Unreported,
    phase: Phase,
    input_ended: bool,
    end_handled: bool,
    last_activity: Instant,
    drain_deadline: Option<Instant>,
}

impl Server {
    /// A session that has seen nothing yet, its idle clock starting `now`.
    pub fn new(config: Config, now: Instant) -> Result<Server, ConfigError> {
        config.validate()?;
        Ok(Server {
            config,
            decoder: Decoder::Undecided,
            transform: AnyTransform::new(config.transform),
            control: Control::default(),
            events: Unreported::default(),
            phase: Phase::Active,
            input_ended: false,
            end_handled: false,
            last_activity: now,
            drain_deadline: None,
        })
    }

    /// The configuration this session runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers a prefix of `input` into the start of `out`.
    pub fn handle_input(&mut self, now: Instant, input: &[u8], out: &mut [u8]) -> Progress {
        if matches!(self.decoder, Decoder::Undecided) && self.phase != Phase::Closed {
            if let Some(&first) = input.first() {
                let (decoder, framing) = detect::decide(self.config.framing, first);
                self.decoder = decoder;
                self.push_event(Event::Opened(framing));
            }
        }
        let mut out = Output::new(out, &mut self.control);
        let mut consumed = 0;
        let was_closed = self.phase == Phase::Closed;
        loop {
            if !out.drain_control() {
                break;
            }
            if self.phase == Phase::Closed {
                if was_closed {
                    consumed = input.len(); // linger: read and discard
                }
                // The call that closes stops at the point of closing: what
                // follows is not this session's (on a continuous link it
                // starts the next one).
                break;
            }
            let mut cx = Cx {
                out: &mut out,
                transform: &mut self.transform,
                config: &self.config,
                close: None,
            };
            let n = self.decoder.input(&mut cx, &input[consumed..]);
            consumed += n;
            // Everything offered is taken, or (when input has ended, so
            // all there is was offered) the decoder waits for more than
            // there is: a DATA payload stored for a unicode response.
            let starved = consumed == input.len()
                || (self.input_ended && self.decoder.input_needed() > input.len() - consumed);
            if cx.close.is_none() && !cx.out.is_blocked() && starved {
                if self.input_ended && !self.end_handled {
                    self.end_handled = true;
                    self.decoder.end_of_input(&mut cx);
                } else if self.phase == Phase::Draining
                    && input.is_empty()
                    && self.decoder.at_boundary()
                {
                    self.decoder.finish_drain(&mut cx);
                }
            }
            let closing = cx.close;
            let blocked = out.is_blocked();
            if let Some(reason) = closing {
                close(&mut self.phase, &mut self.events, reason);
                continue;
            }
            if blocked {
                continue;
            }
            if n == 0 {
                break;
            }
        }
        let produced = out.written();
        if consumed > 0 || produced > 0 {
            self.last_activity = self.last_activity.max(now);
        }
        Progress { consumed, produced }
    }

    /// Same as [`Server::handle_input`] with no input: flushes output.
    pub fn poll_output(&mut self, now: Instant, out: &mut [u8]) -> usize {
        self.handle_input(now, &[], out).produced
    }

    /// The peer will send nothing more. Call [`Server::handle_input`]
    /// afterwards to take the final bytes.
    ///
    /// A session that has not been offered a byte yet does not close here:
    /// the caller may still hold the input that arrived before the end. The
    /// next [`Server::handle_input`] decides: with input, it is answered;
    /// with none, the session closes without a byte, whatever the framing.
    pub fn handle_end_of_input(&mut self) {
        self.input_ended = true;
    }

    /// Output the caller held (because the link would not take it) made
    /// progress: that counts as activity for the idle timeout.
    pub fn handle_transmitted(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// When [`Server::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase == Phase::Closed {
            return None;
        }
        let idle = self.config.idle_timeout.map(|t| self.idle_deadline(t));
        match (idle, self.drain_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on deadlines that have passed by `now`: the drain deadline
    /// closes at once; the idle timeout closes, after ERROR 5 in a frame
    /// session whose response is not under way.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        let drain_over = self.drain_deadline.is_some_and(|d| now >= d);
        let idle_over = self
            .config
            .idle_timeout
            .is_some_and(|t| now >= self.idle_deadline(t));
        if !drain_over && !idle_over {
            return;
        }
        // No window: whatever the decoder emits waits in the control queue.
        let mut no_window = [0u8; 0];
        let mut out = Output::new(&mut no_window, &mut self.control);
        let mut cx = Cx {
            out: &mut out,
            transform: &mut self.transform,
            config: &self.config,
            close: None,
        };
        if drain_over {
            self.decoder.drain_timeout(&mut cx);
        } else {
            self.decoder.idle(&mut cx);
        }
        let reason = cx.close.unwrap_or(CloseReason::IdleTimeout);
        self.close(reason);
    }

    /// Starts a drain: requests in progress may finish until
    /// `now + drain_timeout`, none starts. Feed what is already waiting on
    /// the link, then call [`Server::handle_input`] with empty input to say
    /// nothing more is waiting: the session closes at its next boundary.
    pub fn shutdown(&mut self, now: Instant) {
        if self.phase != Phase::Active {
            return;
        }
        // A session not yet offered a byte does not close here: the caller
        // may hold input that was waiting; the next empty call closes it.
        self.phase = Phase::Draining;
        self.drain_deadline = Some(now + self.config.drain_timeout);
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Where the session is in its life.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Closed => State::Closed,
            Phase::Draining => State::Draining,
            Phase::Active if self.input_ended => State::Draining,
            Phase::Active => match self.decoder {
                Decoder::Undecided => State::Undecided,
                ref d if d.is_handshaking() => State::Handshake,
                _ => State::Open,
            },
        }
    }

    /// The framing the first byte chose, once it has arrived.
    pub fn framing(&self) -> Option<Framing> {
        match self.decoder {
            Decoder::Undecided => None,
            Decoder::Raw(_) => Some(Framing::Raw),
            Decoder::Line(_) => Some(Framing::Line),
            Decoder::Frame(_) => Some(Framing::Frame),
        }
    }

    /// The least input the session needs offered in one slice to make
    /// progress: 1, except in a frame session with a transform that is not
    /// length-preserving, which waits for a whole DATA payload (up to
    /// `max_payload` bytes) before answering it. A caller with a fixed
    /// input buffer must make it at least `max_payload` bytes then.
    pub fn input_needed(&self) -> usize {
        self.decoder.input_needed()
    }

    /// True once the session will produce nothing new.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Bytes produced but not yet taken through an output window.
    pub fn has_pending_output(&self) -> bool {
        !self.control.is_empty()
    }

    /// How many bytes wait inside the session for an output window.
    pub fn pending_output_len(&self) -> usize {
        self.control.len()
    }

    /// Closed with nothing left to send: the caller may end the link.
    pub fn is_finished(&self) -> bool {
        self.is_closed() && !self.has_pending_output()
    }

    fn idle_deadline(&self, timeout: Duration) -> Instant {
        self.last_activity + timeout
    }

    fn close(&mut self, reason: CloseReason) {
        close(&mut self.phase, &mut self.events, reason);
    }

    fn push_event(&mut self, event: Event) {
        self.events.push(event);
    }
}

fn close(phase: &mut Phase, events: &mut Unreported, reason: CloseReason) {
    if *phase != Phase::Closed {
        *phase = Phase::Closed;
        events.push(Event::Closed(reason));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: Config, input: &[u8]) -> ([u8; 256], usize) {
        let mut server = Server::new(config, Instant::ZERO).unwrap();
        let mut out = [0u8; 256];
        let p = server.handle_input(Instant::ZERO, input, &mut out);
        assert_eq!(p.consumed, input.len());
        server.handle_end_of_input();
        let q = server.handle_input(Instant::ZERO, &[], &mut out[p.produced..]);
        assert!(server.is_finished());
        (out, p.produced + q.produced)
    }

    /// The byte-level example session of PROTOCOL.md, section 4.
    #[test]
    fn protocol_md_example_session() {
        let input = b"\x00\x00\x00\x00\x06SHOUT\x01\
                      \x01\x00\x00\x00\x02hi\
                      \x02\x00\x00\x00\x02ok\
                      \x04\x00\x00\x00\x00";
        let want = b"\x00\x00\x00\x00\x0BSHOUT\x01\x00\x10\x00\x00\x00\
                     \x01\x00\x00\x00\x02HI\
                     \x03\x00\x00\x00\x02ok\
                     \x04\x00\x00\x00\x00";
        let (out, n) = run(Config::default(), input);
        assert_eq!(&out[..n], want);
    }

    /// PROTOCOL.md's frame-too-large example.
    #[test]
    fn protocol_md_frame_too_large() {
        let input = b"\x00\x00\x00\x00\x06SHOUT\x01\x01\x00\x00\x00\x11";
        let mut want = b"\x00\x00\x00\x00\x0BSHOUT\x01\x00\x00\x00\x10\x00".to_vec();
        want.extend_from_slice(b"\x05\x00\x00\x00\x22\x00\x04frame too large (limit 16 bytes)");
        let (out, n) = run(Config::default().with_max_payload(16), input);
        assert_eq!(&out[..n], &want[..]);
    }
}

//! The link-independent part of both drivers: the session (or the chain of
//! sessions on a UART) and the caller's two buffers.
//!
//! The engine knows none of the protocol's rules. It tells the session
//! what the link did (bytes, end of input, a shutdown, the clock) at the
//! moment it happens, and does what each call's [`Next`] asks: read
//! ([`Next::Input`]), wait for the link to take output ([`Next::Output`]),
//! or end the session ([`Next::Finished`]), which on a continuous link
//! means starting the next one.

use heapless::Deque;
use shout_core::{Config, Event, Framing, Instant, Next, Server, State, ValidConfig};

use crate::{LinkMode, SetupError};

/// Events kept for [`Engine::poll_event`]; the oldest is dropped when a
/// caller never takes them.
const EVENT_SLOTS: usize = 4;

pub(crate) struct Engine<'a> {
    config: ValidConfig,
    mode: LinkMode,
    server: Server,
    /// What the session asked for in its latest answer.
    next: Next,
    rx: &'a mut [u8],
    rx_start: usize,
    rx_end: usize,
    tx: &'a mut [u8],
    tx_start: usize,
    tx_end: usize,
    /// The link said its input ended (`Ok(0)`): nothing more is read, and
    /// every session from now on hears of it as soon as it starts.
    input_ended: bool,
    /// [`Engine::shutdown`] was called: no new session starts.
    shut_down: bool,
    events: Deque<Event, EVENT_SLOTS>,
    pub(crate) sessions_ended: u32,
    pub(crate) received: u64,
    pub(crate) sent: u64,
}

impl<'a> Engine<'a> {
    pub(crate) fn new(
        config: Config,
        mode: LinkMode,
        rx: &'a mut [u8],
        tx: &'a mut [u8],
        now: Instant,
    ) -> Result<Self, SetupError> {
        let config = config.validate()?;
        if rx.is_empty() {
            return Err(SetupError::EmptyRxBuffer);
        }
        if tx.is_empty() {
            return Err(SetupError::EmptyTxBuffer);
        }
        let frames_possible = matches!(config.framing, Framing::Auto | Framing::Frame);
        if frames_possible
            && !config.transform.is_length_preserving()
            && rx.len() < config.max_payload as usize
        {
            // Such a session answers a DATA only once its whole payload is
            // offered at once (`Next::Input { min }` asks for up to
            // `max_payload` bytes); raw and line stream whatever the
            // transform, and so does ascii. With this checked, `rx` can
            // always hold what the session asks for.
            return Err(SetupError::RxBufferTooSmall {
                needed: config.max_payload as usize,
            });
        }
        Ok(Engine {
            config,
            mode,
            server: Server::on_link(config, now),
            next: Next::Input { min: 1 },
            rx,
            rx_start: 0,
            rx_end: 0,
            tx,
            tx_start: 0,
            tx_end: 0,
            input_ended: false,
            shut_down: false,
            events: Deque::new(),
            sessions_ended: 0,
            received: 0,
            sent: 0,
        })
    }

    /// The session running now (in `Continuous` mode, the latest one).
    pub(crate) fn session(&self) -> &Server {
        &self.server
    }

    /// Bytes read from the link that no session has taken yet.
    fn held(&self) -> usize {
        self.rx_end - self.rx_start
    }

    /// No session will follow the current one: a connection has only one,
    /// a shutdown starts none, and after the end of input a new one starts
    /// only for bytes still held.
    fn is_last_session(&self) -> bool {
        self.mode == LinkMode::Stream || self.shut_down || (self.input_ended && self.held() == 0)
    }

    /// Every byte has been sent and nothing more will ever be produced.
    pub(crate) fn finished(&self) -> bool {
        self.server.is_finished() && self.is_last_session() && self.tx_start == self.tx_end
    }

    /// Output waiting for the link.
    pub(crate) fn pending_tx(&self) -> &[u8] {
        &self.tx[self.tx_start..self.tx_end]
    }

    /// The link took `n` bytes of [`Engine::pending_tx`].
    pub(crate) fn commit_sent(&mut self, n: usize, now: Instant) {
        let n = n.min(self.tx_end - self.tx_start);
        self.tx_start += n;
        self.sent += n as u64;
        if self.tx_start == self.tx_end {
            self.tx_start = 0;
            self.tx_end = 0;
        }
        if n > 0 {
            // Output the link took late still counts as activity.
            self.server.handle_transmitted(now);
        }
    }

    /// Free room to read into, if anything read could still be answered:
    /// the input has not ended and a session is, or will be, there to
    /// take it. Reading ahead of what the session asks for is fine (a
    /// UART's FIFO is small); [`Engine::input_room`] is what it needs.
    pub(crate) fn rx_room(&mut self) -> Option<&mut [u8]> {
        if self.input_ended || (self.server.is_closed() && self.is_last_session()) {
            return None;
        }
        if self.rx_start == self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        } else if self.rx_end == self.rx.len() && self.rx_start > 0 {
            move_to_front(self.rx, self.rx_start, self.rx_end);
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
        }
        if self.rx_end == self.rx.len() {
            return None;
        }
        Some(&mut self.rx[self.rx_end..])
    }

    /// Room to read into when the session cannot go on without input
    /// ([`Next::Input`]); `None` when it waits for something else. The
    /// session asks for at most `min` held bytes, which the setup check
    /// makes sure `rx` can hold, so while it asks there is room.
    pub(crate) fn input_room(&mut self) -> Option<&mut [u8]> {
        match self.next {
            Next::Input { .. } => self.rx_room(),
            _ => None,
        }
    }

    /// `n` bytes were read into [`Engine::rx_room`].
    pub(crate) fn commit_received(&mut self, n: usize) {
        let n = n.min(self.rx.len() - self.rx_end);
        self.rx_end += n;
        self.received += n as u64;
    }

    /// The link's input ended: the session hears of it at once, with the
    /// count of bytes it has not taken yet, and ends right after them. On
    /// a continuous link those bytes may begin further sessions; each is
    /// told the same as it starts ([`Engine::start_session`]).
    pub(crate) fn end_of_input(&mut self) {
        self.input_ended = true;
        if !self.server.is_closed() {
            self.server.handle_end_of_input(self.held());
        }
        self.collect_events();
    }

    /// Drains: the bytes held in `rx` are what was waiting, so they are
    /// answered, then the rest of a request they began, and nothing after;
    /// no new session starts. Bytes still inside the link (a UART's FIFO,
    /// a socket's queue) cannot be counted from here and are not waiting.
    pub(crate) fn shutdown(&mut self, now: Instant) {
        self.shut_down = true;
        if !self.server.is_closed() {
            self.server.shutdown(now, self.held());
        }
        self.collect_events();
    }

    /// The next instant [`Engine::check_timeouts`] has work to do, if any.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.idle_restart_is_noop() {
            return None;
        }
        self.server.poll_timeout()
    }

    /// Acts on the session's deadlines; true when that changed anything.
    pub(crate) fn check_timeouts(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                self.server.handle_timeout(now);
                self.collect_events();
                true
            }
            _ => false,
        }
    }

    /// On a UART an undecided session that idles out would close without a
    /// byte and be replaced by an identical one: skip the wake-up.
    fn idle_restart_is_noop(&self) -> bool {
        self.mode == LinkMode::Continuous && self.server.state() == State::Undecided
    }

    /// The next event of any session, oldest first.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.collect_events();
        self.events.pop_front()
    }

    /// Moves the session's events into the driver's queue, counting the
    /// sessions that closed (each closes exactly once).
    fn collect_events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            if matches!(e, Event::Closed(_)) {
                self.sessions_ended += 1;
            }
            if self.events.is_full() {
                // Full: forget the oldest.
                self.events.pop_front();
            }
            let _ = self.events.push_back(e);
        }
    }

    /// A fresh session after the last one finished, on a continuous link.
    fn start_session(&mut self, now: Instant) {
        self.collect_events();
        self.server = Server::on_link(self.config, now);
        if self.input_ended {
            self.server.handle_end_of_input(self.held());
        }
    }

    /// Answers as much of `rx` into `tx` as the session will, starting new
    /// sessions on a continuous link; true when anything changed. Returns
    /// when the session asks for input, when `tx` is full, or when the
    /// last session is finished.
    ///
    /// On a continuous link the bytes after a session's end belong to the
    /// next session. The call that closes a session consumes exactly up to
    /// where it ended (the core guarantees it; `tests/core_contract.rs`
    /// pins it), and a closed session is only flushed, never offered
    /// input, so the rest stays in `rx` for the next session.
    pub(crate) fn process(&mut self, now: Instant) -> bool {
        let mut moved = false;
        loop {
            if self.tx_start == self.tx_end {
                self.tx_start = 0;
                self.tx_end = 0;
            }
            let window = &mut self.tx[self.tx_end..];
            let p = if self.server.is_closed() {
                self.server.poll_output(now, window)
            } else {
                let input = &self.rx[self.rx_start..self.rx_end];
                self.server.handle_input(now, input, window)
            };
            self.rx_start += p.consumed;
            self.tx_end += p.produced;
            if self.rx_start == self.rx_end {
                self.rx_start = 0;
                self.rx_end = 0;
            }
            self.next = p.next;
            self.collect_events();
            let progress = p.consumed > 0 || p.produced > 0;
            moved |= progress;
            match p.next {
                Next::Finished if self.is_last_session() => return moved,
                Next::Finished => {
                    self.start_session(now);
                    moved = true;
                }
                // More output waits: go on while the window has room left
                // and the session moves.
                Next::Output if progress && self.tx_end < self.tx.len() => {}
                // `Next::Input`: the driver reads; `Next::Output`: the
                // driver sends, which makes room.
                _ => return moved,
            }
        }
    }
}

/// Moves `buf[from..end]` to the front of `buf` in copies that never
/// overlap (each at most `from` bytes), so they are `memcpy`s. A
/// `copy_within` would be the one `memmove` in the firmware, and
/// compiler_builtins' `memmove` is 1.5 KiB of flash.
fn move_to_front(buf: &mut [u8], from: usize, end: usize) {
    let (mut to, mut at) = (0, from);
    while at < end && to < at {
        let n = (end - at).min(at - to);
        let (front, rest) = buf.split_at_mut(at);
        front[to..to + n].copy_from_slice(&rest[..n]);
        to += n;
        at += n;
    }
}

#[cfg(test)]
mod tests {
    use super::move_to_front;

    #[test]
    fn move_to_front_is_copy_within() {
        for len in 0..=12 {
            for from in 0..=len {
                for end in from..=len {
                    let orig: [u8; 12] = core::array::from_fn(|i| i as u8);
                    let mut want = orig;
                    want[..len].copy_within(from..end, 0);
                    let mut got = orig;
                    move_to_front(&mut got[..len], from, end);
                    assert_eq!(got, want, "len {len} from {from} end {end}");
                }
            }
        }
    }
}

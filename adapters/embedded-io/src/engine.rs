//! The link-independent part of both drivers: the session (or the chain of
//! sessions on a UART), the caller's two buffers, and the rules of the core
//! about end of input, timeouts and closing.

use heapless::Deque;
use shout_core::{Config, Event, Framing, Instant, Server, State};

use crate::{LinkMode, SetupError};

/// Events kept for [`Engine::poll_event`]; the oldest is dropped when a
/// caller never takes them.
const EVENT_SLOTS: usize = 4;

pub(crate) struct Engine<'a> {
    config: Config,
    mode: LinkMode,
    server: Server,
    /// The link's end of input has been delivered to the current session.
    eof_delivered: bool,
    rx: &'a mut [u8],
    rx_start: usize,
    rx_end: usize,
    tx: &'a mut [u8],
    tx_start: usize,
    tx_end: usize,
    /// The link said its input ended (`Ok(0)`).
    input_ended: bool,
    /// No session runs and none will start.
    over: bool,
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
            // The session answers such a DATA only once its whole payload
            // is offered at once (raw and line stream whatever the transform).
            return Err(SetupError::RxBufferTooSmall {
                needed: config.max_payload as usize,
            });
        }
        let server = Server::new(config, now)?;
        Ok(Engine {
            config,
            mode,
            server,
            eof_delivered: false,
            rx,
            rx_start: 0,
            rx_end: 0,
            tx,
            tx_start: 0,
            tx_end: 0,
            input_ended: false,
            over: false,
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

    /// Every byte has been sent and nothing more will ever be produced.
    pub(crate) fn finished(&self) -> bool {
        self.over && self.tx_start == self.tx_end
    }

    pub(crate) fn input_ended(&self) -> bool {
        self.input_ended
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
        if n > 0 && !self.over {
            // Output the link took late still counts as activity.
            self.server.handle_transmitted(now);
        }
    }

    /// Free room to read into, if reading makes sense now.
    pub(crate) fn rx_room(&mut self) -> Option<&mut [u8]> {
        if self.input_ended || self.over {
            return None;
        }
        if self.rx_start == self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        } else if self.rx_end == self.rx.len() && self.rx_start > 0 {
            self.rx.copy_within(self.rx_start..self.rx_end, 0);
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
        }
        if self.rx_end == self.rx.len() {
            return None;
        }
        Some(&mut self.rx[self.rx_end..])
    }

    /// `n` bytes were read into [`Engine::rx_room`].
    pub(crate) fn commit_received(&mut self, n: usize) {
        let n = n.min(self.rx.len() - self.rx_end);
        self.rx_end += n;
        self.received += n as u64;
    }

    /// The link's input ended. The session hears of it once it has taken
    /// every byte read before (or can take no more of them): on a
    /// continuous link those bytes may still start further sessions, and
    /// only the last one sees the end.
    pub(crate) fn end_of_input(&mut self) {
        self.input_ended = true;
    }

    /// The next instant [`Engine::check_timeouts`] has work to do, if any.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.over || self.idle_restart_is_noop() {
            return None;
        }
        self.server.poll_timeout()
    }

    /// Acts on the session's deadlines; true when that changed anything.
    pub(crate) fn check_timeouts(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                let was_closed = self.server.is_closed();
                self.server.handle_timeout(now);
                if self.server.is_closed() && !was_closed {
                    self.sessions_ended += 1;
                }
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

    fn collect_events(&mut self) {
        while let Some(e) = self.server.poll_event() {
            if self.events.is_full() {
                // Full: forget the oldest.
                self.events.pop_front();
            }
            let _ = self.events.push_back(e);
        }
    }

    /// Moves as much input through the session into `tx` as fits, starting
    /// new sessions on a continuous link; true when anything changed.
    pub(crate) fn process(&mut self, now: Instant) -> bool {
        let mut progress = false;
        loop {
            self.collect_events();
            if self.over {
                return progress;
            }
            let more_input = self.rx_start < self.rx_end;
            if self.server.is_finished() {
                if self.mode == LinkMode::Stream || (self.input_ended && !more_input) {
                    self.over = true;
                    return true;
                }
                match Server::new(self.config, now) {
                    Ok(s) => self.server = s,
                    Err(_) => {
                        // Cannot happen: the same config was accepted at setup.
                        self.over = true;
                        return true;
                    }
                }
                self.eof_delivered = false;
                progress = true;
                continue;
            }
            let was_closed = self.server.is_closed();
            if self.input_ended && !self.eof_delivered && !more_input && !was_closed {
                self.server.handle_end_of_input();
                self.eof_delivered = true;
                progress = true;
            }
            if self.tx_start == self.tx_end {
                self.tx_start = 0;
                self.tx_end = 0;
            }
            let (consumed, produced) = self.feed(now);
            self.rx_start += consumed;
            self.tx_end += produced;
            if self.rx_start == self.rx_end {
                self.rx_start = 0;
                self.rx_end = 0;
            }
            let closed_now = self.server.is_closed() && !was_closed;
            if closed_now {
                self.sessions_ended += 1;
            }
            if consumed == 0 && produced == 0 && !closed_now {
                let starved = self.input_ended
                    && !self.eof_delivered
                    && !self.server.is_closed()
                    && self.tx_end < self.tx.len();
                if !starved {
                    return progress;
                }
                // The session waits for more than the link will ever send
                // (a unicode DATA cut off by the end of input): now it
                // must hear of the end.
                self.server.handle_end_of_input();
                self.eof_delivered = true;
            }
            progress = true;
        }
    }

    /// One `handle_input` call on the waiting input and the free part of
    /// `tx`. A closed session is offered no input, only the chance to flush
    /// what it still holds.
    ///
    /// On a continuous link the bytes after a session's end belong to the
    /// next session. The call that closes a session consumes exactly up to
    /// where it ended, whatever was offered at once (the core guarantees
    /// it; `tests/core_contract.rs` pins it), so the rest stays in `rx` for
    /// the next session.
    fn feed(&mut self, now: Instant) -> (usize, usize) {
        let input: &[u8] = if self.server.is_closed() {
            &[]
        } else {
            &self.rx[self.rx_start..self.rx_end]
        };
        let p = self
            .server
            .handle_input(now, input, &mut self.tx[self.tx_end..]);
        (p.consumed, p.produced)
    }
}

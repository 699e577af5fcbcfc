use crate::config::{Framing, Settings, ValidConfig};
use crate::framing::{detect, Cx, Decoder, Tally};
use crate::io::{Bytes, Control, InPlace, Io, Split};
use crate::session::lifecycle::{Life, Unreported};
use crate::session::{CloseReason, Event, State};
use crate::time::Instant;
use crate::transform::AnyTransform;

/// What a session wants next; every call that moves bytes says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// Everything offered that could be answered was: offer more input
    /// once it arrives. `min` is the least input the next call must offer
    /// in one slice, unconsumed bytes included: 1, except in a frame
    /// session with a transform that is not length-preserving, which
    /// answers a DATA only once its whole payload is offered (up to
    /// `max_payload` bytes; size a fixed input buffer for that).
    Input {
        /// Bytes the next call must offer at once.
        min: usize,
    },
    /// Output is waiting for room: send what was produced, then call
    /// again with room (and the unconsumed input, which stays yours).
    Output,
    /// The session is closed and all its output has been taken. Send what
    /// you hold, then end the link; input offered from now on is consumed
    /// and discarded, which is what a lingering socket wants.
    Finished,
}

/// What one call moved, and what the session wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the produced bytes must be sent and the unconsumed input offered again"]
pub struct Progress {
    /// Input bytes taken; the caller keeps the rest and offers it again.
    pub consumed: usize,
    /// Bytes written at the start of the output window (or, in place, of
    /// the buffer), ready to send.
    pub produced: usize,
    /// What the session needs before it can move on.
    pub next: Next,
}

/// One server session of SHOUT/1: a connection, or a session on a link.
///
/// # How to drive it
///
/// Each call means one thing and takes effect when it is made:
///
/// * [`handle_input`] offers input and a window; the session answers as
///   much as the window has room for and returns [`Progress`]: how much of
///   each it used and what it wants [`Next`]. Send the produced bytes; keep
///   the unconsumed input and offer it again. [`handle_input_in_place`] is
///   the same with the answer written over the input (no second buffer,
///   one pass less per byte with a length-preserving transform).
/// * [`poll_output`] only flushes: it never means anything about input.
/// * [`handle_end_of_input`]`(held)`: the peer will send nothing more; the
///   caller still holds `held` unconsumed bytes and will offer them. The
///   session ends exactly after those.
/// * [`shutdown`]`(now, waiting)`: drain. `waiting` is what was waiting
///   when the signal came: bytes the caller holds unconsumed plus bytes
///   still in the link (the socket's receive queue, a UART's FIFO). Those
///   are answered, then the rest of a request they began, and nothing
///   after; the session closes at that boundary or at the drain deadline.
/// * [`poll_timeout`] says when to wake up next; call [`handle_timeout`]
///   then (a late or early call is harmless).
/// * [`handle_transmitted`]: output the link refused earlier has now gone
///   out, which is activity for the idle timeout.
/// * [`poll_event`] hands out [`Event`]s for logs and counters.
///
/// The window may be any size, down to one byte: output is the same
/// however the input is split and however small the windows are. Output
/// that did not fit waits inside the session (at most
/// [`CONTROL_CAPACITY`](crate::CONTROL_CAPACITY) bytes, headers and control
/// frames only) and comes first next call. The call that closes consumes
/// input only up to the point where the session ended (after a CLOSE
/// header, before an offending byte): on a continuous link (a UART) the
/// rest belongs to the next session.
///
/// [`handle_input`]: Server::handle_input
/// [`handle_input_in_place`]: Server::handle_input_in_place
/// [`poll_output`]: Server::poll_output
/// [`handle_end_of_input`]: Server::handle_end_of_input
/// [`shutdown`]: Server::shutdown
/// [`poll_timeout`]: Server::poll_timeout
/// [`handle_timeout`]: Server::handle_timeout
/// [`handle_transmitted`]: Server::handle_transmitted
/// [`poll_event`]: Server::poll_event
#[derive(Clone, Debug)]
pub struct Server {
    config: Settings,
    decoder: Decoder,
    transform: AnyTransform,
    control: Control,
    events: Unreported,
    life: Life,
    last_activity: Instant,
    tally: Tally,
}

impl Server {
    /// A session that has seen nothing yet, its idle clock starting `now`.
    pub fn new(config: ValidConfig, now: Instant) -> Server {
        Server {
            config: Settings::new(&config),
            decoder: Decoder::Undecided,
            transform: AnyTransform::new(config.transform),
            control: Control::default(),
            events: Unreported::default(),
            life: Life::new(),
            last_activity: now,
            tally: Tally::default(),
        }
    }

    /// A session on a serial link (a UART), where the web framing is never
    /// served: `auto` knows only `0x00` (frame) and anything else (raw),
    /// and an explicit web framing is served as raw.
    pub fn on_link(config: ValidConfig, now: Instant) -> Server {
        #[allow(unused_mut)]
        let mut s = Server::new(config, now);
        #[cfg(feature = "web")]
        {
            s.config.web = false;
        }
        s
    }

    /// Answers a prefix of `input` into the start of `out`.
    pub fn handle_input(&mut self, now: Instant, input: &[u8], out: &mut [u8]) -> Progress {
        self.run(now, Split { input, window: out })
    }

    /// Answers a prefix of `buf` into `buf` itself: the answer is
    /// `buf[..produced]`, written behind the read position so it never
    /// overtakes unconsumed input. With a length-preserving transform a
    /// stream is answered whole this way; output that would overtake (a
    /// HELLO is longer than the client's, a unicode `ß` becomes `SS`)
    /// waits and the call returns early. Answer the unconsumed rest,
    /// `buf[consumed..]`, with [`Server::handle_input`] and a window.
    pub fn handle_input_in_place(&mut self, now: Instant, buf: &mut [u8]) -> Progress {
        self.run(now, InPlace(buf))
    }

    /// Flushes output waiting inside the session into `out`; nothing else.
    pub fn poll_output(&mut self, now: Instant, out: &mut [u8]) -> Progress {
        self.handle_input(now, &[], out)
    }

    /// The peer will send nothing more: the caller holds `held` input
    /// bytes not consumed yet, and will offer them. The session ends
    /// right after them (at once if that is now), and the bytes that end
    /// brings (CLOSE, an ERROR, held-back bytes) come out of the next
    /// call. A second call changes nothing.
    pub fn handle_end_of_input(&mut self, held: usize) {
        if self.life.end_of_input(held) {
            self.settle();
        }
    }

    /// Starts a drain: `waiting` bytes (held by the caller unconsumed,
    /// plus those still in the link) are answered, then the rest of a
    /// request they began; nothing after. The session closes at that
    /// boundary, or closes as it is at `now + drain_timeout`.
    pub fn shutdown(&mut self, now: Instant, waiting: usize) {
        if self.life.shutdown(now + self.config.drain_timeout, waiting) {
            self.settle();
        }
    }

    /// Output the caller held (because the link would not take it) made
    /// progress: that counts as activity for the idle timeout.
    pub fn handle_transmitted(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// When [`Server::handle_timeout`] should next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.life.is_closed() {
            return None;
        }
        let idle = self.config.idle_timeout().map(|t| self.last_activity + t);
        match (idle, self.life.drain_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on deadlines that have passed by `now`: the drain deadline
    /// closes at once; the idle timeout closes, after ERROR 5 in a frame
    /// session whose response is not under way. The final bytes come out
    /// of the next call that takes output.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.life.is_closed() {
            return;
        }
        let drain_over = self.life.drain_deadline().is_some_and(|d| now >= d);
        let idle_over = self
            .config
            .idle_timeout()
            .is_some_and(|t| now >= self.last_activity + t);
        if !drain_over && !idle_over {
            return;
        }
        // No window: whatever the decoder emits waits in the control queue.
        let mut io = Io::new(
            Split {
                input: &[],
                window: &mut [],
            },
            &mut self.control,
        );
        let mut cx = Cx {
            io: &mut io,
            transform: &mut self.transform,
            config: &self.config,
            stop_at_boundary: false,
            tally: &mut self.tally,
        };
        let before = self.decoder.framing();
        let reason = if drain_over {
            self.decoder.drain_timeout(&mut cx)
        } else {
            self.decoder.idle(&mut cx)
        };
        report_opened(before, &self.decoder, &mut self.events);
        self.close(reason);
    }

    /// What the session has done so far: requests, the ERROR it sent.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Where the session is in its life.
    pub fn state(&self) -> State {
        match self.life {
            Life::Closed => State::Closed,
            Life::Draining { .. } => State::Draining,
            Life::Open { end: Some(_) } => State::Draining,
            Life::Open { end: None } => match self.decoder {
                Decoder::Undecided => State::Undecided,
                #[cfg(feature = "web")]
                Decoder::Sniff(_) => State::Undecided,
                ref d if d.is_handshaking() => State::Handshake,
                _ => State::Open,
            },
        }
    }

    /// The framing the first byte chose, once it has arrived.
    pub fn framing(&self) -> Option<Framing> {
        self.decoder.framing()
    }

    /// True once the session will produce nothing new.
    pub fn is_closed(&self) -> bool {
        self.life.is_closed()
    }

    /// How many bytes wait inside the session for an output window.
    pub fn pending_output_len(&self) -> usize {
        self.control.len()
    }

    /// Closed with nothing left to send: the caller may end the link.
    pub fn is_finished(&self) -> bool {
        self.is_closed() && self.control.is_empty()
    }

    /// Applies an end of input or a shutdown that takes effect at once
    /// (nothing more to answer), queueing the bytes it brings.
    fn settle(&mut self) {
        let now = self.last_activity;
        let _ = self.handle_input(now, &[], &mut []);
    }

    /// The session's loop over one call's bytes: decode until the input,
    /// the window or the session runs out, acting on end of input and
    /// shutdown at the exact byte they take effect.
    fn run<B: Bytes>(&mut self, now: Instant, bytes: B) -> Progress {
        let Server {
            config,
            decoder,
            transform,
            control,
            events,
            life,
            last_activity,
            tally,
        } = self;
        let mut io = Io::new(bytes, control);
        let was_closed = life.is_closed();
        loop {
            // A full window (control bytes waiting, or a decoder that had
            // more to write than the window took) ends the call.
            if !io.drain_control() || io.wants_room() {
                break;
            }
            if life.is_closed() {
                if was_closed {
                    io.discard_all(); // linger: read and discard
                }
                // The call that closes stops at the point of closing.
                break;
            }
            let (limit, stop_at_boundary) = life.input_limit(decoder.input_needed());
            io.limit_to(limit);
            // A drain that ends here decides nothing: the first byte of a
            // session only opens it when it is answered.
            let ends_here = stop_at_boundary && decoder.at_boundary();
            let mut deciding = false;
            if let (Decoder::Undecided, false) = (&decoder, ends_here) {
                if let Some(&first) = io.input().first() {
                    let (new, framing) = detect::decide(config, first);
                    *decoder = new;
                    if let Some(framing) = framing {
                        events.push(Event::Opened(framing));
                    }
                    deciding = true;
                }
            }
            let mut framing_before = decoder.framing();
            let mut cx = Cx {
                io: &mut io,
                transform,
                config,
                stop_at_boundary,
                tally,
            };
            let decided = if ends_here {
                Some(decoder.finish_drain(&mut cx))
            } else {
                let before = cx.io.consumed();
                let wrote_before = cx.io.written();
                let verdict = decoder.input(&mut cx);
                let taken = cx.io.consumed() - before;
                // (A web session refusing its first byte answers without
                // taking it.)
                let answered =
                    cfg!(feature = "web") && (cx.io.written() > wrote_before || cx.io.wants_room());
                if cfg!(feature = "web") {
                    report_opened(framing_before, decoder, events);
                    framing_before = decoder.framing();
                }
                life.consumed(taken);
                if deciding && taken == 0 && verdict.is_none() && !answered {
                    // No room to answer the first byte yet: the session
                    // opens with the first byte it takes, not one it saw.
                    // (Sniffing for `GET `, it had not opened yet.)
                    if !cfg!(feature = "web") || decoder.framing().is_some() {
                        events.retract_opened();
                    }
                    *decoder = Decoder::Undecided;
                }
                if verdict.is_none() && taken == 0 && !cx.io.is_blocked() && !cx.io.wants_room() {
                    if life.input_ends_before(decoder.input_needed()) {
                        Some(decoder.end_of_input(&mut cx))
                    } else if life.drain_mark_reached() && decoder.at_boundary() {
                        Some(decoder.finish_drain(&mut cx))
                    } else if life.drain_mark_reached() && !stop_at_boundary {
                        continue; // past the mark: finish the begun request
                    } else {
                        break;
                    }
                } else {
                    verdict
                }
            };
            report_opened(framing_before, decoder, events);
            if let Some(reason) = decided {
                if life.close() {
                    events.push(Event::Closed(reason));
                }
            }
        }
        if io.consumed() > 0 || io.written() > 0 {
            *last_activity = (*last_activity).max(now);
        }
        Progress {
            consumed: io.consumed(),
            produced: io.written(),
            next: next(life, decoder, &io),
        }
    }
}

/// A session that was still choosing (sniffing for `GET `) and now has a
/// framing says so.
fn report_opened(before: Option<Framing>, decoder: &Decoder, events: &mut Unreported) {
    // Only `auto`'s sniffing for `GET ` decides after the first byte.
    if cfg!(feature = "web") && before.is_none() {
        if let (Some(framing), false) = (decoder.framing(), matches!(decoder, Decoder::Undecided)) {
            events.push(Event::Opened(framing));
        }
    }
}

/// What a session wants after a call, from where it stands.
fn next<B: Bytes>(life: &Life, decoder: &Decoder, io: &Io<'_, B>) -> Next {
    if life.is_closed() {
        if io.is_blocked() {
            Next::Output
        } else {
            Next::Finished
        }
    } else if io.is_blocked() || io.wants_room() {
        Next::Output
    } else {
        let min = decoder.input_needed();
        let visible = io.input().len();
        if visible > 0 && visible >= min {
            Next::Output
        } else {
            Next::Input { min }
        }
    }
}

impl Server {
    fn close(&mut self, reason: CloseReason) {
        if self.life.close() {
            self.events.push(Event::Closed(reason));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, TransformKind};
    use crate::wire::{ClientHello, ErrorCode};

    /// Bytes on the stack: the core's tests need no allocator either.
    type Bytes = heapless::Vec<u8, 256>;

    fn cat(parts: &[&[u8]]) -> Bytes {
        let mut v = Bytes::new();
        for p in parts {
            v.extend_from_slice(p).unwrap();
        }
        v
    }

    fn server(config: Config) -> Server {
        Server::new(config.validate().unwrap(), Instant::ZERO)
    }

    /// Offers `input` whole, ends the input, and collects every byte.
    fn run(config: Config, input: &[u8]) -> ([u8; 256], usize) {
        let mut s = server(config);
        let mut out = [0u8; 256];
        let p = s.handle_input(Instant::ZERO, input, &mut out);
        assert_eq!(p.consumed, input.len());
        s.handle_end_of_input(0);
        let q = s.poll_output(Instant::ZERO, &mut out[p.produced..]);
        assert_eq!(q.next, Next::Finished);
        (out, p.produced + q.produced)
    }

    /// Offers `input` whole and ends it; the session's tally.
    fn tally_of(config: Config, input: &[u8]) -> Tally {
        let mut s = server(config);
        let mut out = [0u8; 256];
        let p = s.handle_input(Instant::ZERO, input, &mut out);
        s.handle_end_of_input(input.len() - p.consumed);
        let _ = s.poll_output(Instant::ZERO, &mut out[p.produced..]);
        s.tally()
    }

    #[test]
    fn the_tally_counts_requests_and_the_error_sent() {
        let line = Config::default().with_framing(Framing::Line);
        let t = tally_of(line, b"one\ntwo\r\nlast");
        assert_eq!((t.requests(), t.error_sent()), (3, None));
        let t = tally_of(Config::default(), b"raw bytes\n");
        assert_eq!((t.requests(), t.error_sent()), (0, None));
        // HELLO, DATA, PING, a PONG (not a request), then kind 9.
        let frames = cat(&[
            &ClientHello::frame(),
            b"\x01\0\0\0\x02hi\x02\0\0\0\0\x03\0\0\0\0\x09\0\0\0\0",
        ]);
        let t = tally_of(Config::default(), &frames);
        assert_eq!(
            (t.requests(), t.error_sent()),
            (2, Some(ErrorCode::UnknownKind))
        );
        // A header cut off by the end of input: ERROR 1; a DATA whose
        // answer had begun just closes.
        let cut = cat(&[&ClientHello::frame(), b"\x01\0\0"]);
        let t = tally_of(Config::default(), &cut);
        assert_eq!(
            (t.requests(), t.error_sent()),
            (0, Some(ErrorCode::Malformed))
        );
        let begun = cat(&[&ClientHello::frame(), b"\x01\0\0\0\x09abc"]);
        let t = tally_of(Config::default(), &begun);
        assert_eq!((t.requests(), t.error_sent()), (1, None));
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
        let want = cat(&[
            b"\x00\x00\x00\x00\x0BSHOUT\x01\x00\x00\x00\x10\x00",
            b"\x05\x00\x00\x00\x22\x00\x04frame too large (limit 16 bytes)",
        ]);
        let (out, n) = run(Config::default().with_max_payload(16), input);
        assert_eq!(&out[..n], &want[..]);
    }

    /// Rule 7: a line begun before the signal is finished; the line after
    /// it, which arrived later, is not answered.
    #[test]
    fn shutdown_answers_what_was_waiting_and_the_begun_line() {
        let mut s = server(Config::default().with_framing(Framing::Line));
        let mut out = [0u8; 64];
        let p = s.handle_input(Instant::ZERO, b"one\ntw", &mut out);
        assert_eq!((p.consumed, p.produced), (6, 6));
        s.shutdown(Instant::ZERO, 0);
        assert_eq!(s.state(), State::Draining);
        let p = s.handle_input(Instant::ZERO, b"o\nthree\n", &mut out[6..]);
        assert_eq!(p.consumed, 2, "stops at the end of the begun line");
        assert_eq!(p.next, Next::Finished);
        assert_eq!(&out[..p.produced + 6], b"ONE\nTWO\n");
        assert_eq!(s.poll_event(), Some(Event::Opened(Framing::Line)));
        assert_eq!(s.poll_event(), Some(Event::Closed(CloseReason::Shutdown)));
    }

    /// Rule 7 for raw: exactly the bytes that were waiting are answered.
    #[test]
    fn raw_shutdown_stops_at_the_waiting_mark() {
        let mut s = server(Config::default().with_framing(Framing::Raw));
        s.shutdown(Instant::ZERO, 5);
        let mut out = [0u8; 64];
        let p = s.handle_input(Instant::ZERO, b"abc", &mut out);
        assert_eq!((p.consumed, p.next), (3, Next::Input { min: 1 }));
        let q = s.handle_input(Instant::ZERO, b"defgh", &mut out[3..]);
        assert_eq!((q.consumed, q.next), (2, Next::Finished));
        assert_eq!(&out[..5], b"ABCDE");
    }

    /// A frame session with nothing waiting closes at the signal with CLOSE.
    #[test]
    fn idle_frame_session_closes_at_the_signal() {
        let mut s = server(Config::default());
        let mut out = [0u8; 64];
        let hello = ClientHello::frame();
        let p = s.handle_input(Instant::ZERO, &hello, &mut out);
        assert_eq!(p.produced, 16);
        s.shutdown(Instant::ZERO, 0);
        let p = s.poll_output(Instant::ZERO, &mut out);
        assert_eq!(&out[..p.produced], b"\x04\0\0\0\0");
        assert_eq!(p.next, Next::Finished);
    }

    /// The reproduction: raw + unicode, shutdown, a read ending in
    /// `ΐ` through a 5-byte window, then a flush: nothing is lost, and the
    /// bytes still waiting are answered.
    #[test]
    fn a_flush_during_a_drain_loses_nothing() {
        let config = Config::default()
            .with_framing(Framing::Raw)
            .with_transform(TransformKind::Unicode);
        let mut s = server(config);
        let input = "abΐcdef".as_bytes(); // ΐ is 2 bytes, 6 uppercased
        s.shutdown(Instant::ZERO, input.len());
        let mut got = Bytes::new();
        let mut window = [0u8; 5];
        let first = &input[..4];
        let p = s.handle_input(Instant::ZERO, first, &mut window);
        got.extend_from_slice(&window[..p.produced]).unwrap();
        let mut fed = p.consumed;
        let f = s.poll_output(Instant::ZERO, &mut window); // the flush
        got.extend_from_slice(&window[..f.produced]).unwrap();
        assert!(!s.is_closed(), "a flush does not end a drain");
        while !s.is_finished() {
            let p = s.handle_input(Instant::ZERO, &input[fed..], &mut window);
            fed += p.consumed;
            got.extend_from_slice(&window[..p.produced]).unwrap();
        }
        assert_eq!(fed, input.len());
        // ΐ uppercases to Ι, a combining diaeresis and a combining acute.
        assert_eq!(&got[..], b"AB\xce\x99\xcc\x88\xcc\x81CDEF");
    }

    /// In place and through a window, a stream's answer is the same.
    #[test]
    fn in_place_answers_like_a_window() {
        let input = cat(&[
            &ClientHello::frame(),
            b"\x01\0\0\0\x05hello\x03\0\0\0\x01x\x02\0\0\0\x02ok\x04\0\0\0\0",
        ]);
        let (want, n) = run(Config::default(), &input);
        let mut s = server(Config::default());
        let mut buf = input.clone();
        let mut got = Bytes::new();
        let p = s.handle_input_in_place(Instant::ZERO, &mut buf);
        got.extend_from_slice(&buf[..p.produced]).unwrap();
        let mut window = [0u8; 64];
        let q = s.handle_input(Instant::ZERO, &input[p.consumed..], &mut window);
        assert_eq!(p.consumed + q.consumed, input.len());
        got.extend_from_slice(&window[..q.produced]).unwrap();
        assert_eq!(got, &want[..n]);
    }

    /// A unicode DATA begun in the waiting bytes is taken whole, though
    /// more of it arrives after the signal.
    #[test]
    fn a_begun_unicode_payload_finishes_during_a_drain() {
        let mut s = server(Config::default().with_transform(TransformKind::Unicode));
        let mut out = [0u8; 64];
        let input = cat(&[&ClientHello::frame(), b"\x01\0\0\0\x06stra\xc3\x9f"]);
        let held = input.len() - 4; // header and 2 payload bytes waited
        let p = s.handle_input(Instant::ZERO, &input[..held], &mut out);
        assert_eq!(p.next, Next::Input { min: 6 });
        s.shutdown(Instant::ZERO, held - p.consumed);
        let q = s.handle_input(Instant::ZERO, &input[p.consumed..], &mut out[p.produced..]);
        assert_eq!(q.next, Next::Finished);
        let n = p.produced + q.produced;
        assert_eq!(&out[16..n], b"\x01\0\0\0\x06STRASS\x04\0\0\0\0");
    }

    #[test]
    fn a_unicode_payload_asks_for_itself_whole() {
        let mut s = server(Config::default().with_transform(TransformKind::Unicode));
        let mut out = [0u8; 64];
        let input = cat(&[&ClientHello::frame(), b"\x01\0\0\0\x04st"]);
        let p = s.handle_input(Instant::ZERO, &input, &mut out);
        assert_eq!(p.consumed, input.len() - 2);
        assert_eq!(p.next, Next::Input { min: 4 });
        // The input ends before the payload could be whole: ERROR 1.
        s.handle_end_of_input(2);
        let q = s.poll_output(Instant::ZERO, &mut out[p.produced..]);
        assert_eq!(q.next, Next::Finished);
        assert_eq!(out[p.produced], 5, "an ERROR frame");
    }
}

//! Breaks the server session's state machine: a script of what a caller
//! does (input arriving in reads of any size, windows of any size including
//! 0, clock jumps, timeouts, end of input, shutdown) against one Server,
//! checked against the reference model fed the same input whole.
//!
//! After every call (see `shout_fuzz::Checked`): windows respected, at most
//! CONTROL_CAPACITY bytes pending, no output once finished, a closed session
//! consumes and discards everything, events once each and in order,
//! `handle_timeout` closes exactly when `poll_timeout` said a deadline passed.
//! At the end the caller reads everything, ends the input and takes output
//! until the session finishes, within a bound (progress is always possible).
//!
//! Then the differential, chosen by how the session closed:
//! * by itself or at end of input (no clock, no shutdown involved): output
//!   and close reason equal `model::serve` of the input it was sent;
//! * by the idle timeout: `model::serve_until_idle` of what it had consumed;
//! * by a finished drain: `model::serve_then_shutdown` of what it was sent;
//! * at the drain deadline: that, less the CLOSE a clean drain would send.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Duration, Framing, TransformKind};
use shout_fuzz::script::{window_from, Op, Script};
use shout_fuzz::{show, Checked, Sizes};
use shout_tests::model;

/// Where the input stood when the session closed.
struct AtClose {
    /// Bytes that had arrived (read by the caller).
    read: usize,
    /// Bytes the session had consumed before the closing call.
    consumed: usize,
}

struct Caller {
    s: Checked,
    input: Vec<u8>,
    /// Bytes arrived so far (the rest has not reached the caller).
    read: usize,
    /// Bytes the session consumed.
    consumed: usize,
    /// Input ended: `read` is all there will ever be.
    ended: bool,
    end_signalled: bool,
    shutdown: bool,
    at_close: Option<AtClose>,
}

impl Caller {
    fn offer(&mut self, w: usize) {
        let before = self.consumed;
        let p = self.s.offer(&self.input[self.consumed..self.read], w);
        self.consumed += p.consumed;
        self.note_close(before);
    }

    fn note_close(&mut self, consumed_before: usize) {
        if self.at_close.is_none() && self.s.server.is_closed() {
            self.at_close = Some(AtClose {
                read: self.read,
                consumed: consumed_before,
            });
        }
    }

    fn op(&mut self, op: Op) {
        match op {
            Op::Read(n) => {
                if !self.ended {
                    let left = self.input.len() - self.read;
                    let n = if n == 0 { left } else { (n as usize).min(left) };
                    self.read += n;
                }
            }
            Op::Offer(w) => self.offer(window_from(w)),
            Op::Poll(w) if (self.shutdown || self.end_signalled) && self.consumed < self.read => {
                // After end of input or during a drain, a call with no
                // input means "nothing more is held or waiting" (the rules
                // of use of handle_end_of_input and shutdown): a caller that
                // holds input offers it instead.
                self.offer(window_from(w))
            }
            Op::Poll(w) => {
                // poll_output is handle_input with no input.
                let before = self.consumed;
                let w = window_from(w);
                let mut window = vec![0u8; w];
                let was_finished = self.s.server.is_finished();
                let n = self.s.server.poll_output(self.s.now, &mut window);
                assert!(n <= w);
                if was_finished {
                    assert_eq!(n, 0, "output after is_finished");
                }
                self.s.seen.output.extend_from_slice(&window[..n]);
                self.s.after_call();
                self.note_close(before);
            }
            Op::Advance(n) => self.s.advance(Duration::from_micros(n as u64 * 100)),
            Op::AdvanceSecs(n) => self.s.advance(Duration::from_secs(n as u64)),
            Op::Timeout => {
                self.s.timeout();
                self.note_close(self.consumed);
            }
            Op::WakeAtDeadline => {
                if let Some(d) = self.s.server.poll_timeout() {
                    self.s.now = self.s.now.max(d);
                }
                self.s.timeout();
                self.note_close(self.consumed);
            }
            Op::Transmitted => {
                self.s.server.handle_transmitted(self.s.now);
                self.s.after_call();
            }
            Op::EndOfInput => {
                self.ended = true;
                if !self.end_signalled {
                    self.end_signalled = true;
                    self.s.server.handle_end_of_input();
                    self.s.after_call();
                    self.note_close(self.consumed);
                }
            }
            Op::Shutdown => {
                self.shutdown = true;
                self.s.server.shutdown(self.s.now);
                self.s.after_call();
                self.note_close(self.consumed);
            }
        }
    }

    /// The caller reads what is left, ends the input and takes output until
    /// the session finishes; panics if it does not within a bound.
    fn finish(&mut self, windows: &mut Sizes) {
        if !self.ended {
            self.read = self.input.len();
            self.ended = true;
        }
        if !self.end_signalled {
            self.end_signalled = true;
            self.s.server.handle_end_of_input();
            self.s.after_call();
            self.note_close(self.consumed);
        }
        let patience = windows.patience();
        let bound = (self.read - self.consumed + 4 * crate_capacity() + 16) * (patience + 1);
        let mut stalls = 0;
        for _ in 0..bound {
            if self.s.server.is_finished() && self.consumed == self.read {
                return;
            }
            let (c, p) = (self.consumed, self.s.seen.output.len());
            self.offer(windows.next_size());
            if self.consumed == c && self.s.seen.output.len() == p {
                stalls += 1;
                assert!(
                    stalls <= patience,
                    "no progress at the end: state {:?}, consumed {}/{}, pending {}",
                    self.s.server.state(),
                    self.consumed,
                    self.read,
                    self.s.server.pending_output_len()
                );
            } else {
                stalls = 0;
            }
        }
        panic!(
            "the session did not finish within {bound} calls: state {:?}",
            self.s.server.state()
        );
    }
}

fn crate_capacity() -> usize {
    shout_core::CONTROL_CAPACITY
}

fuzz_target!(|script: Script| {
    let config = script.config();
    let input = script.input();
    let mut c = Caller {
        s: Checked::new(config),
        input,
        read: 0,
        consumed: 0,
        ended: false,
        end_signalled: false,
        shutdown: false,
        at_close: None,
    };
    for op in &script.ops {
        c.op(*op);
    }
    let mut windows = Sizes::new(
        script
            .final_windows
            .iter()
            .map(|&b| window_from(b))
            .collect(),
    );
    c.finish(&mut windows);

    let seen = &c.s.seen;
    let reason = seen.close().expect("a finished session reported its close");
    let at = c.at_close.as_ref().expect("close was noted");
    let sent = &c.input[..c.read];
    let (want, what) = match reason {
        CloseReason::EndOfInput | CloseReason::Truncated => (model::serve(&config, sent), "serve"),
        CloseReason::ProtocolError(ErrorCode::IdleTimeout) | CloseReason::IdleTimeout => (
            model::serve_until_idle(&config, &c.input[..at.consumed]),
            "serve_until_idle",
        ),
        CloseReason::ProtocolError(_)
        | CloseReason::PeerClosed
        | CloseReason::PeerError
        | CloseReason::LineTooLong => (model::serve(&config, &c.input[..at.read]), "serve"),
        CloseReason::Shutdown => {
            assert!(c.shutdown, "closed by a shutdown nobody asked for");
            (
                model::serve_then_shutdown(&config, &c.input[..at.read]),
                "serve_then_shutdown",
            )
        }
        CloseReason::DrainTimeout => {
            assert!(c.shutdown, "a drain deadline without a shutdown");
            let mut m = model::serve_then_shutdown(&config, &c.input[..at.consumed]);
            if m.close == CloseReason::Shutdown {
                // The deadline came first: no clean end, so no CLOSE.
                if seen.opened() == Some(Framing::Frame) {
                    let close = model::encode_frame(model::kind::CLOSE, &[]);
                    assert!(m.output.ends_with(&close));
                    m.output.truncate(m.output.len() - close.len());
                }
                m.close = CloseReason::DrainTimeout;
            }
            (m, "serve_then_shutdown (deadline)")
        }
    };
    let timed_out = matches!(
        reason,
        CloseReason::IdleTimeout
            | CloseReason::DrainTimeout
            | CloseReason::ProtocolError(ErrorCode::IdleTimeout)
    );
    // A unicode DATA response starts (its header goes out) once the whole
    // payload has been offered, which may be before it is consumed (the
    // window is full): a timeout can then cut a response the model, fed
    // only what was consumed, has not started. Such a close sends no ERROR
    // and what was sent is a prefix of the answer to everything read.
    let cut_response = timed_out
        && (seen.output != want.output || reason != want.close)
        && config.transform == TransformKind::Unicode
        && seen.opened() == Some(Framing::Frame)
        && matches!(reason, CloseReason::IdleTimeout | CloseReason::DrainTimeout);
    if cut_response {
        let full = model::serve(&config, &c.input[..at.read]);
        assert!(
            full.output.starts_with(&seen.output),
            "output cut by {reason:?} is not a prefix of the answer to all {} bytes read: \
             {} vs {}",
            at.read,
            show(&seen.output),
            show(&full.output)
        );
    } else {
        assert_eq!(
            show(&seen.output),
            show(&want.output),
            "output vs model::{what} (closed {reason:?}, read {}, consumed at close {})",
            at.read,
            at.consumed
        );
        assert_eq!(reason, want.close, "close reason vs model::{what}");
    }
    if let Some(f) = seen.opened() {
        assert_eq!(Some(f), model::framing_of(&config, &c.input[..c.consumed]));
    }
});

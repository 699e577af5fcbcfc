//! Breaks the server session's state machine: a script of what a caller
//! does (input arriving in reads of any size, windows of any size including
//! 0, flushes, clock jumps, timeouts, end of input, a shutdown with any
//! number of bytes still in the link) against one Server, checked against
//! the reference model fed the same input whole.
//!
//! After every call (see `shout_testkit::checked`): windows respected, at
//! most CONTROL_CAPACITY bytes pending, `Next` true to the session's state,
//! no stall, no output once finished, a closed session consumes and
//! discards everything, events once each and in order, `handle_timeout`
//! closes exactly when `poll_timeout` said a deadline passed. At the end
//! the kit's driver reads everything, ends the input and takes output until
//! the session finishes, within a bound (progress is always possible).
//!
//! Then the differential, chosen by how the session closed, the shutdown's
//! mark (bytes consumed at the signal + `waiting`) deciding where a drain
//! ends (rule 7: what was waiting, and the rest of a request it began):
//! * by itself, at end of input or by a finished drain: output and close
//!   reason equal `model::serve_shutdown` of the input sent at that mark
//!   (`model::serve` without a shutdown);
//! * by the idle timeout: `model::serve_until_idle` of what it had consumed;
//! * at the drain deadline: `model::serve_shutdown_silent` of what it had
//!   consumed (a begun request cut short, no CLOSE).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Config, Duration, Framing, TransformKind};
use shout_fuzz::script::{window_from, Op, Script};
use shout_fuzz::{frames, model, show, CheckedServer, Driver, Plan};

struct Caller {
    s: CheckedServer,
    input: Vec<u8>,
    /// Bytes arrived so far (the rest has not reached the caller).
    read: usize,
    /// Bytes the session consumed.
    consumed: usize,
    /// The input ended: `read` is all there will ever be.
    ended: bool,
    /// The mark of the shutdown that took effect: consumed + waiting.
    mark: Option<usize>,
    /// Bytes consumed when the session closed.
    consumed_at_close: Option<usize>,
}

impl Caller {
    fn held(&self) -> usize {
        self.read - self.consumed
    }

    fn note_close(&mut self) {
        if self.consumed_at_close.is_none() && self.s.server().is_closed() {
            self.consumed_at_close = Some(self.consumed);
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
            Op::Offer(w) => {
                let p = self
                    .s
                    .offer(&self.input[self.consumed..self.read], window_from(w));
                self.consumed += p.consumed;
            }
            Op::Poll(w) => {
                let p = self.s.flush(window_from(w));
                assert_eq!(p.consumed, 0);
            }
            Op::Advance(n) => self.s.advance(Duration::from_micros(n as u64 * 100)),
            Op::AdvanceSecs(n) => self.s.advance(Duration::from_secs(n as u64)),
            Op::Timeout => {
                self.s.timeout();
            }
            Op::WakeAtDeadline => {
                if let Some(d) = self.s.server().poll_timeout() {
                    self.s.set_now(d);
                }
                self.s.timeout();
            }
            Op::Transmitted => self.s.transmitted(),
            Op::EndOfInput => {
                if !self.ended {
                    self.ended = true;
                    self.s.end_of_input(self.held());
                }
            }
            Op::Shutdown(n) => {
                let in_link = if self.ended {
                    0
                } else {
                    (n as usize).min(self.input.len() - self.read)
                };
                let waiting = self.held() + in_link;
                // Only the first signal to an open session is news.
                if self.mark.is_none() && !self.s.server().is_closed() {
                    self.mark = Some(self.consumed + waiting);
                }
                self.s.shutdown(waiting);
            }
        }
        self.note_close();
    }
}

/// The model's outcome for `input` as sent, ended, with the shutdown's mark.
fn ended(config: &Config, input: &[u8], mark: Option<usize>) -> model::ModelOutcome {
    match mark {
        Some(mark) => model::serve_shutdown(config, input, mark),
        None => model::serve(config, input),
    }
}

fuzz_target!(|script: Script| {
    let config = script.config();
    let mut c = Caller {
        s: CheckedServer::new(config),
        input: script.input(),
        read: 0,
        consumed: 0,
        ended: false,
        mark: None,
        consumed_at_close: None,
    };
    for op in &script.ops {
        c.op(*op);
    }
    // The end: everything the client sends arrives, the input ends (if it
    // had not), and the output is taken until the session is finished.
    let sent = if c.ended { c.read } else { c.input.len() };
    let windows: Vec<usize> = script
        .final_windows
        .iter()
        .map(|&b| window_from(b))
        .collect();
    let consumed = c.consumed;
    let mut d = Driver::with_checked(c.s, &Plan::new(&[], &windows));
    d.push(&c.input[consumed..sent]);
    d.finish();
    let seen = d.observed();
    let consumed_at_close = c
        .consumed_at_close
        .or(seen.consumed_at_close.map(|n| consumed + n))
        .expect("the session closed");

    let reason = seen.close().expect("a finished session reported its close");
    let (want, what) = match reason {
        CloseReason::ProtocolError(ErrorCode::IdleTimeout) | CloseReason::IdleTimeout => (
            model::serve_until_idle(&config, &c.input[..consumed_at_close]),
            "serve_until_idle",
        ),
        CloseReason::DrainTimeout => {
            let mark = c.mark.expect("a drain deadline without a shutdown");
            let prefix = &c.input[..consumed_at_close];
            let mut m = model::serve_shutdown_silent(&config, prefix, mark);
            if m.close == CloseReason::Shutdown {
                // The drain reached its boundary, but the deadline came
                // before a call let it act there: no clean end, no CLOSE.
                if seen.opened() == Some(Framing::Frame) {
                    let close = frames::close();
                    assert!(m.output.ends_with(&close));
                    m.output.truncate(m.output.len() - close.len());
                }
                m.close = CloseReason::DrainTimeout;
            }
            (m, "serve_shutdown_silent")
        }
        CloseReason::Shutdown => {
            assert!(c.mark.is_some(), "closed by a shutdown nobody asked for");
            (ended(&config, &c.input[..sent], c.mark), "serve_shutdown")
        }
        _ => (ended(&config, &c.input[..sent], c.mark), "serve(_shutdown)"),
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
    // and what was sent is a prefix of the answer to everything sent.
    let cut_response = timed_out
        && (seen.output != want.output || reason != want.close)
        && config.transform == TransformKind::Unicode
        && seen.opened() == Some(Framing::Frame)
        && matches!(reason, CloseReason::IdleTimeout | CloseReason::DrainTimeout);
    if cut_response {
        let full = model::serve(&config, &c.input[..sent]);
        assert!(
            full.output.starts_with(&seen.output),
            "output cut by {reason:?} is not a prefix of the answer to all {sent} bytes sent: \
             {} vs {}",
            show(&seen.output),
            show(&full.output)
        );
    } else {
        assert_eq!(
            show(&seen.output),
            show(&want.output),
            "output vs model::{what} (closed {reason:?}, sent {sent}, consumed at close \
             {consumed_at_close}, mark {:?})",
            c.mark
        );
        assert_eq!(reason, want.close, "close reason vs model::{what}");
    }
    if let Some(f) = seen.opened() {
        let all_consumed = consumed + seen.consumed;
        assert_eq!(
            Some(f),
            model::framing_of(&config, &c.input[..all_consumed])
        );
    }
});

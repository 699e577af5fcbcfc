//! A whole-input reference model of a SHOUT/1 server session.
//!
//! The core is incremental: it answers whatever prefix of its input the
//! output window lets it, and keeps a few bytes of state in between. This
//! model is the opposite on purpose: it sees the client's whole input at
//! once, walks it from the start with plain slices and `Vec`s, and says
//! what the server must have sent by the time the session closes. It knows
//! nothing of windows, reads or the control queue, so a test that compares
//! the core against it over random splits and window sizes checks the
//! core's streaming against the contract's rules, not against itself.
//!
//! The rules are those of the contract (`shared/protocol.md`) as the
//! project reads them where the contract leaves room (`notes/common.md`):
//!
//! * auto: first byte `0x00` means frame, anything else raw; a session that
//!   ends, idles or is shut down before its first byte closes without output;
//! * raw: the output is the transformed input;
//! * line: a line of `L` bytes (CR and LF counted) is accepted when
//!   `L <= max_line`; bytes are streamed as they arrive; one byte more than
//!   `max_line` in the current line ends the response in progress with LF,
//!   adds `error: line too long (limit N bytes)\n` and closes;
//! * frame: headers judged in the contract's order, cut-through DATA/PING
//!   responses (their header goes out as soon as the request header is in),
//!   CLOSE and ERROR from the client act at their header, a truncated frame
//!   gets ERROR 1 unless its response is already under way.
//!
//! * shutdown (rule 7): the bytes that were waiting when the signal came
//!   are answered, then the rest of a request they began (a line or a frame
//!   whose first byte was among them), and nothing after; then the session
//!   closes as if between requests (frame: with CLOSE).
//!
//! The model also produces the ERROR reason texts the core uses (the
//! contract leaves them free), so outputs can be compared byte for byte.
//! The frame bytes it writes come from [`crate::frames`]; the frames it
//! reads it walks itself, with plain slices and the contract's numbers.

use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Config, Framing, TransformKind};

use crate::frames::{close as close_frame, error_frame, frame, header, server_hello};

/// Frame kinds as plain numbers: the model reads frames without the core's
/// types, so it cannot get them wrong in the same way.
mod kind {
    pub(super) const HELLO: u8 = 0;
    pub(super) const DATA: u8 = 1;
    pub(super) const PING: u8 = 2;
    pub(super) const PONG: u8 = 3;
    pub(super) const CLOSE: u8 = 4;
    pub(super) const ERROR: u8 = 5;
}

/// What the server sent during a whole session, and why it closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelOutcome {
    /// Every byte the server sent, in order.
    pub output: Vec<u8>,
    /// The reason the session closed.
    pub close: CloseReason,
}

/// The reason the server gives when input ends inside a frame that has no
/// response under way (the one reason text common.md fixes).
pub const CUT_OFF_REASON: &str = "frame cut off by end of input";

/// The server's output and close reason when the client sends `input` and
/// then ends its input.
///
/// Panics if `config` is invalid (a server would refuse it).
pub fn serve(config: &Config, input: &[u8]) -> ModelOutcome {
    let (mut output, after) = run(config, input);
    let close = match after {
        After::Closed(reason) => reason,
        After::Open(Open::Undecided) | After::Open(Open::Stream { .. }) => CloseReason::EndOfInput,
        After::Open(Open::Frame { inside: false, .. }) => {
            output.extend_from_slice(&close_frame());
            CloseReason::EndOfInput
        }
        After::Open(Open::Frame {
            inside: true,
            under_way: true,
        }) => CloseReason::Truncated,
        After::Open(Open::Frame {
            inside: true,
            under_way: false,
        }) => {
            output.extend_from_slice(&error_frame(ErrorCode::Malformed, CUT_OFF_REASON));
            CloseReason::Truncated
        }
    };
    ModelOutcome { output, close }
}

/// The server's output and close reason when the client sends `input` and
/// then goes silent (no end of input) until the idle timeout fires.
///
/// The outcome does not depend on how long the timeout is. With
/// `config.idle_timeout == None` a real session would never time out; the
/// model still answers as if the timer had fired.
pub fn serve_until_idle(config: &Config, input: &[u8]) -> ModelOutcome {
    let (mut output, after) = run(config, input);
    let close = match after {
        After::Closed(reason) => reason,
        After::Open(Open::Frame {
            under_way: false, ..
        }) => {
            output.extend_from_slice(&error_frame(ErrorCode::IdleTimeout, "idle timeout"));
            CloseReason::IdleTimeout
        }
        After::Open(_) => CloseReason::IdleTimeout,
    };
    ModelOutcome { output, close }
}

/// The server's output and close reason when the client sends `input`
/// (without ending it), then the server is shut down with all of it
/// waiting, nothing more arrives, and the drain deadline passes (before
/// the idle timeout).
///
/// A session that is between requests closes cleanly (frame: with CLOSE);
/// one inside a line or a frame waits for the rest, which never comes, and
/// is closed as it is at the drain deadline.
pub fn serve_then_shutdown(config: &Config, input: &[u8]) -> ModelOutcome {
    serve_shutdown_silent(config, input, input.len())
}

/// Rule 7: the server's output and close reason when the client sends
/// `input` and then ends its input, and the shutdown signal comes when the
/// first `mark` bytes of it had arrived (held by the server, or waiting in
/// the link).
///
/// Those bytes are answered, then the rest of a request they began, and
/// nothing after: the session closes at [`drain_boundary`] (frame: with
/// CLOSE). If the input ends before that boundary, the end of input decides
/// instead, as in [`serve`]; a `mark` past the end of `input` never comes.
pub fn serve_shutdown(config: &Config, input: &[u8], mark: usize) -> ModelOutcome {
    match drain_boundary(config, input, mark) {
        Some(end) => drained(config, &input[..end]),
        None => serve(config, input),
    }
}

/// Like [`serve_shutdown`], but the client never ends its input: if the
/// request begun at `mark` never completes, the drain deadline (assumed to
/// come before the idle timeout) closes the session as it is.
pub fn serve_shutdown_silent(config: &Config, input: &[u8], mark: usize) -> ModelOutcome {
    if let Some(end) = drain_boundary(config, input, mark) {
        return drained(config, &input[..end]);
    }
    let (output, after) = run(config, input);
    let close = match after {
        After::Closed(reason) => reason,
        After::Open(_) => CloseReason::DrainTimeout,
    };
    ModelOutcome { output, close }
}

/// Where a drain whose signal came with the first `mark` bytes of `input`
/// waiting ends: `mark` itself between two requests (always, for raw), or
/// the end of the line or frame in progress at `mark`, which was begun.
/// `None` when `input` ends before that point (or `mark` is past its end).
///
/// Frames are walked by their headers alone; a frame the session refuses
/// or that ends it (an error, CLOSE, a client ERROR) ends it before the
/// boundary, which the model then finds by itself.
pub fn drain_boundary(config: &Config, input: &[u8], mark: usize) -> Option<usize> {
    if mark > input.len() {
        return None;
    }
    match framing_of(config, input) {
        None | Some(Framing::Raw) | Some(Framing::Auto) => Some(mark),
        Some(Framing::Line) => {
            if mark == 0 || input[mark - 1] == b'\n' {
                return Some(mark);
            }
            let lf = input[mark..].iter().position(|&b| b == b'\n')?;
            Some(mark + lf + 1)
        }
        Some(Framing::Frame) => {
            let mut at = 0usize;
            while at < mark {
                let head = input.get(at..at + 5)?;
                let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                at = at.checked_add(5 + len)?;
            }
            (at <= input.len()).then_some(at)
        }
        Some(other) => panic!("the model knows no framing {other:?}"),
    }
}

/// The session answered all of `input`, and a drain ended it there.
fn drained(config: &Config, input: &[u8]) -> ModelOutcome {
    let (mut output, after) = run(config, input);
    let close = match after {
        After::Closed(reason) => reason,
        After::Open(Open::Frame { inside: false, .. }) => {
            output.extend_from_slice(&close_frame());
            CloseReason::Shutdown
        }
        After::Open(Open::Undecided) | After::Open(Open::Stream { mid_line: false }) => {
            CloseReason::Shutdown
        }
        After::Open(open) => panic!("model: a drain boundary inside a request ({open:?})"),
    };
    ModelOutcome { output, close }
}

/// The framing a session with this configuration and input runs, or
/// `None` when the input is empty (nothing decided).
pub fn framing_of(config: &Config, input: &[u8]) -> Option<Framing> {
    let first = *input.first()?;
    Some(match config.framing {
        Framing::Auto if first == 0 => Framing::Frame,
        Framing::Auto => Framing::Raw,
        f => f,
    })
}

/// The ASCII uppercase of `bytes`: `a..=z` to `A..=Z`, nothing else.
pub fn upper(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| if b.is_ascii_lowercase() { b - 32 } else { b })
        .collect()
}

/// The Unicode uppercase of `bytes`: each valid UTF-8 run through
/// `str::to_uppercase`, every byte of an invalid sequence unchanged.
pub fn unicode_upper(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().to_uppercase().as_bytes());
        out.extend_from_slice(chunk.invalid());
    }
    out
}

/// The configured transform of one whole message.
pub fn transform(config: &Config, bytes: &[u8]) -> Vec<u8> {
    match config.transform {
        TransformKind::Ascii => upper(bytes),
        TransformKind::Unicode => unicode_upper(bytes),
        other => panic!("the model knows no transform {other:?}"),
    }
}

/// Where a session stands once all of the input has been answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Open {
    /// No byte arrived.
    Undecided,
    /// Raw or line; `mid_line` when a line has begun and not ended.
    Stream { mid_line: bool },
    /// Frame; `inside` when a frame has begun and not ended, `under_way`
    /// when that frame's response has begun (DATA or PING).
    Frame { inside: bool, under_way: bool },
}

enum After {
    Closed(CloseReason),
    Open(Open),
}

/// Answers the whole input; says whether the session closed on its own.
fn run(config: &Config, input: &[u8]) -> (Vec<u8>, After) {
    assert!(
        config.validate().is_ok(),
        "the model only runs valid configurations: {config:?}"
    );
    match framing_of(config, input) {
        None => (Vec::new(), After::Open(Open::Undecided)),
        Some(Framing::Raw) | Some(Framing::Auto) => (
            transform(config, input),
            After::Open(Open::Stream { mid_line: false }),
        ),
        Some(Framing::Line) => run_line(config, input),
        Some(Framing::Frame) => run_frame(config, input),
        Some(other) => panic!("the model knows no framing {other:?}"),
    }
}

fn run_line(config: &Config, input: &[u8]) -> (Vec<u8>, After) {
    let max = config.max_line as usize;
    let mut output = Vec::new();
    let mut in_line = 0usize;
    // Lines are transformed whole: no UTF-8 sequence spans an LF, and the
    // streamed prefix of an overlong line ends in bytes flushed unchanged,
    // which is what transforming that prefix whole gives too.
    let mut line_start = 0;
    for (at, &byte) in input.iter().enumerate() {
        if in_line == max {
            output.extend_from_slice(&transform(config, &input[line_start..at]));
            output.push(b'\n');
            output.extend_from_slice(
                format!("error: line too long (limit {max} bytes)\n").as_bytes(),
            );
            return (output, After::Closed(CloseReason::LineTooLong));
        }
        in_line = if byte == b'\n' { 0 } else { in_line + 1 };
        if byte == b'\n' {
            output.extend_from_slice(&transform(config, &input[line_start..=at]));
            line_start = at + 1;
        }
    }
    output.extend_from_slice(&transform(config, &input[line_start..]));
    let open = Open::Stream {
        mid_line: in_line > 0,
    };
    (output, After::Open(open))
}

fn run_frame(config: &Config, input: &[u8]) -> (Vec<u8>, After) {
    let mut output = Vec::new();
    let after = frame_steps(config, input, &mut output);
    (output, after)
}

fn refuse(output: &mut Vec<u8>, code: ErrorCode, reason: &str) -> After {
    output.extend_from_slice(&error_frame(code, reason));
    After::Closed(CloseReason::ProtocolError(code))
}

fn inside(under_way: bool) -> After {
    After::Open(Open::Frame {
        inside: true,
        under_way,
    })
}

fn frame_steps(config: &Config, input: &[u8], output: &mut Vec<u8>) -> After {
    let mut hello_done = false;
    let mut rest = input;
    loop {
        if rest.is_empty() {
            return After::Open(Open::Frame {
                inside: false,
                under_way: false,
            });
        }
        if rest.len() < 5 {
            return inside(false);
        }
        let kind = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]);
        let body = &rest[5..];
        let whole = body.len() >= len as usize;
        let payload = &body[..body.len().min(len as usize)];

        if !hello_done && kind != kind::HELLO {
            return refuse(output, ErrorCode::Malformed, "expected HELLO first");
        }
        if kind > kind::ERROR {
            return refuse(output, ErrorCode::UnknownKind, "unknown frame kind");
        }
        if len > config.max_payload {
            let reason = format!("frame too large (limit {} bytes)", config.max_payload);
            return refuse(output, ErrorCode::FrameTooLarge, &reason);
        }
        match kind {
            kind::HELLO => {
                if hello_done {
                    return refuse(output, ErrorCode::Malformed, "second HELLO");
                }
                if len < 6 {
                    return refuse(output, ErrorCode::Malformed, "HELLO payload too short");
                }
                // Judged as soon as its first 6 payload bytes are in.
                if payload.len() < 6 {
                    return inside(false);
                }
                if &payload[..5] != b"SHOUT" {
                    return refuse(output, ErrorCode::Malformed, "HELLO without SHOUT");
                }
                if payload[5] != 1 {
                    let reason = "unsupported version (this server speaks 1)";
                    return refuse(output, ErrorCode::UnsupportedVersion, reason);
                }
                // Answered once the whole frame, extra bytes and all, is in.
                if !whole {
                    return inside(false);
                }
                output.extend_from_slice(&server_hello(config));
                hello_done = true;
            }
            kind::DATA if len > 0 && config.transform == TransformKind::Unicode => {
                // Store-and-forward: the response length is known only
                // once the whole payload is in.
                if !whole {
                    return inside(false);
                }
                output.extend_from_slice(&frame(kind::DATA, &transform(config, payload)));
            }
            kind::DATA | kind::PING => {
                // Cut-through: the response header goes out with the
                // request header, the payload as it arrives.
                let (reply, body) = if kind == kind::DATA {
                    (kind::DATA, transform(config, payload))
                } else {
                    (kind::PONG, payload.to_vec())
                };
                output.extend_from_slice(&header(reply, len));
                output.extend_from_slice(&body);
                if !whole {
                    return inside(true);
                }
            }
            kind::PONG => {
                if !whole {
                    return inside(false);
                }
            }
            kind::CLOSE => {
                output.extend_from_slice(&close_frame());
                return After::Closed(CloseReason::PeerClosed);
            }
            _ => return After::Closed(CloseReason::PeerError),
        }
        rest = &body[len as usize..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::{client_hello, data, ping};

    fn frame_config() -> Config {
        Config::default().with_framing(Framing::Frame)
    }

    #[test]
    fn model_answers_a_plain_frame_session() {
        let mut input = client_hello(b"");
        input.extend(data(b"hi"));
        let out = serve(&frame_config(), &input);
        let mut want = server_hello(&frame_config());
        want.extend(data(b"HI"));
        want.extend(close_frame());
        assert_eq!(out.output, want);
        assert_eq!(out.close, CloseReason::EndOfInput);
    }

    #[test]
    fn drain_boundaries_are_the_ends_of_begun_requests() {
        let line = Config::default().with_framing(Framing::Line);
        let input = b"one\ntwo\nthree";
        let ends: Vec<_> = (0..=input.len() + 1)
            .map(|m| drain_boundary(&line, input, m))
            .collect();
        let mut want = vec![Some(0), Some(4), Some(4), Some(4), Some(4)];
        want.extend([Some(8); 4]);
        want.extend([None; 6]);
        assert_eq!(ends, want);

        let input = [client_hello(b""), data(b"ab"), ping(b"")].concat();
        let at = |m| drain_boundary(&frame_config(), &input, m);
        assert_eq!(at(0), Some(0));
        assert_eq!(at(1), Some(11));
        assert_eq!(at(11), Some(11));
        assert_eq!(at(12), Some(18));
        assert_eq!(at(19), Some(23));
        assert_eq!(at(23), Some(23));
        assert_eq!(drain_boundary(&frame_config(), &input[..20], 19), None);

        let raw = Config::default().with_framing(Framing::Raw);
        assert_eq!(drain_boundary(&raw, b"abc", 2), Some(2));
        assert_eq!(drain_boundary(&raw, b"abc", 4), None);
    }

    #[test]
    fn a_drain_answers_the_begun_line_and_nothing_after() {
        let line = Config::default().with_framing(Framing::Line);
        let m = serve_shutdown(&line, b"one\ntwo\nthree\n", 6);
        assert_eq!(m.output, b"ONE\nTWO\n");
        assert_eq!(m.close, CloseReason::Shutdown);
        let m = serve_shutdown(&line, b"one\ntw", 6);
        assert_eq!(
            (m.output.as_slice(), m.close),
            (&b"ONE\nTW"[..], CloseReason::EndOfInput)
        );
        let m = serve_shutdown_silent(&line, b"one\ntw", 6);
        assert_eq!(m.close, CloseReason::DrainTimeout);
    }
}

//! Lifecycle rules: end of input, idle timeout, shutdown and drain, events
//! and close reasons, backpressure.

use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Config, Duration, Event, Framing, Instant, Server, State};
use shout_tests::model::{client_hello, encode_frame, encode_header, error_frame, kind, server_hello};
use shout_tests::{events, new_server, show};

const T0: Instant = Instant::ZERO;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

/// Calls `handle_input` with a large window until the session is finished
/// (or `limit` calls pass); returns the output.
fn finish(server: &mut Server, now: Instant, mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut window = [0u8; 256];
    for _ in 0..1000 {
        if server.is_finished() {
            return out;
        }
        let p = server.handle_input(now, input, &mut window);
        input = &input[p.consumed..];
        out.extend_from_slice(&window[..p.produced]);
    }
    panic!("session did not finish; output so far {}", show(&out));
}

/// One `handle_input` call with a large window; returns (consumed, output).
fn feed(server: &mut Server, now: Instant, input: &[u8]) -> (usize, Vec<u8>) {
    let mut window = [0u8; 256];
    let p = server.handle_input(now, input, &mut window);
    (p.consumed, window[..p.produced].to_vec())
}

// ---- end of input ---------------------------------------------------------

#[test]
fn end_of_input_signalled_before_the_first_bytes_are_offered_still_answers_them() {
    // A caller reads "hello" and then EOF in the same read loop, and tells
    // the session about the end before offering the bytes: the API allows
    // unconsumed input after handle_end_of_input, and the first byte has
    // arrived, so the input must be answered.
    for framing in [Framing::Auto, Framing::Raw, Framing::Line] {
        let mut server = new_server(Config::default().with_framing(framing));
        server.handle_end_of_input();
        let out = finish(&mut server, T0, b"hello");
        assert_eq!(show(&out), "HELLO", "{framing:?}");
        assert_eq!(
            events(&mut server),
            [
                Event::Opened(if framing == Framing::Auto { Framing::Raw } else { framing }),
                Event::Closed(CloseReason::EndOfInput)
            ]
        );
    }
    let mut server = new_server(Config::default());
    server.handle_end_of_input();
    let mut input = client_hello(b"");
    input.extend(encode_frame(kind::DATA, b"x"));
    let out = finish(&mut server, T0, &input);
    let mut want = server_hello(&Config::default());
    want.extend(encode_frame(kind::DATA, b"X"));
    want.extend(encode_frame(kind::CLOSE, b""));
    assert_eq!(show(&out), show(&want));
}

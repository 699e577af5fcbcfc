//! What this adapter relies on from `shout_core` (fixed in the core after
//! this adapter reported it): the call that closes a session consumes
//! input only up to where the session ended, whatever the output window,
//! so a UART can hand the rest to the next session.

use shout_core::{Config, Framing, Instant, Server};

#[test]
fn consumed_at_close_does_not_depend_on_the_window() {
    let now = Instant::ZERO;
    let mut input = b"\x00\x00\x00\x00\x06SHOUT\x01".to_vec();
    input.extend_from_slice(&[4, 0, 0, 0, 0]); // CLOSE
    input.extend_from_slice(b"next session");
    // Calls until the session closes; the input it took in all.
    let consumed = |window: usize| {
        let mut s = Server::new(Config::default().validate().unwrap(), now);
        let mut out = vec![0u8; window];
        let mut taken = 0;
        for _ in 0..100 {
            if s.is_closed() {
                break;
            }
            taken += s.handle_input(now, &input[taken..], &mut out).consumed;
        }
        assert!(s.is_closed());
        taken
    };
    for window in [1, 5, 16, 100] {
        assert_eq!(consumed(window), 16, "window {window}");
    }
}

#[test]
fn the_byte_that_makes_a_line_too_long_is_left_for_the_next_session() {
    let now = Instant::ZERO;
    let cfg = Config::default()
        .with_framing(Framing::Line)
        .with_max_line(4);
    for window in [1, 100] {
        let mut s = Server::new(cfg.validate().unwrap(), now);
        let mut out = vec![0u8; window];
        let mut input: &[u8] = b"abcdXYZ";
        for _ in 0..100 {
            if s.is_closed() {
                break;
            }
            let p = s.handle_input(now, input, &mut out);
            input = &input[p.consumed..];
        }
        assert!(s.is_closed());
        assert_eq!(input, b"XYZ", "window {window}");
    }
}

/// Once reported to the core's owner, and fixed there: where a session
/// with a bad HELLO ends must not depend on how the HELLO's payload was
/// split (judged at its sixth payload byte, the HELLO closes the session,
/// offered whole or one byte at a time). The engine offers a UART's bytes
/// as they were read, so it relies on this.
#[test]
fn bad_hello_close_point_does_not_depend_on_the_split() {
    let now = Instant::ZERO;
    let input = [0, 0, 0, 0, 7, b'N', b'O', b'P', b'E', b'!', 1, b'x', b'y'];
    let mut whole = Server::new(Config::default().validate().unwrap(), now);
    let mut out = [0u8; 256];
    let taken_whole = whole.handle_input(now, &input, &mut out).consumed;
    let mut bytewise = Server::new(Config::default().validate().unwrap(), now);
    let mut taken = 0;
    while !bytewise.is_closed() && taken < input.len() {
        taken += bytewise
            .handle_input(now, &input[taken..taken + 1], &mut out)
            .consumed;
    }
    assert!(whole.is_closed() && bytewise.is_closed());
    assert_eq!(taken_whole, taken);
}

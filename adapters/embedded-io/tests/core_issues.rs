//! A core behaviour met while writing this adapter, for the core's owner.
//! Ignored so it does not fail the build; run with `--ignored`. The
//! adapter works around it (see `Engine::feed` in src/engine.rs).

use shout_core::{Config, Framing, Instant, Server};

/// How much input a closing call consumes depends on the output window:
/// with room, everything after the close is consumed (discarded); with a
/// full window, consumption stops at the close point. A link adapter that
/// starts a new session after a close (a UART) cannot tell from
/// `Progress` where the session ended.
#[test]
#[ignore = "core issue: consumed-at-close depends on the output window"]
fn consumed_at_close_does_not_depend_on_the_window() {
    let now = Instant::ZERO;
    let mut input = b"\x00\x00\x00\x00\x06SHOUT\x01".to_vec();
    input.extend_from_slice(&[4, 0, 0, 0, 0]); // CLOSE
    input.extend_from_slice(b"next session");
    let consumed = |window: usize| {
        let cfg = Config::default().with_framing(Framing::Auto);
        let mut s = Server::new(cfg, now).unwrap();
        let mut out = vec![0u8; window];
        s.handle_input(now, &input, &mut out).consumed
    };
    assert_eq!(consumed(1), consumed(100));
}

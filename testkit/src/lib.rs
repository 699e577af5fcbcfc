//! # shout-testkit
//!
//! What the tests of the shout workspace share, in one place, so that the
//! end-to-end tests (`tests/`), the fuzz targets (`fuzz/`) and the
//! adapters' tests judge sessions the same way:
//!
//! * [`model`]: a whole-input reference model of a SHOUT/1 server session,
//!   written from the contract without the core's incremental code;
//! * [`frames`]: frame encoders built on `shout_core::wire`, and a plain
//!   decoder of a byte stream into frames;
//! * [`client`]: a client's requests through `RequestEncoder`, and replies
//!   collected whole through `ReplyDecoder`;
//! * [`checked`]: a `Server` whose every call is checked against the rules
//!   of use;
//! * [`drive`]: the one driver of a checked `Server` through reads and
//!   windows of any size, acting on `Next`, with end of input, a silent
//!   client (idle timeout), in-place answers and a shutdown at a chosen
//!   byte.
//!
//! A test against the model:
//!
//! ```
//! use shout_core::{CloseReason, Config, Framing};
//! use shout_testkit::{frames, model, observe};
//!
//! let config = Config::default().with_framing(Framing::Frame);
//! let input = [frames::client_hello(b""), frames::data(b"hi")].concat();
//! let seen = observe(config, &input, &[1], &[0, 3]);
//! let want = model::serve(&config, &input);
//! assert_eq!(seen.output, want.output);
//! assert_eq!(seen.close(), Some(CloseReason::EndOfInput));
//! ```
pub mod checked;
pub mod client;
pub mod drive;
pub mod frames;
pub mod model;

pub use checked::{close_reason, CheckedServer};
pub use client::{decode_replies, Decoded, OwnedReply, Requests};
pub use drive::{
    observe, observe_then_shutdown, observe_until_idle, run, run_link, Driver, Ending, Link,
    Observed, Plan, ShutdownAt, Signal, Sizes,
};

use shout_core::{CloseReason, Config, Event, Instant, Server};

/// `n` property-test cases, times `SHOUT_PROPTEST_SCALE` (default 1) for
/// a deeper run.
pub fn scaled_cases(n: u32) -> u32 {
    let scale = std::env::var("SHOUT_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1);
    n.saturating_mul(scale.max(1))
}

/// A new [`Server`] for `config`, created at [`Instant::ZERO`], as on a
/// link (no web framing: see [`CheckedServer::with_valid`]).
///
/// Panics if `config` is invalid.
pub fn new_server(config: Config) -> Server {
    Server::on_link(
        config.validate().expect("a valid test configuration"),
        Instant::ZERO,
    )
}

/// Every event the session has queued, oldest first.
pub fn events(server: &mut Server) -> Vec<Event> {
    std::iter::from_fn(|| server.poll_event()).collect()
}

/// Bytes as escaped ASCII, for readable assertion failures.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// A few ways of cutting reads and windows that cover the usual trouble:
/// all at once, byte by byte, zero-size windows in between, odd sizes.
pub const SPLIT_PLANS: &[(&[usize], &[usize])] = &[
    (&[], &[]),
    (&[1], &[1]),
    (&[1], &[0, 1]),
    (&[0, 2, 3], &[3, 0, 0, 2]),
    (&[7, 1, 4], &[5, 1, 16]),
    (&[5], &[64]),
];

/// Asserts that a session over `input` (end of input after it) produces
/// exactly `output` and closes for `close`, for every plan in
/// [`SPLIT_PLANS`], through windows and in place, and that the reference
/// model says the same.
#[track_caller]
pub fn expect_served(config: Config, input: &[u8], output: &[u8], close: CloseReason) {
    expect_plans(config, input, output, close, Ending::EndOfInput);
    let m = model::serve(&config, input);
    assert_eq!(show(&m.output), show(output), "model output");
    assert_eq!(m.close, close, "model close reason");
}

/// Like [`expect_served`], but the client goes silent after `input` until
/// the idle timeout fires.
#[track_caller]
pub fn expect_idled(config: Config, input: &[u8], output: &[u8], close: CloseReason) {
    expect_plans(config, input, output, close, Ending::Silent);
    let m = model::serve_until_idle(&config, input);
    assert_eq!(show(&m.output), show(output), "model output");
    assert_eq!(m.close, close, "model close reason");
}

#[track_caller]
fn expect_plans(config: Config, input: &[u8], output: &[u8], close: CloseReason, end: Ending) {
    for (splits, windows) in SPLIT_PLANS {
        for in_place in [false, true] {
            let plan = Plan::new(splits, windows).in_place(in_place).ending(end);
            let seen = run(config, input, &plan);
            assert_eq!(
                show(&seen.output),
                show(output),
                "core output, reads {splits:?}, windows {windows:?}, in place {in_place}"
            );
            assert_eq!(
                seen.close(),
                Some(close),
                "core close reason, reads {splits:?}, windows {windows:?}, in place {in_place}"
            );
        }
    }
}

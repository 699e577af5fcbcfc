//! The unicode transform, through the transform itself and through server
//! sessions, against `str::to_uppercase` (valid input) and a byte-preserving
//! model (invalid input), at every split.

use proptest::collection::vec;
use proptest::prelude::*;
use shout_core::transform::{transform_message, Transform, Unicode};
use shout_core::wire::Kind;
use shout_core::{Config, Framing, Next, TransformKind};
use shout_testkit::frames::{client_hello, frame, server_hello};
use shout_testkit::model::{self, unicode_upper};
use shout_testkit::{observe, SPLIT_PLANS};

fn unicode(framing: Framing) -> Config {
    Config::default()
        .with_framing(framing)
        .with_transform(TransformKind::Unicode)
}

/// Streams `input` through the transform in pieces of `splits` (cycling)
/// with output windows of `windows` (cycling), then flushes.
fn stream(input: &[u8], splits: &[usize], windows: &[usize]) -> Vec<u8> {
    let mut t = Unicode::default();
    let mut out = Vec::new();
    let (mut at, mut k, mut stalls) = (0, 0, 0);
    while at < input.len() {
        let piece = splits[k % splits.len()].max(1).min(input.len() - at);
        let mut window = vec![0u8; windows[k % windows.len()]];
        k += 1;
        let (c, w) = t.apply(&input[at..at + piece], &mut window);
        out.extend_from_slice(&window[..w]);
        at += c;
        stalls = if c == 0 && w == 0 { stalls + 1 } else { 0 };
        assert!(stalls < 64, "no progress at byte {at}");
    }
    let mut held = [0u8; 3];
    let n = t.flush(&mut held);
    out.extend_from_slice(&held[..n]);
    out
}

/// Text rich in the special cases: growth, several scalars, ligatures,
/// Deseret, final sigma, mixed with ASCII and broken sequences.
fn texty() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        Just("ß".as_bytes().to_vec()),
        Just("ŉ".as_bytes().to_vec()),
        Just("ΐ".as_bytes().to_vec()),
        Just("ǰ".as_bytes().to_vec()),
        Just("ﬀ".as_bytes().to_vec()),
        Just("ﬓ".as_bytes().to_vec()),
        Just("ᾳ".as_bytes().to_vec()),
        Just("և".as_bytes().to_vec()),
        Just("𐐨".as_bytes().to_vec()),
        Just("ς σ".as_bytes().to_vec()),
        Just(b"hello \n".to_vec()),
        any::<char>().prop_map(|c| c.to_string().into_bytes()),
        vec(any::<u8>(), 1..4),
        vec(0x80u8..=0xFF, 1..4),
    ];
    vec(pieces, 0..24).prop_map(|v| v.concat())
}

fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(prop_oneof![1..5usize, 5..40usize], 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_text_matches_str_to_uppercase(s in ".{0,40}", splits in sizes(), windows in sizes()) {
        let windows: Vec<usize> = windows.iter().map(|w| w + 11).collect();
        prop_assert_eq!(stream(s.as_bytes(), &splits, &windows), s.to_uppercase().into_bytes());
    }

    #[test]
    fn any_bytes_match_the_byte_preserving_model(input in texty(), splits in sizes(), windows in sizes()) {
        let windows: Vec<usize> = windows.iter().map(|w| w + 11).collect();
        prop_assert_eq!(stream(&input, &splits, &windows), unicode_upper(&input));
    }

    #[test]
    fn raw_and_line_sessions_match_the_model(input in texty(), plan in 0..SPLIT_PLANS.len(), line in any::<bool>()) {
        let config = unicode(if line { Framing::Line } else { Framing::Raw });
        let (splits, windows) = SPLIT_PLANS[plan];
        let seen = observe(config, &input, splits, windows);
        let want = model::serve(&config, &input);
        prop_assert_eq!(&seen.output, &want.output);
        prop_assert_eq!(seen.close(), Some(want.close));
    }

    #[test]
    fn frame_sessions_match_the_model(payloads in vec(texty(), 0..6), plan in 0..SPLIT_PLANS.len(), cut in any::<prop::sample::Index>()) {
        let config = unicode(Framing::Frame);
        let mut input = client_hello(b"");
        for p in &payloads {
            input.extend(frame(Kind::Data, p));
        }
        // Sometimes cut the session short, often inside a payload.
        if payloads.len() % 2 == 1 {
            input.truncate(cut.index(input.len() + 1));
        }
        let (splits, windows) = SPLIT_PLANS[plan];
        let seen = observe(config, &input, splits, windows);
        let want = model::serve(&config, &input);
        prop_assert_eq!(&seen.output, &want.output);
        prop_assert_eq!(seen.close(), Some(want.close));
    }

    #[test]
    fn whole_messages_grow_at_most_threefold(input in texty()) {
        let mut out = vec![0u8; input.len() * 3];
        let n = transform_message(TransformKind::Unicode, &input, &mut out).expect("3x is room enough");
        prop_assert_eq!(&out[..n], &unicode_upper(&input)[..]);
    }
}

#[test]
fn special_cases_through_a_line_session_byte_by_byte() {
    let cases = [
        ("straße\n", "STRASSE\n"),
        ("ŉ\n", "ʼN\n"),
        ("ΐ\n", "\u{399}\u{308}\u{301}\n"),
        ("ǰ\n", "J\u{30C}\n"),
        ("ﬀ ﬓ\n", "FF ՄՆ\n"),
        ("ᾳ\n", "ΑΙ\n"),
        ("և\n", "ԵՒ\n"),
        ("𐐨𐐩\n", "𐐀𐐁\n"),
        ("ὀδυσσεύς\n", "ὈΔΥΣΣΕΎΣ\n"),
    ];
    for (input, want) in cases {
        assert_eq!(input.to_uppercase(), want, "the expectation itself");
        let seen = observe(unicode(Framing::Line), input.as_bytes(), &[1], &[1]);
        assert_eq!(seen.output, want.as_bytes(), "{input:?}");
    }
}

#[test]
fn a_sequence_split_across_two_frames_passes_through_unchanged() {
    let config = unicode(Framing::Frame);
    let e_acute = "é".as_bytes();
    let mut input = client_hello(b"");
    input.extend(frame(Kind::Data, &[b'a', e_acute[0]]));
    input.extend(frame(Kind::Data, &[e_acute[1], b'b']));
    let seen = observe(config, &input, &[1], &[1]);
    let mut want = server_hello(&config);
    want.extend(frame(Kind::Data, &[b'A', e_acute[0]]));
    want.extend(frame(Kind::Data, &[e_acute[1], b'B']));
    want.extend(frame(Kind::Close, b""));
    assert_eq!(seen.output, want);
}

#[test]
fn a_data_response_carries_the_grown_length() {
    let config = unicode(Framing::Frame);
    let mut input = client_hello(b"");
    input.extend(frame(Kind::Data, "ßß".as_bytes()));
    let seen = observe(config, &input, &[3], &[2]);
    let mut want = server_hello(&config);
    want.extend(frame(Kind::Data, b"SSSS"));
    want.extend(frame(Kind::Close, b""));
    assert_eq!(seen.output, want);
    assert_eq!(want[16..21], [1, 0, 0, 0, 4]);
}

#[test]
fn the_hello_advertises_unicode() {
    let config = unicode(Framing::Auto);
    let seen = observe(config, &client_hello(b""), &[], &[]);
    assert_eq!(seen.output[15], 1, "transform byte of the server HELLO");
}

#[test]
fn a_data_frame_cut_short_gets_malformed_because_nothing_was_sent() {
    let config = unicode(Framing::Frame);
    let mut input = client_hello(b"");
    input.extend(frame(Kind::Data, b"abcdef"));
    input.truncate(input.len() - 2);
    let seen = observe(config, &input, &[1], &[4]);
    let mut want = server_hello(&config);
    want.extend(shout_testkit::frames::error_frame(
        shout_core::wire::ErrorCode::Malformed,
        model::CUT_OFF_REASON,
    ));
    assert_eq!(seen.output, want);
}

#[test]
fn a_session_waits_for_the_whole_payload_and_says_so() {
    let config = unicode(Framing::Frame);
    let mut server = shout_testkit::new_server(config);
    let mut input = client_hello(b"");
    input.extend(frame(Kind::Data, b"abcdef"));
    let mut out = [0u8; 64];
    let partial = input.len() - 3;
    let p = server.handle_input(shout_core::Instant::ZERO, &input[..partial], &mut out);
    assert_eq!(p.consumed, 11 + 5, "HELLO and the DATA header only");
    assert_eq!(p.next, Next::Input { min: 6 });
    let p = server.handle_input(shout_core::Instant::ZERO, &input[16..], &mut out);
    assert_eq!(p.consumed, 6);
    assert_eq!(&out[..p.produced], b"\x01\x00\x00\x00\x06ABCDEF");
    assert_eq!(p.next, Next::Input { min: 1 });
}

#[test]
fn config_refuses_a_payload_whose_response_length_could_overflow() {
    let config = unicode(Framing::Frame).with_max_payload(u32::MAX / 2);
    assert_eq!(
        config.validate(),
        Err(shout_core::ConfigError::MaxPayloadTooLargeForUnicode)
    );
    assert!(unicode(Framing::Frame)
        .with_max_payload(u32::MAX / 3)
        .validate()
        .is_ok());
}

/// Found by the `line_raw` fuzzer: a raw or line session that idled out
/// (or hit the drain deadline) dropped the bytes it held back from an
/// incomplete UTF-8 sequence. They go out unchanged, as at end of input.
#[test]
fn timeouts_flush_held_bytes_unchanged() {
    use shout_core::{Duration, Instant};
    let input = b"ab\xE2\x82";
    for framing in [Framing::Raw, Framing::Line] {
        for drain in [false, true] {
            let config = unicode(framing).with_idle_timeout(Some(Duration::from_secs(1)));
            let mut server = shout_testkit::new_server(config);
            let mut out = [0u8; 16];
            let p = server.handle_input(Instant::ZERO, input, &mut out);
            assert_eq!((p.consumed, &out[..p.produced]), (4, &b"AB"[..]));
            if drain {
                // One more byte was in the link at the signal, and never
                // comes: the drain lasts until its deadline.
                server.shutdown(Instant::ZERO, 1);
            }
            server.handle_timeout(Instant::from_millis(6_000));
            assert!(server.is_closed());
            let n = server
                .poll_output(Instant::from_millis(6_000), &mut out)
                .produced;
            assert_eq!(&out[..n], b"\xE2\x82", "{framing:?}, drain {drain}");
            assert!(server.is_finished());
        }
    }
}

//! The contract's rule 7 in the core, without sockets: a shutdown answers
//! exactly the bytes that were waiting at the signal (held by the caller,
//! or still in the link), then the rest of a request they began, and
//! nothing after. Also: a flush during a drain is only a flush; answering
//! in place gives the bytes a window gives; `Next` says what is true.
//!
//! The drivers and the model are the kit's (`shout_testkit`): a plan's
//! `shutdown(after, in_link)` signals once `after` bytes have arrived, with
//! `waiting` = held + `in_link`, so the drain's mark is `after + in_link`
//! bytes into the input however the reads and windows fall, and
//! `model::serve_shutdown` says what must come out.
//!
//! `SHOUT_PROPTEST_SCALE=N` multiplies every case count for a deeper run.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use shout_core::wire::{Kind, HEADER_LEN};
use shout_core::{
    CloseReason, Config, Duration, Framing, Instant, Next, TransformKind, CONTROL_CAPACITY,
};
use shout_testkit::frames::{client_hello, close, data, frame, header, ping, server_hello};
use shout_testkit::model::{self, unicode_upper};
use shout_testkit::{
    new_server, run, show, CheckedServer, Driver, Ending, Plan, Sizes, SPLIT_PLANS,
};

/// `n` cases, times `SHOUT_PROPTEST_SCALE` (default 1) for a deeper run.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig::with_cases(shout_testkit::scaled_cases(n))
}

fn config(framing: Framing, transform: TransformKind) -> Config {
    Config::default()
        .with_framing(framing)
        .with_transform(transform)
        .with_max_payload(64)
        .with_max_line(64)
        .with_idle_timeout(Some(Duration::from_secs(60)))
        .with_drain_timeout(Duration::from_secs(5))
}

const TRANSFORMS: [TransformKind; 2] = [TransformKind::Ascii, TransformKind::Unicode];

// ---- generators -------------------------------------------------------------

/// Text rich in what makes streaming hard: characters whose uppercase is
/// longer (`ß`, `ΐ`, `ﬀ`), multi-byte sequences, broken sequences, lines.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => vec(b'a'..=b'z', 1..6),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just("ß".as_bytes().to_vec()),
        1 => Just("ΐ".as_bytes().to_vec()),
        1 => Just("ﬀ".as_bytes().to_vec()),
        1 => Just("é".as_bytes().to_vec()),
        1 => vec(0x80u8..=0xFF, 1..3),
        1 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
    ];
    vec(piece, 0..16).prop_map(|v| v.concat())
}

/// A frame session from the client's side: HELLO, requests, maybe CLOSE
/// and bytes after it, maybe something the server refuses.
fn frame_session() -> impl Strategy<Value = Vec<u8>> {
    let payload = || {
        text().prop_map(|mut t: Vec<u8>| {
            t.truncate(40);
            t
        })
    };
    let request = prop_oneof![
        5 => payload().prop_map(|p: Vec<u8>| data(&p)),
        2 => payload().prop_map(|p: Vec<u8>| ping(&p)),
        1 => payload().prop_map(|p: Vec<u8>| frame(Kind::Pong, &p)),
        1 => Just(header(Kind::Data, 100).to_vec()),
    ];
    let end = prop_oneof![
        4 => Just(Vec::new()),
        1 => Just(close()),
        1 => Just([&close()[..], b"after"].concat()),
    ];
    (vec(any::<u8>(), 0..4), vec(request, 0..6), end).prop_map(
        |(extra, reqs, end): (Vec<u8>, Vec<Vec<u8>>, Vec<u8>)| {
            let mut v = client_hello(&extra);
            v.extend(reqs.concat());
            v.extend(end);
            v
        },
    )
}

/// A framing, a transform and an input that suits the framing.
fn session() -> impl Strategy<Value = (Config, Vec<u8>)> {
    let framing = prop_oneof![
        Just(Framing::Raw),
        Just(Framing::Line),
        Just(Framing::Frame)
    ];
    let transform = prop_oneof![Just(TransformKind::Ascii), Just(TransformKind::Unicode)];
    (framing, transform, 8u32..64).prop_flat_map(|(f, t, max_line)| {
        let input = match f {
            Framing::Frame => frame_session().boxed(),
            _ => text().boxed(),
        };
        (Just(config(f, t).with_max_line(max_line)), input)
    })
}

/// Sizes for reads or windows: mostly tiny (down to 1 and 0), some larger.
fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(
        prop_oneof![4 => 1..8usize, 2 => Just(0usize), 2 => 8..100usize],
        1..5,
    )
}

/// The payload (start, length) of every DATA frame in a client's input,
/// walked by headers.
fn data_payloads(input: &[u8]) -> Vec<(usize, usize)> {
    let mut at = 0;
    let mut out = Vec::new();
    while let Some(h) = input.get(at..at + HEADER_LEN) {
        let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
        if h[0] == Kind::Data as u8 && len > 0 {
            out.push((at + HEADER_LEN, len));
        }
        at += HEADER_LEN + len;
    }
    out
}

// ---- rule 7, exactly ---------------------------------------------------------

proptest! {
    #![proptest_config(cases(1024))]

    /// For every framing and transform, wherever the signal comes and
    /// however much was waiting then, however the reads and windows fall,
    /// through windows or in place, with the input ending after or the
    /// client going silent: the output and the close are the model's, and
    /// a session closed by its drain took no byte past the boundary.
    #[test]
    fn a_shutdown_answers_what_was_waiting_and_the_begun_request_and_nothing_after(
        (config, input) in session(),
        after in any::<Index>(),
        in_link in 0..32usize,
        splits in sizes(),
        windows in sizes(),
        in_place in any::<bool>(),
        silent in any::<bool>(),
    ) {
        let after = after.index(input.len() + 1);
        // Mostly within the input, sometimes a byte or two past its end.
        let in_link = in_link.min(input.len() - after + 2);
        let ending = if silent { Ending::Silent } else { Ending::EndOfInput };
        let plan = Plan::new(&splits, &windows)
            .in_place(in_place)
            .shutdown(after, in_link)
            .ending(ending);
        let seen = run(config, &input, &plan);
        let mark = after + in_link;
        match seen.signal {
            Some(signal) => {
                prop_assert_eq!(signal.mark(), mark, "the mark does not depend on the splits");
            }
            // The session ended by itself before the signal came; the
            // model sees that too, since it closes before the boundary.
            None => prop_assert!(seen.consumed_at_close.is_some_and(|c| c <= after)),
        }
        let want = if silent {
            model::serve_shutdown_silent(&config, &input, mark)
        } else {
            model::serve_shutdown(&config, &input, mark)
        };
        prop_assert_eq!(show(&seen.output), show(&want.output), "mark {}", mark);
        prop_assert_eq!(seen.close(), Some(want.close), "mark {}", mark);
        if want.close == CloseReason::Shutdown {
            let end = model::drain_boundary(&config, &input, mark).unwrap();
            prop_assert_eq!(seen.consumed_at_close, Some(end), "consumed past the drain's boundary");
        }
        let stores = config.transform == TransformKind::Unicode
            && seen.opened() == Some(Framing::Frame);
        if !stores {
            prop_assert_eq!(seen.largest_min, 1, "Next::Input {{ min > 1 }} outside a stored DATA");
        }
    }
}

/// The line example: `ONE\nTW` waiting at the signal, then
/// `O\nTHREE\n` arrives: exactly `ONE\nTWO\n`, then the session closes,
/// through every read and window plan, in place or not, ascii and unicode.
#[test]
fn a_line_begun_before_the_signal_is_finished_and_the_next_is_not_begun() {
    let input = b"one\ntwo\nthree\n";
    for transform in TRANSFORMS {
        let config = config(Framing::Line, transform);
        for (splits, windows) in SPLIT_PLANS {
            for in_place in [false, true] {
                for ending in [Ending::EndOfInput, Ending::Silent] {
                    let plan = Plan::new(splits, windows)
                        .in_place(in_place)
                        .shutdown(6, 0)
                        .ending(ending);
                    let seen = run(config, input, &plan);
                    let what = format!("{transform:?} {splits:?} {windows:?} {in_place}");
                    assert_eq!(show(&seen.output), "ONE\\nTWO\\n", "{what}");
                    assert_eq!(seen.close(), Some(CloseReason::Shutdown), "{what}");
                    assert_eq!(
                        seen.consumed_at_close,
                        Some(8),
                        "{what}: THREE was not begun"
                    );
                }
            }
        }
    }
}

/// Frame: a DATA whose header (or only its first byte) arrived before the
/// signal is answered, then CLOSE; the DATA after it, and a CLOSE from the
/// client after that, are not.
#[test]
fn a_frame_begun_before_the_signal_is_answered_then_close() {
    for transform in TRANSFORMS {
        let config = config(Framing::Frame, transform);
        let input = [
            &client_hello(b"")[..],
            &data("straße".as_bytes()),
            &data(b"late"),
            &close(),
        ]
        .concat();
        let first = 11 + HEADER_LEN + "straße".len();
        let want = [
            &server_hello(&config)[..],
            &frame(Kind::Data, &model::transform(&config, "straße".as_bytes())),
            &close(),
        ]
        .concat();
        // The signal with the whole header in, or only its first byte.
        for after in [11 + 1, 11 + HEADER_LEN] {
            for (splits, windows) in SPLIT_PLANS {
                for in_place in [false, true] {
                    let plan = Plan::new(splits, windows)
                        .in_place(in_place)
                        .shutdown(after, 0);
                    let seen = run(config, &input, &plan);
                    let what = format!("{transform:?} after {after} {splits:?} {windows:?}");
                    assert_eq!(show(&seen.output), show(&want), "{what}");
                    assert_eq!(seen.close(), Some(CloseReason::Shutdown), "{what}");
                    assert_eq!(seen.consumed_at_close, Some(first), "{what}");
                }
            }
        }
    }
}

/// Raw: exactly the bytes waiting are answered, whether they were held by
/// the caller or still in the link; bytes after them are not.
#[test]
fn raw_answers_exactly_the_waiting_bytes() {
    for transform in TRANSFORMS {
        let config = config(Framing::Raw, transform);
        let input = "abßcdΐef".as_bytes();
        for after in 0..=input.len() {
            for in_link in 0..=input.len() - after {
                let plan = Plan::new(&[1, 2], &[3, 0, 5]).shutdown(after, in_link);
                let seen = run(config, input, &plan);
                let mark = after + in_link;
                let want = model::transform(&config, &input[..mark]);
                assert_eq!(show(&seen.output), show(&want), "{transform:?} mark {mark}");
                assert_eq!(seen.consumed_at_close, Some(mark));
                assert_eq!(seen.close(), Some(CloseReason::Shutdown));
            }
        }
    }
}

/// Nothing waiting, between requests: the session closes at the signal
/// (frame: with CLOSE), and nothing that arrives later is answered.
#[test]
fn nothing_waiting_between_requests_closes_at_the_signal() {
    for transform in TRANSFORMS {
        for (framing, input) in [
            (Framing::Raw, b"abc".to_vec()),
            (Framing::Line, b"abc\n".to_vec()),
            (Framing::Frame, [client_hello(b""), data(b"abc")].concat()),
        ] {
            let config = config(framing, transform);
            let mut server = new_server(config);
            let mut out = [0u8; 64];
            let p = server.handle_input(Instant::ZERO, &input, &mut out);
            assert_eq!(p.consumed, input.len());
            server.shutdown(Instant::ZERO, 0);
            assert!(server.is_closed(), "{framing:?}: closed at the signal");
            let q = server.poll_output(Instant::ZERO, &mut out[p.produced..]);
            assert_eq!(q.next, Next::Finished);
            let want = model::serve_shutdown(&config, &input, input.len()).output;
            assert_eq!(show(&out[..p.produced + q.produced]), show(&want));
            let late = server.handle_input(Instant::ZERO, b"late\n", &mut out);
            assert_eq!(
                (late.consumed, late.produced),
                (5, 0),
                "later input is discarded"
            );
        }
    }
}

/// Found by the properties above: frame + unicode, a DATA whose header and
/// part of whose payload were waiting at the signal. Rule 7 says the DATA
/// was begun, so it is answered whole, then CLOSE. The session used to
/// limit what its decoder saw to the bytes still waiting (2), while a
/// stored DATA needs its whole payload (4) in one slice: it took nothing,
/// said `Next::Output`, and stalled until the drain deadline (fixed in
/// ea01b06).
#[test]
fn a_unicode_data_begun_before_the_signal_is_answered_whole() {
    let config = config(Framing::Frame, TransformKind::Unicode);
    let input = [&client_hello(b"")[..], &data(b"abcd"), &data(b"late")].concat();
    let mut server = new_server(config);
    let mut out = [0u8; 64];
    // HELLO, the DATA header and "ab" have arrived.
    let p = server.handle_input(Instant::ZERO, &input[..18], &mut out);
    assert_eq!((p.consumed, p.produced), (16, 16));
    assert_eq!(p.next, Next::Input { min: 4 });
    // The signal: the caller holds "ab", nothing else is in the link.
    server.shutdown(Instant::ZERO, 2);
    // "cd" and the next DATA arrive.
    let q = server.handle_input(Instant::ZERO, &input[16..], &mut out[16..]);
    let want = [&server_hello(&config)[..], &data(b"ABCD"), &close()].concat();
    assert_eq!(
        (q.consumed, q.next),
        (4, Next::Finished),
        "the begun DATA is answered, then the session closes"
    );
    assert_eq!(show(&out[..16 + q.produced]), show(&want));
}

// ---- a flush during a drain is only a flush ----------------------------

/// The case: raw + unicode, shutdown, a read ending in `ΐ` (whose
/// uppercase is 6 bytes) through a 5-byte window, then `poll_output`:
/// nothing is lost, nothing is consumed by the flush, and the flush does
/// not end the drain. Here for every first read and small window.
#[test]
fn a_flush_during_a_drain_loses_nothing_and_consumes_nothing() {
    let input = "abΐcdeßfﬀgΐ".as_bytes();
    let config = config(Framing::Raw, TransformKind::Unicode);
    for first in 0..=input.len() {
        for w in 1..=8 {
            let mut s = CheckedServer::new(config);
            s.shutdown(input.len()); // all of it waits in the link
            let mut consumed = s.offer(&input[..first], w).consumed;
            let flush = s.flush(w); // checked: consumes nothing
            assert_eq!(flush.consumed, 0);
            if consumed < input.len() {
                assert!(!s.server().is_closed(), "a flush ended the drain");
            }
            while s.next() != Next::Finished {
                consumed += s.offer(&input[consumed..], w).consumed;
                assert!(s.calls() < 10_000, "no end");
            }
            assert_eq!(consumed, input.len(), "first read {first}, window {w}");
            assert_eq!(
                show(s.output()),
                show(&unicode_upper(input)),
                "first read {first}, window {w}"
            );
            assert_eq!(s.close_reason(), Some(CloseReason::Shutdown));
        }
    }
    // Exactly the steps.
    let input = "abΐcdef".as_bytes();
    let mut s = CheckedServer::new(config);
    s.shutdown(input.len());
    let p = s.offer(&input[..4], 5);
    let f = s.flush(5);
    assert_eq!(f.consumed, 0);
    assert!(!s.server().is_closed());
    let mut fed = p.consumed;
    while s.next() != Next::Finished {
        fed += s.offer(&input[fed..], 5).consumed;
    }
    assert_eq!(fed, input.len());
    assert_eq!(s.output(), "abΐcdef".to_uppercase().as_bytes());
}

proptest! {
    #![proptest_config(cases(256))]

    /// Flushes anywhere in a drain, through any windows: the drain's
    /// outcome is the model's, as if there were no flush at all.
    #[test]
    fn flushes_anywhere_in_a_drain_change_nothing(
        (config, input) in session(),
        mark in any::<Index>(),
        flushes in vec(any::<bool>(), 1..8),
        flush_windows in sizes(),
        windows in sizes(),
    ) {
        let mark = mark.index(input.len() + 1);
        let mut s = CheckedServer::new(config);
        s.shutdown(mark);
        let mut windows = Sizes::new(&windows);
        let mut flush_windows = Sizes::new(&flush_windows);
        let (mut consumed, mut step) = (0, 0);
        s.end_of_input(input.len());
        while s.next() != Next::Finished {
            if flushes[step % flushes.len()] {
                prop_assert_eq!(s.flush(flush_windows.next_size()).consumed, 0);
                if s.next() == Next::Finished {
                    break;
                }
            }
            consumed += s.offer(&input[consumed..], windows.next_size()).consumed;
            step += 1;
            prop_assert!(step < 100_000, "no end");
        }
        let want = model::serve_shutdown(&config, &input, mark);
        prop_assert_eq!(show(s.output()), show(&want.output));
        prop_assert_eq!(s.close_reason(), Some(want.close));
    }
}

// ---- in place answers like a window ----------------------------------

fn any_framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Auto),
        Just(Framing::Raw),
        Just(Framing::Line),
        Just(Framing::Frame)
    ]
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => text(),
        3 => frame_session(),
        1 => frame_session().prop_flat_map(|s| {
            let n = s.len();
            (Just(s), 0..n.max(1), any::<u8>())
        })
        .prop_map(|(mut s, at, b)| {
            if let Some(x) = s.get_mut(at) {
                *x = b;
            }
            s
        }),
        1 => vec(any::<u8>(), 0..64),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    /// For any input, any split, ascii, every framing: one
    /// `handle_input_in_place` over the first `split` bytes, then
    /// `handle_input` for the rest, gives the same bytes (and events) as
    /// windows alone; and so does answering in place all along.
    #[test]
    fn in_place_then_windows_equals_windows_alone(
        framing in any_framing(),
        input in any_input(),
        split in any::<Index>(),
        splits in sizes(),
        windows in sizes(),
    ) {
        let config = config(framing, TransformKind::Ascii).with_max_line(16);
        let plan = Plan::new(&splits, &windows);
        let windows_only = run(config, &input, &plan);
        prop_assert_eq!(windows_only.largest_min, 1, "ascii never asks for more than a byte");

        let all_along = run(config, &input, &plan.clone().in_place(true));
        prop_assert_eq!(show(&all_along.output), show(&windows_only.output), "in place all along");
        prop_assert_eq!(&all_along.events, &windows_only.events);

        let split = split.index(input.len() + 1);
        let mut s = CheckedServer::new(config);
        let p = s.offer_in_place(&input[..split]);
        let mut d = Driver::with_checked(s, &plan);
        d.push(&input[p.consumed..]);
        d.finish();
        let once = d.observed();
        prop_assert_eq!(show(&once.output), show(&windows_only.output), "in place first, split {}", split);
        prop_assert_eq!(&once.events, &windows_only.events);
    }
}

/// In place, a length-preserving stream is answered whole by one call.
#[test]
fn in_place_answers_an_ascii_stream_in_one_call() {
    for framing in [Framing::Raw, Framing::Line] {
        let config = config(framing, TransformKind::Ascii);
        let input = b"hello\nworld\n";
        let mut s = CheckedServer::new(config);
        let p = s.offer_in_place(input);
        assert_eq!((p.consumed, p.produced), (input.len(), input.len()));
        assert_eq!(p.next, Next::Input { min: 1 });
        assert_eq!(s.output(), b"HELLO\nWORLD\n");
    }
}

// ---- Next says what is true ------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// After every call the kit checks `Next` (Finished exactly when
    /// finished; Input only with no output waiting and less than `min`
    /// unconsumed). Here, in a frame + unicode session: whenever a call
    /// asks for more than one byte, the session stands at the start of a
    /// DATA payload it has not begun to answer, and asks for all of it.
    #[test]
    fn next_asks_for_more_than_a_byte_only_for_a_whole_unicode_payload(
        input in frame_session(),
        splits in sizes(),
        windows in sizes(),
    ) {
        let config = config(Framing::Frame, TransformKind::Unicode);
        let payloads = data_payloads(&input);
        let mut s = CheckedServer::new(config);
        let mut splits = Sizes::new(&splits);
        let mut windows = Sizes::new(&windows);
        let (mut read, mut consumed, mut ended) = (0, 0, false);
        for _ in 0..100_000 {
            match s.next() {
                Next::Finished => break,
                Next::Input { min } => {
                    if min > 1 {
                        prop_assert!(
                            payloads.contains(&(consumed, min)),
                            "asked for {} bytes at byte {}, not a DATA payload's start ({:?})",
                            min, consumed, payloads
                        );
                    }
                    if read < input.len() {
                        read = (read + splits.next_size()).min(input.len());
                    } else if !ended {
                        s.end_of_input(read - consumed);
                        ended = true;
                    }
                }
                _ => {}
            }
            let w = windows.next_size();
            let p = if read > consumed {
                s.offer(&input[consumed..read], w)
            } else {
                s.flush(w)
            };
            consumed += p.consumed;
            prop_assert!(s.server().pending_output_len() <= CONTROL_CAPACITY);
        }
        prop_assert_eq!(s.next(), Next::Finished);
        prop_assert!(s.server().is_finished());
        let want = model::serve(&config, &input);
        prop_assert_eq!(show(s.output()), show(&want.output));
    }
}

/// Every `Next` of a session whose every request is offered a byte at a
/// time: `Input { min: 1 }` outside stored payloads, the payload's length
/// at the start of one, `Output` while a window is full, `Finished` last.
#[test]
fn next_through_a_whole_unicode_frame_session_byte_by_byte() {
    let config = config(Framing::Frame, TransformKind::Unicode);
    let input = [&client_hello(b"")[..], &data("ßx".as_bytes()), &ping(b"p")].concat();
    let plan = Plan::new(&[1], &[1, 0]);
    let seen = run(config, &input, &plan);
    assert_eq!(seen.largest_min, 3, "the DATA payload, whole");
    assert_eq!(
        show(&seen.output),
        show(&model::serve(&config, &input).output)
    );
}

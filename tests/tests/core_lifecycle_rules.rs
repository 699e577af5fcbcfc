//! Lifecycle rules: end of input, idle timeout, shutdown and drain, events
//! and close reasons, backpressure.

use shout_core::wire::ErrorCode;
use shout_core::{CloseReason, Config, Duration, Event, Framing, Instant, Server, State};
use shout_tests::model::{
    client_hello, encode_frame, encode_header, error_frame, kind, server_hello,
};
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
                Event::Opened(if framing == Framing::Auto {
                    Framing::Raw
                } else {
                    framing
                }),
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

#[test]
fn empty_input_closes_without_output_in_every_framing() {
    for framing in [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame] {
        let config = Config::default().with_framing(framing);
        shout_tests::expect_served(config, b"", b"", CloseReason::EndOfInput);
        let mut server = new_server(config);
        server.handle_end_of_input();
        let out = finish(&mut server, T0, b"");
        assert!(out.is_empty());
        // No Opened: no byte ever arrived.
        assert_eq!(
            events(&mut server),
            [Event::Closed(CloseReason::EndOfInput)]
        );
    }
}

#[test]
fn after_close_input_is_consumed_and_discarded() {
    let mut server = new_server(Config::default().with_framing(Framing::Raw));
    server.handle_end_of_input();
    assert_eq!(finish(&mut server, T0, b"ab"), b"AB");
    assert!(server.is_finished());
    let (consumed, out) = feed(&mut server, T0, b"more bytes");
    assert_eq!((consumed, out.len()), (10, 0));
    assert_eq!(
        server.poll_timeout(),
        None,
        "a closed session has no deadline"
    );
}

// ---- idle timeout ---------------------------------------------------------

fn idle_cfg(framing: Framing) -> Config {
    Config::default()
        .with_framing(framing)
        .with_max_payload(64)
        .with_idle_timeout(Some(Duration::from_secs(1)))
}

fn idle_error() -> Vec<u8> {
    error_frame(ErrorCode::IdleTimeout, "idle timeout")
}

#[test]
fn idle_before_the_first_byte_closes_without_output_in_every_framing() {
    for framing in [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame] {
        let mut server = new_server(idle_cfg(framing));
        assert_eq!(server.poll_timeout(), Some(at(1000)));
        server.handle_timeout(at(999));
        assert!(!server.is_closed(), "closed before the deadline");
        server.handle_timeout(at(1000));
        assert!(
            server.is_finished(),
            "{framing:?}: not closed at the deadline"
        );
        assert_eq!(
            events(&mut server),
            [Event::Closed(CloseReason::IdleTimeout)]
        );
        shout_tests::expect_idled(idle_cfg(framing), b"", b"", CloseReason::IdleTimeout);
    }
}

#[test]
fn idle_raw_and_line_sessions_close_without_adding_output() {
    let idled = shout_tests::expect_idled;
    idled(
        idle_cfg(Framing::Raw),
        b"abc",
        b"ABC",
        CloseReason::IdleTimeout,
    );
    idled(
        idle_cfg(Framing::Auto),
        b"abc",
        b"ABC",
        CloseReason::IdleTimeout,
    );
    idled(
        idle_cfg(Framing::Line),
        b"ab\ncd",
        b"AB\nCD",
        CloseReason::IdleTimeout,
    );
    idled(
        idle_cfg(Framing::Line),
        b"ab\n",
        b"AB\n",
        CloseReason::IdleTimeout,
    );
}

#[test]
fn idle_frame_session_sends_error_5_in_every_state_without_a_response_under_way() {
    let config = idle_cfg(Framing::Frame);
    let hello = client_hello(b"xyz");
    let sh = server_hello(&config);
    let cases: Vec<(Vec<u8>, Vec<u8>)> = vec![
        // first byte only (whole HELLO or not, it is a frame session)
        (vec![0], idle_error()),
        // inside the HELLO header, then inside its payload
        (hello[..4].to_vec(), idle_error()),
        (hello[..8].to_vec(), idle_error()),
        (hello[..12].to_vec(), idle_error()),
        // between frames
        (hello.clone(), [&sh[..], &idle_error()].concat()),
        // inside a later header
        (
            [&hello[..], &[1, 0, 0]].concat(),
            [&sh[..], &idle_error()].concat(),
        ),
        // inside a client PONG's payload (no response to it)
        (
            [&hello[..], &encode_header(kind::PONG, 4), b"ab"].concat(),
            [&sh[..], &idle_error()].concat(),
        ),
        // after a complete DATA
        (
            [&hello[..], &encode_frame(kind::DATA, b"ab")].concat(),
            [&sh[..], &encode_frame(kind::DATA, b"AB"), &idle_error()].concat(),
        ),
    ];
    for (input, output) in cases {
        shout_tests::expect_idled(config, &input, &output, CloseReason::IdleTimeout);
    }
}

#[test]
fn idle_frame_session_mid_response_just_closes() {
    let config = idle_cfg(Framing::Frame);
    let hello = client_hello(b"");
    let sh = server_hello(&config);
    for (k, reply, body, answer) in [
        (kind::DATA, kind::DATA, &b"abcd"[..], &b"ABCD"[..]),
        (kind::PING, kind::PONG, b"abcd", b"abcd"),
    ] {
        for n in 0..4 {
            let input = [&hello[..], &encode_header(k, 4), &body[..n]].concat();
            let output = [&sh[..], &encode_header(reply, 4), &answer[..n]].concat();
            shout_tests::expect_idled(config, &input, &output, CloseReason::IdleTimeout);
        }
    }
}

#[test]
fn idle_deadline_moves_with_input_and_output_but_not_with_empty_calls() {
    let mut server = new_server(idle_cfg(Framing::Raw));
    assert_eq!(server.poll_timeout(), Some(at(1000)));
    feed(&mut server, at(500), b"a");
    assert_eq!(server.poll_timeout(), Some(at(1500)), "input is activity");
    feed(&mut server, at(900), b"");
    assert_eq!(
        server.poll_timeout(),
        Some(at(1500)),
        "an empty call is not activity"
    );
    server.handle_transmitted(at(1200));
    assert_eq!(
        server.poll_timeout(),
        Some(at(2200)),
        "transmitted output is activity"
    );
    server.handle_timeout(at(2199));
    assert!(!server.is_closed());
    server.handle_timeout(at(2200));
    assert!(server.is_closed());
}

#[test]
fn idle_deadline_moves_when_only_output_flows() {
    let mut server = new_server(idle_cfg(Framing::Frame));
    let mut window = [0u8; 0];
    // The HELLO is consumed; the server's HELLO waits for a window.
    let p = server.handle_input(at(100), &client_hello(b""), &mut window);
    assert_eq!(p.consumed, 11);
    assert_eq!(server.poll_timeout(), Some(at(1100)));
    let mut window = [0u8; 4];
    let p = server.handle_input(at(800), &[], &mut window);
    assert_eq!(p.produced, 4);
    assert_eq!(server.poll_timeout(), Some(at(1800)), "output is activity");
}

#[test]
fn idle_fires_even_while_output_waits_for_a_client_that_does_not_read() {
    let config = idle_cfg(Framing::Frame);
    let mut server = new_server(config);
    let mut none = [0u8; 0];
    server.handle_input(T0, &client_hello(b""), &mut none);
    assert!(server.has_pending_output());
    server.handle_timeout(at(1000));
    assert!(server.is_closed() && !server.is_finished());
    let out = finish(&mut server, at(1000), b"");
    assert_eq!(
        show(&out),
        show(&[&server_hello(&config)[..], &idle_error()].concat())
    );
}

#[test]
fn idle_mid_response_while_its_header_still_waits_sends_only_the_header() {
    let config = idle_cfg(Framing::Frame);
    let mut server = new_server(config);
    let mut window = [0u8; 16];
    let p = server.handle_input(T0, &client_hello(b""), &mut window);
    assert_eq!(p.produced, 16);
    let mut none = [0u8; 0];
    // The DATA header is taken, its response header waits inside.
    let p = server.handle_input(T0, &encode_header(kind::DATA, 3), &mut none);
    assert_eq!(p.consumed, 5);
    server.handle_timeout(at(1000));
    let out = finish(&mut server, at(1000), b"");
    assert_eq!(show(&out), show(&encode_header(kind::DATA, 3)));
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::IdleTimeout))
    );
}

#[test]
fn idle_timeout_off_means_no_deadline() {
    let mut server = new_server(Config::default().with_idle_timeout(None));
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(Instant::from_micros(u64::MAX));
    assert!(!server.is_closed());
}

// ---- shutdown and drain ---------------------------------------------------

fn drain_cfg(framing: Framing) -> Config {
    idle_cfg(framing)
        .with_idle_timeout(Some(Duration::from_secs(60)))
        .with_drain_timeout(Duration::from_secs(5))
}

#[test]
fn shutdown_before_the_first_byte_closes_on_the_empty_call_without_output() {
    for framing in [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame] {
        let mut server = new_server(drain_cfg(framing));
        server.shutdown(at(10));
        assert!(!server.is_closed(), "input may still be waiting");
        let (consumed, out) = feed(&mut server, at(10), b"");
        assert_eq!((consumed, out.len()), (0, 0));
        assert!(server.is_finished());
        let (consumed, out) = feed(&mut server, at(11), b"\0late");
        assert_eq!((consumed, out.len()), (5, 0), "later input is discarded");
        assert_eq!(events(&mut server), [Event::Closed(CloseReason::Shutdown)]);
    }
}

#[test]
fn shutdown_before_the_first_offer_still_answers_the_waiting_input() {
    let mut server = new_server(drain_cfg(Framing::Auto));
    server.shutdown(at(10));
    let (consumed, out) = feed(&mut server, at(10), b"waiting");
    assert_eq!((consumed, &out[..]), (7, &b"WAITING"[..]));
    let (_, out) = feed(&mut server, at(10), b"");
    assert!(out.is_empty());
    assert!(server.is_finished());
    assert_eq!(
        events(&mut server),
        [
            Event::Opened(Framing::Raw),
            Event::Closed(CloseReason::Shutdown)
        ]
    );
}

#[test]
fn raw_shutdown_answers_all_waiting_input_then_closes() {
    let mut server = new_server(drain_cfg(Framing::Raw));
    let (_, mut out) = feed(&mut server, T0, b"abc");
    server.shutdown(at(1));
    assert_eq!(server.state(), State::Draining);
    out.extend(feed(&mut server, at(1), b"def").1);
    assert!(
        !server.is_closed(),
        "closed before being told nothing more waits"
    );
    out.extend(finish(&mut server, at(1), b""));
    assert_eq!(out, b"ABCDEF");
    assert_eq!(
        events(&mut server),
        [
            Event::Opened(Framing::Raw),
            Event::Closed(CloseReason::Shutdown)
        ]
    );
}

#[test]
fn line_shutdown_finishes_the_line_in_progress_then_closes() {
    let mut server = new_server(drain_cfg(Framing::Line));
    let (_, mut out) = feed(&mut server, T0, b"one\ntw");
    server.shutdown(at(1));
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(
        !server.is_closed(),
        "a line whose first byte arrived may finish"
    );
    out.extend(feed(&mut server, at(2), b"o\n").1);
    out.extend(finish(&mut server, at(2), b""));
    assert_eq!(out, b"ONE\nTWO\n");
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::Shutdown))
    );
}

#[test]
fn line_shutdown_at_a_boundary_closes_at_once() {
    let mut server = new_server(drain_cfg(Framing::Line));
    let (_, mut out) = feed(&mut server, T0, b"a\nb\n");
    server.shutdown(at(1));
    out.extend(finish(&mut server, at(1), b""));
    assert_eq!(out, b"A\nB\n");
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::Shutdown))
    );
}

#[test]
fn drain_deadline_closes_a_line_in_progress_as_it_is() {
    let mut server = new_server(drain_cfg(Framing::Line));
    let (_, out) = feed(&mut server, T0, b"ab");
    assert_eq!(out, b"AB");
    server.shutdown(at(100));
    assert_eq!(
        server.poll_timeout(),
        Some(at(5100)),
        "drain deadline comes first"
    );
    server.handle_timeout(at(5099));
    assert!(!server.is_closed());
    server.handle_timeout(at(5100));
    assert!(
        server.is_finished(),
        "nothing is added at the drain deadline"
    );
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::DrainTimeout))
    );
}

#[test]
fn frame_shutdown_at_a_boundary_sends_close() {
    let config = drain_cfg(Framing::Frame);
    let mut server = new_server(config);
    let input = [&client_hello(b"")[..], &encode_frame(kind::DATA, b"hi")].concat();
    let (_, mut out) = feed(&mut server, T0, &input);
    server.shutdown(at(1));
    out.extend(finish(&mut server, at(1), b""));
    let want = [
        &server_hello(&config)[..],
        &encode_frame(kind::DATA, b"HI"),
        &encode_frame(kind::CLOSE, b""),
    ]
    .concat();
    assert_eq!(show(&out), show(&want));
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::Shutdown))
    );
}

#[test]
fn frame_shutdown_answers_waiting_requests_and_finishes_the_one_in_progress() {
    let config = drain_cfg(Framing::Frame);
    let mut server = new_server(config);
    let (_, mut out) = feed(&mut server, T0, &client_hello(b""));
    server.shutdown(at(1));
    // Already waiting on the link: two whole requests and half of a third.
    let waiting = [
        &encode_frame(kind::DATA, b"a")[..],
        &encode_frame(kind::PING, b"p"),
        &encode_header(kind::DATA, 4),
        b"wx",
    ]
    .concat();
    out.extend(feed(&mut server, at(1), &waiting).1);
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(!server.is_closed(), "the frame in progress may finish");
    out.extend(feed(&mut server, at(2), b"yz").1);
    out.extend(finish(&mut server, at(2), b""));
    let want = [
        &server_hello(&config)[..],
        &encode_frame(kind::DATA, b"A"),
        &encode_frame(kind::PONG, b"p"),
        &encode_frame(kind::DATA, b"WXYZ"),
        &encode_frame(kind::CLOSE, b""),
    ]
    .concat();
    assert_eq!(show(&out), show(&want));
}

#[test]
fn frame_shutdown_lets_a_hello_in_progress_finish() {
    let config = drain_cfg(Framing::Frame);
    let mut server = new_server(config);
    let hello = client_hello(b"");
    let (_, mut out) = feed(&mut server, T0, &hello[..3]);
    server.shutdown(at(1));
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(!server.is_closed());
    out.extend(feed(&mut server, at(1), &hello[3..]).1);
    out.extend(finish(&mut server, at(1), b""));
    let want = [&server_hello(&config)[..], &encode_frame(kind::CLOSE, b"")].concat();
    assert_eq!(show(&out), show(&want));
}

#[test]
fn drain_deadline_closes_a_frame_in_progress_without_close_or_error() {
    let config = drain_cfg(Framing::Frame);
    for tail in [
        &encode_header(kind::DATA, 4)[..2],
        &encode_header(kind::DATA, 4)[..],
        &b"\x01\x00\x00\x00\x04ab"[..],
    ] {
        let mut server = new_server(config);
        let input = [&client_hello(b"")[..], tail].concat();
        let (_, mut out) = feed(&mut server, T0, &input);
        server.shutdown(at(0));
        out.extend(feed(&mut server, at(1), b"").1);
        server.handle_timeout(at(5000));
        assert!(server.is_closed());
        out.extend(finish(&mut server, at(5000), b""));
        let (frames, partial) = shout_tests::model::decode_frames(&out);
        assert_eq!(frames.len(), 1, "only the server HELLO: {}", show(&out));
        assert_eq!(partial, out.len() - 16);
        assert_eq!(
            events(&mut server).last(),
            Some(&Event::Closed(CloseReason::DrainTimeout))
        );
    }
}

#[test]
fn shutdown_keeps_the_earlier_idle_deadline_and_a_second_shutdown_changes_nothing() {
    let config = drain_cfg(Framing::Raw).with_idle_timeout(Some(Duration::from_secs(2)));
    let mut server = new_server(config);
    feed(&mut server, T0, b"x");
    server.shutdown(at(0));
    assert_eq!(server.poll_timeout(), Some(at(2000)), "idle before drain");
    server.shutdown(at(1000));
    feed(&mut server, at(1900), b"y");
    assert_eq!(server.poll_timeout(), Some(at(3900)).min(Some(at(5000))));
    server.handle_timeout(at(3900));
    assert_eq!(
        events(&mut server).last(),
        Some(&Event::Closed(CloseReason::IdleTimeout))
    );
}

#[test]
fn model_agrees_on_shutdown_outcomes() {
    let config = drain_cfg(Framing::Frame);
    let hello = client_hello(b"");
    for (input, close) in [
        (hello.clone(), CloseReason::Shutdown),
        ([&hello[..], &[1, 0]].concat(), CloseReason::DrainTimeout),
        (
            [&hello[..], &[4, 0, 0, 0, 0]].concat(),
            CloseReason::PeerClosed,
        ),
    ] {
        let mut server = new_server(config);
        let (_, mut out) = feed(&mut server, T0, &input);
        server.shutdown(T0);
        out.extend(feed(&mut server, T0, b"").1);
        server.handle_timeout(at(5000));
        out.extend(finish(&mut server, at(5000), b""));
        let m = shout_tests::model::serve_then_shutdown(&config, &input);
        assert_eq!(show(&out), show(&m.output));
        assert_eq!(events(&mut server).last(), Some(&Event::Closed(close)));
        assert_eq!(m.close, close);
    }
}

// ---- events and states ----------------------------------------------------

#[test]
fn events_are_one_opened_then_one_closed_with_the_reason() {
    let hello = client_hello(b"");
    let cases: Vec<(Framing, Vec<u8>, Framing, CloseReason)> = vec![
        (
            Framing::Auto,
            b"hi".to_vec(),
            Framing::Raw,
            CloseReason::EndOfInput,
        ),
        (
            Framing::Auto,
            hello.clone(),
            Framing::Frame,
            CloseReason::EndOfInput,
        ),
        (
            Framing::Line,
            b"\0x".to_vec(),
            Framing::Line,
            CloseReason::EndOfInput,
        ),
        (
            Framing::Line,
            vec![b'a'; 70000],
            Framing::Line,
            CloseReason::LineTooLong,
        ),
        (
            Framing::Frame,
            hello[..3].to_vec(),
            Framing::Frame,
            CloseReason::Truncated,
        ),
        (
            Framing::Frame,
            [&hello[..], &[4, 0, 0, 0, 0]].concat(),
            Framing::Frame,
            CloseReason::PeerClosed,
        ),
        (
            Framing::Frame,
            [&hello[..], &[5, 0, 0, 0, 0]].concat(),
            Framing::Frame,
            CloseReason::PeerError,
        ),
        (
            Framing::Frame,
            b"xxxxx".to_vec(),
            Framing::Frame,
            CloseReason::ProtocolError(ErrorCode::Malformed),
        ),
    ];
    for (configured, input, opened, closed) in cases {
        let seen = shout_tests::observe(
            Config::default().with_framing(configured),
            &input,
            &[3],
            &[7],
        );
        assert_eq!(
            seen.events,
            [Event::Opened(opened), Event::Closed(closed)],
            "{configured:?} {}",
            show(&input[..input.len().min(12)])
        );
    }
}

#[test]
fn states_follow_the_lifecycle() {
    let mut server = new_server(Config::default());
    assert_eq!(server.state(), State::Undecided);
    assert_eq!(server.framing(), None);
    let hello = client_hello(b"");
    feed(&mut server, T0, &hello[..1]);
    assert_eq!(server.state(), State::Handshake);
    assert_eq!(server.framing(), Some(Framing::Frame));
    feed(&mut server, T0, &hello[1..]);
    assert_eq!(server.state(), State::Open);
    server.handle_end_of_input();
    assert_eq!(server.state(), State::Draining);
    finish(&mut server, T0, b"");
    assert_eq!(server.state(), State::Closed);

    let mut server = new_server(Config::default());
    feed(&mut server, T0, b"x");
    assert_eq!(server.state(), State::Open);
    server.shutdown(T0);
    assert_eq!(server.state(), State::Draining);
}

#[test]
fn closing_with_output_still_waiting_is_closed_but_not_finished() {
    let mut server = new_server(Config::default());
    let mut none = [0u8; 0];
    let input = [&client_hello(b"")[..], &[4, 0, 0, 0, 0]].concat();
    let p = server.handle_input(T0, &input, &mut none);
    assert_eq!(p.produced, 0);
    server.handle_end_of_input();
    let mut none = [0u8; 0];
    server.handle_input(T0, &input[p.consumed..], &mut none);
    server.handle_input(T0, &input[p.consumed..], &mut none);
    assert!(!server.is_finished());
    let mut out = finish(&mut server, T0, &input[p.consumed..]);
    assert!(server.is_finished() && server.is_closed());
    let mut want = server_hello(&Config::default());
    want.extend(encode_frame(kind::CLOSE, b""));
    assert_eq!(show(&out), show(&want));
    out.clear();
}

// ---- backpressure ---------------------------------------------------------

#[test]
fn zero_size_windows_consume_no_raw_or_line_input() {
    for framing in [Framing::Raw, Framing::Line, Framing::Auto] {
        let mut server = new_server(Config::default().with_framing(framing));
        let mut none = [0u8; 0];
        for _ in 0..3 {
            let p = server.handle_input(T0, b"abc\ndef", &mut none);
            assert_eq!((p.consumed, p.produced), (0, 0), "{framing:?}");
        }
        assert!(!server.has_pending_output());
        let (consumed, out) = feed(&mut server, T0, b"abc\ndef");
        assert_eq!((consumed, out.as_slice()), (7, &b"ABC\nDEF"[..]));
    }
}

#[test]
fn zero_size_windows_stop_a_frame_session_once_output_waits_and_lose_nothing() {
    let config = Config::default();
    let mut server = new_server(config);
    let input = [
        &client_hello(b"")[..],
        &encode_frame(kind::DATA, b"abc"),
        &encode_frame(kind::PING, b"xy"),
    ]
    .concat();
    let mut none = [0u8; 0];
    let first = server.handle_input(T0, &input, &mut none);
    // The HELLO may be taken (its answer fits the control queue); then nothing.
    assert!(first.consumed <= 11 && first.produced == 0);
    let waiting = server.pending_output_len();
    assert!(waiting <= shout_core::CONTROL_CAPACITY);
    for _ in 0..3 {
        let p = server.handle_input(T0, &input[first.consumed..], &mut none);
        assert_eq!((p.consumed, p.produced), (0, 0));
        assert_eq!(server.pending_output_len(), waiting);
    }
    server.handle_end_of_input();
    let out = finish(&mut server, T0, &input[first.consumed..]);
    let want = shout_tests::model::serve(&config, &input).output;
    assert_eq!(show(&out), show(&want));
}

#[test]
fn a_one_mebibyte_frame_passes_through_64_byte_reads_and_windows() {
    let size = 1 << 20;
    let config = Config::default();
    let payload: Vec<u8> = (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect();
    let input = [
        &client_hello(b"")[..],
        &encode_frame(kind::DATA, &payload),
        &encode_frame(kind::CLOSE, b""),
    ]
    .concat();
    let mut server = new_server(config);
    let out = shout_tests::drive(&mut server, &input, &[64], &[64]);
    let (frames, rest) = shout_tests::model::decode_frames(&out);
    assert_eq!(rest, 0);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].kind, kind::DATA);
    assert!(
        frames[1].payload == shout_tests::model::upper(&payload),
        "1 MiB DATA came back wrong"
    );
    assert_eq!(frames[2].kind, kind::CLOSE);
    assert!(core::mem::size_of::<Server>() <= shout_core::SERVER_SIZE_LIMIT);
}

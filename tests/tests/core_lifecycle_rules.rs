//! Lifecycle rules: end of input, idle timeout, shutdown and drain, events
//! and close reasons, backpressure.

use shout_core::wire::{ErrorCode, Kind};
use shout_core::{CloseReason, Config, Duration, Event, Framing, Instant, Server, State};
use shout_testkit::frames::{
    client_hello, decode_frames, error_frame, frame, header, server_hello,
};
use shout_testkit::{events, new_server, show};

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
        server.handle_end_of_input(5);
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
    let mut input = client_hello(b"");
    input.extend(frame(Kind::Data, b"x"));
    server.handle_end_of_input(input.len());
    let out = finish(&mut server, T0, &input);
    let mut want = server_hello(&Config::default());
    want.extend(frame(Kind::Data, b"X"));
    want.extend(frame(Kind::Close, b""));
    assert_eq!(show(&out), show(&want));
}

#[test]
fn empty_input_closes_without_output_in_every_framing() {
    for framing in [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame] {
        let config = Config::default().with_framing(framing);
        shout_testkit::expect_served(config, b"", b"", CloseReason::EndOfInput);
        let mut server = new_server(config);
        server.handle_end_of_input(0);
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
    server.handle_end_of_input(2);
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
        shout_testkit::expect_idled(idle_cfg(framing), b"", b"", CloseReason::IdleTimeout);
    }
}

#[test]
fn idle_raw_and_line_sessions_close_without_adding_output() {
    let idled = shout_testkit::expect_idled;
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
            [&hello[..], &header(Kind::Pong, 4), b"ab"].concat(),
            [&sh[..], &idle_error()].concat(),
        ),
        // after a complete DATA
        (
            [&hello[..], &frame(Kind::Data, b"ab")].concat(),
            [&sh[..], &frame(Kind::Data, b"AB"), &idle_error()].concat(),
        ),
    ];
    for (input, output) in cases {
        shout_testkit::expect_idled(config, &input, &output, CloseReason::IdleTimeout);
    }
}

#[test]
fn idle_frame_session_mid_response_just_closes() {
    let config = idle_cfg(Framing::Frame);
    let hello = client_hello(b"");
    let sh = server_hello(&config);
    for (k, reply, body, answer) in [
        (Kind::Data, Kind::Data, &b"abcd"[..], &b"ABCD"[..]),
        (Kind::Ping, Kind::Pong, b"abcd", b"abcd"),
    ] {
        for n in 0..4 {
            let input = [&hello[..], &header(k, 4), &body[..n]].concat();
            let output = [&sh[..], &header(reply, 4), &answer[..n]].concat();
            shout_testkit::expect_idled(config, &input, &output, CloseReason::IdleTimeout);
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
    let _ = server.handle_input(T0, &client_hello(b""), &mut none);
    assert!(server.pending_output_len() > 0);
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
    let p = server.handle_input(T0, &header(Kind::Data, 3), &mut none);
    assert_eq!(p.consumed, 5);
    server.handle_timeout(at(1000));
    let out = finish(&mut server, at(1000), b"");
    assert_eq!(show(&out), show(&header(Kind::Data, 3)));
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
fn shutdown_before_the_first_byte_with_nothing_waiting_closes_at_once_without_output() {
    for framing in [Framing::Auto, Framing::Raw, Framing::Line, Framing::Frame] {
        let mut server = new_server(drain_cfg(framing));
        server.shutdown(at(10), 0);
        assert!(
            server.is_closed(),
            "nothing was waiting: closed at the signal"
        );
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
    server.shutdown(at(10), 7);
    assert!(!server.is_closed(), "7 bytes were waiting in the link");
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
    // "def" is in the link at the signal; "ghi" arrives after it.
    server.shutdown(at(1), 3);
    assert_eq!(server.state(), State::Draining);
    let (consumed, more) = feed(&mut server, at(1), b"de");
    assert_eq!(consumed, 2);
    out.extend(more);
    assert!(
        !server.is_closed(),
        "closed before the waiting bytes were in"
    );
    let (consumed, more) = feed(&mut server, at(1), b"fghi");
    assert_eq!(consumed, 1, "stops after the bytes that were waiting");
    out.extend(more);
    assert!(server.is_closed(), "the waiting bytes were answered");
    out.extend(finish(&mut server, at(1), b"ghi"));
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
    server.shutdown(at(1), 0);
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(
        !server.is_closed(),
        "a line whose first byte arrived may finish"
    );
    let (consumed, more) = feed(&mut server, at(2), b"o\nthree\n");
    assert_eq!(consumed, 2, "the line after it is not begun");
    out.extend(more);
    out.extend(finish(&mut server, at(2), b"three\n"));
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
    server.shutdown(at(1), 0);
    assert!(server.is_closed(), "between lines with nothing waiting");
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
    server.shutdown(at(100), 0);
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
    let input = [&client_hello(b"")[..], &frame(Kind::Data, b"hi")].concat();
    let (_, mut out) = feed(&mut server, T0, &input);
    server.shutdown(at(1), 0);
    out.extend(finish(&mut server, at(1), b""));
    let want = [
        &server_hello(&config)[..],
        &frame(Kind::Data, b"HI"),
        &frame(Kind::Close, b""),
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
    // Already waiting on the link: two whole requests and half of a third.
    let waiting = [
        &frame(Kind::Data, b"a")[..],
        &frame(Kind::Ping, b"p"),
        &header(Kind::Data, 4),
        b"wx",
    ]
    .concat();
    server.shutdown(at(1), waiting.len());
    out.extend(feed(&mut server, at(1), &waiting).1);
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(!server.is_closed(), "the frame in progress may finish");
    // The rest of it arrives, and a request that was not waiting.
    let later = [&b"yz"[..], &frame(Kind::Data, b"late")].concat();
    let (consumed, more) = feed(&mut server, at(2), &later);
    assert_eq!(consumed, 2, "the frame after it is not begun");
    out.extend(more);
    out.extend(finish(&mut server, at(2), &later[2..]));
    let want = [
        &server_hello(&config)[..],
        &frame(Kind::Data, b"A"),
        &frame(Kind::Pong, b"p"),
        &frame(Kind::Data, b"WXYZ"),
        &frame(Kind::Close, b""),
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
    server.shutdown(at(1), 0);
    out.extend(feed(&mut server, at(1), b"").1);
    assert!(!server.is_closed());
    out.extend(feed(&mut server, at(1), &hello[3..]).1);
    out.extend(finish(&mut server, at(1), b""));
    let want = [&server_hello(&config)[..], &frame(Kind::Close, b"")].concat();
    assert_eq!(show(&out), show(&want));
}

#[test]
fn drain_deadline_closes_a_frame_in_progress_without_close_or_error() {
    let config = drain_cfg(Framing::Frame);
    for tail in [
        &header(Kind::Data, 4)[..2],
        &header(Kind::Data, 4)[..],
        &b"\x01\x00\x00\x00\x04ab"[..],
    ] {
        let mut server = new_server(config);
        let input = [&client_hello(b"")[..], tail].concat();
        let (_, mut out) = feed(&mut server, T0, &input);
        server.shutdown(at(0), 0);
        out.extend(feed(&mut server, at(1), b"").1);
        server.handle_timeout(at(5000));
        assert!(server.is_closed());
        out.extend(finish(&mut server, at(5000), b""));
        let (frames, partial) = decode_frames(&out);
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
    // Two bytes are in the link at the signal: "y", and one that is late.
    server.shutdown(at(0), 2);
    assert_eq!(server.poll_timeout(), Some(at(2000)), "idle before drain");
    server.shutdown(at(1000), 0);
    assert!(!server.is_closed(), "a second shutdown changes nothing");
    assert_eq!(server.poll_timeout(), Some(at(2000)));
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
        server.shutdown(T0, 0);
        out.extend(feed(&mut server, T0, b"").1);
        server.handle_timeout(at(5000));
        out.extend(finish(&mut server, at(5000), b""));
        let m = shout_testkit::model::serve_then_shutdown(&config, &input);
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
        let seen = shout_testkit::observe(
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
    // The input ends; the caller still holds a request to offer.
    let last = frame(Kind::Data, b"");
    server.handle_end_of_input(last.len());
    assert_eq!(server.state(), State::Draining);
    finish(&mut server, T0, &last);
    assert_eq!(server.state(), State::Closed);
    // With nothing held, the end of input ends the session at once.
    let mut server = new_server(Config::default());
    feed(&mut server, T0, &hello);
    server.handle_end_of_input(0);
    assert_eq!(server.state(), State::Closed);

    let mut server = new_server(Config::default());
    feed(&mut server, T0, b"x");
    assert_eq!(server.state(), State::Open);
    server.shutdown(T0, 1);
    assert_eq!(server.state(), State::Draining);
    feed(&mut server, T0, b"y");
    assert_eq!(server.state(), State::Closed);
}

#[test]
fn closing_with_output_still_waiting_is_closed_but_not_finished() {
    let mut server = new_server(Config::default());
    let mut none = [0u8; 0];
    let input = [&client_hello(b"")[..], &[4, 0, 0, 0, 0]].concat();
    let p = server.handle_input(T0, &input, &mut none);
    assert_eq!(p.produced, 0);
    server.handle_end_of_input(input.len() - p.consumed);
    let mut none = [0u8; 0];
    let q = server.handle_input(T0, &input[p.consumed..], &mut none);
    let rest = &input[p.consumed + q.consumed..];
    let r = server.handle_input(T0, rest, &mut none);
    let rest = &rest[r.consumed..];
    assert!(!server.is_finished());
    let mut out = finish(&mut server, T0, rest);
    assert!(server.is_finished() && server.is_closed());
    let mut want = server_hello(&Config::default());
    want.extend(frame(Kind::Close, b""));
    assert_eq!(show(&out), show(&want));
    out.clear();
}

// ---- backpressure ---------------------------------------------------------

/// Backpressure: payload goes straight into the window or is not consumed
/// at all (only headers and control frames wait inside the session), so a
/// window that fills takes exactly its room of payload and nothing more.
#[test]
fn a_full_window_takes_no_more_payload() {
    for framing in [Framing::Raw, Framing::Line] {
        let mut server = new_server(Config::default().with_framing(framing));
        let mut out = [0u8; 3];
        let p = server.handle_input(T0, b"abcdefghij", &mut out);
        let waiting = server.pending_output_len();
        assert_eq!((p.consumed, p.produced, waiting), (3, 3, 0), "{framing:?}");
        assert_eq!(p.next, shout_core::Next::Output);
    }
    // Frame: after the HELLO, a DATA through a 7-byte window: its response
    // header and 2 payload bytes.
    let mut server = new_server(Config::default());
    let mut out = [0u8; 16];
    let _ = server.handle_input(T0, &client_hello(b""), &mut out);
    let input = frame(Kind::Data, b"abcdefghij");
    let p = server.handle_input(T0, &input, &mut out[..7]);
    let waiting = server.pending_output_len();
    assert_eq!((p.consumed, p.produced, waiting), (7, 7, 0));
}

#[test]
fn zero_size_windows_consume_no_raw_or_line_input() {
    for framing in [Framing::Raw, Framing::Line, Framing::Auto] {
        let mut server = new_server(Config::default().with_framing(framing));
        let mut none = [0u8; 0];
        for _ in 0..3 {
            let p = server.handle_input(T0, b"abc\ndef", &mut none);
            assert_eq!((p.consumed, p.produced), (0, 0), "{framing:?}");
        }
        assert_eq!(server.pending_output_len(), 0);
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
        &frame(Kind::Data, b"abc"),
        &frame(Kind::Ping, b"xy"),
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
    server.handle_end_of_input(input.len() - first.consumed);
    let out = finish(&mut server, T0, &input[first.consumed..]);
    let want = shout_testkit::model::serve(&config, &input).output;
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
        &frame(Kind::Data, &payload),
        &frame(Kind::Close, b""),
    ]
    .concat();
    let out = shout_testkit::observe(config, &input, &[64], &[64]).output;
    let (frames, rest) = decode_frames(&out);
    assert_eq!(rest, 0);
    assert_eq!(frames.len(), 3);
    assert!(frames[1].is(Kind::Data));
    assert!(
        frames[1].payload == shout_testkit::model::upper(&payload),
        "1 MiB DATA came back wrong"
    );
    assert!(frames[2].is(Kind::Close));
    assert!(core::mem::size_of::<Server>() <= shout_core::SERVER_SIZE_LIMIT);
}

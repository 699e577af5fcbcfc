//! Every frame rule of the contract and of the project's reading of it,
//! one test each, against literal expected bytes. Each case also runs over
//! several read/window plans and through the reference model.

use shout_core::wire::{ErrorCode, Kind};
use shout_core::{CloseReason, Config, Framing, Instant};
use shout_testkit::frames::{client_hello, error_frame, frame, header, server_hello};
use shout_testkit::model::CUT_OFF_REASON;
use shout_testkit::{expect_idled, expect_served, new_server, show};

const MAX: u32 = 32;

fn cfg() -> Config {
    Config::default()
        .with_framing(Framing::Frame)
        .with_max_payload(MAX)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn hello() -> Vec<u8> {
    client_hello(b"")
}

fn shello() -> Vec<u8> {
    server_hello(&cfg())
}

fn close() -> Vec<u8> {
    frame(Kind::Close, b"")
}

fn data(p: &[u8]) -> Vec<u8> {
    frame(Kind::Data, p)
}

fn err(code: ErrorCode, reason: &str) -> Vec<u8> {
    error_frame(code, reason)
}

fn too_large() -> Vec<u8> {
    err(ErrorCode::FrameTooLarge, "frame too large (limit 32 bytes)")
}

fn refused(code: ErrorCode) -> CloseReason {
    CloseReason::ProtocolError(code)
}

// ---- the handshake ----------------------------------------------------

#[test]
fn hello_then_data_then_end_of_input_is_answered_and_closed() {
    let input = cat(&[&hello(), &data(b"Hello, world")]);
    let out = cat(&[&shello(), &data(b"HELLO, WORLD"), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn server_hello_is_exactly_the_contract_bytes() {
    let out = cat(&[&shello(), &close()]);
    assert_eq!(
        &out[..16],
        b"\x00\x00\x00\x00\x0bSHOUT\x01\x00\x00\x00\x20\x00",
        "HELLO: kind 0, len 11, SHOUT, 1, max_payload 32 BE, transform 0"
    );
    expect_served(cfg(), &hello(), &out, CloseReason::EndOfInput);
}

#[test]
fn requests_may_follow_hello_without_waiting_and_are_answered_in_order() {
    let input = cat(&[
        &hello(),
        &data(b"one"),
        &frame(Kind::Ping, b"p1"),
        &data(b""),
        &data(b"two"),
    ]);
    let out = cat(&[
        &shello(),
        &data(b"ONE"),
        &frame(Kind::Pong, b"p1"),
        &data(b""),
        &data(b"TWO"),
        &close(),
    ]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn ping_is_answered_by_pong_with_the_payload_untransformed() {
    let input = cat(&[&hello(), &frame(Kind::Ping, b"abc\xff\x00z")]);
    let out = cat(&[&shello(), &frame(Kind::Pong, b"abc\xff\x00z"), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn data_transform_touches_only_ascii_lowercase() {
    let payload: Vec<u8> = (0..=255u8).collect();
    let upper: Vec<u8> = payload.iter().map(u8::to_ascii_uppercase).collect();
    let config = cfg().with_max_payload(256);
    let input = cat(&[&hello(), &data(&payload)]);
    let out = cat(&[&server_hello(&config), &data(&upper), &close()]);
    expect_served(config, &input, &out, CloseReason::EndOfInput);
}

#[test]
fn hello_with_extra_trailing_bytes_is_accepted() {
    let input = cat(&[&client_hello(b"ext\x00\xff"), &data(b"x")]);
    let out = cat(&[&shello(), &data(b"X"), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn server_hello_waits_for_the_whole_client_hello_including_extras() {
    let input = client_hello(b"extension");
    let mut server = new_server(cfg());
    let mut out = [0u8; 64];
    // Header + SHOUT\x01 + part of the extension: judged fine, not answered.
    let p = server.handle_input(Instant::ZERO, &input[..13], &mut out);
    assert_eq!((p.consumed, p.produced), (13, 0));
    assert!(!server.is_closed());
    let p = server.handle_input(Instant::ZERO, &input[13..], &mut out);
    assert_eq!(p.consumed, input.len() - 13);
    assert_eq!(show(&out[..p.produced]), show(&shello()));
}

#[test]
fn hello_payload_exactly_max_payload_is_accepted() {
    let extra = vec![b'e'; MAX as usize - 6];
    let input = client_hello(&extra);
    expect_served(
        cfg(),
        &input,
        &cat(&[&shello(), &close()]),
        CloseReason::EndOfInput,
    );
}

#[test]
fn short_hello_is_malformed_from_the_header_alone() {
    for len in 0..6u32 {
        // No payload follows: the header alone decides (not "cut off").
        let input = header(Kind::Hello, len);
        let out = err(ErrorCode::Malformed, "HELLO payload too short");
        expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
        // With its (short) payload present, the same.
        let input = frame(Kind::Hello, &b"SHOUT"[..len as usize]);
        expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
    }
}

#[test]
fn hello_with_bad_magic_is_malformed() {
    for magic in [&b"shout"[..], b"SHOUX", b"\0\0\0\0\0", b"HELLO"] {
        let input = frame(Kind::Hello, &cat(&[magic, b"\x01"]));
        let out = err(ErrorCode::Malformed, "HELLO without SHOUT");
        expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
    }
}

#[test]
fn hello_with_another_version_is_unsupported() {
    for version in [0u8, 2, 0x7f, 0xff] {
        let input = frame(Kind::Hello, &[b'S', b'H', b'O', b'U', b'T', version]);
        let out = err(
            ErrorCode::UnsupportedVersion,
            "unsupported version (this server speaks 1)",
        );
        expect_served(cfg(), &input, &out, refused(ErrorCode::UnsupportedVersion));
    }
}

#[test]
fn bad_magic_beats_bad_version() {
    let input = frame(Kind::Hello, b"SHOUX\x02");
    let out = err(ErrorCode::Malformed, "HELLO without SHOUT");
    expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
}

#[test]
fn hello_is_judged_as_soon_as_its_first_six_payload_bytes_are_in() {
    // A long HELLO whose version is wrong: refused before the rest comes.
    let mut input = header(Kind::Hello, 20).to_vec();
    input.extend_from_slice(b"SHOUT\x09");
    let out = err(
        ErrorCode::UnsupportedVersion,
        "unsupported version (this server speaks 1)",
    );
    expect_served(cfg(), &input, &out, refused(ErrorCode::UnsupportedVersion));
    expect_idled(cfg(), &input, &out, refused(ErrorCode::UnsupportedVersion));
    // Bad magic in the first 5 of the 6 bytes is not judged early.
    let mut server = new_server(cfg());
    let mut window = [0u8; 64];
    let p = server.handle_input(Instant::ZERO, &[0, 0, 0, 0, 20, b'X', b'X'], &mut window);
    assert_eq!((p.consumed, p.produced), (7, 0));
    assert!(!server.is_closed(), "judged before 6 payload bytes were in");
}

#[test]
fn second_hello_is_malformed_whatever_its_content() {
    let bodies: [&[u8]; 4] = [b"SHOUT\x01", b"SHOUT\x02", b"xx", b""];
    for body in bodies {
        let input = cat(&[&hello(), &data(b"a"), &frame(Kind::Hello, body)]);
        let out = cat(&[
            &shello(),
            &data(b"A"),
            &err(ErrorCode::Malformed, "second HELLO"),
        ]);
        expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
    }
}

// ---- header judgement order ---------------------------------------------

#[test]
fn before_hello_any_other_kind_is_malformed() {
    for k in [1u8, 2, 3, 4, 5, 6, 0x42, 0xff] {
        let input = frame(k, b"zz");
        let out = err(ErrorCode::Malformed, "expected HELLO first");
        expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
    }
}

#[test]
fn before_hello_rule_comes_before_too_large() {
    let input = header(Kind::Data, MAX + 1);
    let out = err(ErrorCode::Malformed, "expected HELLO first");
    expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
    let input = header(0x99, u32::MAX);
    expect_served(cfg(), &input, &out, refused(ErrorCode::Malformed));
}

#[test]
fn kind_above_five_is_unknown() {
    for k in [6u8, 7, 0x80, 0xff] {
        let input = cat(&[&hello(), &data(b"a"), &frame(k, b"")]);
        let out = cat(&[
            &shello(),
            &data(b"A"),
            &err(ErrorCode::UnknownKind, "unknown frame kind"),
        ]);
        expect_served(cfg(), &input, &out, refused(ErrorCode::UnknownKind));
    }
}

#[test]
fn unknown_kind_comes_before_too_large() {
    let input = cat(&[&hello(), &header(6, MAX + 1)]);
    let out = cat(&[
        &shello(),
        &err(ErrorCode::UnknownKind, "unknown frame kind"),
    ]);
    expect_served(cfg(), &input, &out, refused(ErrorCode::UnknownKind));
}

#[test]
fn too_large_is_refused_from_the_header_for_every_kind() {
    for k in [
        Kind::Hello,
        Kind::Data,
        Kind::Ping,
        Kind::Pong,
        Kind::Close,
        Kind::Error,
    ] {
        for len in [MAX + 1, u32::MAX] {
            // No payload follows: no part of the frame is answered.
            let input = cat(&[&hello(), &header(k, len)]);
            let out = cat(&[&shello(), &too_large()]);
            expect_served(cfg(), &input, &out, refused(ErrorCode::FrameTooLarge));
        }
    }
}

#[test]
fn too_large_hello_as_first_frame_is_too_large() {
    let input = header(Kind::Hello, MAX + 1);
    expect_served(
        cfg(),
        &input,
        &too_large(),
        refused(ErrorCode::FrameTooLarge),
    );
}

#[test]
fn too_large_comes_before_second_hello() {
    let input = cat(&[&hello(), &header(Kind::Hello, MAX + 1)]);
    let out = cat(&[&shello(), &too_large()]);
    expect_served(cfg(), &input, &out, refused(ErrorCode::FrameTooLarge));
}

#[test]
fn too_large_limit_is_advertised_in_the_reason() {
    let config = cfg().with_max_payload(u32::MAX - 1);
    let input = cat(&[&hello(), &header(Kind::Data, u32::MAX)]);
    let out = cat(&[
        &server_hello(&config),
        &err(
            ErrorCode::FrameTooLarge,
            "frame too large (limit 4294967294 bytes)",
        ),
    ]);
    expect_served(config, &input, &out, refused(ErrorCode::FrameTooLarge));
}

#[test]
fn payload_of_exactly_max_payload_is_answered() {
    let payload = vec![b'q'; MAX as usize];
    let input = cat(&[&hello(), &data(&payload), &frame(Kind::Ping, &payload)]);
    let out = cat(&[
        &shello(),
        &data(&vec![b'Q'; MAX as usize]),
        &frame(Kind::Pong, &payload),
        &close(),
    ]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn earlier_requests_are_answered_before_an_error() {
    let input = cat(&[
        &hello(),
        &data(b"a"),
        &data(b"b"),
        &header(Kind::Data, MAX + 1),
        &data(b"c"),
    ]);
    let out = cat(&[&shello(), &data(b"A"), &data(b"B"), &too_large()]);
    expect_served(cfg(), &input, &out, refused(ErrorCode::FrameTooLarge));
}

// ---- frames from the client that end or are ignored ---------------------

#[test]
fn client_pong_is_ignored() {
    let input = cat(&[
        &hello(),
        &frame(Kind::Pong, b""),
        &frame(Kind::Pong, b"whatever payload"),
        &data(b"x"),
    ]);
    let out = cat(&[&shello(), &data(b"X"), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::EndOfInput);
}

#[test]
fn client_close_is_answered_by_close_after_earlier_requests() {
    let input = cat(&[&hello(), &data(b"a"), &close()]);
    let out = cat(&[&shello(), &data(b"A"), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::PeerClosed);
}

#[test]
fn close_with_a_payload_acts_at_its_header_and_the_payload_is_ignored() {
    // The payload is present...
    let input = cat(&[&hello(), &frame(Kind::Close, b"bye now")]);
    let out = cat(&[&shello(), &close()]);
    expect_served(cfg(), &input, &out, CloseReason::PeerClosed);
    // ...or never comes: still a clean CLOSE, not a truncated frame.
    let input = cat(&[&hello(), &header(Kind::Close, 10)]);
    expect_served(cfg(), &input, &out, CloseReason::PeerClosed);
    expect_idled(cfg(), &input, &out, CloseReason::PeerClosed);
}

#[test]
fn bytes_after_close_are_ignored() {
    let tails: [&[u8]; 4] = [
        b"\x01\x00\x00\x00\x01a",
        b"\xff\xff",
        b"garbage",
        &[6, 0, 0, 0, 0],
    ];
    for tail in tails {
        let input = cat(&[&hello(), &close(), tail]);
        let out = cat(&[&shello(), &close()]);
        expect_served(cfg(), &input, &out, CloseReason::PeerClosed);
    }
}

#[test]
fn client_error_closes_without_sending_anything_more() {
    let bodies: [&[u8]; 3] = [b"", b"\x00\x01", b"\x00\x05something broke"];
    for body in bodies {
        let input = cat(&[
            &hello(),
            &data(b"a"),
            &frame(Kind::Error, body),
            &data(b"b"),
        ]);
        let out = cat(&[&shello(), &data(b"A")]);
        expect_served(cfg(), &input, &out, CloseReason::PeerError);
    }
    // It acts at its header: its payload need not arrive.
    let input = cat(&[&hello(), &header(Kind::Error, 9)]);
    expect_served(cfg(), &input, &shello(), CloseReason::PeerError);
    expect_idled(cfg(), &input, &shello(), CloseReason::PeerError);
}

// ---- truncated frames -----------------------------------------------------

fn cut_off() -> Vec<u8> {
    err(ErrorCode::Malformed, CUT_OFF_REASON)
}

#[test]
fn end_of_input_at_a_frame_boundary_sends_close() {
    let input = cat(&[&hello(), &data(b"a")]);
    expect_served(
        cfg(),
        &input,
        &cat(&[&shello(), &data(b"A"), &close()]),
        CloseReason::EndOfInput,
    );
}

#[test]
fn cut_inside_the_first_hello_header_is_malformed() {
    for n in 1..5 {
        let input = &hello()[..n];
        expect_served(cfg(), input, &cut_off(), CloseReason::Truncated);
    }
}

#[test]
fn cut_inside_the_hello_payload_is_malformed() {
    let full = client_hello(b"more");
    for n in 5..full.len() {
        if n == 11 {
            continue; // 6 payload bytes in: judged, still cut off (below)
        }
        expect_served(cfg(), &full[..n], &cut_off(), CloseReason::Truncated);
    }
    expect_served(cfg(), &full[..11], &cut_off(), CloseReason::Truncated);
}

#[test]
fn cut_inside_a_later_header_is_malformed() {
    let request = data(b"abc");
    for n in 1..5 {
        let input = cat(&[&hello(), &request[..n]]);
        expect_served(
            cfg(),
            &input,
            &cat(&[&shello(), &cut_off()]),
            CloseReason::Truncated,
        );
    }
}

#[test]
fn cut_inside_a_data_payload_just_closes_after_the_partial_response() {
    let request = data(b"abcdef");
    for n in 5..request.len() {
        let input = cat(&[&hello(), &request[..n]]);
        // The response header went out with the request header, then the
        // payload bytes that arrived; then no ERROR and no CLOSE.
        let out = cat(&[&shello(), &header(Kind::Data, 6), &b"ABCDEF"[..n - 5]]);
        expect_served(cfg(), &input, &out, CloseReason::Truncated);
    }
}

#[test]
fn cut_inside_a_ping_payload_just_closes_after_the_partial_pong() {
    let request = frame(Kind::Ping, b"abcd");
    for n in 5..request.len() {
        let input = cat(&[&hello(), &request[..n]]);
        let out = cat(&[&shello(), &header(Kind::Pong, 4), &b"abcd"[..n - 5]]);
        expect_served(cfg(), &input, &out, CloseReason::Truncated);
    }
}

#[test]
fn cut_inside_a_client_pong_payload_is_malformed() {
    let request = frame(Kind::Pong, b"abcd");
    for n in 5..request.len() {
        let input = cat(&[&hello(), &request[..n]]);
        expect_served(
            cfg(),
            &input,
            &cat(&[&shello(), &cut_off()]),
            CloseReason::Truncated,
        );
    }
}

// ---- auto detection into frames -----------------------------------------

#[test]
fn auto_with_a_nul_first_byte_speaks_frames() {
    let config = Config::default().with_max_payload(MAX);
    let input = cat(&[&hello(), &data(b"a")]);
    expect_served(
        config,
        &input,
        &cat(&[&shello(), &data(b"A"), &close()]),
        CloseReason::EndOfInput,
    );
    let mut server = new_server(config);
    let mut out = [0u8; 8];
    let _ = server.handle_input(Instant::ZERO, &[0], &mut out);
    assert_eq!(server.framing(), Some(Framing::Frame));
}

#[test]
fn auto_frame_session_judges_like_an_explicit_one() {
    let config = Config::default().with_max_payload(MAX);
    let input = frame(Kind::Hello, b"SHOUT\x02");
    let out = err(
        ErrorCode::UnsupportedVersion,
        "unsupported version (this server speaks 1)",
    );
    expect_served(config, &input, &out, refused(ErrorCode::UnsupportedVersion));
}

//! Raw, line and auto detection: every stream rule of the contract.

use shout_core::{CloseReason, Config, Framing, Instant};
use shout_testkit::{expect_served, new_server, show};

fn line(max_line: u32) -> Config {
    Config::default()
        .with_framing(Framing::Line)
        .with_max_line(max_line)
}

fn too_long(max_line: u32) -> String {
    format!("\nerror: line too long (limit {max_line} bytes)\n")
}

fn refused(prefix: &str, max_line: u32) -> Vec<u8> {
    format!("{prefix}{}", too_long(max_line)).into_bytes()
}

// ---- raw ------------------------------------------------------------------

#[test]
fn raw_output_is_the_uppercased_input_for_every_byte() {
    let input: Vec<u8> = (1..=255u8).chain(0..=255u8).collect();
    let output: Vec<u8> = input.iter().map(u8::to_ascii_uppercase).collect();
    let raw = Config::default().with_framing(Framing::Raw);
    expect_served(raw, &input, &output, CloseReason::EndOfInput);
    // Auto picks raw for any first byte but 0x00 (here 0x01).
    expect_served(Config::default(), &input, &output, CloseReason::EndOfInput);
}

#[test]
fn raw_has_no_message_boundaries_or_limits() {
    let config = Config::default()
        .with_framing(Framing::Raw)
        .with_max_line(1)
        .with_max_payload(6);
    let input = b"\0\0\0\0\x06SHOUT\x01 a line\nand more\n".to_vec();
    let output: Vec<u8> = input.iter().map(u8::to_ascii_uppercase).collect();
    expect_served(config, &input, &output, CloseReason::EndOfInput);
}

#[test]
fn raw_is_answered_as_it_arrives() {
    let mut server = new_server(Config::default());
    let mut out = [0u8; 8];
    let p = server.handle_input(Instant::ZERO, b"hel", &mut out);
    assert_eq!(&out[..p.produced], b"HEL");
    let p = server.handle_input(Instant::ZERO, b"lo", &mut out);
    assert_eq!(&out[..p.produced], b"LO");
}

// ---- auto -------------------------------------------------------------------

#[test]
fn auto_first_byte_decides() {
    for (first, framing) in [
        (0u8, Framing::Frame),
        (1, Framing::Raw),
        (b'h', Framing::Raw),
        (b'\n', Framing::Raw),
        (0xff, Framing::Raw),
    ] {
        let mut server = new_server(Config::default());
        let mut out = [0u8; 8];
        let _ = server.handle_input(Instant::ZERO, &[first], &mut out);
        assert_eq!(server.framing(), Some(framing), "first byte {first:#x}");
        assert_eq!(
            server.poll_event(),
            Some(shout_core::Event::Opened(framing))
        );
    }
}

#[test]
fn auto_plain_hello_from_a_socket_client_is_raw() {
    expect_served(
        Config::default(),
        b"hello",
        b"HELLO",
        CloseReason::EndOfInput,
    );
}

#[test]
fn explicit_framings_ignore_the_first_byte() {
    let line = Config::default().with_framing(Framing::Line);
    expect_served(line, b"\0ab\n", b"\0AB\n", CloseReason::EndOfInput);
    let raw = Config::default().with_framing(Framing::Raw);
    expect_served(raw, b"\0ab", b"\0AB", CloseReason::EndOfInput);
}

// ---- line -------------------------------------------------------------------

#[test]
fn line_responses_keep_crlf_and_lf_as_sent() {
    let input = b"one\r\ntwo\nthree\r\n\n\r\n";
    expect_served(
        line(100),
        input,
        b"ONE\r\nTWO\nTHREE\r\n\n\r\n",
        CloseReason::EndOfInput,
    );
}

#[test]
fn line_unterminated_last_line_is_answered_without_a_terminator() {
    expect_served(line(100), b"abc\nxy", b"ABC\nXY", CloseReason::EndOfInput);
    expect_served(line(100), b"xy", b"XY", CloseReason::EndOfInput);
}

#[test]
fn line_is_streamed_before_its_lf_arrives() {
    let mut server = new_server(line(100));
    let mut out = [0u8; 8];
    let p = server.handle_input(Instant::ZERO, b"ab", &mut out);
    assert_eq!((p.consumed, &out[..p.produced]), (2, &b"AB"[..]));
}

#[test]
fn line_of_exactly_max_line_bytes_is_accepted() {
    expect_served(line(5), b"abcd\n", b"ABCD\n", CloseReason::EndOfInput);
    expect_served(
        line(5),
        b"abcd\nvwxy\n",
        b"ABCD\nVWXY\n",
        CloseReason::EndOfInput,
    );
    // CR counts: "abc\r\n" is 5 bytes.
    expect_served(line(5), b"abc\r\n", b"ABC\r\n", CloseReason::EndOfInput);
    // An unterminated line of max_line bytes at end of input is fine too.
    expect_served(line(5), b"abcde", b"ABCDE", CloseReason::EndOfInput);
}

#[test]
fn line_of_max_line_plus_one_bytes_is_refused() {
    // The sixth byte is the LF: the line is 6 bytes, one too many.
    expect_served(
        line(5),
        b"abcde\n",
        &refused("ABCDE", 5),
        CloseReason::LineTooLong,
    );
    // CRLF counted: "abcd\r\n" is 6 bytes; the CR was already answered.
    expect_served(
        line(5),
        b"abcd\r\n",
        &refused("ABCD\r", 5),
        CloseReason::LineTooLong,
    );
    // A non-LF sixth byte, and everything after it, likewise.
    expect_served(
        line(5),
        b"abcdefgh\n",
        &refused("ABCDE", 5),
        CloseReason::LineTooLong,
    );
}

#[test]
fn line_too_long_after_complete_lines_leaves_them_complete() {
    let input = b"ok\nfine\nthis one is too long\nnever";
    let output = refused("OK\nFINE\nTHIS ", 5);
    expect_served(line(5), input, &output, CloseReason::LineTooLong);
}

#[test]
fn line_limit_of_one_byte() {
    expect_served(line(1), b"\n\n", b"\n\n", CloseReason::EndOfInput);
    expect_served(line(1), b"a", b"A", CloseReason::EndOfInput);
    expect_served(line(1), b"a\n", &refused("A", 1), CloseReason::LineTooLong);
    expect_served(
        line(1),
        b"\nab",
        &refused("\nA", 1),
        CloseReason::LineTooLong,
    );
}

#[test]
fn line_limit_boundary_with_the_default_limit() {
    // A 64 KiB line goes through a session whose state is a few bytes; the
    // byte-by-byte plans are too slow at this size, so coarser ones here.
    let check = |input: &[u8], output: &[u8], close: CloseReason| {
        let config = Config::default().with_framing(Framing::Line);
        for (splits, windows) in [(&[][..], &[][..]), (&[4093, 1][..], &[1000, 0, 7][..])] {
            let seen = shout_testkit::observe(config, input, splits, windows);
            assert!(seen.output == output, "output differs, reads {splits:?}");
            assert_eq!(seen.close(), Some(close));
        }
        let m = shout_testkit::model::serve(&config, input);
        assert!(m.output == output && m.close == close, "model differs");
    };
    let max = 65536usize;
    let mut input = vec![b'x'; max - 1];
    input.push(b'\n');
    let mut output = vec![b'X'; max - 1];
    output.push(b'\n');
    check(&input, &output, CloseReason::EndOfInput);
    input.insert(0, b'x');
    let mut output = vec![b'X'; max];
    output.extend_from_slice(too_long(max as u32).as_bytes());
    check(&input, &output, CloseReason::LineTooLong);
}

#[test]
fn line_overflow_message_has_the_largest_limit_in_decimal() {
    let max = u32::MAX;
    let mut server = new_server(line(max));
    let mut out = [0u8; 64];
    // Cheaper than sending 4 GiB: the message is checked at a small limit
    // by the other tests; here only its size with 10 digits matters.
    let p = server.handle_input(Instant::ZERO, b"a", &mut out);
    assert_eq!(p.produced, 1);
    assert!(too_long(max).len() <= shout_core::CONTROL_CAPACITY);
}

#[test]
fn no_line_response_starts_with_lowercase_error() {
    let input = b"error: not really\nerror:\n";
    let seen = shout_testkit::observe(line(100), input, &[1], &[1]);
    assert_eq!(show(&seen.output), show(b"ERROR: NOT REALLY\nERROR:\n"));
}

#[test]
fn line_overflow_with_output_held_back_still_ends_in_order() {
    // With a zero-size window at the moment the line overflows, the LF and
    // the error line wait inside the session and come out after the line.
    let mut server = new_server(line(3));
    let mut out = [0u8; 3];
    let p = server.handle_input(Instant::ZERO, b"abcd", &mut out);
    assert_eq!((p.consumed, &out[..p.produced]), (3, &b"ABC"[..]));
    let mut none = [0u8; 0];
    let p = server.handle_input(Instant::ZERO, b"d", &mut none);
    assert_eq!(p.produced, 0);
    assert!(server.is_closed() && server.pending_output_len() > 0);
    let mut rest = [0u8; 64];
    let n = server.poll_output(Instant::ZERO, &mut rest).produced;
    assert_eq!(show(&rest[..n]), show(too_long(3).as_bytes()));
    assert!(server.is_finished());
}

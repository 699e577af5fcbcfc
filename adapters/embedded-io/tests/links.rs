//! The drivers over in-memory links that return one byte at a time, are
//! not ready at random, fail with every ErrorKind and take short writes:
//! what reaches the link must equal the reference model, byte for byte.

mod common;

use common::{
    frame, hello, reference, reference_shutdown, server_hello, Behaviour, Op, TestLink, KINDS,
};
use embedded_io::ErrorKind;
use proptest::prelude::*;
use shout_core::wire::ErrorCode;
use shout_core::{Config, Duration, Framing, Instant, TransformKind};
use shout_embedded_io::{BlockingServer, Error, LinkMode, NbServer, Progress, SetupError};
use shout_testkit::frames;

const MAX_PAYLOAD: u32 = 64;

fn config(framing: Framing) -> Config {
    Config::default()
        .with_framing(framing)
        .with_max_payload(MAX_PAYLOAD)
        .with_max_line(32)
        .with_idle_timeout(None)
}

struct Run {
    output: Vec<u8>,
    errors: Vec<Error<ErrorKind>>,
    link: TestLink,
    finished: bool,
}

/// Polls until finished (or, on a link without end of input, until the
/// input is used up and polling moves nothing any more).
fn run_nb(config: Config, mode: LinkMode, input: &[u8], b: Behaviour, rx: usize, tx: usize) -> Run {
    let mut link = TestLink::new(input, b);
    let (mut rxb, mut txb) = (vec![0u8; rx], vec![0u8; tx]);
    let mut errors = Vec::new();
    let mut finished = false;
    {
        let mut server =
            NbServer::new(&mut link, config, mode, &mut rxb, &mut txb, Instant::ZERO).unwrap();
        let mut quiet = 0;
        for _ in 0..200_000 {
            match server.poll(Instant::ZERO) {
                Ok(p) if p.finished => {
                    assert!(server.is_finished());
                    finished = true;
                    break;
                }
                Ok(_) => quiet = 0,
                Err(nb::Error::WouldBlock) => {
                    quiet += 1;
                    if quiet > 400 && server.link().drained() {
                        break;
                    }
                }
                Err(nb::Error::Other(e)) => errors.push(e),
            }
        }
        // Once finished, polling stays finished and moves nothing.
        if finished {
            let p = server.poll(Instant::ZERO).unwrap();
            assert!(p.finished && p.received == 0 && p.sent == 0);
        }
    }
    Run {
        output: link.output.clone(),
        errors,
        link,
        finished,
    }
}

/// Runs (again after each error) until the blocking driver returns Ok.
fn run_blocking(
    config: Config,
    mode: LinkMode,
    input: &[u8],
    b: Behaviour,
    rx: usize,
    tx: usize,
) -> Run {
    let mut link = TestLink::new(input, b);
    let (mut rxb, mut txb) = (vec![0u8; rx], vec![0u8; tx]);
    let mut errors = Vec::new();
    let mut finished = false;
    {
        let clock = || Instant::ZERO;
        let mut server =
            BlockingServer::new(&mut link, clock, config, mode, &mut rxb, &mut txb).unwrap();
        for _ in 0..100 {
            match server.run() {
                Ok(_) => {
                    finished = server.is_finished();
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
    }
    Run {
        output: link.output.clone(),
        errors,
        link,
        finished,
    }
}

/// The errors a driver must report for the failures the link injected.
fn expected_errors(run: &Run, blocking: bool) -> Vec<Error<ErrorKind>> {
    let mut v = Vec::new();
    for &(op, kind) in &run.link.injected {
        if kind == ErrorKind::Interrupted {
            continue; // retried
        }
        if blocking && op == Op::Read && kind == ErrorKind::TimedOut {
            continue; // a read timeout only lets the clock be checked
        }
        v.push(match op {
            Op::Read | Op::ReadReady => Error::Read(kind),
            Op::Write | Op::WriteReady => Error::Write(kind),
        });
    }
    v
}

// ---- input makers -------------------------------------------------------

fn request() -> impl Strategy<Value = Vec<u8>> {
    let payload = prop::collection::vec(any::<u8>(), 0..80);
    prop_oneof![
        6 => payload.clone().prop_map(|p| frame(1, &p)),
        2 => payload.clone().prop_map(|p| frame(2, &p)),
        1 => payload.clone().prop_map(|p| frame(3, &p)),
        1 => (6u8..=255, payload).prop_map(|(k, p)| frame(k, &p)),
        1 => Just(frame(0, b"SHOUT\x01")),
        1 => Just(frame(5, b"\x00\x01oops")),
    ]
}

/// One session's worth of bytes, good or bad.
fn session() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A frame session, maybe closed, maybe cut off.
        4 => (prop::collection::vec(request(), 0..6), any::<bool>(), any::<u8>()).prop_map(
            |(reqs, close, cut)| {
                let mut v = hello();
                for r in reqs {
                    v.extend_from_slice(&r);
                }
                if close {
                    v.extend_from_slice(&frame(4, b""));
                } else if cut % 4 == 0 && v.len() > 1 {
                    let keep = v.len() - 1 - (cut as usize % (v.len() - 1));
                    v.truncate(keep.max(1));
                }
                v
            }
        ),
        // A bad HELLO: wrong magic, wrong version, too short, extra bytes.
        1 => prop_oneof![
            Just(frame(0, b"SHOUX\x01")),
            Just(frame(0, b"SHOUT\x02")),
            Just(frame(0, b"SHO")),
            Just(frame(0, b"SHOUT\x01extension")),
        ],
        // Text: raw or line.
        2 => prop::collection::vec(prop_oneof![b'a'..=b'z', Just(b'\n'), 1u8..=255], 1..60),
        // Line noise.
        2 => prop::collection::vec(any::<u8>(), 1..40),
    ]
}

fn link_input() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(session(), 1..4).prop_map(|s| s.concat())
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        4 => Just(Framing::Auto),
        1 => Just(Framing::Raw),
        1 => Just(Framing::Line),
        1 => Just(Framing::Frame),
    ]
}

fn mode() -> impl Strategy<Value = LinkMode> {
    prop_oneof![Just(LinkMode::Stream), Just(LinkMode::Continuous)]
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    (
        any::<u64>(),
        prop_oneof![Just(1usize), 1usize..8, Just(usize::MAX)],
        prop_oneof![Just(1usize), 1usize..8, Just(usize::MAX)],
        0u32..60,
        0u32..30,
    )
        .prop_map(
            |(seed, max_read, max_write, not_ready_pct, interrupted_pct)| Behaviour {
                seed,
                max_read,
                max_write,
                not_ready_pct,
                interrupted_pct,
                eof: true,
                fail: None,
                write_zero_at: None,
            },
        )
}

fn failure() -> impl Strategy<Value = Option<(Op, u32, ErrorKind)>> {
    let op = prop_oneof![
        Just(Op::ReadReady),
        Just(Op::Read),
        Just(Op::WriteReady),
        Just(Op::Write)
    ];
    prop::option::of((op, 1u32..40, prop::sample::select(KINDS.to_vec())))
}

fn buf_size() -> impl Strategy<Value = usize> {
    prop_oneof![Just(1usize), 1usize..16, 16usize..300]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Non-blocking: whatever the link does, the bytes sent are exactly the
    /// reference's, and each injected failure comes back as an error.
    #[test]
    fn nb_output_matches_reference(
        framing in framing(), mode in mode(), input in link_input(), b in behaviour(),
        fail in failure(), write_zero_at in prop::option::of(1u32..40),
        rx in buf_size(), tx in buf_size(),
    ) {
        let cfg = config(framing);
        let (_, expected) = reference(cfg, mode, &input);
        let b = Behaviour { fail, write_zero_at, ..b };
        let run = run_nb(cfg, mode, &input, b, rx, tx);
        prop_assert!(run.finished, "driver never finished");
        prop_assert_eq!(&run.output, &expected);
        let mut want = expected_errors(&run, false);
        if run.link.zeros > 0 {
            want.push(Error::WriteZero);
        }
        prop_assert_eq!(run.errors.len(), want.len(), "errors {:?}, want {:?}", run.errors, want);
        for e in &want {
            prop_assert!(run.errors.contains(e));
        }
        // End of input was seen once, and the link was not read after it.
        if mode == LinkMode::Stream {
            prop_assert!(run.link.eofs <= 1);
        } else {
            prop_assert_eq!(run.link.eofs, 1);
        }
    }

    /// Blocking: same, with Interrupted, short reads and writes, failures.
    #[test]
    fn blocking_output_matches_reference(
        framing in framing(), mode in mode(), input in link_input(), b in behaviour(),
        fail in failure(), write_zero_at in prop::option::of(1u32..40),
        rx in buf_size(), tx in buf_size(),
    ) {
        let cfg = config(framing);
        let (_, expected) = reference(cfg, mode, &input);
        let b = Behaviour { fail, write_zero_at, not_ready_pct: 0, ..b };
        let run = run_blocking(cfg, mode, &input, b, rx, tx);
        prop_assert!(run.finished, "driver never finished");
        prop_assert_eq!(&run.output, &expected);
        let mut want = expected_errors(&run, true);
        if run.link.zeros > 0 {
            want.push(Error::WriteZero);
        }
        want.sort_by_key(|e| format!("{e:?}"));
        let mut got = run.errors.clone();
        got.sort_by_key(|e| format!("{e:?}"));
        prop_assert_eq!(got, want);
        prop_assert!(run.link.eofs <= 1);
    }

    /// The unicode transform (store-and-forward DATA) over a connection,
    /// with a receive buffer of max_payload bytes.
    #[test]
    fn unicode_stream_matches_reference(
        framing in framing(), input in prop_oneof![
            link_input(),
            prop::collection::vec(
                prop::sample::select(vec!["straße ", "é", "ŉ", "abc", "\n", "\u{10428}", "\u{1f600}"]),
                1..20,
            ).prop_map(|words| words.concat().into_bytes()),
        ],
        b in behaviour(), blocking in any::<bool>(), rx in 64usize..300, tx in buf_size(),
    ) {
        let cfg = config(framing).with_transform(TransformKind::Unicode);
        let (_, expected) = reference(cfg, LinkMode::Stream, &input);
        let run = if blocking {
            run_blocking(cfg, LinkMode::Stream, &input, Behaviour { not_ready_pct: 0, ..b }, rx, tx)
        } else {
            run_nb(cfg, LinkMode::Stream, &input, b, rx, tx)
        };
        prop_assert!(run.finished);
        prop_assert!(run.errors.is_empty());
        prop_assert_eq!(run.output, expected);
    }

    /// A UART never ends its input: everything up to the last byte is
    /// answered, sessions restart, and the driver then just waits.
    #[test]
    fn nb_without_end_of_input(
        framing in framing(), input in link_input(), b in behaviour(),
        rx in buf_size(), tx in buf_size(),
    ) {
        let cfg = config(framing);
        let (expected, _) = reference(cfg, LinkMode::Continuous, &input);
        let b = Behaviour { eof: false, ..b };
        let run = run_nb(cfg, LinkMode::Continuous, &input, b, rx, tx);
        prop_assert!(!run.finished);
        prop_assert!(run.errors.is_empty());
        prop_assert_eq!(run.output, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Rule 7 through the non-blocking driver over a connection: the
    /// signal comes before poll number `polls`, with the bytes read so far
    /// waiting; the link carries what the test kit's model says a drain
    /// from that byte on answers.
    #[test]
    fn nb_shutdown_matches_the_model(
        framing in framing(), input in link_input(), b in behaviour(),
        polls in 0usize..30, rx in buf_size(), tx in buf_size(),
    ) {
        let cfg = config(framing);
        let mut link = TestLink::new(&input, b);
        let (mut rxb, mut txb) = (vec![0u8; rx], vec![0u8; tx]);
        let mut mark = None;
        let mut finished = false;
        {
            let mut server = NbServer::new(
                &mut link, cfg, LinkMode::Stream, &mut rxb, &mut txb, Instant::ZERO,
            ).unwrap();
            for i in 0..200_000 {
                if i == polls {
                    mark = Some(server.link().read_so_far());
                    server.shutdown(Instant::ZERO);
                }
                match server.poll(Instant::ZERO) {
                    Ok(p) if p.finished => {
                        finished = true;
                        break;
                    }
                    Ok(_) | Err(nb::Error::WouldBlock) => {}
                    Err(nb::Error::Other(e)) => panic!("{e}"),
                }
            }
        }
        prop_assert!(finished, "driver never finished");
        let want = match mark {
            Some(mark) => shout_testkit::model::serve_shutdown(&cfg, &input, mark).output,
            None => shout_testkit::model::serve(&cfg, &input).output,
        };
        prop_assert_eq!(shout_testkit::show(&link.output), shout_testkit::show(&want));
    }

    /// The same through the blocking driver: a read fails, the signal
    /// comes, `run` goes on.
    #[test]
    fn blocking_shutdown_matches_the_model(
        framing in framing(), mode in mode(), input in link_input(), b in behaviour(),
        fail_at in 1u32..20, rx in buf_size(), tx in buf_size(),
    ) {
        let cfg = config(framing);
        let b = Behaviour {
            not_ready_pct: 0,
            fail: Some((Op::Read, fail_at, ErrorKind::Other)),
            ..b
        };
        let mut link = TestLink::new(&input, b);
        let (mut rxb, mut txb) = (vec![0u8; rx], vec![0u8; tx]);
        let clock = || Instant::ZERO;
        let mut mark = None;
        {
            let mut server =
                BlockingServer::new(&mut link, clock, cfg, mode, &mut rxb, &mut txb).unwrap();
            if let Err(e) = server.run() {
                prop_assert_eq!(e, Error::Read(ErrorKind::Other));
                mark = Some(server.link().read_so_far());
                server.shutdown();
                server.run().unwrap();
            }
            prop_assert!(server.is_finished());
        }
        // The blocking driver reads only when the session asks for input,
        // so at the failed read the session open has taken every byte read.
        let want = match mark {
            Some(mark) => reference_shutdown(cfg, mode, &input, mark),
            None => reference(cfg, mode, &input).1,
        };
        prop_assert_eq!(shout_testkit::show(&link.output), shout_testkit::show(&want));
    }
}

// ---- exact cases ----------------------------------------------------------

/// Two frame sessions sent back to back in one read: the second HELLO
/// right behind the first CLOSE starts the second session.
#[test]
fn pipelined_sessions_on_a_uart_are_both_answered() {
    let mut input = Vec::new();
    for word in [&b"one"[..], b"two"] {
        input.extend(hello());
        input.extend(frame(1, word));
        input.extend(frame(4, b""));
    }
    let mut want = Vec::new();
    for word in [&b"ONE"[..], b"TWO"] {
        want.extend(server_hello(MAX_PAYLOAD));
        want.extend(frame(1, word));
        want.extend(frame(4, b""));
    }
    for (rx, tx) in [(1, 1), (7, 3), (512, 512)] {
        let run = run_nb(
            config(Framing::Auto),
            LinkMode::Continuous,
            &input,
            Behaviour {
                eof: false,
                ..Behaviour::plain()
            },
            rx,
            tx,
        );
        assert_eq!(run.output, want, "rx {rx} tx {tx}");
    }
    // On a connection, the bytes after CLOSE are ignored instead.
    let run = run_nb(
        config(Framing::Auto),
        LinkMode::Stream,
        &input,
        Behaviour::plain(),
        512,
        512,
    );
    assert_eq!(run.output, want[..want.len() / 2]);
}

/// Polls until nothing moves; adds up what moved.
fn settle(server: &mut NbServer<'_, &mut TestLink>, now: Instant) -> Progress {
    let mut total = Progress::default();
    for _ in 0..1000 {
        match server.poll(now) {
            Ok(p) => {
                total.received += p.received;
                total.sent += p.sent;
                total.sessions_ended += p.sessions_ended;
                total.finished = p.finished;
                if p.finished {
                    break;
                }
            }
            Err(nb::Error::WouldBlock) => return total,
            Err(nb::Error::Other(e)) => panic!("{e}"),
        }
    }
    total
}

/// Noise, then (after the link was quiet for the idle timeout) a good
/// frame session: the device recovers.
#[test]
fn uart_recovers_from_noise_after_idle_timeout() {
    let idle = Duration::from_millis(300);
    let cfg = Config::default().with_idle_timeout(Some(idle));
    let mut link = TestLink::new(
        b"\x00\xff\xff\xff\xffzz",
        Behaviour {
            eof: false,
            ..Behaviour::plain()
        },
    );
    let (mut rx, mut tx) = ([0u8; 32], [0u8; 32]);
    let mut t = Instant::from_millis(1000);
    let mut server =
        NbServer::new(&mut link, cfg, LinkMode::Continuous, &mut rx, &mut tx, t).unwrap();
    // An undecided session on a UART has no deadline.
    assert_eq!(server.poll_timeout(), None);
    let p = settle(&mut server, t);
    assert_eq!(p.received, 7);
    // The frame session refused the header (too large: ERROR 4) and the
    // rest ("zz") started a raw session, which echoes.
    let mut want = Vec::new();
    want.extend(frames::error_frame(
        ErrorCode::FrameTooLarge,
        "frame too large (limit 1048576 bytes)",
    ));
    want.extend_from_slice(b"ZZ");
    assert_eq!(server.link().output, want);
    assert_eq!(p.sessions_ended, 1);
    assert_eq!(server.poll_timeout(), Some(t + idle));
    assert!(matches!(server.poll(t), Err(nb::Error::WouldBlock)));
    // A HELLO inside the raw session is just more raw text.
    t = Instant::from_millis(1100);
    server.link_mut().push_input(b"a");
    let p = settle(&mut server, t);
    assert_eq!((p.received, p.sent, p.sessions_ended), (1, 1, 0));
    assert!(server.link().output.ends_with(b"ZZA"));
    // Quiet for the idle timeout: the raw session ends without a byte.
    t = Instant::from_millis(1399);
    assert!(matches!(server.poll(t), Err(nb::Error::WouldBlock)));
    t = Instant::from_millis(1400);
    let p = settle(&mut server, t);
    assert_eq!(p.sessions_ended, 1);
    assert_eq!(server.poll_timeout(), None);
    // A good session now.
    let before = server.link().output.len();
    let mut good = hello();
    good.extend(frame(1, b"hi"));
    good.extend(frame(4, b""));
    server.link_mut().push_input(&good);
    t = Instant::from_millis(5000);
    let p = settle(&mut server, t);
    assert_eq!(p.sessions_ended, 1);
    let mut want = server_hello(1 << 20);
    want.extend(frame(1, b"HI"));
    want.extend(frame(4, b""));
    assert_eq!(server.link().output[before..], want[..]);
}

/// A frame session that goes quiet gets ERROR 5, then the link is ready
/// for the next session.
#[test]
fn frame_session_idle_timeout_sends_error_5_and_restarts() {
    let idle = Duration::from_millis(200);
    let cfg = Config::default().with_idle_timeout(Some(idle));
    let mut link = TestLink::new(
        &hello(),
        Behaviour {
            eof: false,
            ..Behaviour::plain()
        },
    );
    let (mut rx, mut tx) = ([0u8; 8], [0u8; 8]);
    let t0 = Instant::from_millis(10);
    let mut server =
        NbServer::new(&mut link, cfg, LinkMode::Continuous, &mut rx, &mut tx, t0).unwrap();
    settle(&mut server, t0);
    assert_eq!(server.link().output, server_hello(1 << 20));
    assert_eq!(server.poll_timeout(), Some(t0 + idle));
    let p = settle(&mut server, t0 + idle);
    assert_eq!(p.sessions_ended, 1);
    let mut want = server_hello(1 << 20);
    want.extend(frames::error_frame(ErrorCode::IdleTimeout, "idle timeout"));
    assert_eq!(server.link().output, want);
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(
        server.poll_event(),
        Some(shout_core::Event::Opened(Framing::Frame))
    );
    assert_eq!(
        server.poll_event(),
        Some(shout_core::Event::Closed(
            shout_core::CloseReason::IdleTimeout
        ))
    );
    assert_eq!(server.poll_event(), None);
}

/// A link that is interrupted forever does not make the drivers spin.
#[test]
fn endless_interrupted_is_surfaced() {
    let b = Behaviour {
        interrupted_pct: 100,
        ..Behaviour::plain()
    };
    let run = run_blocking(
        config(Framing::Auto),
        LinkMode::Stream,
        b"abc",
        b.clone(),
        8,
        8,
    );
    assert!(!run.finished);
    assert!(run
        .errors
        .iter()
        .all(|e| *e == Error::Read(ErrorKind::Interrupted)));
    let mut link = TestLink::new(b"abc", b);
    let (mut rx, mut tx) = ([0u8; 8], [0u8; 8]);
    let mut server = NbServer::new(
        &mut link,
        config(Framing::Auto),
        LinkMode::Stream,
        &mut rx,
        &mut tx,
        Instant::ZERO,
    )
    .unwrap();
    assert_eq!(
        server.poll(Instant::ZERO),
        Err(nb::Error::Other(Error::Read(ErrorKind::Interrupted)))
    );
}

/// `Ok(0)` from write is an error, not a retry loop.
#[test]
fn write_zero_is_an_error() {
    let b = Behaviour {
        write_zero_at: Some(1),
        ..Behaviour::plain()
    };
    let mut link = TestLink::new(b"abc", b);
    let (mut rx, mut tx) = ([0u8; 8], [0u8; 8]);
    let clock = || Instant::ZERO;
    let mut server = BlockingServer::new(
        &mut link,
        clock,
        config(Framing::Auto),
        LinkMode::Stream,
        &mut rx,
        &mut tx,
    )
    .unwrap();
    assert_eq!(server.run(), Err(Error::WriteZero));
    // The output was kept: the next run sends it.
    server.run().unwrap();
    assert_eq!(link.output, b"ABC");
}

#[test]
fn empty_buffers_and_bad_config_are_refused() {
    let mut link = TestLink::new(b"", Behaviour::plain());
    let (mut rx, mut tx) = ([0u8; 8], [0u8; 8]);
    let cfg = config(Framing::Auto);
    assert!(matches!(
        NbServer::new(
            &mut link,
            cfg,
            LinkMode::Stream,
            &mut [],
            &mut tx,
            Instant::ZERO
        ),
        Err(SetupError::EmptyRxBuffer)
    ));
    assert!(matches!(
        NbServer::new(
            &mut link,
            cfg,
            LinkMode::Stream,
            &mut rx,
            &mut [],
            Instant::ZERO
        ),
        Err(SetupError::EmptyTxBuffer)
    ));
    let mut big_tx = [0u8; 8];
    let mut small_rx = [0u8; 63];
    assert!(matches!(
        NbServer::new(
            &mut link,
            cfg.with_transform(TransformKind::Unicode),
            LinkMode::Stream,
            &mut small_rx,
            &mut big_tx,
            Instant::ZERO
        ),
        Err(SetupError::RxBufferTooSmall { needed: 64 })
    ));
    assert!(matches!(
        NbServer::new(
            &mut link,
            cfg.with_max_payload(5),
            LinkMode::Stream,
            &mut rx,
            &mut tx,
            Instant::ZERO
        ),
        Err(SetupError::Config(_))
    ));
}

/// An empty connection: no output at all, finished at once.
#[test]
fn empty_stream_closes_without_output() {
    for framing in [Framing::Auto, Framing::Frame, Framing::Line, Framing::Raw] {
        let run = run_nb(
            config(framing),
            LinkMode::Stream,
            b"",
            Behaviour::plain(),
            4,
            4,
        );
        assert!(run.finished);
        assert!(run.output.is_empty());
    }
}

/// Each ErrorKind, on each link call, of both drivers: surfaced as the
/// link said it (Interrupted retried; a blocking read's TimedOut only
/// checks the clock), and the output still exact afterwards.
#[test]
fn every_error_kind_on_every_call() {
    let mut input = hello();
    input.extend(frame(1, b"some data"));
    input.extend(frame(2, b"ping"));
    input.extend(frame(4, b""));
    let cfg = config(Framing::Auto);
    let (_, expected) = reference(cfg, LinkMode::Stream, &input);
    for kind in KINDS {
        for op in [Op::ReadReady, Op::Read, Op::WriteReady, Op::Write] {
            for nth in [1, 2] {
                let b = Behaviour {
                    max_read: 3,
                    max_write: 2,
                    fail: Some((op, nth, kind)),
                    ..Behaviour::plain()
                };
                let run = run_nb(cfg, LinkMode::Stream, &input, b.clone(), 4, 4);
                assert!(run.finished, "nb {kind:?} {op:?}");
                assert_eq!(run.output, expected, "nb {kind:?} {op:?}");
                assert_eq!(run.link.injected, vec![(op, kind)], "nb {kind:?} {op:?}");
                assert_eq!(
                    run.errors,
                    expected_errors(&run, false),
                    "nb {kind:?} {op:?}"
                );
                if matches!(op, Op::Read | Op::Write) {
                    let run = run_blocking(cfg, LinkMode::Stream, &input, b, 4, 4);
                    assert!(run.finished, "blocking {kind:?} {op:?}");
                    assert_eq!(run.output, expected, "blocking {kind:?} {op:?}");
                    assert_eq!(run.link.injected, vec![(op, kind)]);
                    assert_eq!(
                        run.errors,
                        expected_errors(&run, true),
                        "blocking {kind:?} {op:?}"
                    );
                }
            }
        }
    }
}

// ---- shutdown ---------------------------------------------------------------

/// Rule 7 on a UART: the bytes held when the signal comes are answered
/// (here they wait in `rx` because the link takes no output), bytes that
/// arrive later are not, and no new session starts after the drain.
#[test]
fn nb_shutdown_answers_the_bytes_held_and_starts_no_new_session() {
    let mut link = TestLink::new(
        b"abcdefgh",
        Behaviour {
            eof: false,
            ..Behaviour::plain()
        },
    );
    link.write_blocked = true;
    let (mut rx, mut tx) = ([0u8; 16], [0u8; 4]);
    let now = Instant::ZERO;
    let mut server = NbServer::new(
        &mut link,
        config(Framing::Raw),
        LinkMode::Continuous,
        &mut rx,
        &mut tx,
        now,
    )
    .unwrap();
    let p = settle(&mut server, now);
    assert_eq!((p.received, p.sent), (8, 0));
    // "ABCD" fills tx; "efgh" waits in rx.
    server.shutdown(now);
    assert_eq!(server.session().state(), shout_core::State::Draining);
    server.link_mut().push_input(b"ijk");
    server.link_mut().write_blocked = false;
    let p = settle(&mut server, now);
    assert!(p.finished && server.is_finished());
    assert_eq!(p.sessions_ended, 1);
    assert_eq!(server.link().output, b"ABCDEFGH");
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(
        server.poll_event(),
        Some(shout_core::Event::Opened(Framing::Raw))
    );
    assert_eq!(
        server.poll_event(),
        Some(shout_core::Event::Closed(shout_core::CloseReason::Shutdown))
    );
    // Finished stays finished: "ijk" is never answered.
    assert!(server.poll(now).unwrap().finished);
    assert_eq!(link.output, b"ABCDEFGH");
}

/// Rule 7 for frames: a DATA whose header was in when the signal came is
/// finished once the rest of it arrives (a unicode one is answered whole),
/// the DATA after it is not, and the session closes with CLOSE.
#[test]
fn nb_shutdown_finishes_the_request_begun() {
    shutdown_finishes_the_request_begun(TransformKind::Ascii);
}

/// The same with a unicode DATA, whose response waits for its whole
/// payload: only 2 payload bytes were waiting at the shutdown, yet the
/// begun request is taken whole and answered, `DATA "STRASS"` then CLOSE,
/// as the test kit's model (`serve_shutdown`) says.
#[test]
fn nb_shutdown_finishes_a_unicode_request_begun() {
    shutdown_finishes_the_request_begun(TransformKind::Unicode);
}

fn shutdown_finishes_the_request_begun(transform: TransformKind) {
    {
        let cfg = config(Framing::Auto).with_transform(transform);
        let mut input = hello();
        input.extend_from_slice(&frames::header(1u8, 6));
        input.extend_from_slice("st".as_bytes());
        let mut link = TestLink::new(
            &input,
            Behaviour {
                eof: false,
                ..Behaviour::plain()
            },
        );
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let now = Instant::ZERO;
        let mut server =
            NbServer::new(&mut link, cfg, LinkMode::Continuous, &mut rx, &mut tx, now).unwrap();
        settle(&mut server, now);
        server.shutdown(now);
        let mut rest = "raß".as_bytes().to_vec(); // "straß": 6 bytes
        rest.extend(frames::data(b"not answered"));
        server.link_mut().push_input(&rest);
        let p = settle(&mut server, now);
        assert!(
            p.finished,
            "{transform:?} not finished: {:?}",
            server.session().state()
        );
        let mut want = frames::server_hello_with(MAX_PAYLOAD, transform);
        let upper = if transform == TransformKind::Unicode {
            frames::data(b"STRASS")
        } else {
            frames::data("STRAß".as_bytes())
        };
        want.extend(upper);
        want.extend(frames::close());
        assert_eq!(
            shout_testkit::show(&server.link().output),
            shout_testkit::show(&want),
            "{transform:?}"
        );
    }
}

/// The blocking driver drains between runs: the begun line is finished,
/// the next is not, and `run` then returns finished.
#[test]
fn blocking_shutdown_between_runs_finishes_the_begun_line() {
    for mode in [LinkMode::Stream, LinkMode::Continuous] {
        let b = Behaviour {
            fail: Some((Op::Read, 2, ErrorKind::Other)),
            ..Behaviour::plain()
        };
        let mut link = TestLink::new(b"one\ntw", b);
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let clock = || Instant::ZERO;
        let mut server = BlockingServer::new(
            &mut link,
            clock,
            config(Framing::Line),
            mode,
            &mut rx,
            &mut tx,
        )
        .unwrap();
        assert_eq!(server.run(), Err(Error::Read(ErrorKind::Other)));
        server.shutdown();
        server.link_mut().push_input(b"o\nthree\n");
        let summary = server.run().unwrap();
        assert!(server.is_finished(), "{mode:?}");
        assert_eq!(summary.sessions_ended, 1);
        assert_eq!(server.link().output, b"ONE\nTWO\n", "{mode:?}");
        assert_eq!(server.link().eofs, 0, "{mode:?}");
    }
}

//! Property tests of the protocol core, each against the whole-input
//! reference model in `shout_testkit::model`:
//!
//! (a) the output (and the close reason) is the same however the input is
//!     split into reads and however small the output windows are;
//! (b) one response per request, in order;
//! (c) frame headers round-trip, and a client decodes a server's output
//!     into exactly what was sent, for any split;
//! (d) a session never holds more than its fixed capacity;
//! and a client and a server wired back to back agree.
//!
//! `SHOUT_PROPTEST_SCALE=N` multiplies every case count for a deeper run.

use proptest::collection::vec;
use proptest::prelude::*;
use shout_core::wire::{Header, Kind};
use shout_core::{
    CloseReason, Config, Duration, Event, Framing, Instant, Reply, ReplyDecoder, RequestEncoder,
    Server, CONTROL_CAPACITY, SERVER_SIZE_LIMIT,
};
use shout_testkit::frames::{client_hello, decode_frames, frame, server_hello};
use shout_testkit::model::{self, upper};
use shout_testkit::{
    decode_replies, new_server, observe, observe_then_shutdown, observe_until_idle, show,
    CheckedServer, OwnedReply, Requests,
};

/// `n` cases, times `SHOUT_PROPTEST_SCALE` (default 1) for a deeper run.
fn cases(n: u32) -> ProptestConfig {
    ProptestConfig::with_cases(shout_testkit::scaled_cases(n))
}

// ---- generators ------------------------------------------------------------

/// Sizes for reads or windows: mostly tiny (down to 1 and 0), some larger.
fn sizes() -> impl Strategy<Value = Vec<usize>> {
    vec(
        prop_oneof![4 => 1..8usize, 2 => Just(0usize), 2 => 8..300usize],
        1..6,
    )
    .prop_map(|mut v| {
        if v.iter().all(|&s| s == 0) {
            v.push(1);
        }
        v
    })
}

fn plan() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (sizes(), sizes())
}

fn text_byte() -> impl Strategy<Value = u8> {
    prop_oneof![6 => b'a'..=b'z', 2 => b'A'..=b'Z', 1 => Just(b' '), 1 => Just(b'\r'), 1 => any::<u8>()]
}

fn payload(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(text_byte(), 0..max)
}

fn raw_text() -> impl Strategy<Value = Vec<u8>> {
    vec(text_byte(), 0..200)
}

/// Lines of up to `max` bytes of text, LF or CRLF ended, maybe a partial last.
fn lines(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(
        (
            vec(prop_oneof![b'a'..=b'z', Just(b' '), Just(b'E')], 0..max),
            any::<bool>(),
        ),
        0..8,
    )
    .prop_map(|ls| {
        ls.into_iter()
            .map(|(mut l, crlf)| {
                if crlf {
                    l.push(b'\r');
                }
                l.push(b'\n');
                l
            })
            .collect()
    })
}

fn line_text() -> impl Strategy<Value = Vec<u8>> {
    (lines(30), payload(12)).prop_map(|(ls, tail)| {
        let mut v = ls.concat();
        v.extend(tail.into_iter().filter(|&b| b != 0));
        v
    })
}

#[derive(Clone, Debug)]
enum Req {
    Data(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Clone, Debug)]
enum End {
    Nothing,
    Close(Vec<u8>),
    Error(Vec<u8>),
}

/// A well-formed frame session from the client's side.
#[derive(Clone, Debug)]
struct Session {
    hello_extra: Vec<u8>,
    reqs: Vec<Req>,
    end: End,
    after: Vec<u8>,
}

impl Session {
    fn bytes(&self) -> Vec<u8> {
        let mut v = client_hello(&self.hello_extra);
        for r in &self.reqs {
            v.extend(match r {
                Req::Data(p) => frame(Kind::Data, p),
                Req::Ping(p) => frame(Kind::Ping, p),
                Req::Pong(p) => frame(Kind::Pong, p),
            });
        }
        match &self.end {
            End::Nothing => {}
            End::Close(p) => v.extend(frame(Kind::Close, p)),
            End::Error(p) => v.extend(frame(Kind::Error, p)),
        }
        v.extend_from_slice(&self.after);
        v
    }
}

/// Sessions whose every frame fits `max` payload bytes (`max >= 6`).
fn session(max: usize) -> impl Strategy<Value = Session> {
    let req = prop_oneof![
        4 => payload(max).prop_map(Req::Data),
        2 => payload(max).prop_map(Req::Ping),
        1 => payload(max).prop_map(Req::Pong),
    ];
    let end = prop_oneof![
        3 => Just(End::Nothing),
        2 => payload(4).prop_map(End::Close),
        1 => payload(4).prop_map(End::Error),
    ];
    (
        vec(any::<u8>(), 0..max - 5),
        vec(req, 0..8),
        end,
        vec(any::<u8>(), 0..8),
    )
        .prop_map(|(hello_extra, reqs, end, after)| {
            let after = if matches!(end, End::Nothing) {
                Vec::new()
            } else {
                after
            };
            Session {
                hello_extra,
                reqs,
                end,
                after,
            }
        })
}

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(prop::sample::Index),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Remove(prop::sample::Index),
}

fn mutated(s: Session, m: Mutation) -> Vec<u8> {
    let mut v = s.bytes();
    match m {
        Mutation::Truncate(i) => v.truncate(i.index(v.len() + 1)),
        Mutation::Set(i, b) => {
            let at = i.index(v.len());
            v[at] = b;
        }
        Mutation::Insert(i, bytes) => {
            let at = i.index(v.len() + 1);
            v.splice(at..at, bytes);
        }
        Mutation::Remove(i) => {
            v.remove(i.index(v.len()));
        }
    }
    v
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<prop::sample::Index>(), vec(any::<u8>(), 1..6))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
    ]
}

/// Realistic inputs of every kind, valid and broken.
fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => raw_text(),
        2 => line_text(),
        3 => session(40).prop_map(|s| s.bytes()),
        4 => (session(40), mutation()).prop_map(|(s, m)| mutated(s, m)),
        1 => vec(any::<u8>(), 0..64),
        1 => vec(any::<u8>(), 0..64).prop_map(|mut v| {
            v.insert(0, 0);
            v
        }),
    ]
}

fn any_framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        3 => Just(Framing::Auto),
        1 => Just(Framing::Raw),
        2 => Just(Framing::Line),
        3 => Just(Framing::Frame),
    ]
}

fn any_config() -> impl Strategy<Value = Config> {
    (any_framing(), 6u32..48, 1u32..24).prop_map(|(framing, max_payload, max_line)| {
        Config::default()
            .with_framing(framing)
            .with_max_payload(max_payload)
            .with_max_line(max_line)
            .with_idle_timeout(Some(Duration::from_secs(1)))
            .with_drain_timeout(Duration::from_millis(500))
    })
}

fn expected_events(config: &Config, input: &[u8], close: CloseReason) -> Vec<Event> {
    match model::framing_of(config, input) {
        Some(f) => vec![Event::Opened(f), Event::Closed(close)],
        None => vec![Event::Closed(close)],
    }
}

// ---- (a) split and window independence, against the model ----------------

proptest! {
    #![proptest_config(cases(600))]

    #[test]
    fn output_matches_the_model_however_split_with_end_of_input(
        config in any_config(),
        input in any_input(),
        (splits, windows) in plan(),
    ) {
        let m = model::serve(&config, &input);
        let seen = observe(config, &input, &splits, &windows);
        prop_assert_eq!(show(&seen.output), show(&m.output));
        prop_assert_eq!(seen.events, expected_events(&config, &input, m.close));
    }

    #[test]
    fn output_matches_the_model_however_split_until_idle(
        config in any_config(),
        input in any_input(),
        (splits, windows) in plan(),
    ) {
        let m = model::serve_until_idle(&config, &input);
        let seen = observe_until_idle(config, &input, &splits, &windows);
        prop_assert_eq!(show(&seen.output), show(&m.output));
        prop_assert_eq!(seen.events, expected_events(&config, &input, m.close));
    }
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn output_matches_the_model_however_split_then_shutdown(
        config in any_config(),
        input in any_input(),
        (splits, windows) in plan(),
    ) {
        let m = model::serve_then_shutdown(&config, &input);
        let seen = observe_then_shutdown(config, &input, &splits, &windows);
        prop_assert_eq!(show(&seen.output), show(&m.output));
        prop_assert_eq!(seen.events, expected_events(&config, &input, m.close));
    }

    #[test]
    fn byte_by_byte_with_one_byte_windows_equals_all_at_once(
        config in any_config(),
        input in any_input(),
    ) {
        let whole = observe(config, &input, &[], &[]);
        let tiny = observe(config, &input, &[1], &[1]);
        prop_assert_eq!(show(&whole.output), show(&tiny.output));
        prop_assert_eq!(whole.events, tiny.events);
    }
}

// ---- (b) one response per request, in order -------------------------------

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn frame_requests_get_one_response_each_in_order(
        s in session(40),
        auto in any::<bool>(),
        (splits, windows) in plan(),
    ) {
        let framing = if auto { Framing::Auto } else { Framing::Frame };
        let config = Config::default().with_framing(framing).with_max_payload(40);
        let seen = observe(config, &s.bytes(), &splits, &windows);
        let (frames, partial) = decode_frames(&seen.output);
        prop_assert_eq!(partial, 0, "output ends inside a frame");
        let mut frames = frames.into_iter();
        let first = frames.next().unwrap();
        prop_assert!(first.is(Kind::Hello));
        prop_assert_eq!(first.payload.len(), 11);
        for r in &s.reqs {
            let (want_kind, want) = match r {
                Req::Data(p) => (Kind::Data, upper(p)),
                Req::Ping(p) => (Kind::Pong, p.clone()),
                Req::Pong(_) => continue,
            };
            let got = frames.next();
            prop_assert!(got.is_some(), "a request got no response");
            let got = got.unwrap();
            prop_assert_eq!(got.known_kind(), Some(want_kind));
            prop_assert_eq!(show(&got.payload), show(&want));
        }
        let last: Vec<_> = frames.collect();
        match s.end {
            End::Error(_) => prop_assert!(last.is_empty(), "sent something after client ERROR"),
            _ => {
                prop_assert_eq!(last.len(), 1);
                prop_assert!(last[0].is(Kind::Close));
                prop_assert!(last[0].payload.is_empty());
            }
        }
    }

    #[test]
    fn line_requests_get_one_response_line_each_in_order(
        max_line in 2u32..40,
        ls in lines(38),
        (splits, windows) in plan(),
    ) {
        // Keep each line within max_line bytes (CR and LF counted).
        let ls: Vec<Vec<u8>> = ls
            .into_iter()
            .filter(|l| l.len() <= max_line as usize)
            .collect();
        let config = Config::default().with_framing(Framing::Line).with_max_line(max_line);
        let seen = observe(config, &ls.concat(), &splits, &windows);
        let got: Vec<&[u8]> = seen.output.split_inclusive(|&b| b == b'\n').collect();
        prop_assert_eq!(got.len(), ls.len());
        for (g, l) in got.iter().zip(&ls) {
            prop_assert_eq!(show(g), show(&upper(l)));
        }
        prop_assert_eq!(seen.close(), Some(CloseReason::EndOfInput));
    }
}

// ---- (c) round trips --------------------------------------------------------

proptest! {
    #![proptest_config(cases(1000))]

    #[test]
    fn header_encode_decode_round_trip(k in any::<u8>(), len in any::<u32>()) {
        let h = Header { kind: k, len };
        let bytes = h.to_bytes();
        let l = len.to_be_bytes();
        prop_assert_eq!(bytes, [k, l[0], l[1], l[2], l[3]], "kind, then the length BE");
        prop_assert_eq!(Header::parse(&bytes), h);
        prop_assert_eq!(Header::parse_prefix(&[&bytes[..], &[9, 9]].concat()), Some(h));
        prop_assert_eq!(Header::parse_prefix(&bytes[..4]), None);
        prop_assert_eq!(h.known_kind().is_some(), k <= 5);
        if let Some(known) = h.known_kind() {
            prop_assert_eq!(Header::new(known, len), h);
        }
    }

    #[test]
    fn any_five_bytes_decode_and_encode_back(bytes in any::<[u8; 5]>()) {
        prop_assert_eq!(Header::parse(&bytes).to_bytes(), bytes);
    }
}

/// A reply's kind and bytes, with DATA/PONG pieces joined into one.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Whole {
    Hello(u32),
    Data(Vec<u8>),
    Pong(Vec<u8>),
    Close,
    Error(u16),
}

/// Feeds `bytes` to `client` in reads of `reads` sizes; joins pieces.
fn client_decode(
    client: &mut ReplyDecoder,
    bytes: &[u8],
    reads: &[usize],
) -> Result<Vec<Whole>, String> {
    let reads: Vec<usize> = reads.iter().map(|&r| r.max(1)).collect();
    let decoded = decode_replies(client, bytes, &reads);
    let mut out = Vec::new();
    for reply in decoded.replies {
        out.push(match reply {
            OwnedReply::Hello(h) => Whole::Hello(h.max_payload),
            OwnedReply::Data(d) => Whole::Data(d),
            OwnedReply::Pong(p) => Whole::Pong(p),
            OwnedReply::Close => Whole::Close,
            OwnedReply::Error(code, _) => Whole::Error(code),
            OwnedReply::Bytes(_) => return Err("Bytes from a frame client".into()),
        });
    }
    if let Some(e) = decoded.error {
        return Err(e.to_string());
    }
    if decoded.partial.is_some() {
        return Err("a reply never ended".into());
    }
    Ok(out)
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn client_decodes_the_server_output_into_what_was_sent(
        s in session(40),
        (splits, windows) in plan(),
        reads in sizes(),
    ) {
        let config = Config::default().with_framing(Framing::Frame).with_max_payload(40);
        let seen = observe(config, &s.bytes(), &splits, &windows);
        let mut client = ReplyDecoder::new(Framing::Frame);
        let mut want = vec![Whole::Hello(40)];
        for r in &s.reqs {
            match r {
                Req::Data(p) => {
                    client.expect(Kind::Data).unwrap();
                    want.push(Whole::Data(upper(p)));
                }
                Req::Ping(p) => {
                    client.expect(Kind::Ping).unwrap();
                    want.push(Whole::Pong(p.clone()));
                }
                Req::Pong(_) => {}
            }
        }
        let ends_clean = !matches!(s.end, End::Error(_));
        if ends_clean {
            want.push(Whole::Close);
        }
        let got = client_decode(&mut client, &seen.output, &reads);
        prop_assert_eq!(got, Ok(want));
        prop_assert_eq!(client.awaiting(), 0);
        prop_assert_eq!(client.handle_end_of_input().is_ok(), ends_clean);
    }

    #[test]
    fn client_never_panics_on_any_reply(
        hello_first in any::<bool>(),
        garbage in vec(any::<u8>(), 0..200),
        requests in 0usize..4,
        reads in sizes(),
    ) {
        let mut bytes = if hello_first {
            server_hello(&Config::default())
        } else {
            Vec::new()
        };
        bytes.extend(garbage);
        let mut client = ReplyDecoder::new(Framing::Frame);
        for _ in 0..requests {
            client.expect(Kind::Data).unwrap();
        }
        // Ok or a clear error; a panic fails the test.
        if let Err(e) = client_decode(&mut client, &bytes, &reads) {
            prop_assert!(!e.is_empty());
            prop_assert!(!e.contains("no progress"), "{}", e);
        }
        let _ = client.handle_end_of_input();
    }
}

// ---- a client and a server back to back -----------------------------------

/// Runs `messages` from a client through a server and back, over pipes
/// that move random amounts; returns the reassembled DATA responses.
fn back_to_back(
    messages: &[Vec<u8>],
    c2s: &[usize],
    windows: &[usize],
    s2c: &[usize],
) -> Result<Vec<Vec<u8>>, String> {
    let now = Instant::ZERO;
    let mut server = new_server(Config::default().with_max_payload(64));
    let mut requests = Requests::frame(64);
    for m in messages {
        requests.data(m).map_err(|e| e.to_string())?;
    }
    requests.close().map_err(|e| e.to_string())?;
    let mut client = requests.decoder().map_err(|e| e.to_string())?;
    let to_server = requests.bytes().to_vec();
    let mut to_client: Vec<u8> = Vec::new();
    let (mut sent, mut offered, mut delivered) = (0usize, 0usize, 0usize);
    let mut replies = Vec::new();
    let mut window = vec![0u8; 512];
    for step in 0..100_000usize {
        // The link moves some bytes to the server...
        let n = c2s[step % c2s.len()].min(to_server.len() - offered);
        offered += n;
        let w = windows[step % windows.len()];
        let p = server.handle_input(now, &to_server[sent..offered], &mut window[..w]);
        sent += p.consumed;
        to_client.extend_from_slice(&window[..p.produced]);
        if server.pending_output_len() > CONTROL_CAPACITY {
            return Err("session over its capacity".into());
        }
        // ...and some of the server's output to the client.
        let k = s2c[step % s2c.len()].min(to_client.len() - delivered);
        let mut chunk = &to_client[delivered..delivered + k];
        delivered += k;
        while !chunk.is_empty() {
            let (used, reply) = client.handle_input(chunk).map_err(|e| e.to_string())?;
            if let Some(Reply::Data { chunk: piece, last }) = reply {
                if replies
                    .last()
                    .is_none_or(|(done, _): &(bool, Vec<u8>)| *done)
                {
                    replies.push((false, Vec::new()));
                }
                let current = replies.last_mut().unwrap();
                current.1.extend_from_slice(piece);
                current.0 = last;
            }
            chunk = &chunk[used..];
        }
        if client.is_done() && server.is_finished() && delivered == to_client.len() {
            if !replies.iter().all(|(done, _)| *done) {
                return Err("a response never ended".into());
            }
            return Ok(replies.into_iter().map(|(_, r)| r).collect());
        }
    }
    Err("the exchange did not finish".into())
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn client_and_server_back_to_back_exchange_uppercased_messages_in_order(
        messages in vec(payload(64), 0..12),
        c2s in sizes(),
        windows in sizes(),
        s2c in sizes(),
    ) {
        let got = back_to_back(&messages, &c2s, &windows, &s2c);
        let want: Vec<Vec<u8>> = messages.iter().map(|m| upper(m)).collect();
        prop_assert_eq!(got, Ok(want));
    }
}

// ---- (d) bounded memory, no panic in any state ----------------------------

#[test]
fn a_server_session_stays_within_its_size_limit() {
    let size = core::mem::size_of::<Server>();
    assert!(
        size <= SERVER_SIZE_LIMIT,
        "Server is {size} bytes, limit {SERVER_SIZE_LIMIT}"
    );
    assert!(
        core::mem::size_of::<ReplyDecoder>() <= 256,
        "ReplyDecoder grew past 256 bytes"
    );
    assert!(
        core::mem::size_of::<RequestEncoder>() <= 16,
        "RequestEncoder grew past 16 bytes"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Input(usize, usize),
    InPlace(usize),
    Flush(usize),
    EndOfInput,
    /// A shutdown with this many bytes in the link beyond those held.
    Shutdown(usize),
    Advance(u64),
    Timeout,
    Transmitted,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..40usize, 0..40usize).prop_map(|(n, w)| Op::Input(n, w)),
        2 => (0..40usize).prop_map(Op::InPlace),
        2 => (0..40usize).prop_map(Op::Flush),
        1 => Just(Op::EndOfInput),
        1 => (0..8usize).prop_map(Op::Shutdown),
        2 => (0..1500u64).prop_map(Op::Advance),
        2 => Just(Op::Timeout),
        1 => Just(Op::Transmitted),
    ]
}

proptest! {
    #![proptest_config(cases(500))]

    /// Any sequence of calls, in any state, with any sizes: no panic, the
    /// output fits its windows, the queue stays within CONTROL_CAPACITY,
    /// events come in order, and a finished session produces nothing more
    /// (each call checked by the kit's `CheckedServer`).
    #[test]
    fn any_sequence_of_calls_keeps_the_session_bounded_and_sane(
        config in any_config(),
        input in any_input(),
        ops in vec(op(), 0..60),
    ) {
        let mut s = CheckedServer::new(config);
        // The caller has the whole input and offers it in pieces.
        let mut at = 0usize;
        for op in ops {
            let was_finished = s.server().is_finished();
            match op {
                Op::Input(n, w) => {
                    let end = (at + n).min(input.len());
                    let p = s.offer(&input[at..end], w);
                    prop_assert!(p.consumed <= end - at && p.produced <= w);
                    at += p.consumed;
                    if was_finished {
                        prop_assert_eq!(p.produced, 0);
                    }
                }
                Op::InPlace(n) => {
                    let end = (at + n).min(input.len());
                    let p = s.offer_in_place(&input[at..end]);
                    at += p.consumed;
                }
                Op::Flush(w) => {
                    let p = s.flush(w);
                    prop_assert!(p.produced <= w && p.consumed == 0);
                    if was_finished {
                        prop_assert_eq!(p.produced, 0);
                    }
                }
                Op::EndOfInput => s.end_of_input(input.len() - at),
                Op::Shutdown(in_link) => s.shutdown(input.len() - at + in_link),
                Op::Advance(ms) => s.advance(Duration::from_millis(ms)),
                Op::Timeout => {
                    s.timeout();
                }
                Op::Transmitted => s.transmitted(),
            }
            prop_assert!(s.server().pending_output_len() <= CONTROL_CAPACITY);
        }
        let events = s.events();
        let opened = events.iter().filter(|e| matches!(e, Event::Opened(_))).count();
        let closed = events.iter().filter(|e| matches!(e, Event::Closed(_))).count();
        prop_assert!(opened <= 1 && closed <= 1, "events {:?}", events);
        if opened == 1 {
            prop_assert!(matches!(events[0], Event::Opened(f) if f != Framing::Auto));
        }
        prop_assert_eq!(closed == 1, s.server().is_closed());
    }
}

/// Feeds all of `input` through windows of `windows` sizes, stopping as
/// soon as the input is consumed (output may still wait inside), then
/// fires the idle timeout and takes the rest.
fn idle_with_output_waiting(
    config: Config,
    input: &[u8],
    windows: &[usize],
) -> (Vec<u8>, Vec<Event>) {
    let now = Instant::ZERO;
    let mut server = new_server(config);
    let mut out = Vec::new();
    let mut window = [0u8; 300];
    let mut at = 0;
    let mut step = 0;
    while at < input.len() && !server.is_closed() {
        let w = windows[step % windows.len()];
        step += 1;
        let p = server.handle_input(now, &input[at..], &mut window[..w]);
        at += p.consumed;
        out.extend_from_slice(&window[..p.produced]);
        assert!(step < 100_000, "no progress");
    }
    if !server.is_closed() {
        server.handle_timeout(server.poll_timeout().unwrap());
    }
    while !server.is_finished() {
        let n = server.poll_output(now, &mut window[..7]).produced;
        out.extend_from_slice(&window[..n]);
    }
    (out, std::iter::from_fn(|| server.poll_event()).collect())
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn idle_while_output_waits_inside_matches_the_model(
        config in any_config(),
        input in any_input(),
        windows in sizes(),
    ) {
        let m = model::serve_until_idle(&config, &input);
        let (out, events) = idle_with_output_waiting(config, &input, &windows);
        prop_assert_eq!(show(&out), show(&m.output));
        prop_assert_eq!(events, expected_events(&config, &input, m.close));
    }
}

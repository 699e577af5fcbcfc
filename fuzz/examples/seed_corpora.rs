//! Writes the seed corpora: `fuzz/corpus/<target>/seed-<name>`, small
//! inputs in each target's byte layout (valid sessions and edge cases), so
//! a fuzzer starts from whole HELLOs, frames and lines instead of noise.
//!
//! Run from `fuzz/` (see `seed-corpora.sh`):
//! `cargo run --example seed_corpora --no-default-features -- corpus`

use std::fs;
use std::path::{Path, PathBuf};

use shout_core::wire::Kind;
use shout_fuzz::frames::{self, client_hello, frame, header};
use shout_fuzz::script::{Op, Piece, Script};
use shout_fuzz::{decode, Reader};

struct Out {
    root: PathBuf,
    written: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
        self.written += 1;
    }
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A size list in the layout `Reader::sizes` reads.
fn sizes(list: &[u8]) -> Vec<u8> {
    assert!(list.len() < 16);
    let mut v = vec![list.len() as u8];
    v.extend_from_slice(list);
    v
}

fn frame_header(o: &mut Out) {
    let t = "frame_header";
    let big = 1u32 << 20;
    // flags: 1 HELLO first, 2 byte by byte, 4 small max, 8 auto.
    let seed = |flags: u8, max: u32, header: [u8; 5], payload: &[u8]| {
        cat(&[&[flags], &max.to_be_bytes(), &header, payload])
    };
    o.put(
        t,
        "data-after-hello",
        &seed(1, big, header(Kind::Data, 5), b"hello"),
    );
    o.put(
        t,
        "ping-bytewise",
        &seed(3, big, header(Kind::Ping, 3), b"abc"),
    );
    o.put(
        t,
        "hello-first",
        &seed(0, big, header(Kind::Hello, 6), b"SHOUT\x01"),
    );
    o.put(
        t,
        "hello-version-2",
        &seed(0, big, header(Kind::Hello, 6), b"SHOUT\x02"),
    );
    o.put(
        t,
        "hello-short",
        &seed(0, big, header(Kind::Hello, 5), b"SHOUT"),
    );
    o.put(
        t,
        "second-hello",
        &seed(1, big, header(Kind::Hello, 6), b"SHOUT\x01"),
    );
    o.put(
        t,
        "data-before-hello",
        &seed(0, big, header(Kind::Data, 1), b"x"),
    );
    o.put(t, "unknown-kind", &seed(1, big, header(6, 0), b""));
    o.put(
        t,
        "unknown-kind-too-large",
        &seed(1, 6, header(0xff, 7), b""),
    );
    o.put(
        t,
        "too-large",
        &seed(5, 10, header(Kind::Data, 11), b"xxxxxxxxxxx"),
    );
    o.put(t, "close", &seed(1, big, header(Kind::Close, 0), b""));
    o.put(
        t,
        "close-with-payload",
        &seed(1, big, header(Kind::Close, 2), b"zz"),
    );
    o.put(
        t,
        "client-error",
        &seed(1, big, header(Kind::Error, 2), b"\0\x01"),
    );
    o.put(t, "pong", &seed(1, big, header(Kind::Pong, 2), b"pp"));
    o.put(t, "auto-data", &seed(9, big, header(Kind::Data, 2), b"ok"));
    o.put(t, "auto-raw", &seed(8, big, *b"hello", b" world"));
    o.put(
        t,
        "server-hello-bytes",
        &frames::server_hello(&shout_core::Config::default())[5..],
    );
}

fn line_raw(o: &mut Out) {
    let t = "line_raw";
    // mode: bits 0-1 raw/line/auto/line, 4 small max_line, 8 idle.
    let seed = |mode: u8, max: u32, s: &[u8], w: &[u8], input: &[u8]| {
        cat(&[&[mode], &max.to_be_bytes(), &sizes(s), &sizes(w), input])
    };
    o.put(
        t,
        "raw",
        &seed(0, 1 << 16, &[], &[], b"hello world\n\x00\xff"),
    );
    o.put(
        t,
        "raw-split",
        &seed(0, 1 << 16, &[1, 3], &[2, 0], b"Shout it out"),
    );
    o.put(
        t,
        "line",
        &seed(1, 1 << 16, &[], &[], b"hello\nworld\r\nlast"),
    );
    o.put(
        t,
        "line-split",
        &seed(1, 1 << 16, &[2, 5], &[1, 0, 7], b"one\ntwo\nthree\n"),
    );
    o.put(t, "line-exact", &seed(5, 5, &[], &[], b"abcd\nabcde"));
    o.put(t, "line-too-long", &seed(5, 3, &[1], &[1], b"ab\nabcd\n"));
    o.put(t, "line-too-long-lf", &seed(5, 3, &[], &[], b"abc\n"));
    o.put(t, "line-max-1", &seed(5, 0, &[], &[], b"\n\nx"));
    o.put(t, "line-idle", &seed(9, 1 << 16, &[], &[3], b"partial"));
    o.put(t, "raw-idle", &seed(8, 1 << 16, &[], &[], b"quiet"));
    o.put(t, "auto-text", &seed(2, 1 << 16, &[], &[], b"hello\n"));
    o.put(
        t,
        "auto-nul",
        &seed(2, 1 << 16, &[], &[], &client_hello(b"")),
    );
    o.put(t, "empty", &seed(1, 1 << 16, &[], &[], b""));
    let text = "straße ŉ é ǅ\n".as_bytes();
    o.put(t, "unicode-raw", &seed(0x10, 1 << 16, &[1, 2], &[3], text));
    o.put(
        t,
        "unicode-raw-invalid",
        &seed(
            0x10,
            1 << 16,
            &[],
            &[],
            b"a\xc3\xa9\xe2\xc3\xa9\xff\xf0\x9f",
        ),
    );
    o.put(t, "unicode-line-too-long", &seed(0x15, 6, &[], &[2], text));
}

fn script(o: &mut Out, name: &str, s: Script) {
    let bytes = s.to_bytes();
    let back: Script = decode(&bytes);
    assert_eq!(back, s, "seed {name} reads back as written");
    o.put("server_session_differential", name, &bytes);
}

fn server_session(o: &mut Out) {
    use Op::*;
    use Piece::*;
    // config: framing (0 auto, 1 raw, 2 line, 3 frame), max_payload byte,
    // max_line byte, idle ms (0 none), drain ms.
    let frame = [3, 1, 1, 50, 20];
    let auto = [0, 1, 1, 50, 20];
    let session = vec![
        Hello(0),
        Data(b"hello".to_vec()),
        Ping(b"abc".to_vec()),
        Frame(Kind::Pong as u8, b"p".to_vec()),
        Data(vec![]),
        Close,
    ];
    let all = vec![Read(0), Offer(255)];
    let mk =
        |config_bytes: [u8; 5], final_windows: &[u8], pieces: Vec<Piece>, ops: Vec<Op>| Script {
            config_bytes,
            final_windows: final_windows.to_vec(),
            pieces,
            ops,
        };
    script(
        o,
        "frame-whole",
        mk(frame, &[], session.clone(), all.clone()),
    );
    script(
        o,
        "auto-frame-whole",
        mk(auto, &[], session.clone(), all.clone()),
    );
    let trickle: Vec<Op> = (0..40)
        .flat_map(|_| [Read(1), Offer(1), Offer(0)])
        .collect();
    script(
        o,
        "frame-trickle",
        mk(frame, &[1, 0], session.clone(), trickle.clone()),
    );
    script(
        o,
        "frame-hello-extra-then-end",
        mk(
            frame,
            &[2],
            vec![Hello(3), Data(b"x".to_vec())],
            vec![Read(0), EndOfInput, Offer(3)],
        ),
    );
    script(
        o,
        "frame-too-large",
        mk(
            [3, 4 << 2, 1, 0, 0],
            &[],
            vec![Hello(0), Data(vec![b'a'; 20])],
            all.clone(),
        ),
    );
    script(
        o,
        "frame-bad-version",
        mk(frame, &[], vec![Hello(1 << 2)], all.clone()),
    );
    script(
        o,
        "frame-bad-magic",
        mk(frame, &[], vec![Hello(2 << 2)], all.clone()),
    );
    script(
        o,
        "frame-short-hello",
        mk(frame, &[], vec![Hello(3 << 2)], all.clone()),
    );
    script(
        o,
        "frame-unknown-kind",
        mk(
            frame,
            &[],
            vec![Hello(0), Frame(9, b"?".to_vec())],
            all.clone(),
        ),
    );
    script(
        o,
        "frame-client-error",
        mk(
            frame,
            &[],
            vec![Hello(0), Frame(Kind::Error as u8, b"\0\x01bye".to_vec())],
            all.clone(),
        ),
    );
    script(
        o,
        "frame-cut-in-payload",
        mk(
            frame,
            &[],
            vec![
                Hello(0),
                Header(Kind::Data as u8, 10),
                Bytes(b"abc".to_vec()),
            ],
            all.clone(),
        ),
    );
    script(
        o,
        "frame-cut-in-header",
        mk(frame, &[], vec![Hello(0), Bytes(vec![1, 0])], all.clone()),
    );
    script(
        o,
        "frame-idle",
        mk(
            frame,
            &[],
            vec![Hello(0), Data(b"hi".to_vec())],
            vec![Read(0), Offer(255), WakeAtDeadline],
        ),
    );
    script(
        o,
        "frame-idle-mid-response",
        mk(
            frame,
            &[],
            vec![
                Hello(0),
                Header(Kind::Data as u8, 9),
                Bytes(b"abc".to_vec()),
            ],
            vec![
                Read(0),
                Offer(255),
                Advance(400),
                Timeout,
                Advance(600),
                Timeout,
            ],
        ),
    );
    script(
        o,
        "frame-shutdown-clean",
        mk(
            frame,
            &[],
            session[..3].to_vec(),
            vec![Read(0), Offer(255), Shutdown(0), Offer(255)],
        ),
    );
    script(
        o,
        "frame-shutdown-mid-frame",
        mk(
            frame,
            &[],
            vec![
                Hello(0),
                Header(Kind::Ping as u8, 4),
                Bytes(b"ab".to_vec()),
                Bytes(b"cd".to_vec()),
            ],
            vec![
                Read(16),
                Offer(255),
                Shutdown(0),
                Offer(255),
                Read(2),
                Offer(255),
                AdvanceSecs(1),
                Timeout,
            ],
        ),
    );
    script(
        o,
        "frame-shutdown-before-hello",
        mk(
            frame,
            &[],
            vec![Hello(0)],
            vec![
                Read(3),
                Offer(255),
                Shutdown(0),
                Read(0),
                Offer(4),
                Offer(255),
            ],
        ),
    );
    script(
        o,
        "frame-zero-windows",
        mk(
            frame,
            &[0, 0, 5],
            session.clone(),
            vec![Read(0), Offer(0), Offer(0), Poll(3), Transmitted],
        ),
    );
    let line = [2, 1, 8 << 2, 10, 10];
    let lines = vec![
        Line(b"hello".to_vec()),
        Line(b"a\r".to_vec()),
        Bytes(b"abcdefghijk".to_vec()),
    ];
    script(
        o,
        "line-overflow",
        mk(line, &[], lines.clone(), all.clone()),
    );
    script(
        o,
        "line-trickle",
        mk(line, &[1, 0], lines.clone(), trickle.clone()),
    );
    script(
        o,
        "line-shutdown",
        mk(
            line,
            &[],
            vec![Line(b"one".to_vec()), Bytes(b"tw".to_vec())],
            vec![
                Read(6),
                Offer(255),
                Shutdown(0),
                Offer(255),
                Read(0),
                Offer(2),
            ],
        ),
    );
    // Rule 7: bytes still in the link at the signal are answered, and the
    // rest of a request they began; nothing after.
    script(
        o,
        "line-shutdown-in-link",
        mk(
            line,
            &[],
            vec![
                Line(b"one".to_vec()),
                Line(b"two".to_vec()),
                Line(b"three".to_vec()),
            ],
            vec![
                Read(2),
                Offer(255),
                Shutdown(4),
                Read(0),
                Offer(3),
                Offer(255),
            ],
        ),
    );
    script(
        o,
        "frame-shutdown-in-link",
        mk(
            frame,
            &[3],
            vec![
                Hello(0),
                Data(b"abc".to_vec()),
                Data(b"late".to_vec()),
                Close,
            ],
            vec![
                Read(11),
                Offer(255),
                Shutdown(7),
                Read(0),
                Offer(4),
                Offer(255),
            ],
        ),
    );
    script(
        o,
        "frame-unicode-shutdown-in-link",
        mk(
            [3 | 4, 1, 1, 50, 20],
            &[],
            vec![
                Hello(0),
                Data("straße".as_bytes().to_vec()),
                Data(b"late".to_vec()),
            ],
            vec![Read(13), Offer(255), Shutdown(5), Read(0), Offer(255)],
        ),
    );
    script(
        o,
        "raw-shutdown-in-link-flush",
        mk(
            [1 | 4, 1, 1, 50, 20],
            &[],
            vec![Bytes("abΐcdef".as_bytes().to_vec())],
            vec![
                Shutdown(9),
                Read(4),
                Offer(5),
                Poll(5),
                Read(0),
                Offer(5),
                Offer(5),
            ],
        ),
    );
    script(
        o,
        "line-idle",
        mk(
            line,
            &[],
            vec![Bytes(b"abc".to_vec())],
            vec![
                Read(0),
                Offer(1),
                Offer(255),
                Advance(50),
                Transmitted,
                WakeAtDeadline,
            ],
        ),
    );
    let raw = [1, 1, 1, 5, 5];
    script(
        o,
        "raw",
        mk(
            raw,
            &[],
            vec![Bytes(b"Hello, raw world".to_vec())],
            all.clone(),
        ),
    );
    script(
        o,
        "raw-end-early",
        mk(
            raw,
            &[4],
            vec![Bytes(b"abcdef".to_vec())],
            vec![Read(3), EndOfInput, Read(3), Offer(1)],
        ),
    );
    script(
        o,
        "raw-shutdown-unread",
        mk(
            raw,
            &[],
            vec![Bytes(b"waiting".to_vec())],
            vec![Read(2), Offer(255), Read(3), Shutdown(0), Offer(255)],
        ),
    );
    script(
        o,
        "undecided-shutdown",
        mk(
            auto,
            &[],
            vec![Bytes(b"late".to_vec())],
            vec![Shutdown(0), Read(0), Offer(255)],
        ),
    );
    script(
        o,
        "undecided-idle",
        mk(
            auto,
            &[],
            vec![Bytes(b"late".to_vec())],
            vec![AdvanceSecs(1), Timeout, Read(0), Offer(255)],
        ),
    );
    script(o, "empty", mk(auto, &[], vec![], vec![]));
    let unicode_frame = [3 | 4, 1, 1, 50, 20];
    script(
        o,
        "unicode-frame",
        mk(
            unicode_frame,
            &[],
            vec![
                Hello(0),
                Data("straße".as_bytes().to_vec()),
                Data(b"\xc3".to_vec()),
                Ping(b"\xc3\xa9".to_vec()),
                Close,
            ],
            all.clone(),
        ),
    );
    script(
        o,
        "unicode-frame-trickle",
        mk(
            unicode_frame,
            &[1, 0],
            vec![Hello(0), Data("ŉé".as_bytes().to_vec())],
            trickle.clone(),
        ),
    );
    script(
        o,
        "unicode-raw-split-sequence",
        mk(
            [1 | 4, 1, 1, 5, 5],
            &[1],
            vec![Bytes("é€𝄞ß".as_bytes().to_vec())],
            trickle.clone(),
        ),
    );
    script(
        o,
        "unicode-line",
        mk(
            [2 | 4, 1, 4 << 2, 10, 10],
            &[],
            vec![
                Line("ßß".as_bytes().to_vec()),
                Bytes(cat(&["ééé".as_bytes(), b"\xe2"])),
            ],
            all.clone(),
        ),
    );
}

fn client(o: &mut Out) {
    let t = "client_session";
    let hello = frames::server_hello(&shout_core::Config::default());
    // mode: bits 0-1 frame/line/raw/auto, bits 2-5 requests, bit 6 CLOSE sent.
    let seed = |mode: u8, s: &[u8], bytes: &[u8]| cat(&[&[mode], &sizes(s), bytes]);
    let data = frame(Kind::Data, b"HELLO");
    let pong = frame(Kind::Pong, b"abc");
    let close = frame(Kind::Close, &[]);
    let error = frames::error_frame(
        shout_core::wire::ErrorCode::FrameTooLarge,
        "frame too large (limit 6 bytes)",
    );
    o.put(
        t,
        "session",
        &seed(
            2 << 2 | 0x40,
            &[3, 1, 0],
            &cat(&[&hello, &data, &pong, &close]),
        ),
    );
    o.put(
        t,
        "empty-data",
        &seed(
            1 << 2,
            &[],
            &cat(&[&hello, &frame(Kind::Data, b""), &close]),
        ),
    );
    o.put(t, "error", &seed(1 << 2, &[2], &cat(&[&hello, &error])));
    o.put(t, "error-before-hello", &seed(0, &[], &error));
    o.put(
        t,
        "error-utf8-cut",
        &seed(
            0,
            &[],
            &frame(Kind::Error, &cat(&[b"\0\x01", "é".repeat(70).as_bytes()])),
        ),
    );
    o.put(
        t,
        "unknown-kind",
        &seed(1 << 2, &[], &cat(&[&hello, &frame(9, b"")])),
    );
    o.put(t, "unasked-data", &seed(0, &[], &cat(&[&hello, &data])));
    o.put(
        t,
        "server-ping",
        &seed(1 << 2, &[], &cat(&[&hello, &frame(Kind::Ping, b"")])),
    );
    o.put(
        t,
        "short-hello",
        &seed(0, &[], &frame(Kind::Hello, b"SHOUT\x01")),
    );
    o.put(
        t,
        "truncated",
        &seed(1 << 2, &[4], &cat(&[&hello, &data[..7]])),
    );
    o.put(
        t,
        "close-with-payload",
        &seed(0, &[], &cat(&[&hello, &frame(Kind::Close, b"xy")])),
    );
    o.put(t, "line", &seed(1 | 3 << 2, &[2], b"HELLO\nWORLD\nTAIL"));
    o.put(t, "raw", &seed(2, &[1], b"ANY BYTES"));
    let mut unicode_hello = hello.clone();
    unicode_hello[15] = 1;
    o.put(
        t,
        "unicode-hello",
        &seed(
            1 << 2,
            &[1],
            &cat(&[&unicode_hello, &frame(Kind::Data, "SS".as_bytes()), &close]),
        ),
    );
}

fn auto(o: &mut Out) {
    let t = "auto_handshake";
    // mode: bit 0 Frame instead of Auto, bit 1 valid HELLO prefix.
    let seed =
        |mode: u8, s: &[u8], w: &[u8], bytes: &[u8]| cat(&[&[mode], &sizes(s), &sizes(w), bytes]);
    let data = frame(Kind::Data, b"hey");
    o.put(t, "auto-hello", &seed(2, &[1, 2], &[3, 0], &data));
    o.put(
        t,
        "auto-hello-whole",
        &seed(0, &[], &[], &cat(&[&client_hello(b"ext"), &data])),
    );
    o.put(t, "auto-text", &seed(0, &[2], &[1], b"hello\n"));
    o.put(
        t,
        "auto-hello-partial",
        &seed(0, &[1], &[1], &client_hello(b"")[..8]),
    );
    o.put(t, "frame-text", &seed(1, &[], &[], b"hello"));
    o.put(
        t,
        "frame-bad-version",
        &seed(1, &[3], &[2], &frame(Kind::Hello, b"SHOUT\x07")),
    );
    o.put(
        t,
        "frame-too-large-hello",
        &seed(1, &[], &[], &header(Kind::Hello, 65)),
    );
    o.put(t, "empty", &seed(0, &[], &[], b""));
    o.put(
        t,
        "unicode-auto-text",
        &seed(4, &[1], &[2], &cat(&["straße".as_bytes(), b"\xe2\x82"])),
    );
    o.put(
        t,
        "unicode-hello",
        &seed(4 | 2, &[2], &[1], &frame(Kind::Data, "ß".as_bytes())),
    );
}

fn unicode(o: &mut Out) {
    let t = "unicode_transform";
    // mode: 0 the transform, 1 raw, 2 line, 3 frame payloads.
    let seed =
        |mode: u8, s: &[u8], w: &[u8], bytes: &[u8]| cat(&[&[mode], &sizes(s), &sizes(w), bytes]);
    let text = "Straße, ŉ, é, ǅ, ΐ, ﬃ, 𝔞, ß\n".as_bytes();
    let invalid: &[u8] =
        b"a\xc3\xa9\xe2\x82\x41\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xff\xf0\x9f\x98";
    for mode in 0..4u8 {
        o.put(
            t,
            &format!("text-{mode}"),
            &seed(mode, &[1, 2, 3], &[1, 5, 0], text),
        );
        o.put(
            t,
            &format!("invalid-{mode}"),
            &seed(mode, &[2, 1], &[3, 16], invalid),
        );
        o.put(
            t,
            &format!("whole-{mode}"),
            &seed(mode, &[], &[], &cat(&[text, invalid])),
        );
    }
}

fn embedded(o: &mut Out) {
    let t = "embedded_driver";
    // cfg: bits 0-1 framing, bit 2 unicode, bit 3 early end of input;
    // max_payload byte; rx; tx; input length u16 BE; input; link acts.
    let seed = |cfg: u8, rx: u8, tx: u8, input: &[u8], acts: &[u8]| {
        let len = u16::try_from(input.len()).unwrap();
        cat(&[&[cfg, 40, rx, tx], &len.to_be_bytes(), input, acts])
    };
    let mut frames = client_hello(b"");
    frames.extend(frame(Kind::Data, b"hello"));
    frames.extend(frame(Kind::Ping, b"abc"));
    frames.extend(frame(Kind::Close, &[]));
    // Acts: 1-3 ready / n bytes, 0 not ready, F0.. interrupted, F8.. error, FE write 0.
    let rough = [
        1, 0, 2, 0xF0, 1, 0xF8, 3, 0, 0, 1, 0xFE, 1, 2, 0xF9, 1, 1, 5, 0, 1,
    ];
    o.put(t, "frame-smooth", &seed(3, 64, 64, &frames, &[]));
    o.put(t, "frame-rough", &seed(3, 3, 2, &frames, &rough));
    o.put(t, "frame-eof-early", &seed(3 | 8, 1, 1, &frames, &rough));
    o.put(t, "raw-rough", &seed(1, 2, 1, b"hello, raw link\n", &rough));
    o.put(
        t,
        "line-rough",
        &seed(2, 4, 3, b"one\ntwo\r\nthree", &rough),
    );
    o.put(
        t,
        "auto-text",
        &seed(8, 8, 8, b"hi there", &[1, 1, 0, 0xF1, 1]),
    );
    o.put(
        t,
        "unicode-frame",
        &seed(
            3 | 4,
            1,
            2,
            &cat(&[&client_hello(b""), &frame(Kind::Data, "straße".as_bytes())]),
            &rough,
        ),
    );
    o.put(t, "interrupted-forever", &seed(1, 8, 8, b"x", &[0xF0; 80]));
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "corpus".to_owned());
    let mut o = Out {
        root: Path::new(&root).to_path_buf(),
        written: 0,
    };
    frame_header(&mut o);
    line_raw(&mut o);
    server_session(&mut o);
    client(&mut o);
    auto(&mut o);
    unicode(&mut o);
    embedded(&mut o);
    // The layouts read zeros past the end: a seed never needs padding.
    assert_eq!(Reader::new(&[]).u32(), 0);
    println!("wrote {} seeds under {}", o.written, root);
}

//! Breaks the unicode transform: any bytes, in any split, through any
//! windows. Whatever the split, the output equals `char::to_uppercase` of
//! every valid UTF-8 scalar value with every invalid byte unchanged, as
//! the kit's model computes it from `std` alone
//! (`shout_testkit::model::unicode_upper`).
//!
//! mode 0: the `Unicode` transform itself (`apply` over pieces and windows,
//!         then `flush`): never consumes nothing when given 16 bytes of room
//!         (a smaller window may not fit the next character's uppercase),
//!         each piece out continues the whole transform, `flush` gives at
//!         most `MAX_HELD` bytes.
//! mode 1: a raw session; mode 2: a line session (max_line large enough):
//!         the output stream is the transformed input stream.
//! mode 3: a frame session whose DATA payloads are the input cut by the
//!         read sizes: each response is the transform of its own payload
//!         alone (a sequence split across two frames passes unchanged), its
//!         header carries the transformed length.
//!
//! Layout: mode u8 | read sizes | window sizes | input...
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::transform::{Transform, Unicode};
use shout_core::{Config, Framing, TransformKind};
use shout_fuzz::kit::run;
use shout_fuzz::model::unicode_upper;
use shout_fuzz::{frames, show, Plan, Reader, Sizes};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mode = r.u8() % 4;
    let splits = r.sizes();
    let windows = r.sizes();
    let input = r.rest();
    match mode {
        0 => direct(input, Sizes::new(&splits), Sizes::new(&windows)),
        1 | 2 => stream(mode, input, splits, windows),
        _ => frames(input, splits, windows),
    }
});

fn direct(input: &[u8], mut splits: Sizes, mut windows: Sizes) {
    let full = unicode_upper(input);
    let mut t = Unicode::default();
    let mut out = Vec::new();
    let mut window = Vec::new();
    let mut at = 0; // consumed
    let mut read = 0; // arrived
    let mut taken_in = 0usize;
    let mut stalls = 0;
    while at < input.len() {
        if read < input.len() {
            read = (read + splits.next_size()).min(input.len());
        }
        // A window too small for the next character's uppercase never
        // fits it: after a full cycle of such windows, offer room.
        let w = if stalls > windows.patience() {
            16
        } else {
            windows.next_size()
        };
        window.clear();
        window.resize(w, 0);
        let (c, n) = t.apply(&input[at..read], &mut window);
        assert!(c <= read - at && n <= w);
        if w >= 16 && read > at {
            assert!(c > 0, "consumed nothing with {w} bytes of room");
        }
        at += c;
        taken_in += c;
        // The output never depends on the split: every piece is the next
        // part of the transform of the whole input.
        let from = out.len();
        out.extend_from_slice(&window[..n]);
        assert!(
            full.get(from..out.len()) == Some(&out[from..]),
            "output so far is not a prefix of the whole transform: {} vs {}",
            show(&out),
            show(&full)
        );
        stalls = if c == 0 && n == 0 { stalls + 1 } else { 0 };
        assert!(
            stalls <= splits.patience() + windows.patience() + 1,
            "the transform stalls"
        );
    }
    let mut tail = [0u8; 8];
    let n = t.flush(&mut tail[..Unicode::MAX_HELD]);
    assert!(n <= Unicode::MAX_HELD);
    out.extend_from_slice(&tail[..n]);
    assert_eq!(taken_in, input.len());
    assert_eq!(show(&out), show(&full), "streamed transform");
}

fn stream(mode: u8, input: &[u8], splits: Vec<usize>, windows: Vec<usize>) {
    let framing = if mode == 1 {
        Framing::Raw
    } else {
        Framing::Line
    };
    let config = Config::default()
        .with_framing(framing)
        .with_transform(TransformKind::Unicode)
        .with_max_line(u32::MAX);
    let seen = run(config, input, &Plan::new(&splits, &windows));
    assert_eq!(
        show(&seen.output),
        show(&unicode_upper(input)),
        "{framing:?} stream"
    );
}

fn frames(input: &[u8], splits: Vec<usize>, windows: Vec<usize>) {
    let config = Config::default()
        .with_framing(Framing::Frame)
        .with_transform(TransformKind::Unicode);
    // The input cut into payloads by the read sizes (at most 64 frames).
    let mut cuts = Sizes::new(&splits);
    let mut payloads = Vec::new();
    let mut at = 0;
    while at < input.len() && payloads.len() < 64 {
        let n = cuts.next_size().min(input.len() - at);
        payloads.push(&input[at..at + n]);
        at += n;
    }
    let mut wire = frames::client_hello(b"");
    let mut want = frames::server_hello(&config);
    for p in &payloads {
        wire.extend_from_slice(&frames::data(p));
        want.extend_from_slice(&frames::data(&unicode_upper(p)));
    }
    want.extend_from_slice(&frames::close());
    // Reads of 7 bytes: payloads arrive in pieces, so a response waits for
    // its whole payload.
    let seen = run(config, &wire, &Plan::new(&[7], &windows));
    assert_eq!(show(&seen.output), show(&want), "frame responses");
}

//! Breaks the line and raw framings: any bytes, any max_line, any reads and
//! windows. The server's output and close reason equal the reference
//! model's (`shout_testkit::model::serve`), and after the same input with no
//! end of input and an idle timeout, `serve_until_idle`'s.
//!
//! Layout: mode u8 | max_line u32 BE | read sizes | window sizes | input...
//! mode: bits 0-1 framing (raw, line, auto, line), bit 2 small max_line
//! (1..=32 from the u32's last byte), bit 3 go idle instead of ending, bit 4
//! the unicode transform.
//! Sizes: count u8 % 16, then that many u8 (255 = 4096).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::{CloseReason, Config, Duration, Framing, TransformKind};
use shout_fuzz::kit::{run, Ending};
use shout_fuzz::{model, show, transform_from, transform_of, Plan, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let raw_max = r.u32();
    let splits = r.sizes();
    let windows = r.sizes();
    let input = r.rest();
    let framing = [Framing::Raw, Framing::Line, Framing::Auto, Framing::Line][(mode % 4) as usize];
    let max_line = if mode & 4 != 0 {
        1 + raw_max % 32
    } else {
        raw_max.max(1)
    };
    let idle = mode & 8 != 0;
    let transform = transform_from(mode & 0x10 != 0);
    let config = Config::default()
        .with_framing(framing)
        .with_transform(transform)
        .with_max_line(max_line)
        .with_idle_timeout(Some(Duration::from_secs(1)));

    // Going idle: the client is silent after its input, and the driver
    // sleeps until the session's deadline (the idle timeout closes it).
    let ending = if idle {
        Ending::Silent
    } else {
        Ending::EndOfInput
    };
    let seen = run(config, input, &Plan::new(&splits, &windows).ending(ending));
    let m = if idle {
        model::serve_until_idle(&config, input)
    } else {
        model::serve(&config, input)
    };
    assert_eq!(show(&seen.output), show(&m.output), "output vs model");
    assert_eq!(seen.close(), Some(m.close), "close reason vs model");
    assert_eq!(seen.opened(), model::framing_of(&config, input), "framing");

    // Independent of the model: what raw and line must look like.
    let upper = transform_of(transform, input);
    match seen.opened() {
        Some(Framing::Raw) => assert_eq!(
            show(&seen.output),
            show(&upper),
            "raw is the transformed input"
        ),
        Some(Framing::Line) if transform == TransformKind::Ascii => {
            let out = &seen.output;
            if seen.close() == Some(CloseReason::LineTooLong) {
                let tail = format!("\nerror: line too long (limit {max_line} bytes)\n");
                assert!(out.ends_with(tail.as_bytes()), "error line: {}", show(out));
                let echoed = &out[..out.len() - tail.len()];
                assert!(upper.starts_with(echoed), "echo is a prefix of the input");
                // The line in progress holds exactly max_line bytes.
                let line_start = echoed
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
                assert_eq!((echoed.len() - line_start) as u32, max_line);
                // Every earlier line fits.
                for line in echoed[..line_start].split_inclusive(|&b| b == b'\n') {
                    assert!(
                        line.len() as u32 <= max_line,
                        "an accepted line over max_line"
                    );
                }
            } else {
                assert_eq!(*out, upper, "line echoes every line");
                for line in out.split_inclusive(|&b| b == b'\n') {
                    assert!(
                        line.len() as u32 <= max_line,
                        "an accepted line over max_line"
                    );
                }
            }
        }
        _ => {}
    }
});

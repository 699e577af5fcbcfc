//! Breaks framing detection and the handshake: the first bytes of a
//! connection, in any split and through any windows, with framing Auto or
//! Frame.
//!
//! * Before the first byte: no framing, state Undecided, no event, and an
//!   empty offer decides nothing.
//! * The decided framing, the Opened event (once, first), the output, the
//!   state and the close (if any) equal those of the unsplit run, both
//!   before and after end of input.
//! * The framing is the contract's: Auto picks frame for a first byte 0x00
//!   and raw otherwise; Frame is frame whatever the byte.
//! * A frame session is in Handshake until the server HELLO has gone out
//!   (or it closed), its output starts with that HELLO or an ERROR, and raw
//!   output is the uppercased input.
//!
//! Layout: mode u8 | read sizes | window sizes | first bytes (up to 512)...
//! mode: bit 0 framing Frame instead of Auto, bit 1 prefix a valid HELLO,
//! bit 2 the unicode transform.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::{Config, Event, Framing, State};
use shout_fuzz::kit::close_reason;
use shout_fuzz::{frames, model, show, transform_from, transform_of, CheckedServer, Driver};
use shout_fuzz::{Plan, Reader};

#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    output: Vec<u8>,
    events: Vec<Event>,
    framing: Option<Framing>,
    state: State,
}

impl Snapshot {
    fn opened(&self) -> Option<Framing> {
        self.events.iter().find_map(|e| match e {
            Event::Opened(f) => Some(*f),
            _ => None,
        })
    }
}

fn snapshot(d: &Driver) -> Snapshot {
    Snapshot {
        output: d.checked().output().to_vec(),
        events: d.checked().events().to_vec(),
        framing: d.server().framing(),
        state: d.server().state(),
    }
}

fn run(config: Config, input: &[u8], splits: &[usize], windows: &[usize]) -> (Snapshot, Snapshot) {
    let mut s = CheckedServer::new(config);
    assert_eq!(s.server().framing(), None);
    assert_eq!(s.server().state(), State::Undecided);
    // An empty offer decides nothing.
    let _ = s.offer(&[], 16);
    assert_eq!(s.server().framing(), None);
    assert_eq!(s.server().state(), State::Undecided);
    assert!(s.events().is_empty() && s.output().is_empty());
    let mut d = Driver::with_checked(s, &Plan::new(splits, windows));
    d.push(input);
    d.answer();
    let open = snapshot(&d);
    d.finish();
    (open, snapshot(&d))
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let mode = r.u8();
    let splits = r.sizes();
    let windows = r.sizes();
    let rest = r.rest();
    let mut input = Vec::new();
    if mode & 2 != 0 {
        input.extend_from_slice(&frames::client_hello(b""));
    }
    input.extend_from_slice(&rest[..rest.len().min(512)]);
    let framing = if mode & 1 != 0 {
        Framing::Frame
    } else {
        Framing::Auto
    };
    let transform = transform_from(mode & 4 != 0);
    let config = Config::default()
        .with_framing(framing)
        .with_transform(transform)
        .with_max_payload(64);

    let (whole_open, whole_end) = run(config, &input, &[], &[]);
    let (split_open, split_end) = run(config, &input, &splits, &windows);
    assert_eq!(
        split_open, whole_open,
        "split vs whole, before end of input"
    );
    assert_eq!(split_end, whole_end, "split vs whole, after end of input");
    let (byte_open, byte_end) = run(config, &input, &[1], &[1, 0]);
    assert_eq!(
        byte_open, whole_open,
        "byte by byte vs whole, before end of input"
    );
    assert_eq!(
        byte_end, whole_end,
        "byte by byte vs whole, after end of input"
    );

    // The contract's choice, judged here.
    let want = input.first().map(|&b| match framing {
        Framing::Auto if b == 0 => Framing::Frame,
        Framing::Auto => Framing::Raw,
        f => f,
    });
    assert_eq!(whole_open.framing, want, "decided framing");
    assert_eq!(whole_open.opened(), want, "Opened event");
    if want.is_some() {
        assert!(
            matches!(whole_open.events[0], Event::Opened(_)),
            "Opened comes first"
        );
    }

    let out = &whole_open.output;
    let hello = frames::server_hello(&config);
    match want {
        None => {
            assert!(
                out.is_empty() && whole_end.output.is_empty(),
                "output before any byte"
            );
            assert_eq!(whole_open.state, State::Undecided);
        }
        Some(Framing::Raw) => {
            // Unicode may hold back the bytes of an incomplete sequence
            // until end of input.
            let all = transform_of(transform, &input);
            assert!(
                all.starts_with(out),
                "raw output is a prefix of the transformed input"
            );
            assert_eq!(whole_end.output, all, "raw output at end of input");
            assert_eq!(whole_open.state, State::Open);
        }
        Some(_) => {
            let closed = whole_open.state == State::Closed;
            if out.is_empty() {
                assert!(
                    whole_open.state == State::Handshake,
                    "frame session with no output yet: {:?}",
                    whole_open.state
                );
            } else if out.starts_with(&hello) {
                assert!(matches!(whole_open.state, State::Open | State::Closed));
            } else {
                assert_eq!(
                    out[0],
                    5,
                    "a frame session starts with HELLO or ERROR: {}",
                    show(out)
                );
                assert!(closed, "ERROR before HELLO closes");
            }
        }
    }
    // The whole run is the model's.
    let m = model::serve(&config, &input);
    assert_eq!(show(&whole_end.output), show(&m.output), "output vs model");
    assert_eq!(
        close_reason(&whole_end.events),
        Some(m.close),
        "close vs model"
    );
});

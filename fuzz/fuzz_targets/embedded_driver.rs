//! Breaks the embedded-io driver (`shout_embedded_io::NbServer`, a stream
//! link): a link that is ready or not, reads and writes a few bytes at a
//! time, is interrupted, fails, or takes nothing, each call as the input
//! says; then the link turns well-behaved.
//!
//! * Nothing is lost and nothing is sent twice: whatever the link did, the
//!   bytes the driver wrote, in order, are the reference model's answer to
//!   the client's input (`model::serve`), and the session's close reason is
//!   the model's.
//! * No spin without progress: on the well-behaved link every `poll`
//!   returns `Ok`, and the driver finishes within a bound; once finished it
//!   stays finished and moves nothing.
//! * A link error is handed back (never a panic), and polling again
//!   continues where it stopped.
//!
//! Layout: cfg u8 | max_payload u8 | rx size u8 | tx size u8 |
//! input length u16 BE | input | link behaviour, one byte per link call...
//! cfg: bits 0-1 framing (auto, raw, line, frame), bit 2 unicode, bit 3 the
//! link may report end of input before it turns well-behaved.
#![no_main]

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write, WriteReady};
use libfuzzer_sys::fuzz_target;
use shout_core::{Config, Event, Instant};
use shout_embedded_io::{LinkMode, NbServer};
use shout_fuzz::{framing_from, max_payload_from, model, show, transform_from, valid, Reader};

/// A link whose every call does what the next behaviour byte says, until
/// the bytes run out; then it is ready, reads all it has, takes all output.
struct Link<'a> {
    input: &'a [u8],
    at: usize,
    /// `read` may return `Ok(0)` once the input is all read.
    eof: bool,
    acts: &'a [u8],
    out: Vec<u8>,
}

impl Link<'_> {
    fn act(&mut self) -> Option<u8> {
        let (&a, rest) = self.acts.split_first()?;
        self.acts = rest;
        Some(a)
    }

    fn behaving(&self) -> bool {
        self.acts.is_empty()
    }

    fn has_more(&self) -> bool {
        self.at < self.input.len() || self.eof
    }

    /// The error an act byte in 0xF0.. stands for.
    fn failure(&self, a: u8) -> Option<ErrorKind> {
        match a {
            0xF0..=0xF7 => Some(ErrorKind::Interrupted),
            0xF8..=0xFD => Some(ErrorKind::Other),
            _ => None,
        }
    }
}

impl ErrorType for Link<'_> {
    type Error = ErrorKind;
}

impl ReadReady for Link<'_> {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        match self.act() {
            None => Ok(self.has_more()),
            Some(a) => match self.failure(a) {
                Some(e) => Err(e),
                None => Ok(a % 4 != 0 && self.has_more()),
            },
        }
    }
}

impl Read for Link<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let max = match self.act() {
            None => usize::MAX,
            Some(a) => match self.failure(a) {
                Some(e) => return Err(e),
                None => 1 + (a % 16) as usize,
            },
        };
        let n = max.min(buf.len()).min(self.input.len() - self.at);
        if n == 0 && !buf.is_empty() && !self.eof {
            // A stream read with nothing arrived would block; the driver
            // only reads after read_ready, which said there was something.
            panic!("read without data after read_ready said ready");
        }
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl WriteReady for Link<'_> {
    fn write_ready(&mut self) -> Result<bool, ErrorKind> {
        match self.act() {
            None => Ok(true),
            Some(a) => match self.failure(a) {
                Some(e) => Err(e),
                None => Ok(a % 4 != 0),
            },
        }
    }
}

impl Write for Link<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let max = match self.act() {
            None => usize::MAX,
            Some(0xFE) => 0, // takes nothing: the driver reports WriteZero
            Some(a) => match self.failure(a) {
                Some(e) => return Err(e),
                None => 1 + (a % 16) as usize,
            },
        };
        let n = max.min(buf.len());
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let cfg = r.u8();
    let max_payload = max_payload_from(r.u8() & 0b1111_1100); // 6..=69: rx can hold it
    let rx_size = 1 + (r.u8() % 64) as usize;
    let tx_size = 1 + (r.u8() % 64) as usize;
    let len = (r.u16() % 2048) as usize;
    let input = r.take(len);
    let acts = r.rest();
    let config = valid(
        Config::default()
            .with_framing(framing_from(cfg))
            .with_transform(transform_from(cfg & 4 != 0))
            .with_max_payload(max_payload)
            .with_idle_timeout(None),
    );
    // A transform that is not length-preserving needs a whole payload in rx.
    let rx_size = if cfg & 4 != 0 {
        rx_size.max(max_payload as usize)
    } else {
        rx_size
    };
    let mut rx = vec![0u8; rx_size];
    let mut tx = vec![0u8; tx_size];
    let link = Link {
        input,
        at: 0,
        eof: cfg & 8 != 0,
        acts,
        out: Vec::new(),
    };
    let now = Instant::ZERO;
    let mut server = NbServer::new(link, config, LinkMode::Stream, &mut rx, &mut tx, now)
        .expect("a valid setup");
    let mut events = Vec::new();

    // The misbehaving part: one poll per iteration while behaviour bytes
    // last (each poll uses at least one when it touches the link).
    let mut polls = 0;
    while !server.link().behaving() && !server.is_finished() {
        polls += 1;
        assert!(polls <= acts.len() + 8, "polls that never touch the link");
        let before = server.link().acts.len();
        match server.poll(now) {
            Ok(_) | Err(nb::Error::WouldBlock) => {}
            Err(nb::Error::Other(e)) => {
                // Handed back as the link reported it (or WriteZero).
                let kind = embedded_io::Error::kind(&e);
                assert!(
                    matches!(
                        kind,
                        ErrorKind::Other | ErrorKind::Interrupted | ErrorKind::WriteZero
                    ),
                    "unexpected error {e:?}"
                );
            }
        }
        events.extend(std::iter::from_fn(|| server.poll_event()));
        if server.link().acts.len() == before && !server.is_finished() {
            // The driver did not touch the link: nothing it could do
            // without it; consume one behaviour byte to move on.
            server.link_mut().act();
        }
    }

    // The well-behaved part: the input ends once read; every poll moves.
    server.link_mut().eof = true;
    let bound = 4 * (input.len() + 256);
    let mut n = 0;
    while !server.is_finished() {
        n += 1;
        assert!(n <= bound, "the driver did not finish within {bound} polls");
        match server.poll(now) {
            Ok(_) => {}
            Err(nb::Error::WouldBlock) => panic!(
                "WouldBlock on a ready link: state {:?}, rx room {}, wants_write {}",
                server.session().state(),
                server.wants_read(),
                server.wants_write()
            ),
            Err(nb::Error::Other(e)) => panic!("error from a well-behaved link: {e:?}"),
        }
        events.extend(std::iter::from_fn(|| server.poll_event()));
    }
    // Finished stays finished and moves nothing.
    let sent = server.link().out.len();
    let p = server
        .poll(now)
        .expect("a finished driver reports finished");
    assert!(p.finished && p.sent == 0 && p.received == 0);
    assert_eq!(server.link().out.len(), sent);

    let link = server.link();
    // A session that ended by itself may leave input unread; one that
    // ended at end of input read all of it: either way, the whole input's
    // answer.
    let m = model::serve(&config, link.input);
    assert_eq!(
        show(&link.out),
        show(&m.output),
        "bytes on the link vs model"
    );
    let close = events.iter().find_map(|e| match e {
        Event::Closed(r) => Some(*r),
        _ => None,
    });
    assert_eq!(close, Some(m.close), "close reason vs model");
});

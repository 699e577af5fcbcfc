//! Breaks the PROXY protocol decoder: any bytes, split anywhere.
//!
//! 1. Never panics; consumes no more than it is given, and after the
//!    header or an error, nothing.
//! 2. The answer does not depend on how the input is split: fed whole, or
//!    in the pieces the first bytes choose, it gives the same source (or
//!    the same error) and stops at the same byte.
//! 3. A header it accepts is accepted again alone (the bytes it consumed,
//!    nothing after), with the same source: it stops exactly at its end.
//!
//! Layout: cut count u8 | cut sizes (u8 each) | input...
#![no_main]

use libfuzzer_sys::fuzz_target;
use shout_core::proxy::{ProxyDecoder, ProxyError, ProxySource};

type Answer = Result<(usize, Option<ProxySource>), ProxyError>;

/// Feeds `pieces` one after another as a caller would: stops at the
/// header or the first error.
fn feed<'a>(pieces: impl Iterator<Item = &'a [u8]>) -> Answer {
    let mut d = ProxyDecoder::new();
    let mut total = 0;
    for piece in pieces {
        let (n, source) = d.decode(piece)?;
        assert!(n <= piece.len(), "consumed more than given");
        total += n;
        if source.is_some() {
            assert!(d.is_done());
            assert_eq!(d.decode(b"more").unwrap(), (0, None), "done takes nothing");
            return Ok((total, source));
        }
        assert_eq!(n, piece.len(), "an unfinished header takes all it is given");
    }
    Ok((total, None))
}

fuzz_target!(|data: &[u8]| {
    let Some((&cuts, rest)) = data.split_first() else {
        return;
    };
    let cuts = (cuts % 8) as usize;
    if rest.len() < cuts {
        return;
    }
    let (sizes, input) = rest.split_at(cuts);
    let whole = feed(std::iter::once(input));
    let mut pieces = Vec::new();
    let mut at = 0;
    for &s in sizes {
        let end = (at + s as usize).min(input.len());
        pieces.push(&input[at..end]);
        at = end;
    }
    pieces.push(&input[at..]);
    let split = feed(pieces.into_iter());
    match (whole, split) {
        (Ok((a, Some(x))), Ok((b, Some(y)))) => {
            assert_eq!((a, x), (b, y), "split changed the header");
            let again = feed(std::iter::once(&input[..a]));
            assert_eq!(again, Ok((a, Some(x))), "the header alone");
        }
        (Ok((_, None)), Ok((_, None))) => {}
        (Err(a), Err(b)) => assert_eq!(a, b, "split changed the error"),
        (a, b) => panic!("whole {a:?} against split {b:?}"),
    }
});

//! Choosing a framing from the first byte of a session.

use super::{frame::FrameServer, line::Line, raw::Raw, Decoder};
use crate::config::Framing;
use crate::wire::Kind;

/// The decoder for a session whose first byte is `first`, and the framing
/// it stands for. Under [`Framing::Auto`] a HELLO's kind byte (`0x00`)
/// means frames and anything else a raw stream: text clients never start
/// with NUL, binary clients always do.
pub(crate) fn decide(configured: Framing, first: u8) -> (Decoder, Option<Framing>) {
    let framing = match configured {
        Framing::Auto if first == Kind::Hello as u8 => Framing::Frame,
        // `G` may begin `GET `: the next bytes decide (web or raw).
        #[cfg(feature = "web")]
        Framing::Auto if first == b'G' => return (Decoder::Sniff(0), None),
        Framing::Auto => Framing::Raw,
        explicit => explicit,
    };
    let decoder = match framing {
        Framing::Frame => Decoder::Frame(FrameServer::new()),
        Framing::Line => Decoder::Line(Line::new()),
        #[cfg(feature = "web")]
        Framing::Web => Decoder::Web(super::web::Web::new()),
        _ => Decoder::Raw(Raw),
    };
    (decoder, Some(framing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_picks_frame_only_for_nul() {
        assert_eq!(decide(Framing::Auto, 0).1, Some(Framing::Frame));
        assert_eq!(decide(Framing::Auto, b'h').1, Some(Framing::Raw));
        assert_eq!(decide(Framing::Auto, 1).1, Some(Framing::Raw));
        assert_eq!(decide(Framing::Line, 0).1, Some(Framing::Line));
        assert_eq!(decide(Framing::Frame, b'x').1, Some(Framing::Frame));
    }
}

//! Choosing a framing from the first byte of a session.

use super::{frame::FrameServer, line::Line, raw::Raw, Decoder};
use crate::config::{Framing, Settings};
use crate::wire::Kind;

/// The decoder for a session whose first byte is `first`, and the framing
/// it stands for. Under [`Framing::Auto`] a HELLO's kind byte (`0x00`)
/// means frames and anything else a raw stream: text clients never start
/// with NUL, binary clients always do.
pub(crate) fn decide(config: &Settings, first: u8) -> (Decoder, Option<Framing>) {
    let framing = match config.framing {
        Framing::Auto if first == Kind::Hello as u8 => Framing::Frame,
        // `G` may begin `GET `: the next bytes decide (web or raw).
        #[cfg(feature = "web")]
        Framing::Auto if first == b'G' && config.web => return (Decoder::Sniff(0), None),
        Framing::Auto => Framing::Raw,
        #[cfg(feature = "web")]
        Framing::Web if !config.web => Framing::Raw,
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

    fn settings(framing: Framing) -> Settings {
        let c = crate::Config::default()
            .with_framing(framing)
            .validate()
            .unwrap();
        Settings::new(&c)
    }

    #[test]
    fn auto_picks_frame_only_for_nul() {
        assert_eq!(decide(&settings(Framing::Auto), 0).1, Some(Framing::Frame));
        assert_eq!(decide(&settings(Framing::Auto), b'h').1, Some(Framing::Raw));
        assert_eq!(decide(&settings(Framing::Auto), 1).1, Some(Framing::Raw));
        assert_eq!(decide(&settings(Framing::Line), 0).1, Some(Framing::Line));
        assert_eq!(
            decide(&settings(Framing::Frame), b'x').1,
            Some(Framing::Frame)
        );
    }
}

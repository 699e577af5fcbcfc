/// The first byte of every frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Handshake: `SHOUT`, version, and (from a server) its limits.
    Hello = 0x00,
    /// A request, or its transformed response.
    Data = 0x01,
    /// Answered by [`Kind::Pong`] with the same payload, untransformed.
    Ping = 0x02,
    /// The answer to a PING; ignored when a client sends one.
    Pong = 0x03,
    /// Orderly end of a session.
    Close = 0x04,
    /// Code u16 BE + UTF-8 reason; always the last frame of its sender.
    Error = 0x05,
}

impl Kind {
    /// The kind a byte names, or `None` above `0x05`.
    pub const fn from_u8(byte: u8) -> Option<Kind> {
        Some(match byte {
            0x00 => Kind::Hello,
            0x01 => Kind::Data,
            0x02 => Kind::Ping,
            0x03 => Kind::Pong,
            0x04 => Kind::Close,
            0x05 => Kind::Error,
            _ => return None,
        })
    }
}

/// The code carried by an ERROR frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// A frame that breaks the rules: not HELLO first, a bad or second
    /// HELLO, a frame cut off by end of input.
    Malformed = 1,
    /// A HELLO whose version is not 1.
    UnsupportedVersion = 2,
    /// A kind byte above `0x05`.
    UnknownKind = 3,
    /// A length over the server's max_payload.
    FrameTooLarge = 4,
    /// Nothing received or sent for the idle timeout.
    IdleTimeout = 5,
    /// The server is at max_connections.
    Busy = 6,
}

impl ErrorCode {
    /// The code a u16 names, if it is one of the contract's.
    pub const fn from_u16(code: u16) -> Option<ErrorCode> {
        Some(match code {
            1 => ErrorCode::Malformed,
            2 => ErrorCode::UnsupportedVersion,
            3 => ErrorCode::UnknownKind,
            4 => ErrorCode::FrameTooLarge,
            5 => ErrorCode::IdleTimeout,
            6 => ErrorCode::Busy,
            _ => return None,
        })
    }

    /// The number on the wire.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }

    /// The contract's name for the code, e.g. `FRAME_TOO_LARGE`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Malformed => "MALFORMED",
            ErrorCode::UnsupportedVersion => "UNSUPPORTED_VERSION",
            ErrorCode::UnknownKind => "UNKNOWN_KIND",
            ErrorCode::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorCode::IdleTimeout => "IDLE_TIMEOUT",
            ErrorCode::Busy => "BUSY",
        }
    }
}

impl core::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), self.as_u16())
    }
}

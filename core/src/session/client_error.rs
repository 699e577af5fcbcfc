use crate::wire::Kind;

/// How a server broke the protocol, as a client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A kind byte above `0x05`.
    UnknownKind,
    /// Something other than HELLO or ERROR came first.
    HelloNotFirst,
    /// A second HELLO.
    SecondHello,
    /// A server HELLO whose payload is not 11 bytes.
    HelloLength,
    /// A server HELLO without `SHOUT`, with another version or an unknown
    /// transform.
    BadHello,
    /// A DATA or PONG with no request waiting for it.
    ReplyWithoutRequest,
    /// The answer does not match the oldest request waiting (a PONG
    /// answers a PING, a DATA a DATA).
    WrongReply {
        /// What the oldest waiting request calls for.
        expected: Kind,
        /// What came.
        got: Kind,
    },
    /// The server sent a PING (only clients do).
    ServerPing,
    /// An ERROR frame shorter than its 2-byte code.
    ErrorWithoutCode,
}

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Violation::UnknownKind => f.write_str("unknown frame kind"),
            Violation::HelloNotFirst => f.write_str("expected HELLO first"),
            Violation::SecondHello => f.write_str("second HELLO"),
            Violation::HelloLength => f.write_str("server HELLO is not 11 bytes"),
            Violation::BadHello => f.write_str("bad server HELLO"),
            Violation::ReplyWithoutRequest => f.write_str("response without a request"),
            Violation::WrongReply { expected, got } => {
                write!(f, "{got:?} where {expected:?} was due")
            }
            Violation::ServerPing => f.write_str("server sent PING"),
            Violation::ErrorWithoutCode => f.write_str("ERROR without a code"),
        }
    }
}

/// What a client refuses to send or to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The server broke the protocol.
    Malformed(Violation),
    /// The connection ended inside a frame or before the server's CLOSE.
    UnexpectedEnd,
    /// A line-framed message may not contain LF.
    LineHasNewline,
    /// A payload over the server's advertised `max_payload`.
    PayloadTooLarge {
        /// The message's length.
        len: u64,
        /// The server's limit.
        max: u32,
    },
    /// A request after CLOSE.
    SessionOver,
    /// A frame request on a line or raw client, or the other way round.
    WrongFraming,
    /// More runs of alternating request kinds wait for answers than the
    /// decoder keeps track of ([`crate::session::EXPECTED_RUNS`]).
    TooManyPending,
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Malformed(why) => write!(f, "malformed reply from server: {why}"),
            ClientError::UnexpectedEnd => f.write_str("server closed the connection early"),
            ClientError::LineHasNewline => f.write_str("a line message cannot contain a newline"),
            ClientError::PayloadTooLarge { len, max } => {
                write!(
                    f,
                    "message of {len} bytes is over the server's limit of {max}"
                )
            }
            ClientError::SessionOver => f.write_str("the session is already over"),
            ClientError::WrongFraming => f.write_str("request does not fit this framing"),
            ClientError::TooManyPending => {
                f.write_str("too many alternating requests waiting for answers")
            }
        }
    }
}

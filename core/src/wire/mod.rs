//! The frame format of SHOUT/1: checked parse and emit, nothing else.
//!
//! ```text
//! +-----------+--------------------+---------------------+
//! | kind (u8) | length (u32, BE)   | payload (length B)  |
//! +-----------+--------------------+---------------------+
//! ```
//!
//! These types know the bytes, not the rules of a conversation: which kind
//! may come when is the business of [`crate::session`].

mod error_code;
mod error_frame;
mod header;
mod hello;
mod kind;

pub use error_code::ErrorCode;
pub use error_frame::{ErrorFrame, ERROR_FRAME_MAX};
pub use header::{Header, HeaderReader, HEADER_LEN};
pub use hello::{
    ClientHello, HelloError, ServerHello, HELLO_MIN_PAYLOAD, MAGIC, SERVER_HELLO_PAYLOAD, VERSION,
};
pub use kind::Kind;

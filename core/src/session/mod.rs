//! Sessions: the state machines a caller drives with bytes and time.
//!
//! [`Server`] answers one connection (or one session on a link). A client
//! is two halves that share nothing: [`RequestEncoder`] writes requests,
//! [`ReplyDecoder`] reads answers, so a writer and a reader thread each own
//! one without a lock.

mod client_error;
mod lifecycle;
mod replies;
mod requests;
mod server;

pub use client_error::{ClientError, Violation};
pub use lifecycle::{CloseReason, Event, State};
pub use replies::{Reply, ReplyDecoder, EXPECTED_RUNS};
pub use requests::RequestEncoder;
pub use server::{Next, Progress, Server};

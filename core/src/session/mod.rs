//! Sessions: the state machines a caller drives with bytes and time.
//!
//! [`Server`] answers one connection (or one session on a link);
//! [`Client`] speaks to a server. Both follow the same rules of use, which
//! are written once on [`Server`].

mod client;
mod lifecycle;
mod server;

pub use client::{Client, ClientError, Reply};
pub use lifecycle::{CloseReason, Event, State};
pub use server::{Progress, Server};

//! # shout-mio
//!
//! The desktop side of SHOUT/1: [`shout_core`] sessions driven on `mio`
//! sockets, and the `shout` binary built from them.
//!
//! * [`server`]: `shout serve`. One event loop per thread, each with its own
//!   `SO_REUSEPORT` listener; bytes go from the socket through the session
//!   and straight back to the socket (answered in place in the loop's read
//!   buffer with the ascii transform), so a connection keeps bytes of its
//!   own only when the peer stops reading. The adapter only moves bytes and
//!   time: what to answer, when a session ends and what a shutdown answers
//!   are the core's decisions.
//! * [`client`]: `shout send`, a small blocking client on
//!   [`shout_core::RequestEncoder`] and [`shout_core::ReplyDecoder`].
//! * [`cli`]: the command line of the contract, parsed and checked.

pub mod cli;
pub mod client;
pub mod clock;
pub mod server;

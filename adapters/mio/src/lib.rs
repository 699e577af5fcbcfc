//! # shout-mio
//!
//! The desktop side of SHOUT/1: [`shout_core`] sessions driven on `mio`
//! sockets, and the `shout` binary built from them.
//!
//! * [`server`]: `shout serve`. One event loop per thread, each with its own
//!   `SO_REUSEPORT` listener; bytes go from the socket through the session
//!   into a per-thread buffer and straight back to the socket, so a
//!   connection keeps bytes of its own only when the peer stops reading.
//! * [`client`]: `shout send`, a small blocking client on
//!   [`shout_core::Client`].
//! * [`cli`]: the command line of the contract, parsed and checked.

pub mod cli;
pub mod client;
pub mod clock;
pub mod server;

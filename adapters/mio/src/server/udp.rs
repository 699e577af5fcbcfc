//! UDP: one datagram in, one datagram out to its sender, transformed. No
//! session: a datagram is a whole request, so only the transform is used.

use std::io;

use mio::net::UdpSocket;
use shout_core::transform::transform_message;
use shout_core::TransformKind;

use super::metrics::{self, Counters};

/// Datagrams answered per wake-up before the loop serves others.
const BUDGET: usize = 256;

/// Largest UDP payload over IPv4 and IPv6.
const MAX_V4: usize = 65_507;
const MAX_V6: usize = 65_527;

/// What replaces a response too large for one datagram.
const TOO_LARGE: &[u8] = b"error: response too large";

/// Answers waiting datagrams; true if some may still be waiting.
pub(crate) fn serve(
    socket: &UdpSocket,
    transform: TransformKind,
    input: &mut [u8],
    output: &mut [u8],
    counters: &Counters,
) -> bool {
    for _ in 0..BUDGET {
        let (n, peer) = match socket.recv_from(input) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // An ICMP error from an earlier reply's sender; keep serving.
            Err(e) => {
                tracing::debug!("udp receive: {e}");
                continue;
            }
        };
        // The output buffer is larger than any datagram, so a response
        // that does not fit it is too large as well.
        let limit = if peer.is_ipv4() { MAX_V4 } else { MAX_V6 };
        let reply = match transform_message(transform, &input[..n], output) {
            Some(len) if len <= limit => &output[..len],
            _ => TOO_LARGE,
        };
        counters.add(metrics::UDP_DATAGRAMS, 1);
        counters.add(metrics::RECEIVED_BYTES, n as u64);
        match socket.send_to(reply, peer) {
            Ok(sent) => counters.add(metrics::SENT_BYTES, sent as u64),
            // A full send queue drops the reply, as UDP may.
            Err(e) => tracing::debug!("udp reply to {peer} dropped: {e}"),
        }
    }
    true
}

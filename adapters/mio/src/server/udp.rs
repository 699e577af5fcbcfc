//! UDP: one datagram in, one datagram out to its sender, transformed. No
//! session: a datagram is a whole request, so only the transform is used.

use std::io;

use mio::net::UdpSocket;
use shout_core::transform::{Ascii, Transform};
use shout_core::TransformKind;

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
        let produced = apply(transform, &input[..n], output);
        let limit = if peer.is_ipv4() { MAX_V4 } else { MAX_V6 };
        let reply = if produced > limit {
            TOO_LARGE
        } else {
            &output[..produced]
        };
        match socket.send_to(reply, peer) {
            Ok(_) => {}
            // A full send queue drops the reply, as UDP may.
            Err(e) => tracing::debug!("udp reply to {peer} dropped: {e}"),
        }
    }
    true
}

/// The transform of a whole datagram into `out`; returns its length.
fn apply(kind: TransformKind, input: &[u8], out: &mut [u8]) -> usize {
    match kind {
        TransformKind::Ascii => {
            let (_, written) = Ascii.apply(input, out);
            written + Ascii.flush(&mut out[written..])
        }
    }
}

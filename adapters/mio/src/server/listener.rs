//! Binding: one `SO_REUSEPORT` TCP listener (and UDP socket) per event
//! loop, all on the same port, so the kernel spreads connections across
//! threads with no shared accept queue and no lock.
//!
//! `SO_REUSEPORT` would also let a *second* server (same user) share an
//! explicit port silently, and the contract says a taken port is an error.
//! So every bind first tries the address with a plain socket that does not
//! set `SO_REUSEPORT` (a probe): it fails with "address in use" exactly when
//! someone else holds the port. With port 0 the probe also picks the port:
//! the kernel chooses a free TCP port, the UDP probe checks that UDP has it
//! too, and on a clash another port is tried.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// The sockets one server listens on, all with the same address.
pub struct Bound {
    /// The address every socket is bound to (the real port, never 0).
    pub addr: SocketAddr,
    /// One TCP listener per event loop.
    pub tcp: Vec<TcpListener>,
    /// One UDP socket per event loop, or none without `--udp`.
    pub udp: Vec<UdpSocket>,
}

/// How many ports to try when port 0 gives a TCP port whose UDP side is taken.
const PORT_TRIES: usize = 64;

/// Binds `copies` TCP listeners (and as many UDP sockets if `udp`) on
/// `addr`. A port in use is an `AddrInUse` error.
pub fn bind(addr: SocketAddr, copies: usize, udp: bool) -> io::Result<Bound> {
    let copies = copies.max(1);
    if addr.port() != 0 {
        probe(addr, udp)?;
        return bind_all(addr, copies, udp);
    }
    let mut last = None;
    for _ in 0..PORT_TRIES {
        match probe(addr, udp).and_then(|real| bind_all(real, copies, udp)) {
            Ok(bound) => return Ok(bound),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

/// Tries `addr` on plain sockets (closed again on return); gives the
/// address with the port the kernel picked.
fn probe(addr: SocketAddr, udp: bool) -> io::Result<SocketAddr> {
    let tcp = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server reuse a port whose old connections sit in
    // TIME_WAIT; a listening socket on the port still makes bind fail.
    tcp.set_reuse_address(true)?;
    tcp.bind(&addr.into())?;
    let real = tcp
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound address is not an IP address"))?;
    if udp {
        let u = Socket::new(Domain::for_address(real), Type::DGRAM, Some(Protocol::UDP))?;
        u.bind(&real.into())?;
    }
    Ok(real)
}

fn bind_all(addr: SocketAddr, copies: usize, udp: bool) -> io::Result<Bound> {
    let mut tcp = Vec::with_capacity(copies);
    let mut udps = Vec::new();
    for _ in 0..copies {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        s.listen(4096)?;
        tcp.push(s.into());
        if udp {
            let u = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            u.set_reuse_port(true)?;
            u.set_nonblocking(true)?;
            u.bind(&addr.into())?;
            udps.push(u.into());
        }
    }
    Ok(Bound {
        addr,
        tcp,
        udp: udps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gives_one_real_port_for_all() {
        let b = bind("127.0.0.1:0".parse().unwrap(), 3, true).unwrap();
        assert_ne!(b.addr.port(), 0);
        for l in &b.tcp {
            assert_eq!(l.local_addr().unwrap(), b.addr);
        }
        assert_eq!(b.udp.len(), 3);
        for u in &b.udp {
            assert_eq!(u.local_addr().unwrap(), b.addr);
        }
    }

    #[test]
    fn a_taken_port_is_refused_even_by_reuseport() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 1, false).unwrap();
        let err = bind(first.addr, 1, false)
            .err()
            .expect("second bind must fail");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        // A plain listener holding the port also makes it taken.
        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let err = bind(plain.local_addr().unwrap(), 2, false).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn a_taken_udp_side_is_refused() {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = bind(u.local_addr().unwrap(), 1, true).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}

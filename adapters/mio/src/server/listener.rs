//! Binding: one `SO_REUSEPORT` TCP listener (and UDP socket) per event
//! loop, all on the same port, so the kernel spreads connections across
//! threads with no shared accept queue and no lock. Or, under socket
//! activation (`LISTEN_FDS`), the sockets the service manager passed,
//! each shared by every event loop.
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

/// The sockets one server listens on.
pub struct Bound {
    /// What each event loop serves, one entry per loop.
    pub loops: Vec<Sockets>,
    /// Every socket once, with its address, in the order to announce them.
    pub announced: Vec<(SocketAddr, Transport)>,
}

/// The sockets one event loop serves.
#[derive(Default)]
pub struct Sockets {
    /// TCP listeners.
    pub tcp: Vec<TcpListener>,
    /// UDP sockets.
    pub udp: Vec<UdpSocket>,
}

/// Which protocol a socket speaks, as the `listening on` line says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A TCP listener.
    Tcp,
    /// A UDP socket.
    Udp,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        })
    }
}

/// The sockets systemd (or anything speaking its protocol) passed: file
/// descriptors 3 and up when `LISTEN_FDS` is set and `LISTEN_PID` is this
/// process. `None` without them. Each event loop gets its own handle
/// (a duplicate descriptor) of every socket.
pub(super) fn inherited(loops: usize) -> io::Result<Option<Bound>> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours || std::env::var_os("LISTEN_FDS").is_none() {
        return Ok(None);
    }
    let mut fds = listenfd::ListenFd::from_env();
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    let mut announced = Vec::new();
    for i in 0..fds.len() {
        if let Ok(Some(l)) = fds.take_tcp_listener(i) {
            l.set_nonblocking(true)?;
            announced.push((l.local_addr()?, Transport::Tcp));
            tcp.push(l);
        } else if let Ok(Some(u)) = fds.take_udp_socket(i) {
            u.set_nonblocking(true)?;
            announced.push((u.local_addr()?, Transport::Udp));
            udp.push(u);
        } else {
            return Err(io::Error::other(format!(
                "socket activation: descriptor {} is neither a TCP listener nor a UDP socket",
                3 + i
            )));
        }
    }
    if tcp.is_empty() && udp.is_empty() {
        return Err(io::Error::other(
            "socket activation: LISTEN_FDS passed no socket",
        ));
    }
    let mut per_loop = Vec::with_capacity(loops.max(1));
    for _ in 1..loops.max(1) {
        per_loop.push(Sockets {
            tcp: tcp
                .iter()
                .map(TcpListener::try_clone)
                .collect::<io::Result<_>>()?,
            udp: udp
                .iter()
                .map(UdpSocket::try_clone)
                .collect::<io::Result<_>>()?,
        });
    }
    per_loop.push(Sockets { tcp, udp });
    Ok(Some(Bound {
        loops: per_loop,
        announced,
    }))
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
    let mut loops = Vec::with_capacity(copies);
    for _ in 0..copies {
        let mut sockets = Sockets::default();
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.set_nonblocking(true)?;
        s.bind(&addr.into())?;
        s.listen(4096)?;
        sockets.tcp.push(s.into());
        if udp {
            let u = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            u.set_reuse_port(true)?;
            u.set_nonblocking(true)?;
            u.bind(&addr.into())?;
            sockets.udp.push(u.into());
        }
        loops.push(sockets);
    }
    let mut announced = vec![(addr, Transport::Tcp)];
    if udp {
        announced.push((addr, Transport::Udp));
    }
    Ok(Bound { loops, announced })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_gives_one_real_port_for_all() {
        let b = bind("127.0.0.1:0".parse().unwrap(), 3, true).unwrap();
        let addr = b.announced[0].0;
        assert_ne!(addr.port(), 0);
        assert_eq!(
            b.announced,
            [(addr, Transport::Tcp), (addr, Transport::Udp)]
        );
        assert_eq!(b.loops.len(), 3);
        for l in &b.loops {
            assert_eq!(l.tcp[0].local_addr().unwrap(), addr);
            assert_eq!(l.udp[0].local_addr().unwrap(), addr);
        }
    }

    #[test]
    fn a_taken_port_is_refused_even_by_reuseport() {
        let first = bind("127.0.0.1:0".parse().unwrap(), 1, false).unwrap();
        let err = bind(first.announced[0].0, 1, false)
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

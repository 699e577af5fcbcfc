//! The ceiling: a minimal mio echo server with no protocol and no
//! transform, built the same way as `shout serve --threads 1` (edge
//! triggered, read until `WouldBlock`, one shared buffer, a per-connection
//! backlog only when the socket will not take the echo). Whatever `shout`
//! does on top of moving bytes shows up as the gap to this.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
    eof: bool,
    writable: bool,
}

/// Serves echo on `addr` until the process is killed; prints the
/// `listening on ADDR (tcp)` line once bound.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!("listening on {} (tcp)", listener.local_addr()?);
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    // The pieces `shout serve` reads and writes (its connection::READ_SIZE;
    // this crate does not depend on the product): 64 KiB itself costs the
    // kernel a fifth more (BENCHMARKS.md, "Reads and writes of 60 KiB").
    let mut buf = vec![0u8; 60 * 1024];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    let _ = stream.set_nodelay(true);
                    let entry = conns.vacant_entry();
                    poll.registry().register(
                        &mut stream,
                        Token(entry.key()),
                        Interest::READABLE,
                    )?;
                    entry.insert(Conn {
                        stream,
                        pending: Vec::new(),
                        eof: false,
                        writable: false,
                    });
                }
                continue;
            }
            let key = ev.token().0;
            let Some(c) = conns.get_mut(key) else {
                continue;
            };
            if !drive(c, &mut buf, !ev.is_read_closed()) {
                conns.remove(key);
                continue;
            }
            // Writable interest only while an echo waits, as in `shout`.
            let want = !c.pending.is_empty();
            if want != c.writable {
                let interest = if want {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                poll.registry()
                    .reregister(&mut c.stream, Token(key), interest)?;
                c.writable = want;
            }
        }
    }
}

/// False when the connection is over. Takes a short read as "the socket
/// is empty" like `shout serve` does (unless the event also reported the
/// peer's end), so both pay the same syscalls per request.
fn drive(c: &mut Conn, buf: &mut [u8], short_read_drains: bool) -> bool {
    loop {
        if !c.pending.is_empty() {
            match (&c.stream).write(&c.pending) {
                Ok(n) => {
                    c.pending.drain(..n);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(_) => return false,
            }
        }
        if c.eof {
            return false;
        }
        match (&c.stream).read(buf) {
            Ok(0) => c.eof = true,
            Ok(n) => {
                let mut sent = 0;
                while sent < n {
                    match (&c.stream).write(&buf[sent..n]) {
                        Ok(k) => sent += k,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => return false,
                    }
                }
                if sent < n {
                    // Stop reading until the echo is sent.
                    c.pending.extend_from_slice(&buf[sent..n]);
                    return true;
                }
                if short_read_drains && n < buf.len() {
                    return true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(_) => return false,
        }
    }
}

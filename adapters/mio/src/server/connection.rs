//! One TCP connection: its socket, the index of its session, and the few
//! bytes it must keep between events.
//!
//! The hot path holds nothing per connection: input is read into the
//! event loop's buffer, answered by the session into the loop's output
//! buffer and written straight back. Only when the socket will not take
//! all of it does the connection get a [`Backlog`] (the unsent output and
//! the input the session could not answer yet); it then reads nothing more
//! until the backlog is sent, so a peer that does not read costs one
//! buffer's worth of memory at most, and the backlog is freed once sent.
//! An idle connection is this struct alone (a few dozen bytes): its
//! session (240 bytes today) is only made when the first event needs it.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use shout_core::{Instant, Server};

/// Reads per wake-up before a busy connection lets the others run.
const READ_BUDGET: u32 = 16;

/// "No session yet" for [`Conn::session`].
pub(crate) const NO_SESSION: u32 = u32::MAX;

/// Where a connection is after its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The session is running (or not made yet).
    Open,
    /// The session is over; its last output is still being sent.
    Closing,
    /// Everything is sent and our side shut down: reading and discarding
    /// until the peer closes, so that its unread bytes never turn into a
    /// reset that destroys responses it has not read yet.
    Lingering,
}

/// Output the socket would not take, and input not answered yet: either
/// held behind that output, or too little for the session to move on.
pub(crate) struct Backlog {
    out: Vec<u8>,
    sent: usize,
    input: Vec<u8>,
}

/// A connection of one event loop.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    /// Index in the loop's session slab, or [`NO_SESSION`].
    pub(crate) session: u32,
    pub(crate) phase: Phase,
    /// The peer ended its input.
    pub(crate) read_eof: bool,
    /// Registered for writable events (only while a backlog waits).
    pub(crate) writable: bool,
    pub(crate) backlog: Option<Box<Backlog>>,
    /// Deadline of this connection's live timer entry (see `timers`).
    pub(crate) timer_at: u64,
    /// While open: when it was accepted (the idle clock of a session not
    /// made yet). Once closing or lingering: when to give up.
    pub(crate) since: u64,
}

/// What a connection needs after being driven.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Waiting for the socket (readable, or writable if a backlog waits).
    Wait,
    /// Still has input to read: drive it again after the others.
    Yield,
    /// The session is finished and everything it produced is sent.
    Finished,
    /// End the connection now.
    Close(&'static str),
}

/// The per-loop buffers every connection shares.
pub(crate) struct Buffers {
    pub(crate) input: Box<[u8]>,
    pub(crate) output: Box<[u8]>,
}

impl Buffers {
    /// `size` bytes of input; output has room for what the session adds to
    /// a full read (headers, HELLO, CLOSE, an ERROR) so one call answers it.
    pub(crate) fn new(size: usize) -> Self {
        Buffers {
            input: vec![0; size].into_boxed_slice(),
            output: vec![0; size + 4096].into_boxed_slice(),
        }
    }
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, now: Instant) -> Self {
        Conn {
            stream,
            session: NO_SESSION,
            phase: Phase::Open,
            read_eof: false,
            writable: false,
            backlog: None,
            timer_at: super::timers::NEVER,
            since: now.as_micros(),
        }
    }

    /// Moves bytes until the connection must wait: sends the backlog,
    /// then reads and answers input. `draining`: the server is shutting
    /// down, so reading everything waiting ends with an empty call to the
    /// session ("nothing more is waiting"). `short_read_drains`: a read
    /// shorter than the buffer may be taken as "the socket is empty"; only
    /// for a readiness event that did not also report the peer's end,
    /// which would raise no new event.
    pub(crate) fn drive(
        &mut self,
        s: &mut Server,
        bufs: &mut Buffers,
        now: Instant,
        draining: bool,
        short_read_drains: bool,
    ) -> Step {
        let Buffers { input, output } = bufs;
        let mut reads = 0;
        let mut drained = false;
        loop {
            if let Some(b) = self.backlog.as_mut() {
                if b.sent < b.out.len() {
                    match flush(&self.stream, b) {
                        Err(_) => return Step::Close("write failed"),
                        Ok(false) => return Step::Wait,
                        Ok(true) => s.handle_transmitted(now),
                    }
                }
                // Output all sent: answer the input held back, unless the
                // session waits for more of it (a whole unicode payload).
                let enough = b.input.len() >= s.input_needed() || s.is_closed() || self.read_eof;
                if b.input.is_empty() || enough {
                    let held = self.backlog.take().map(|b| b.input).unwrap_or_default();
                    if !held.is_empty() {
                        if let Err(why) = self.feed(s, &held, output, now) {
                            return Step::Close(why);
                        }
                    }
                    continue;
                }
            }
            if s.is_finished() {
                return Step::Finished;
            }
            if self.read_eof {
                // Take the session's final bytes after end of input.
                if let Err(why) = self.feed(s, &[], output, now) {
                    return Step::Close(why);
                }
                if self.backlog.is_some() {
                    continue;
                }
                return if s.is_finished() {
                    Step::Finished
                } else {
                    Step::Close("session did not end after end of input")
                };
            }
            if drained {
                // Nothing more waits in the socket. While shutting down an
                // empty call tells the session so; it also flushes output
                // the session still holds.
                let starved = self.backlog.is_some();
                if !starved && (draining || s.has_pending_output()) {
                    if let Err(why) = self.feed(s, &[], output, now) {
                        return Step::Close(why);
                    }
                    if self.backlog.is_some() || s.is_finished() {
                        continue;
                    }
                }
                return Step::Wait;
            }
            if reads == READ_BUDGET {
                return Step::Yield;
            }
            match (&self.stream).read(input) {
                Ok(0) => {
                    self.read_eof = true;
                    s.handle_end_of_input();
                }
                Ok(n) => {
                    reads += 1;
                    if let Some(b) = self.backlog.as_mut() {
                        // Starved: collect until the session has enough.
                        b.input.extend_from_slice(&input[..n]);
                    } else if let Err(why) = self.feed(s, &input[..n], output, now) {
                        return Step::Close(why);
                    }
                    // A short read emptied the socket: with edge-triggered
                    // readiness, bytes arriving later raise a new event, so
                    // the read that would only say `WouldBlock` is skipped
                    // (one syscall less per request; tokio does the same).
                    drained = short_read_drains && n < input.len();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => drained = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close("read failed"),
            }
        }
    }

    /// Offers `input` to the session and writes what it answers. Output
    /// the socket will not take, and input the session cannot take yet,
    /// become the backlog.
    fn feed(
        &mut self,
        s: &mut Server,
        input: &[u8],
        out: &mut [u8],
        now: Instant,
    ) -> Result<(), &'static str> {
        let mut input = input;
        loop {
            let p = s.handle_input(now, input, out);
            input = &input[p.consumed..];
            if p.produced > 0 {
                let sent =
                    write_some(&self.stream, &out[..p.produced]).map_err(|_| "write failed")?;
                if sent < p.produced {
                    self.backlog = Some(Box::new(Backlog {
                        out: out[sent..p.produced].to_vec(),
                        sent: 0,
                        input: input.to_vec(),
                    }));
                    return Ok(());
                }
            }
            if input.is_empty() && !s.has_pending_output() {
                return Ok(());
            }
            if p.consumed == 0 && p.produced == 0 && !s.is_closed() {
                if input.is_empty() || self.read_eof {
                    return Err("session made no progress");
                }
                // The session needs more input in one piece (a unicode
                // DATA payload): keep what it left and read on.
                self.backlog = Some(Box::new(Backlog {
                    out: Vec::new(),
                    sent: 0,
                    input: input.to_vec(),
                }));
                return Ok(());
            }
        }
    }

    /// Reads and discards; [`Step::Close`] once the peer has closed.
    pub(crate) fn linger(&mut self, bufs: &mut Buffers) -> Step {
        for _ in 0..READ_BUDGET {
            match (&self.stream).read(&mut bufs.input) {
                Ok(0) => return Step::Close("peer closed"),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close("read failed while lingering"),
            }
        }
        Step::Yield
    }

    /// Output waits for the socket: writable events are wanted.
    pub(crate) fn wants_write(&self) -> bool {
        self.backlog.as_ref().is_some_and(|b| b.sent < b.out.len())
    }
}

/// Writes as much of `bytes` as the socket takes now.
fn write_some(mut w: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    let mut sent = 0;
    while sent < bytes.len() {
        match w.write(&bytes[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Sends the backlog's output; true once all of it is sent.
fn flush(w: &TcpStream, b: &mut Backlog) -> io::Result<bool> {
    b.sent += write_some(w, &b.out[b.sent..])?;
    Ok(b.sent == b.out.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection is this struct (plus a timer entry): keep it
    /// small, since 10,000 of them must fit in well under 256 bytes each.
    #[test]
    fn an_idle_connection_is_small() {
        let conn = std::mem::size_of::<Conn>();
        eprintln!("Conn {conn} B, session {} B", std::mem::size_of::<Server>());
        // 40 in release; debug builds add mio's 8-byte selector id.
        assert!(conn <= 48, "Conn grew to {conn} bytes");
    }
}

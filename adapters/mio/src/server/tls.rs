//! TLS between a connection's socket and its session, with rustls.
//!
//! The session never knows: ciphertext read from the socket goes into
//! rustls, the plaintext it yields is what the session reads, and what the
//! session answers is written into rustls and its records onto the socket.
//! Reading the socket is done here, into the event loop's cipher buffer,
//! rather than with `read_tls(socket)`, which asks the kernel for at most
//! 4 KiB a call: one large read, then rustls takes it in pieces. What it
//! cannot take yet (its plaintext buffer is full until the session reads)
//! waits in a stash that counts against the memory budget.
//!
//! Backpressure: rustls holds at most [`SEND_LIMIT`] bytes of records the
//! socket has not taken; `write` then takes less than offered and the rest
//! of the answer stays in the connection's backlog, as for plain TCP.

use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};

/// The most TLS record bytes rustls holds for a socket that will not take
/// them: four full records, one `writev`.
const SEND_LIMIT: usize = 64 * 1024;

/// rustls's plaintext buffer: it refuses more ciphertext once this much
/// plaintext waits for the session (its default).
const PLAINTEXT_LIMIT: usize = 16 * 1024;

/// What rustls itself holds for a connection between events: its record
/// buffer (4 KiB when empty), key schedule and state, measured at about
/// this much resident memory per idle TLS connection (BENCHMARKS.md).
pub(crate) const IDLE_COST: usize = 8 * 1024;

/// What a connection's TLS may hold at most on top of [`IDLE_COST`] while
/// it is read: a partial record, the plaintext limit and a read's stash.
pub(crate) fn read_cost(cipher_buffer: usize) -> usize {
    18 * 1024 + PLAINTEXT_LIMIT + cipher_buffer
}

/// The server's certificate and key, loaded once for every connection.
#[derive(Clone, Debug)]
pub struct Certified(pub(crate) Arc<ServerConfig>);

impl Certified {
    /// Loads a PEM certificate chain and its private key (PKCS#8, PKCS#1
    /// or SEC1), TLS 1.2 and 1.3 with the ring provider; the message says
    /// which file is wrong and why.
    pub fn load(cert: &Path, key: &Path) -> Result<Certified, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_error(cert, "certificate", &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| pem_error(cert, "certificate", &e))?;
        if chain.is_empty() {
            return Err(format!(
                "--tls-cert {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
                cert.display()
            ));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, "key", &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| {
                format!(
                    "--tls-cert {} with --tls-key {}: {e}",
                    cert.display(),
                    key.display()
                )
            })?;
        Ok(Certified(Arc::new(config)))
    }
}

fn pem_error(path: &Path, what: &str, e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    let flag = if what == "key" {
        "--tls-key"
    } else {
        "--tls-cert"
    };
    let why = match e {
        Error::Io(io) => format!("cannot read it: {io}"),
        Error::NoItemsFound => format!("no PEM {what} in it"),
        other => format!("not a usable PEM {what}: {other}"),
    };
    format!("{flag} {}: {why}", path.display())
}

/// Where the handshake is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Handshake {
    Running,
    Done,
    Failed,
}

/// One connection's TLS.
pub(crate) struct Tls {
    conn: ServerConnection,
    /// Ciphertext read from the socket that rustls has not taken yet,
    /// from `stash_at` on. On the heap, its capacity kept while the peer
    /// streams (an anonymous map per read, as `Held` makes for large
    /// buffers, cost a page fault per page: measured, 5 % of raw bulk's
    /// CPU) and given back once the socket is empty.
    stash: Vec<u8>,
    stash_at: usize,
    handshake: Handshake,
    /// Plaintext rustls holds for the session (as of the last look).
    plain: usize,
    /// Our close_notify is queued.
    closing: bool,
    /// What the connection holds of the memory budget for it.
    pub(crate) charge: usize,
    /// Records have gone out (so an alert now must be rustls's own,
    /// encrypted as the handshake has got to).
    sent_any: bool,
    /// The socket's peer when TLS began.
    pub(crate) peer: SocketAddr,
}

/// What a step of the handshake or a read came to.
#[derive(Debug)]
pub(crate) enum TlsError {
    /// The socket failed.
    Io(io::Error),
    /// The peer broke TLS (its alert sent, best effort).
    Protocol(rustls::Error),
}

impl From<io::Error> for TlsError {
    fn from(e: io::Error) -> Self {
        TlsError::Io(e)
    }
}

impl Tls {
    /// TLS for a connection from `peer`.
    pub(crate) fn new(config: &Certified, peer: SocketAddr) -> Result<Tls, rustls::Error> {
        let mut conn = ServerConnection::new(config.0.clone())?;
        conn.set_buffer_limit(Some(SEND_LIMIT));
        Ok(Tls {
            conn,
            stash: Vec::new(),
            stash_at: 0,
            handshake: Handshake::Running,
            plain: 0,
            closing: false,
            charge: 0,
            sent_any: false,
            peer,
        })
    }

    /// The handshake is still going on.
    pub(crate) fn handshaking(&self) -> bool {
        self.handshake == Handshake::Running
    }

    /// Moves the handshake on with what the socket has: `Ok(true)` once
    /// it is done, `Ok(false)` while it waits for the peer. Bytes the
    /// client sent after its Finished wait for [`Tls::read`].
    pub(crate) fn handshake(
        &mut self,
        sock: &TcpStream,
        cipher: &mut [u8],
    ) -> Result<bool, TlsError> {
        self.flush(sock)?;
        while self.handshake == Handshake::Running {
            match self.pull(sock, cipher) {
                Ok(true) => {}
                Ok(false) => {
                    self.handshake = Handshake::Failed;
                    return Err(TlsError::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                Err(TlsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(self.handshake == Handshake::Done)
    }

    /// Reads plaintext into `buf` (only looks, if `peek`: [`Tls::consume`]
    /// then takes what was used), reading the socket into `cipher` when
    /// rustls has none. `Ok(0)`: the peer's end of input, its close_notify
    /// (or a TCP end without one, taken the same way). `WouldBlock` when
    /// the socket has nothing more.
    pub(crate) fn read(
        &mut self,
        sock: &TcpStream,
        cipher: &mut [u8],
        buf: &mut [u8],
        peek: bool,
    ) -> Result<usize, TlsError> {
        loop {
            let mut reader = self.conn.reader();
            let got = if peek {
                reader.fill_buf().map(|b| {
                    let n = b.len().min(buf.len());
                    buf[..n].copy_from_slice(&b[..n]);
                    n
                })
            } else {
                reader.read(buf)
            };
            match got {
                Ok(n) => {
                    if !peek {
                        self.plain = self.plain.saturating_sub(n);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e.into()),
            }
            if !self.pull(sock, cipher)? {
                // The socket ended: rustls then says whether that was
                // after a close_notify.
                self.conn.read_tls(&mut io::empty())?;
                self.process(sock)?;
            }
        }
    }

    /// Gives rustls more ciphertext: what waits in the stash, else one
    /// read of the socket into `cipher`. `Ok(false)`: the socket ended;
    /// `WouldBlock` when it has nothing now (the stash, empty then, gives
    /// its memory back until the next event).
    fn pull(&mut self, sock: &TcpStream, cipher: &mut [u8]) -> Result<bool, TlsError> {
        if self.stash_at < self.stash.len() {
            self.take_stash(sock)?;
            return Ok(true);
        }
        match read_socket(sock, cipher) {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.take(sock, &cipher[..n])?;
                Ok(true)
            }
            Err(e) => {
                if e.kind() == io::ErrorKind::WouldBlock {
                    self.stash = Vec::new();
                }
                Err(e.into())
            }
        }
    }

    /// Takes `n` bytes of the plaintext a peek showed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.conn.reader().consume(n);
        self.plain = self.plain.saturating_sub(n);
    }

    /// Encrypts and sends as much of `bytes` as rustls and the socket
    /// take; how many plaintext bytes were taken.
    pub(crate) fn write(&mut self, sock: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        loop {
            if !self.flush(sock)? || taken == bytes.len() {
                return Ok(taken);
            }
            let n = self.conn.writer().write(&bytes[taken..])?;
            if n == 0 {
                return Ok(taken);
            }
            taken += n;
        }
    }

    /// Sends the records rustls holds; true once none is left.
    pub(crate) fn flush(&mut self, sock: &TcpStream) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut &*sock) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => self.sent_any = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Records wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Queues our close_notify (once) and sends it; true once it is out.
    pub(crate) fn close(&mut self, sock: &TcpStream) -> io::Result<bool> {
        if !self.closing {
            self.closing = true;
            self.conn.send_close_notify();
        }
        self.flush(sock)
    }

    /// Plaintext and ciphertext received but not read by the session yet:
    /// an upper bound on the plaintext they hold.
    pub(crate) fn pending_input(&self) -> usize {
        self.plain + (self.stash.len() - self.stash_at)
    }

    /// What this connection's TLS holds of the memory budget now.
    pub(crate) fn cost(&self) -> usize {
        let out = if self.conn.wants_write() {
            SEND_LIMIT + 1024
        } else {
            0
        };
        IDLE_COST + self.stash.capacity() + out + self.pending_input()
    }

    /// Gives rustls what it takes of `bytes`; the rest is stashed.
    fn take(&mut self, sock: &TcpStream, bytes: &[u8]) -> Result<(), TlsError> {
        let mut rest = bytes;
        let left = self.feed(sock, &mut rest)?;
        if left {
            self.stash.clear();
            self.stash.extend_from_slice(rest);
            self.stash_at = 0;
        }
        Ok(())
    }

    fn take_stash(&mut self, sock: &TcpStream) -> Result<(), TlsError> {
        let stash = std::mem::take(&mut self.stash);
        let mut rest = &stash[self.stash_at..];
        let left = self.feed(sock, &mut rest)?;
        self.stash_at = if left { stash.len() - rest.len() } else { 0 };
        self.stash = stash;
        if !left {
            self.stash.clear();
        }
        Ok(())
    }

    /// Feeds rustls from `rest` until it is empty or rustls's plaintext
    /// buffer is full; true when bytes are left for later. After the
    /// peer's close_notify the rest is dropped (TLS ignores it).
    fn feed(&mut self, sock: &TcpStream, rest: &mut &[u8]) -> Result<bool, TlsError> {
        while !rest.is_empty() {
            match self.conn.read_tls(rest) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            if self.process(sock)? >= PLAINTEXT_LIMIT {
                return Ok(!rest.is_empty());
            }
        }
        Ok(false)
    }

    /// Processes what rustls took: handshake messages are answered at
    /// once, a failure sends its alert. Returns the plaintext waiting.
    fn process(&mut self, sock: &TcpStream) -> Result<usize, TlsError> {
        match self.conn.process_new_packets() {
            Ok(state) => {
                if self.handshake == Handshake::Running && !self.conn.is_handshaking() {
                    self.handshake = Handshake::Done;
                }
                if self.conn.wants_write() {
                    self.flush(sock)?;
                }
                self.plain = state.plaintext_bytes_to_read();
                Ok(self.plain)
            }
            Err(e) => {
                if self.handshake == Handshake::Running {
                    self.handshake = Handshake::Failed;
                }
                // The alert rustls queued, if the socket takes it. For
                // the few records it refuses before it answers anything
                // (a handshake message over 64 KiB, say) it queues none:
                // then a plaintext decode_error alert says why we close.
                if !self.conn.wants_write() && !self.sent_any {
                    let _ = write_some(sock, &DECODE_ERROR_ALERT);
                }
                let _ = self.flush(sock);
                Err(TlsError::Protocol(e))
            }
        }
    }
}

/// A fatal `decode_error` alert record, in the clear (TLS 1.2 record
/// version, as TLS 1.3 sends it too).
const DECODE_ERROR_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32];

/// Writes what the socket takes of `bytes` at once (best effort).
fn write_some(mut sock: &TcpStream, bytes: &[u8]) -> io::Result<usize> {
    sock.write(bytes)
}

/// One read of the socket.
fn read_socket(mut sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match sock.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

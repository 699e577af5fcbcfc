//! TLS on the client side, with rustls (the ring provider), driven
//! without blocking from the load generator's one `mio` loop.
//!
//! Bytes from the socket go into rustls (`read_tls`, then
//! `process_new_packets`), and the plaintext it yields is what the
//! checkers read; requests go into its `writer()` and its records onto
//! the socket (`write_tls`). The socket is read in large pieces (into the
//! second half of the caller's buffer) rather than with `read_tls(socket)`,
//! which asks the kernel for at most 4 KiB a call; what rustls does not
//! take of a piece yet waits in a small per-connection stash. `WouldBlock`
//! is honoured both ways: rustls holds at most its buffer limit (64 KiB)
//! of records the socket would not take, a write then takes nothing and
//! the caller keeps the rest of its requests until the socket is writable
//! again (every socket is registered for both readiness edges).
//!
//! Sessions are never resumed: every connection does a full handshake.
//! (The roots are loaded as `shout send --tls` loads them; the load
//! generator does not depend on the product it measures, so the few lines
//! stand here again.)

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::client::Resumption;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// How to reach the server over TLS: the roots its certificate must chain
/// to and the name it must carry. Loaded once for every connection.
#[derive(Clone, Debug)]
pub struct Client {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl Client {
    /// Trusts the certificates in `ca` (PEM), or without it the usual web
    /// roots (webpki-roots), for the server name `name` (a DNS name or an
    /// IP address); TLS 1.3 and 1.2, no session resumption. The message
    /// says what is wrong with which file.
    pub fn new(ca: Option<&Path>, name: &str) -> Result<Client, String> {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| format!("--ca {}: {e}", path.display()))?;
                if certs.is_empty() {
                    return Err(format!(
                        "--ca {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it",
                        path.display()
                    ));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("--ca {}: {e}", path.display()))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| format!("'{name}' is not a server name (a DNS name or an IP address)"))?;
        Ok(Client {
            config: Arc::new(config),
            name,
        })
    }

    /// A new client session, its ClientHello ready to be sent once the
    /// socket is connected.
    pub(crate) fn session(&self) -> io::Result<Box<Tls>> {
        let conn = ClientConnection::new(self.config.clone(), self.name.clone())
            .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
        Ok(Box::new(Tls {
            conn,
            stash: Vec::new(),
            at: 0,
        }))
    }
}

/// One connection's TLS session.
pub(crate) struct Tls {
    conn: ClientConnection,
    /// Ciphertext read from the socket that rustls has not taken yet
    /// (from `at` on).
    stash: Vec<u8>,
    at: usize,
}

impl Tls {
    /// Reads plaintext as a socket read does: `Ok(0)` once the server's
    /// close_notify has come (after everything before it), `WouldBlock`
    /// when there is nothing yet; a close without close_notify, a TLS
    /// alert or a failed handshake is an error. Uses the second half of
    /// `buf` for ciphertext.
    pub(crate) fn read(&mut self, sock: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        let (plain, cipher) = buf.split_at_mut(buf.len() / 2);
        loop {
            match self.conn.reader().read(plain) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection without a TLS close_notify",
                    ));
                }
                r => return r,
            }
            self.take_in(sock, cipher)?;
        }
    }

    /// Drives the handshake as far as the socket allows: true once it is
    /// complete (the server's certificate checked). Plaintext that came
    /// with its last flight stays for [`Tls::read`]. Uses `scratch` for
    /// ciphertext.
    pub(crate) fn handshake(&mut self, sock: &TcpStream, scratch: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.push(sock) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => r?,
            }
            if !self.conn.is_handshaking() {
                return Ok(true);
            }
            match self.take_in(sock, scratch) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the handshake",
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes plaintext as a socket write does: the bytes rustls took
    /// (encrypted, or held until the handshake is done), `WouldBlock`
    /// when it holds as much as it may and the socket takes none of it.
    pub(crate) fn write(&mut self, sock: &TcpStream, data: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(data)?;
        if n > 0 || data.is_empty() {
            return Ok(n);
        }
        self.push(sock)?;
        match self.conn.writer().write(data)? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    /// Sends the records rustls holds: `Ok` once none is left,
    /// `WouldBlock` while the socket will not take them.
    pub(crate) fn push(&mut self, sock: &TcpStream) -> io::Result<()> {
        let mut w = sock;
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut w)? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// True while rustls holds records the socket has not taken: the
    /// socket must then be watched for writability.
    pub(crate) fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Ends the sending side: a close_notify, sent as far as the socket
    /// takes it now (the rest with the next [`Tls::push`]).
    pub(crate) fn close(&mut self, sock: &TcpStream) -> io::Result<()> {
        self.conn.send_close_notify();
        match self.push(sock) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            r => r,
        }
    }

    /// Gives rustls more ciphertext (from the stash, or one read of the
    /// socket into `scratch`) and processes it; false at the end of the
    /// socket's input, `WouldBlock` when it has nothing now. A TLS error
    /// sends its alert (as far as the socket takes it) and is returned.
    fn take_in(&mut self, sock: &TcpStream, scratch: &mut [u8]) -> io::Result<bool> {
        let mut more = true;
        if self.at < self.stash.len() {
            let n = self.conn.read_tls(&mut &self.stash[self.at..])?;
            // rustls takes nothing more once it has the close_notify.
            self.at = if n == 0 {
                self.stash.len()
            } else {
                self.at + n
            };
        } else {
            let n = (&*sock).read(scratch)?;
            if n == 0 {
                more = false;
                self.conn.read_tls(&mut io::empty())?;
            } else {
                // Nothing taken: the close_notify came, the rest is ignored.
                let k = self.conn.read_tls(&mut &scratch[..n])?;
                if k > 0 {
                    self.stash.extend_from_slice(&scratch[k..n]);
                }
            }
        }
        if self.at == self.stash.len() {
            self.stash.clear();
            self.at = 0;
        }
        if let Err(e) = self.conn.process_new_packets() {
            let _ = self.push(sock);
            let what = if self.conn.is_handshaking() {
                "TLS handshake"
            } else {
                "TLS"
            };
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what}: {e}"),
            ));
        }
        Ok(more)
    }
}

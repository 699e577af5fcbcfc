//! The connection `shout send` talks over: plain TCP, or TLS (rustls)
//! over it, as handles a writer thread and a reader thread each own.
//!
//! A rustls connection is one state machine for both directions, so the
//! TLS handles share it behind a lock that is never held across a
//! blocking socket call: the reader takes ciphertext from the socket
//! without it, then hands the bytes to rustls; the writer encrypts under
//! it and sends the records after. A second lock keeps records in the
//! order rustls made them when both threads send.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// How to reach the server over TLS: the roots its certificate must chain
/// to and the name it must carry.
#[derive(Clone, Debug)]
pub struct TlsTarget {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl TlsTarget {
    /// Trusts the certificates in `ca` (PEM), or without it the usual web
    /// roots (webpki-roots), for the server name `name` (a DNS name or an
    /// IP address).
    pub fn new(ca: Option<&Path>, name: &str) -> Result<TlsTarget, String> {
        let mut roots = RootCertStore::empty();
        match ca {
            Some(path) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .and_then(|it| it.collect::<Result<_, _>>())
                    .map_err(|e| format!("--ca {}: {e}", path.display()))?;
                if certs.is_empty() {
                    return Err(format!("--ca {}: no PEM certificate in it", path.display()));
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
        let config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned())
            .map_err(|_| format!("'{name}' is not a server name (a DNS name or an IP address)"))?;
        Ok(TlsTarget {
            config: Arc::new(config),
            name,
        })
    }
}

/// One handle to the connection.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(TlsHandle),
}

impl Stream {
    /// Connects, and with `tls` completes the handshake (the certificate
    /// checked) before returning.
    pub(crate) fn connect(addr: SocketAddr, tls: Option<&TlsTarget>) -> Result<Stream, String> {
        let sock =
            TcpStream::connect(addr).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = sock.set_nodelay(true);
        let Some(t) = tls else {
            return Ok(Stream::Plain(sock));
        };
        let mut conn = ClientConnection::new(t.config.clone(), t.name.clone())
            .map_err(|e| format!("TLS: {e}"))?;
        let mut s = &sock;
        while conn.is_handshaking() {
            conn.complete_io(&mut s).map_err(|e| {
                let hint = if e.to_string().contains("CaUsedAsEndEntity") {
                    " (the server's certificate is a CA certificate: make it with \
                     basicConstraints CA:FALSE, as README.md shows)"
                } else {
                    ""
                };
                format!("TLS handshake with {addr} failed: {e}{hint}")
            })?;
        }
        Ok(Stream::Tls(TlsHandle {
            shared: Arc::new(Shared {
                conn: Mutex::new(conn),
                sending: Mutex::new(()),
                sock,
            }),
            cipher: Vec::new(),
            at: 0,
        }))
    }

    /// Another handle to the same connection.
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            Stream::Tls(t) => Stream::Tls(TlsHandle {
                shared: t.shared.clone(),
                cipher: Vec::new(),
                at: 0,
            }),
        })
    }

    /// Ends our sending side: TLS sends its close_notify first.
    pub(crate) fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown(Shutdown::Write),
            Stream::Tls(t) => {
                let mut conn = t.shared.lock();
                conn.send_close_notify();
                t.shared.send(conn)?;
                t.shared.sock.shutdown(Shutdown::Write)
            }
        }
    }

    /// Ends both sides at once (to unblock the other thread).
    pub(crate) fn shutdown_both(&self) {
        let sock = match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => &t.shared.sock,
        };
        let _ = sock.shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(_) => Ok(()),
        }
    }
}

struct Shared {
    conn: Mutex<ClientConnection>,
    /// Held while records go out, taken before `conn` is let go.
    sending: Mutex<()>,
    sock: TcpStream,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ClientConnection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the records `conn` holds, in order, without holding `conn`
    /// during the blocking write.
    fn send(&self, mut conn: MutexGuard<'_, ClientConnection>) -> io::Result<()> {
        let mut records = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut records)?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let _order = self.sending.lock().unwrap_or_else(|p| p.into_inner());
        drop(conn);
        (&self.sock).write_all(&records)
    }
}

/// A TLS handle: the shared connection, and ciphertext this handle read
/// that rustls has not taken yet.
pub(crate) struct TlsHandle {
    shared: Arc<Shared>,
    cipher: Vec<u8>,
    at: usize,
}

impl TlsHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut conn = self.shared.lock();
            match conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection without a TLS close_notify",
                    ))
                }
                Err(e) => return Err(e),
            }
            if self.at < self.cipher.len() {
                let mut rest = &self.cipher[self.at..];
                let n = conn.read_tls(&mut rest)?;
                self.at = if n == 0 {
                    self.cipher.len()
                } else {
                    self.cipher.len() - rest.len()
                };
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                self.shared.send(conn)?;
                continue;
            }
            drop(conn);
            self.cipher.resize(64 * 1024, 0);
            let n = loop {
                match (&self.shared.sock).read(&mut self.cipher) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            self.cipher.truncate(n);
            self.at = 0;
            if n == 0 {
                let mut conn = self.shared.lock();
                conn.read_tls(&mut io::empty())?;
                conn.process_new_packets()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut conn = self.shared.lock();
        let n = conn.writer().write(buf)?;
        self.shared.send(conn)?;
        Ok(n)
    }
}

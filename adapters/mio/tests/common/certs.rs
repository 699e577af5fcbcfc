//! Certificates for TLS tests, made by rcgen in a fresh temporary
//! directory that is removed afterwards (no private key is committed).

use super::{Serve, TempDir};

/// A fresh directory with a self-signed certificate (for `localhost` and
/// `127.0.0.1`) and its key; removed on drop.
pub(crate) struct Certs {
    dir: TempDir,
}

impl Certs {
    pub(crate) fn new() -> Certs {
        let dir = TempDir::new("tls-test");
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        std::fs::write(dir.0.join("cert.pem"), c.cert.pem()).unwrap();
        std::fs::write(dir.0.join("key.pem"), c.signing_key.serialize_pem()).unwrap();
        Certs { dir }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.0.join(name).display().to_string()
    }

    pub(crate) fn cert(&self) -> String {
        self.path("cert.pem")
    }

    pub(crate) fn key(&self) -> String {
        self.path("key.pem")
    }

    /// Writes another file into the directory; its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.0.join(name), text).unwrap();
        self.path(name)
    }

    /// `shout serve --tls-cert CERT --tls-key KEY EXTRA...`.
    pub(crate) fn serve(&self, extra: &[&str]) -> Serve {
        let (cert, key) = (self.cert(), self.key());
        let mut args = vec!["--tls-cert", &cert, "--tls-key", &key];
        args.extend_from_slice(extra);
        Serve::start(&args)
    }
}

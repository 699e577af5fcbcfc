//! `shout send --tls [--ca FILE] [--server-name NAME]` against `shout
//! serve --tls-cert/--tls-key`, with certificates made here by rcgen.

mod common;

use common::certs::Certs;
use common::run_shout;

#[test]
fn send_tls_in_every_framing() {
    let certs = Certs::new();
    let auto = certs.serve(&[]);
    let line = certs.serve(&["--framing", "line"]);
    let ca = certs.cert();
    let a = auto.addr.to_string();
    let l = line.addr.to_string();
    let tls = ["send", "--tls", "--ca", &ca];

    let (code, out, err) = run_shout(&[&tls[..], &[&a, "hello", "", "Wörld"]].concat(), b"");
    assert_eq!(
        (code, out),
        (0, "HELLO\n\nWöRLD\n".as_bytes().to_vec()),
        "{err}"
    );

    let (code, out, err) = run_shout(
        &[&tls[..], &["--framing", "line", &l]].concat(),
        b"a\nb c\n",
    );
    assert_eq!((code, out), (0, b"A\nB C\n".to_vec()), "{err}");

    // Raw: 3 MiB through TLS both ways, ended by close_notify.
    let big: Vec<u8> = (0..3 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let (code, out, err) = run_shout(&[&tls[..], &["--framing", "raw", &a]].concat(), &big);
    assert_eq!(code, 0, "{err}");
    assert!(out == big.to_ascii_uppercase(), "raw through TLS");

    // The name defaults to ADDR's host part: a name on the certificate.
    let by_name = format!("localhost:{}", auto.addr.port());
    let (code, out, err) = run_shout(&[&tls[..], &[&by_name, "named"]].concat(), b"");
    assert_eq!((code, out), (0, b"NAMED\n".to_vec()), "{err}");
}

#[test]
fn send_tls_checks_the_certificate() {
    let certs = Certs::new();
    let other = Certs::new();
    let server = certs.serve(&[]);
    let a = format!("localhost:{}", server.addr.port());

    // Not signed by what --ca trusts.
    let oca = other.cert();
    let (code, _, err) = run_shout(&["send", "--tls", "--ca", &oca, &a, "x"], b"");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("TLS handshake") && err.contains("invalid peer certificate"),
        "{err}"
    );

    // Without --ca the web roots do not know a self-signed certificate.
    let (code, _, err) = run_shout(&["send", "--tls", &a, "x"], b"");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid peer certificate"), "{err}");

    // A name the certificate does not carry.
    let ca = certs.cert();
    let (code, _, err) = run_shout(
        &[
            "send",
            "--tls",
            "--ca",
            &ca,
            "--server-name",
            "example.com",
            &a,
            "x",
        ],
        b"",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not valid for name"), "{err}");

    // Bad flags: exit 2 before connecting.
    let (code, _, err) = run_shout(&["send", "--ca", &ca, &a, "x"], b"");
    assert_eq!(code, 2, "--ca needs --tls: {err}");
    let (code, _, err) = run_shout(&["send", "--tls", "--ca", "/no/such/ca.pem", &a, "x"], b"");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/no/such/ca.pem"), "{err}");
    let (code, _, err) = run_shout(&["send", "--tls", "--ca", &certs.key(), &a, "x"], b"");
    assert_eq!(code, 2, "a key is not a certificate: {err}");
}

#[test]
fn plain_send_to_a_tls_only_server_fails() {
    let certs = Certs::new();
    let server = certs.serve(&["--framing", "frame"]);
    let a = server.addr.to_string();
    let (code, out, err) = run_shout(&["send", &a, "x"], b"");
    assert_ne!(code, 0, "a plaintext HELLO is refused: {err}");
    assert!(out.is_empty());
}

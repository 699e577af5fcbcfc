//! End to end over TLS: `shout-bench --tls` (every TCP mode) and `--mode
//! handshake` against `shout serve --tls-cert/--tls-key` (the binary of
//! the shout-mio crate), with certificates made here by rcgen in a
//! temporary directory. Every run must check responses and find no error;
//! a certificate the client does not trust must fail loudly.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Server;

const BENCH: &str = env!("CARGO_BIN_EXE_shout-bench");
/// The longest one run may take (each bounds itself to a few seconds).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// A fresh directory with a self-signed certificate for `localhost` and
/// `127.0.0.1`, removed when dropped.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new(tag: &str) -> Certs {
        let dir =
            std::env::temp_dir().join(format!("shout-bench-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let c = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        std::fs::write(dir.join("cert.pem"), c.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), c.signing_key.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn cert(&self) -> String {
        self.dir.join("cert.pem").display().to_string()
    }

    fn key(&self) -> String {
        self.dir.join("key.pem").display().to_string()
    }

    /// `shout serve --listen 127.0.0.1:0 --tls-cert --tls-key ARGS`.
    fn serve(&self, args: &[&str]) -> Server {
        let mut cmd = Command::new(common::shout_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--threads", "1"])
            .args(["--tls-cert", &self.cert(), "--tls-key", &self.key()])
            .args(args);
        common::serve(cmd)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a run of `shout-bench ARGS` gave: its exit status, stdout and
/// stderr; killed (and the test failed) after [`RUN_LIMIT`].
fn bench(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(BENCH)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shout-bench");
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let limit = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("shout-bench {args:?} did not end within {RUN_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    (status.code(), out.join().unwrap(), err.join().unwrap())
}

/// A `--json --tls --ca CERT ARGS ADDR` run that must succeed with no
/// error; its figures.
fn tls_load(certs: &Certs, server: &Server, args: &[&str]) -> serde_json::Value {
    let ca = certs.cert();
    let all = [&["--json", "--tls", "--ca", &ca][..], args, &[&server.addr]].concat();
    let (code, out, err) = bench(&all);
    assert_eq!(code, Some(0), "{args:?}:\n{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert_eq!(r["errors"], 0, "{args:?}: {r}");
    assert_eq!(r["tls"], true, "{args:?}: {r}");
    r
}

#[test]
fn tls_frame_requests_in_flight() {
    let certs = Certs::new("frame");
    let server = certs.serve(&[]);
    let r = tls_load(
        &certs,
        &server,
        &["--mode", "frame", "-c", "4", "-d", "4", "-s", "1"],
    );
    assert!(r["responses"].as_u64().unwrap() > 0, "{r}");
    // Each response is a 5-byte header and the 64-byte payload.
    assert!(r["bytes"].as_u64().unwrap() >= r["responses"].as_u64().unwrap() * 69);
    assert!(r["latency_us"]["p99"].as_u64().is_some(), "{r}");
}

#[test]
fn tls_raw_bulk() {
    let certs = Certs::new("raw");
    let server = certs.serve(&[]);
    let r = tls_load(
        &certs,
        &server,
        &["--mode", "raw", "-c", "2", "--bytes", "3145728"],
    );
    assert_eq!(r["bytes"], 2 * 3_145_728, "{r}");
    assert!(r["mb_per_second"].as_f64().unwrap() > 0.0, "{r}");
}

#[test]
fn tls_lines_against_an_explicit_line_server() {
    // With an explicit framing every connection must be TLS: responses
    // here prove the load spoke it.
    let certs = Certs::new("line");
    let server = certs.serve(&["--framing", "line"]);
    let r = tls_load(
        &certs,
        &server,
        &[
            "--mode", "line", "-c", "4", "-d", "2", "-b", "100", "-s", "1",
        ],
    );
    assert!(r["responses"].as_u64().unwrap() > 0, "{r}");
    assert!(r["bytes"].as_u64().unwrap() >= r["responses"].as_u64().unwrap() * 100);
}

#[test]
fn tls_hold_with_hello() {
    let certs = Certs::new("hold");
    let server = certs.serve(&[]);
    let r = tls_load(
        &certs,
        &server,
        &["--mode", "hold", "--hello", "-c", "20", "-s", "0"],
    );
    assert_eq!(r["responses"], 20, "{r}");
}

#[test]
fn handshakes_per_second() {
    let certs = Certs::new("handshake");
    let server = certs.serve(&[]);
    let pid = server.child.id().to_string();
    let r = tls_load(
        &certs,
        &server,
        &[
            "--mode",
            "handshake",
            "-c",
            "2",
            "-s",
            "1",
            "--server-pid",
            &pid,
        ],
    );
    let n = r["handshakes"].as_u64().unwrap();
    assert!(n > 0, "{r}");
    assert_eq!(r["responses"], n, "{r}");
    assert_eq!(r["bytes"], 3 * n, "each got its ABC: {r}");
    assert!(r["handshakes_per_second"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["server_cpu_seconds"].as_f64().is_some(), "{r}");

    // The table says the same.
    let ca = certs.cert();
    let (code, out, err) = bench(&[
        "--tls",
        "--ca",
        &ca,
        "--mode",
        "handshake",
        "-s",
        "0.3",
        &server.addr,
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("handshakes") && out.contains("hs/s"), "{out}");
}

#[test]
fn a_certificate_not_trusted_is_an_error() {
    let certs = Certs::new("trusted");
    let other = Certs::new("other");
    let server = certs.serve(&[]);
    let wrong = other.cert();

    // Handshake mode: every attempt fails, and says why.
    let (code, out, err) = bench(&[
        "--json",
        "--tls",
        "--ca",
        &wrong,
        "--mode",
        "handshake",
        "-s",
        "0.5",
        &server.addr,
    ]);
    assert_eq!(code, Some(1), "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON object");
    assert!(r["errors"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["handshakes"], 0, "{r}");
    let why = r["first_error"].as_str().unwrap();
    assert!(
        why.contains("TLS handshake") && why.contains("invalid peer certificate"),
        "{why}"
    );

    // A data mode cannot even be set up: exit 1 and the reason.
    for mode in ["frame", "raw", "line", "hold"] {
        let (code, out, err) = bench(&[
            "--tls",
            "--ca",
            &wrong,
            "--mode",
            mode,
            "-c",
            "2",
            "-s",
            "0.5",
            "--bytes",
            "1000",
            &server.addr,
        ]);
        assert_eq!(code, Some(1), "{mode}: {out}{err}");
        // hold reports its failed connections; the others stop at once.
        assert!(
            format!("{out}{err}").contains("invalid peer certificate"),
            "{mode}: {out}{err}"
        );
    }

    // The right certificate for another name.
    let ca = certs.cert();
    let (code, _, err) = bench(&[
        "--tls",
        "--ca",
        &ca,
        "--server-name",
        "example.com",
        "--mode",
        "frame",
        "-c",
        "1",
        &server.addr,
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not valid for name"), "{err}");
}

#[test]
fn plaintext_against_a_tls_only_server_fails() {
    let certs = Certs::new("plain");
    let server = certs.serve(&["--framing", "frame"]);
    let (code, out, err) = bench(&["--mode", "frame", "-c", "1", "-s", "0.3", &server.addr]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.is_empty(), "{out}");
}

#[test]
fn tls_usage_errors() {
    let addr = "127.0.0.1:9";
    let certs = Certs::new("usage");
    let ca = certs.cert();
    let key = certs.key();
    for (args, says) in [
        (&["--mode", "handshake", addr][..], "--tls"),
        (&["--tls", "--mode", "udp", addr][..], "udp"),
        (&["--tls", "--mode", "hostile", addr][..], "hostile"),
        (&["--ca", &ca, addr][..], "--tls"),
        (&["--server-name", "x", addr][..], "--tls"),
        (
            &["--tls", "--ca", "/no/such/ca.pem", addr][..],
            "/no/such/ca.pem",
        ),
        (&["--tls", "--ca", &key, addr][..], "no PEM certificate"),
        (
            &["--tls", "--server-name", "not a name", addr][..],
            "server name",
        ),
    ] {
        let (code, out, err) = bench(args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (code, out, _) = bench(&["--help"]);
    assert_eq!(code, Some(0));
    for example in [
        "--tls --ca cert.pem --mode frame",
        "--mode handshake --tls --ca cert.pem",
    ] {
        assert!(out.contains(example), "--help lacks {example:?}");
    }
}

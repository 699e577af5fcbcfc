//! `shout serve --tls-cert/--tls-key` end to end, with independent
//! clients: Python's `ssl` module and `openssl s_client`. Certificates are
//! made here by rcgen, in a fresh temporary directory removed afterwards.
//!
//! A test that needs python3 or openssl fails (it never skips) when the
//! tool is missing.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::certs::Certs;
use common::*;

/// What every Python client script starts with: `PORT` and `CA` from the
/// command line, a TLS client over memory BIOs (so that it can send its
/// close_notify and still read, and can tell the server's close_notify
/// from a TCP end without one), and frame helpers.
const PRELUDE: &str = r#"
import socket, ssl, struct, sys, time
PORT = int(sys.argv[1])
CA = sys.argv[2]
ARGS = sys.argv[3:]

def context(version=None, ca=CA):
    ctx = ssl.create_default_context(cafile=ca)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx

class Client:
    """TLS over a socket through memory BIOs; every step bounded."""
    def __init__(self, version=None, port=None, ca=CA):
        self.sock = socket.create_connection(('127.0.0.1', port or PORT), timeout=5)
        self.inc = ssl.MemoryBIO()
        self.out = ssl.MemoryBIO()
        self.obj = context(version, ca).wrap_bio(self.inc, self.out, server_hostname='localhost')
        self.eof = False
        self.buf = b''
        self.step(self.obj.do_handshake)
    def flush(self):
        d = self.out.read()
        if d:
            self.sock.sendall(d)
    def fill(self):
        if self.eof:
            raise AssertionError('TCP ended and TLS wants more')
        d = self.sock.recv(65536)
        if d:
            self.inc.write(d)
        else:
            self.inc.write_eof()
            self.eof = True
    def step(self, f, *a):
        while True:
            try:
                r = f(*a)
            except ssl.SSLWantReadError:
                self.flush()
                self.fill()
                continue
            except ssl.SSLError:
                self.flush()  # an alert it made
                raise
            self.flush()
            return r
    def send(self, b):
        self.step(self.obj.write, b)
    def recv(self):
        """Plaintext; b'' at the server's close_notify. A TCP end without
        one (a ragged EOF) is an error."""
        try:
            return self.step(self.obj.read, 65536)
        except ssl.SSLZeroReturnError:
            return b''
        except ssl.SSLEOFError as e:
            raise AssertionError('TCP ended without the server close_notify: %r' % e)
    def close_notify(self):
        """Sends our close_notify (our end of input); reading goes on."""
        try:
            self.obj.unwrap()
        except ssl.SSLWantReadError:
            pass
        self.flush()
    def read_exact(self, n):
        while len(self.buf) < n:
            d = self.recv()
            if not d:
                raise AssertionError('close_notify after %r, wanted %d bytes' % (self.buf, n))
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def read_frame(self):
        h = self.read_exact(5)
        return (h[0], self.read_exact(struct.unpack('>I', h[1:5])[0]))
    def read_to_close_notify(self):
        out, self.buf = self.buf, b''
        while True:
            d = self.recv()
            if not d:
                return out
            out += d
    def finish(self):
        """After the server's close_notify: ours completes the shutdown,
        then the server ends TCP."""
        self.obj.unwrap()
        self.flush()
        self.sock.settimeout(5)
        rest = self.sock.recv(100)
        assert rest == b'', rest

def frame(kind, payload=b''):
    return bytes([kind]) + struct.pack('>I', len(payload)) + payload

HELLO = frame(0, b'SHOUT\x01')
SERVER_HELLO = (0, b'SHOUT\x01' + struct.pack('>I', 1 << 20) + b'\x00')
CLOSE = (4, b'')

def parse(b):
    out = []
    while b:
        assert len(b) >= 5, 'partial header %r' % b
        n = struct.unpack('>I', b[1:5])[0]
        assert len(b) >= 5 + n, 'partial frame %r' % b
        out.append((b[0], b[5:5 + n]))
        b = b[5 + n:]
    return out
"#;

/// The `python3` command for `body` (after [`PRELUDE`]) against `server`.
fn python_cmd(server: &Serve, certs: &Certs, body: &str, args: &[&str]) -> Command {
    require("python3", &["-c", "import ssl"], "python3");
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(format!("{PRELUDE}\n{body}"))
        .arg(server.addr.port().to_string())
        .arg(certs.cert())
        .args(args);
    cmd
}

/// Runs the Python client `body`; it must exit 0 and print `OK` last.
/// Gives its standard output.
fn python(server: &Serve, certs: &Certs, body: &str, args: &[&str]) -> String {
    python_limited(server, certs, body, args, WAIT)
}

fn python_limited(
    server: &Serve,
    certs: &Certs,
    body: &str,
    args: &[&str],
    limit: Duration,
) -> String {
    let cmd = python_cmd(server, certs, body, args);
    let (status, out, err) = run_limited(cmd, b"", limit);
    let out = String::from_utf8_lossy(&out).into_owned();
    assert!(
        status.success() && out.trim_end().ends_with("OK"),
        "python client failed ({status}):\nstdout: {out}\nstderr: {err}\nserver: {}",
        server.stderr.lock().unwrap()
    );
    out
}

/// `openssl s_client` to `server` with `stdin`, trusting `ca`, for the
/// name `localhost`, brief output; (status, stdout, stderr).
fn s_client(server: &Serve, ca: &str, extra: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    require("openssl", &["version"], "openssl");
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .args(["-connect", &server.addr.to_string()])
        .args(["-CAfile", ca])
        .args(["-servername", "localhost"])
        .args(["-verify_hostname", "localhost"])
        .arg("-verify_return_error")
        .arg("-brief")
        // Reading goes on after standard input ends (the server ends the
        // session at its idle timeout).
        .arg("-ign_eof")
        .args(extra);
    let (status, out, err) = run_limited(cmd, stdin, WAIT);
    (status.code().unwrap_or(-1), out, err)
}

// ---- plain-socket helpers ------------------------------------------------

/// Everything the server sends until it closes; a reset after some bytes
/// ends the reading too (what was read is kept).
fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading until the server closes: {e} (got {out:?})"),
    }
    out
}

/// Sends `bytes` on a plain TCP connection and reads until the server
/// closes; (what came back, how long it took).
fn plain_probe(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut s = connect(addr);
    let start = Instant::now();
    s.write_all(bytes).unwrap();
    let got = read_until_closed(&mut s);
    (got, start.elapsed())
}

/// A TLS alert record, then nothing: content type 21, a 3.x version, a
/// 2-byte alert.
fn assert_alert_record(got: &[u8], what: &str) {
    assert!(
        got.len() >= 7 && got[0] == 0x15 && got[1] == 3 && got[3..5] == [0, 2],
        "{what}: wanted a TLS alert record, got {got:?}"
    );
    assert_eq!(got.len(), 7, "{what}: bytes after the alert: {got:?}");
}

// ---- 1. raw, line and frame inside TLS -----------------------------------

/// Raw inside TLS, on `auto` (the 0x16 rule) and explicit `raw`, TLS 1.3
/// and 1.2: the answer is the uppercase input; the client's close_notify
/// is its end of input, after which the server still answers, then sends
/// its own close_notify (no ragged EOF), then ends TCP.
#[test]
fn raw_inside_tls_answers_then_close_notify() {
    let certs = Certs::new();
    for framing in ["auto", "raw"] {
        let server = certs.serve(&["--framing", framing]);
        let out = python(
            &server,
            &certs,
            r#"
for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
    c = Client(version)
    assert c.obj.version() == {ssl.TLSVersion.TLSv1_3: 'TLSv1.3', ssl.TLSVersion.TLSv1_2: 'TLSv1.2'}[version], c.obj.version()
    c.send(b'hello ')
    c.send(b'world, raw through TLS: \x00\xff')
    # Reads go on after our close_notify: the answer comes, then theirs.
    c.close_notify()
    got = c.read_to_close_notify()
    assert got == b'HELLO WORLD, RAW THROUGH TLS: \x00\xff', got
    c.finish()
    # A larger stream, read while it is written.
    data = bytes(b'abcdefghijklmnopqrstuvwxyz'[i % 26] for i in range(300000))
    c = Client(version)
    c.send(data)
    c.close_notify()
    got = c.read_to_close_notify()
    assert got == data.upper(), len(got)
    c.finish()
    print(c.obj.version())
print('OK')
"#,
            &[],
        );
        assert_eq!(out, "TLSv1.3\nTLSv1.2\nOK\n", "--framing {framing}");
    }
}

/// Line inside TLS (`--framing line`): several lines, CRLF and LF as
/// sent, a last line without LF answered at close_notify.
#[test]
fn line_inside_tls() {
    let certs = Certs::new();
    let server = certs.serve(&["--framing", "line"]);
    python(
        &server,
        &certs,
        r#"
c = Client()
c.send(b'first line\n')
assert c.read_exact(11) == b'FIRST LINE\n'
c.send(b'second\r\nthird\nfou')
c.send(b'rth\n')
assert c.read_exact(8 + 6 + 7) == b'SECOND\r\nTHIRD\nFOURTH\n'
c.send(b'unterminated')
c.close_notify()
got = c.read_to_close_notify()
assert got == b'UNTERMINATED', got
c.finish()
print('OK')
"#,
        &[],
    );
}

/// Frame inside TLS on `auto`: the plaintext's first byte 0x00 decides
/// frame again. HELLO, DATA, PING, then the client's close_notify as end
/// of input: every frame answered, CLOSE, then the server's close_notify.
#[test]
fn frame_inside_tls_on_auto() {
    let certs = Certs::new();
    let server = certs.serve(&[]);
    python(
        &server,
        &certs,
        r#"
c = Client()
c.send(HELLO + frame(1, b'abc') + frame(2, b'ping me'))
assert c.read_frame() == SERVER_HELLO
assert c.read_frame() == (1, b'ABC')
assert c.read_frame() == (3, b'ping me')
c.send(frame(1, b'after the first answers'))
c.close_notify()
rest = parse(c.read_to_close_notify())
assert rest == [(1, b'AFTER THE FIRST ANSWERS'), CLOSE], rest
c.finish()
print('OK')
"#,
        &[],
    );
}

// ---- 2. openssl s_client -------------------------------------------------

/// `openssl s_client`, TLS 1.3 and forced TLS 1.2: the certificate is
/// verified for `localhost`, a line goes in and its uppercase comes out
/// (the server ends the session at its idle timeout). An untrusting
/// client fails the handshake.
#[test]
fn openssl_s_client_line_tls13_and_tls12() {
    let certs = Certs::new();
    let server = certs.serve(&["--framing", "line", "--idle-timeout", "1"]);
    for (flag, version) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let (code, out, err) = s_client(&server, &certs.cert(), &[flag], b"hello over openssl\n");
        assert_eq!(code, 0, "{flag}: {err}");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "HELLO OVER OPENSSL\n",
            "{flag}: {err}"
        );
        assert!(err.contains("Verification: OK"), "{flag}: {err}");
        assert!(
            err.contains(&format!("Protocol version: {version}")),
            "{flag}: {err}"
        );
    }
    // The same on auto (raw inside TLS) with the full verify output.
    let auto = certs.serve(&["--idle-timeout", "1"]);
    require("openssl", &["version"], "openssl");
    let mut cmd = Command::new("openssl");
    cmd.arg("s_client")
        .args(["-connect", &auto.addr.to_string()])
        .args(["-CAfile", &certs.cert()])
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .args(["-verify_return_error", "-quiet"]);
    let (status, out, err) = run_limited(cmd, b"abc xyz\n", WAIT);
    assert!(status.success(), "{err}");
    assert_eq!(out, b"ABC XYZ\n", "{err}");
    assert!(err.contains("verify return:1"), "{err}");
    // A client that does not trust the certificate refuses it.
    let other = Certs::new();
    let (code, out, err) = s_client(&server, &other.cert(), &[], b"hello\n");
    assert_ne!(code, 0, "{err}");
    assert!(out.is_empty(), "{out:?}");
}

// ---- 3. plain and TLS on one auto port -----------------------------------

/// One `auto` port: a TLS client and plain clients (raw and frame) at the
/// same time, each answered in its own way.
#[test]
fn plain_and_tls_share_an_auto_port() {
    let certs = Certs::new();
    let server = certs.serve(&[]);
    let mut plain_frame = server.connect();
    plain_frame.write_all(HELLO).unwrap();
    plain_frame.write_all(&frame(1, b"plain frame")).unwrap();
    python(
        &server,
        &certs,
        r#"
c = Client()
c.send(b'tls raw ')
# A plain raw client while the TLS session is open.
p = socket.create_connection(('127.0.0.1', PORT), timeout=5)
p.sendall(b'plain raw')
p.shutdown(socket.SHUT_WR)
got = b''
while True:
    d = p.recv(65536)
    if not d:
        break
    got += d
assert got == b'PLAIN RAW', got
c.send(b'still open')
c.close_notify()
got = c.read_to_close_notify()
assert got == b'TLS RAW STILL OPEN', got
c.finish()
print('OK')
"#,
        &[],
    );
    plain_frame.write_all(&frame(4, b"")).unwrap();
    let got = read_until_closed(&mut plain_frame);
    assert_eq!(
        parse_frames(&got),
        vec![
            (0, server_hello(1 << 20)[5..].to_vec()),
            (1, b"PLAIN FRAME".to_vec()),
            (4, Vec::new()),
        ]
    );
    assert_eq!(exchange(server.addr, b"plain again"), b"PLAIN AGAIN");
}

// ---- 4. explicit framing refuses plaintext -------------------------------

/// With an explicit framing every connection must be TLS: a plaintext
/// client gets a TLS alert record and the connection closes, never an
/// answer.
#[test]
fn explicit_framing_refuses_plaintext() {
    let certs = Certs::new();
    for (framing, input) in [
        ("line", b"hello\n".to_vec()),
        ("raw", b"hello".to_vec()),
        ("frame", [HELLO, &frame(1, b"hello")].concat()),
    ] {
        let server = certs.serve(&["--framing", framing]);
        let (got, took) = plain_probe(server.addr, &input);
        assert_alert_record(&got, &format!("plaintext on --framing {framing}"));
        assert!(
            !got.windows(5).any(|w| w == b"HELLO"),
            "--framing {framing} answered plaintext: {got:?}"
        );
        assert!(took < Duration::from_secs(3), "closed after {took:?}");
    }
}

// ---- 5. bad or missing certificate or key --------------------------------

/// A certificate or key that is missing, not PEM, alone, or not a pair:
/// exit status 2 and a message naming the flag (and the file).
#[test]
fn bad_or_missing_cert_or_key_exits_2() {
    let certs = Certs::new();
    let other = Certs::new();
    let (cert, key) = (certs.cert(), certs.key());
    let missing = certs.path("no-such-file.pem");
    let not_pem = certs.write("not-pem.pem", "this is not a PEM file\n");
    let empty = certs.write("empty.pem", "");
    let other_key = other.key();
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "missing cert file",
            vec!["--tls-cert", &missing, "--tls-key", &key],
            vec!["--tls-cert", &missing],
        ),
        (
            "missing key file",
            vec!["--tls-cert", &cert, "--tls-key", &missing],
            vec!["--tls-key", &missing],
        ),
        (
            "cert not PEM",
            vec!["--tls-cert", &not_pem, "--tls-key", &key],
            vec!["--tls-cert", &not_pem],
        ),
        (
            "key not PEM",
            vec!["--tls-cert", &cert, "--tls-key", &not_pem],
            vec!["--tls-key", &not_pem],
        ),
        (
            "empty cert",
            vec!["--tls-cert", &empty, "--tls-key", &key],
            vec!["--tls-cert", &empty],
        ),
        (
            "a certificate as the key",
            vec!["--tls-cert", &cert, "--tls-key", &cert],
            vec!["--tls-key"],
        ),
        (
            "a key as the certificate",
            vec!["--tls-cert", &key, "--tls-key", &key],
            vec!["--tls-cert"],
        ),
        (
            "key without cert",
            vec!["--tls-key", &key],
            vec!["--tls-cert"],
        ),
        (
            "cert without key",
            vec!["--tls-cert", &cert],
            vec!["--tls-key"],
        ),
        (
            "key of another certificate",
            vec!["--tls-cert", &cert, "--tls-key", &other_key],
            vec!["--tls-key", &other_key],
        ),
    ];
    for (what, flags, mentions) in cases {
        let args = [&["serve", "--listen", "127.0.0.1:0"][..], &flags].concat();
        let (code, _, err) = run_shout(&args, b"");
        assert_eq!(code, 2, "{what}: exit status; stderr: {err}");
        assert!(!err.contains("listening on"), "{what}: it served: {err}");
        for m in mentions {
            assert!(
                err.contains(m),
                "{what}: stderr does not mention {m}: {err}"
            );
        }
    }
}

// ---- 6. a stalled handshake ----------------------------------------------

/// A handshake that stalls (`\x16\x03` and nothing more, or nothing at all
/// on an explicit framing) is closed at about the idle timeout.
#[test]
fn stalled_handshake_closes_at_idle_timeout() {
    let certs = Certs::new();
    let auto = certs.serve(&["--idle-timeout", "1"]);
    let line = certs.serve(&["--framing", "line", "--idle-timeout", "1"]);
    let probes: Vec<(&str, SocketAddr, &[u8])> = vec![
        ("auto, \\x16\\x03", auto.addr, b"\x16\x03"),
        ("line, \\x16\\x03", line.addr, b"\x16\x03"),
        (
            "auto, half a ClientHello",
            auto.addr,
            b"\x16\x03\x01\x00\xc8\x01",
        ),
        ("line, nothing at all", line.addr, b""),
    ];
    let handles: Vec<_> = probes
        .into_iter()
        .map(|(what, addr, bytes)| {
            thread::spawn(move || {
                let (got, took) = plain_probe(addr, bytes);
                (what, got, took)
            })
        })
        .collect();
    for h in handles {
        let (what, got, took) = h.join().unwrap();
        assert!(
            took >= Duration::from_millis(900),
            "{what}: closed after {took:?}"
        );
        assert!(
            took < Duration::from_secs(3),
            "{what}: closed after {took:?}"
        );
        assert!(
            got.is_empty() || got[0] == 0x15,
            "{what}: unexpected output {got:?}"
        );
    }
}

// ---- 7. garbage after 0x16 -----------------------------------------------

/// Bytes after 0x16 that are not a TLS handshake: an alert record, then
/// the connection closes.
#[test]
fn garbage_after_0x16_gets_an_alert() {
    let certs = Certs::new();
    let auto = certs.serve(&[]);
    let line = certs.serve(&["--framing", "line"]);
    let cases: [(&str, &[u8]); 4] = [
        ("\\x16garbage", b"\x16garbage garbage garbage\n"),
        ("a record of 5 bytes: hello", b"\x16\x03\x01\x00\x05hello"),
        ("a record length over 16 KiB", b"\x16\x03\x01\xff\xffhello"),
        (
            "a ClientHello of zeros",
            b"\x16\x03\x01\x00\x08\x01\x00\x00\x04\0\0\0\0",
        ),
    ];
    for (addr, server) in [(auto.addr, "auto"), (line.addr, "line")] {
        for (what, bytes) in cases {
            let (got, took) = plain_probe(addr, bytes);
            assert_alert_record(&got, &format!("{server}: {what}"));
            assert!(took < Duration::from_secs(3), "{server}: {what}: {took:?}");
        }
    }
    // The server still serves.
    let out = python(
        &auto,
        &certs,
        "c = Client()\nc.send(b'x')\nc.close_notify()\nassert c.read_to_close_notify() == b'X'\nprint('OK')\n",
        &[],
    );
    assert_eq!(out, "OK\n");
}

// ---- 8. close_notify at the end of a frame session -----------------------

/// `--framing frame`, Python's ordinary `SSLSocket` with
/// `suppress_ragged_eofs=False`: after the client's CLOSE the server sends
/// CLOSE and then its close_notify (`recv` gives b'', not SSLEOFError),
/// and `unwrap()` completes; TLS 1.3 and 1.2.
#[test]
fn close_notify_after_the_close_frame() {
    let certs = Certs::new();
    let server = certs.serve(&["--framing", "frame"]);
    python(
        &server,
        &certs,
        r#"
for version, name in ((ssl.TLSVersion.TLSv1_3, 'TLSv1.3'), (ssl.TLSVersion.TLSv1_2, 'TLSv1.2')):
    raw = socket.create_connection(('127.0.0.1', PORT), timeout=5)
    s = context(version).wrap_socket(raw, server_hostname='localhost', suppress_ragged_eofs=False)
    assert s.version() == name, s.version()
    s.sendall(HELLO + frame(1, b'one') + frame(2, b'p') + frame(1, b'two') + frame(4) + b'ignored')
    got = b''
    while True:
        try:
            d = s.recv(65536)
        except ssl.SSLEOFError as e:
            raise AssertionError('%s: no close_notify after %r: %r' % (name, got, e))
        if not d:
            break
        got += d
    frames = parse(got)
    assert frames == [SERVER_HELLO, (1, b'ONE'), (3, b'p'), (1, b'TWO'), CLOSE], frames
    plain = s.unwrap()
    assert plain.recv(100) == b''
    plain.close()
print('OK')
"#,
        &[],
    );
}

// ---- 9. shutdown drains TLS sessions -------------------------------------

/// SIGTERM with a TLS frame session mid-conversation: what it had sent is
/// answered (a frame begun before the signal may finish), then CLOSE,
/// then close_notify; a TLS raw session's waiting input is answered, then
/// close_notify; the process exits 0.
#[test]
fn sigterm_drains_tls_sessions() {
    let certs = Certs::new();
    let mut server = certs.serve(&["--drain-timeout", "5"]);
    let mut cmd = python_cmd(
        &server,
        &certs,
        r#"
c = Client()
c.send(HELLO + frame(1, b'one'))
assert c.read_frame() == SERVER_HELLO
assert c.read_frame() == (1, b'ONE')
r = Client()
r.send(b'raw before')
assert r.read_exact(10) == b'RAW BEFORE'
c.send(frame(1, b'two') + frame(2, b'ping'))
c.send(frame(1, b'three'))
four = frame(1, b'four')
c.send(four[:3])
r.send(b' and waiting')
time.sleep(0.3)
print('READY', flush=True)
assert sys.stdin.readline().strip() == 'SIGNALLED'
time.sleep(0.2)
c.send(four[3:])
frames = parse(c.read_to_close_notify())
assert frames == [(1, b'TWO'), (3, b'ping'), (1, b'THREE'), (1, b'FOUR'), CLOSE], frames
got = r.read_to_close_notify()
assert got == b' AND WAITING', got
c.finish()
r.finish()
print('OK', flush=True)
"#,
        &[],
    );
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn python3");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let errs = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(WAIT);
    if first.as_deref() != Ok("READY") {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "python client not ready: {first:?}; stderr: {}",
            errs.join().unwrap()
        );
    }
    server.signal("TERM");
    writeln!(stdin, "SIGNALLED").unwrap();
    let last = rx.recv_timeout(WAIT);
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(5));
    };
    let err = errs.join().unwrap();
    assert!(
        status.success() && last.as_deref() == Ok("OK"),
        "python client: {status}, {last:?}; stderr: {err}\nserver: {}",
        server.stderr.lock().unwrap()
    );
    let exit = server.wait_exit(WAIT);
    assert_eq!(exit.code(), Some(0), "server exit");
}

// ---- 10. 2,000 concurrent TLS sessions -----------------------------------

/// 2,000 TLS sessions open at once (Python asyncio `ssl`, every
/// certificate verified), then each sends a unique message and checks its
/// uppercase answer: all 2,000 succeed.
#[test]
fn two_thousand_concurrent_tls_sessions() {
    const N: usize = 2000;
    let certs = Certs::new();
    let server = certs.serve(&["--idle-timeout", "60"]);
    let start = Instant::now();
    let out = python_limited(
        &server,
        &certs,
        r#"
import asyncio, resource
N = int(ARGS[0])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = N + 256
if soft != resource.RLIM_INFINITY and soft < want:
    assert hard == resource.RLIM_INFINITY or hard >= want, 'open files limit %d too low' % hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
ctx = context()
opened = 0
failed = []
go = asyncio.Event()
def arrived():
    if opened + len(failed) == N:
        go.set()
async def one(i):
    global opened
    try:
        r, w = await asyncio.open_connection('127.0.0.1', PORT, ssl=ctx, server_hostname='localhost', ssl_handshake_timeout=40)
    except Exception as e:
        failed.append(repr(e))
        arrived()
        raise
    opened += 1
    arrived()
    await go.wait()
    msg = b'session %05d of %d: unique hello' % (i, N)
    w.write(msg)
    await w.drain()
    got = await r.readexactly(len(msg))
    assert got == msg.upper(), (got, msg)
    w.close()
    try:
        await w.wait_closed()
    except (ConnectionError, ssl.SSLError):
        pass
    return 'ok'
async def main():
    tasks = [asyncio.ensure_future(one(i)) for i in range(N)]
    results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 45)
    good = sum(1 for r in results if r == 'ok')
    bad = [repr(r) for r in results if r != 'ok']
    print('opened at once', opened, 'answered', good)
    assert good == N, (good, bad[:5])
asyncio.run(main())
print('OK')
"#,
        &[&N.to_string()],
        Duration::from_secs(60),
    );
    let took = start.elapsed();
    assert!(
        out.contains(&format!("opened at once {N} answered {N}")),
        "{out}"
    );
    assert!(took < Duration::from_secs(45), "took {took:?}");
    eprintln!("{N} TLS sessions in {took:?}");
}

// ---- 11. metrics ---------------------------------------------------------

/// Scrapes until every `(key, want)` holds (bounded); the last scrape.
fn settle(addr: SocketAddr, want: &[(&str, u64)]) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let m = scrape(addr);
        if want.iter().all(|(k, v)| value(&m, k) == *v) || Instant::now() > deadline {
            return m;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

const OK: &str = "shout_tls_handshakes_total{result=\"ok\"}";
const FAILED: &str = "shout_tls_handshakes_total{result=\"failed\"}";

/// `shout_tls_handshakes_total`: both series from the start at 0; a good
/// handshake counts `ok`; garbage after 0x16 and a client that does not
/// trust the certificate count `failed`; a plain connection counts
/// neither.
#[test]
fn metrics_count_tls_handshakes() {
    let certs = Certs::new();
    let server = certs.serve(&["--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let m = scrape(metrics);
    assert_eq!(value(&m, OK), 0);
    assert_eq!(value(&m, FAILED), 0);

    python(
        &server,
        &certs,
        "c = Client()\nc.send(b'good')\nc.close_notify()\nassert c.read_to_close_notify() == b'GOOD'\nc.finish()\nprint('OK')\n",
        &[],
    );
    let m = settle(metrics, &[(OK, 1), (FAILED, 0)]);
    assert_eq!(
        (value(&m, OK), value(&m, FAILED)),
        (1, 0),
        "after a good one"
    );

    let (got, _) = plain_probe(server.addr, b"\x16garbage\n");
    assert_alert_record(&got, "garbage");
    let m = settle(metrics, &[(OK, 1), (FAILED, 1)]);
    assert_eq!((value(&m, OK), value(&m, FAILED)), (1, 1), "after garbage");

    // A client that does not trust the certificate ends the handshake
    // with its own alert.
    let other = Certs::new();
    python(
        &server,
        &certs,
        r#"
try:
    Client(ca=ARGS[0])
    raise SystemExit('the handshake should have failed')
except ssl.SSLCertVerificationError:
    pass
print('OK')
"#,
        &[&other.cert()],
    );
    let m = settle(metrics, &[(OK, 1), (FAILED, 2)]);
    assert_eq!(
        (value(&m, OK), value(&m, FAILED)),
        (1, 2),
        "after an untrusting client"
    );

    // Plain connections are not TLS handshakes.
    assert_eq!(exchange(server.addr, b"plain"), b"PLAIN");
    let m = settle(metrics, &[("shout_sessions_total{framing=\"raw\"}", 2)]);
    assert_eq!((value(&m, OK), value(&m, FAILED)), (1, 2), "after plain");
    assert_eq!(value(&m, "shout_sessions_total{framing=\"raw\"}"), 2);
    // A failed handshake is an `io_error` close (the contract's list).
    let m = settle(metrics, &[(IO_ERROR, 2)]);
    assert_eq!(
        value(&m, IO_ERROR),
        2,
        "failed handshakes as io_error closes"
    );
}

const IO_ERROR: &str = "shout_session_closes_total{reason=\"io_error\"}";

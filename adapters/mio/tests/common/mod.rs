//! Shared helpers: start the real `shout` binary on 127.0.0.1 port 0,
//! talk to it with bounded timeouts, stop it with signals.
#![allow(dead_code)]

pub(crate) mod certs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_shout");

/// Panics (the test fails, it does not skip) unless `tool ARGS` runs:
/// the tests that need an outside tool say which Debian package has it.
pub(crate) fn require(tool: &str, args: &[&str], package: &str) {
    match Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "this test needs `{tool}` (Debian: apt-get install {package}); `{tool} {args:?}` failed: {s}"
        ),
        Err(e) => panic!(
            "this test needs `{tool}` (Debian: apt-get install {package}), and it cannot be run: {e}"
        ),
    }
}
/// The longest any single wait in these tests may take.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A `shout serve` child process.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) udp: Option<SocketAddr>,
    /// Everything it wrote to stderr, including the `listening` lines.
    pub(crate) stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `shout serve --listen 127.0.0.1:0 ARGS...` and waits for its
    /// `listening on` line(s).
    pub(crate) fn start(args: &[&str]) -> Serve {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        Serve::spawn(cmd, args)
    }

    /// Like [`Serve::start`], with the open files limit (soft and hard)
    /// set to `nofile` first, by the shell's `ulimit`.
    pub(crate) fn start_with_nofile(nofile: u32, args: &[&str]) -> Serve {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        Serve::spawn(cmd, args)
    }

    fn spawn(mut cmd: Command, args: &[&str]) -> Serve {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn shout serve");
        let stderr = child.stderr.take().unwrap();
        let text = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = text.clone();
        thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&line);
                let _ = tx.send(line.clone());
                line.clear();
            }
        });
        let want_udp = args.contains(&"--udp");
        let mut tcp = None;
        let mut udp = None;
        let deadline = Instant::now() + WAIT;
        while tcp.is_none() || (want_udp && udp.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no listening line; stderr: {}", text.lock().unwrap()));
            let parse = |l: &str, suffix: &str| -> Option<SocketAddr> {
                l.trim_end()
                    .strip_prefix("listening on ")?
                    .strip_suffix(suffix)?
                    .parse()
                    .ok()
            };
            if let Some(a) = parse(&line, " (tcp)") {
                tcp = Some(a);
            } else if let Some(a) = parse(&line, " (udp)") {
                udp = Some(a);
            }
        }
        Serve {
            child,
            addr: tcp.unwrap(),
            udp,
            stderr: text,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits (bounded) for the process to exit.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit in {limit:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn connect(&self) -> TcpStream {
        connect(self.addr)
    }

    /// The address of its `metrics on ADDR` line (it was started with
    /// `--metrics`), waiting for the line (bounded).
    pub(crate) fn metrics_addr(&self) -> SocketAddr {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.stderr.lock().unwrap().lines().find_map(|l| {
                l.trim_end()
                    .strip_prefix("metrics on ")?
                    .parse::<SocketAddr>()
                    .ok()
            });
            if let Some(addr) = found {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "no `metrics on` line; stderr: {}",
                self.stderr.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident memory of the server, in KiB.
    pub(crate) fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until the server closes (bounded by the read timeout).
pub(crate) fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read to end");
    out
}

/// Reads exactly `n` bytes.
pub(crate) fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut out = vec![0; n];
    s.read_exact(&mut out).expect("read_exact");
    out
}

/// Sends `input`, shuts down the sending side and reads everything.
pub(crate) fn exchange(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let mut s = connect(addr);
    s.write_all(input).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    read_all(&mut s)
}

/// True when the server closes the connection within `limit` with no
/// byte sent (an orderly end or a reset both count as closed).
pub(crate) fn closes_silently(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

pub(crate) fn upper(b: &[u8]) -> Vec<u8> {
    b.to_ascii_uppercase()
}

// ---- frames ------------------------------------------------------------

/// The client HELLO frame.
pub(crate) const HELLO: &[u8] = &shout_core::wire::ClientHello::frame();

/// A frame of any kind byte (unknown ones included), from the test kit.
pub(crate) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    shout_testkit::frames::frame(kind, payload)
}

/// The server's HELLO with the ascii transform.
pub(crate) fn server_hello(max_payload: u32) -> Vec<u8> {
    shout_testkit::frames::server_hello_with(max_payload, shout_core::TransformKind::Ascii)
}

/// Frames parsed from a reply: (kind, payload).
pub(crate) fn parse_frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while b.len() >= 5 {
        let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
        let end = (5 + len).min(b.len());
        out.push((b[0], b[5..end].to_vec()));
        b = &b[end..];
    }
    assert!(b.is_empty(), "trailing partial header {b:?}");
    out
}

/// The ERROR code of a frame, asserting it is one.
pub(crate) fn error_code(f: &(u8, Vec<u8>)) -> u16 {
    assert_eq!(f.0, 5, "not an ERROR frame: {f:?}");
    u16::from_be_bytes([f.1[0], f.1[1]])
}

/// Runs `shout ARGS` with `stdin`, bounded; gives (status, stdout, stderr).
pub(crate) fn run_shout(args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    let (status, out, err) = run_bounded(cmd, stdin);
    (status.code().unwrap_or(-1), out, err)
}

/// Runs `cmd` with `stdin`, killed if it takes longer than [`WAIT`];
/// gives (status, stdout, stderr).
pub(crate) fn run_bounded(cmd: Command, stdin: &[u8]) -> (ExitStatus, Vec<u8>, String) {
    run_limited(cmd, stdin, WAIT)
}

/// Runs `cmd` with `stdin`, killed if it takes longer than `limit`;
/// gives (status, stdout, stderr).
pub(crate) fn run_limited(
    mut cmd: Command,
    stdin: &[u8],
    limit: Duration,
) -> (ExitStatus, Vec<u8>, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let outr = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let errr = thread::spawn(move || {
        let mut v = String::new();
        let _ = err.read_to_string(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = errr.join().unwrap();
            panic!("{cmd:?} did not finish in {limit:?}; stderr: {err}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    feeder.join().unwrap();
    (status, outr.join().unwrap(), errr.join().unwrap())
}

/// One scrape of `GET /metrics`: every sample, `name{labels}` to value,
/// after checking the answer is a 200 in the text format 0.0.4.
pub(crate) fn scrape(addr: SocketAddr) -> std::collections::HashMap<String, f64> {
    let mut s = TcpStream::connect_timeout(&addr, WAIT).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// A series' value from a [`scrape`], which must have it.
pub(crate) fn value(m: &std::collections::HashMap<String, f64>, key: &str) -> u64 {
    *m.get(key).unwrap_or_else(|| panic!("no series {key}")) as u64
}

/// A fresh directory under the system's temporary directory (the process
/// id, a count and the time keep it unique), removed on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(what: &str) -> TempDir {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("shout-{what}-{}-{seq}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

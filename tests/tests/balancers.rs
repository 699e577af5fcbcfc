//! End to end behind real load balancers: HAProxy and nginx's stream
//! module in front of three `shout serve --proxy-protocol` processes on
//! 127.0.0.2, 127.0.0.3 and 127.0.0.4, with the very configurations of
//! `deploy/` (only the addresses, ports and file paths replaced, so the
//! balancer runs from a temporary directory as any user). It checks that
//! HAProxy's SHOUT/1 health check follows the instances, that
//! `shout-bench` gets every byte right through both balancers, that the
//! instances log the client's own address from the PROXY header, that a
//! rolling restart under load loses no response, and that an instance
//! refuses a connection without a PROXY header.
//!
//! haproxy and nginx (with the stream module) must be installed: `.ci/run`
//! installs them. A missing one fails these tests; it never skips them.
//! Every wait is bounded, every address is on 127.0.0.0/8, and every
//! process started here is killed when its guard drops, a failed test
//! included.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use shout_core::TransformKind;
use shout_testkit::frames::{client_hello, close, data, server_hello_with};

/// The longest any single step may wait.
const WAIT: Duration = Duration::from_secs(10);
const HAPROXY: &str = "/usr/sbin/haproxy";
const NGINX: &str = "/usr/sbin/nginx";
/// Debian's nginx loads the stream module from here.
const NGINX_STREAM_MODULE: &str = "/usr/lib/nginx/modules/ngx_stream_module.so";
/// The addresses of the three instances.
const BACKEND_IPS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(127, 0, 0, 2),
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
];
/// HAProxy's names for them, in deploy/haproxy.cfg.
const HAPROXY_SERVERS: [&str; 3] = ["shout1", "shout2", "shout3"];
const HAPROXY_BACKEND: &str = "shout_servers";

// ---- the binaries ------------------------------------------------------

/// The `shout` and `shout-bench` executables of this build.
struct Bins {
    shout: PathBuf,
    bench: PathBuf,
}

/// Builds `shout` and `shout-bench` (once per test process; a no-op when
/// they are fresh, as under `cargo test --workspace`) into the target
/// directory and profile this test was built in, and gives their paths.
/// This crate cannot name another package's binaries with
/// `CARGO_BIN_EXE_*`, and a stale binary would test old code.
fn bins() -> &'static Bins {
    static BINS: OnceLock<Bins> = OnceLock::new();
    BINS.get_or_init(|| {
        // target/<profile>/deps/balancers-<hash>
        let exe = std::env::current_exe().expect("the test executable's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from target/<profile>/deps");
        let target_dir = profile_dir.parent().expect("a target directory");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("no profile directory in {}", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&workspace)
            .args(["build", "--quiet", "--locked"])
            .args(["-p", "shout-mio", "-p", "shout-bench"])
            .args([
                "--bin",
                "shout",
                "--bin",
                "shout-bench",
                "--profile",
                profile,
            ])
            .arg("--target-dir")
            .arg(target_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut build = Proc::spawn("cargo build", cmd, false);
        let status = build.wait(Duration::from_secs(600));
        assert!(
            status.success(),
            "cargo build -p shout-mio -p shout-bench failed:\n{}",
            build.log()
        );
        let bins = Bins {
            shout: profile_dir.join("shout"),
            bench: profile_dir.join("shout-bench"),
        };
        for b in [&bins.shout, &bins.bench] {
            assert!(b.is_file(), "{} was not built", b.display());
        }
        bins
    })
}

/// Fails (never skips) when a balancer is not installed.
fn require(binary: &str, packages: &str) {
    assert!(
        Path::new(binary).is_file(),
        "{binary} is missing: these tests need it; `.ci/run` installs it \
         (apt-get install {packages})"
    );
}

// ---- child processes ---------------------------------------------------

/// A child process, killed when dropped, whose stdout and stderr are
/// collected line by line.
struct Proc {
    name: String,
    child: Child,
    /// Everything it printed so far.
    log: Arc<Mutex<String>>,
    /// Each line as it arrives.
    lines: mpsc::Receiver<String>,
    /// Stop it with SIGTERM first (nginx: its master then ends its
    /// workers), SIGKILL only if that does not work.
    term_first: bool,
    exited: Option<ExitStatus>,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, term_first: bool) -> Proc {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, lines) = mpsc::channel();
        let outs: Vec<Box<dyn Read + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for out in outs {
            let (log, tx) = (log.clone(), tx.clone());
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                    let _ = tx.send(line);
                }
            });
        }
        Proc {
            name: name.to_string(),
            child,
            log,
            lines,
            term_first,
            exited: None,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits for a line for which `f` gives a value, for at most `limit`.
    fn wait_line<T>(&self, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = f(&line) {
                        return Some(v);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {} ({}) failed", self.pid(), self.name);
    }

    fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().expect("waiting for a child");
        }
        self.exited
    }

    /// Waits for the process to exit, at most `limit`.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_wait() {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not exit within {limit:?}; its output:\n{}",
                    self.name,
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.try_wait().is_some() {
            return;
        }
        if self.term_first {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.pid().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if self.try_wait().is_some() {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `shout serve --proxy-protocol -vv` instance.
struct Backend {
    proc: Proc,
    addr: SocketAddr,
}

impl Backend {
    /// Starts an instance on `ip:port` (0: a free port) and waits for its
    /// `listening on` line.
    fn start(ip: Ipv4Addr, port: u16, extra: &[&str]) -> Backend {
        let mut cmd = Command::new(&bins().shout);
        cmd.args(["-vv", "serve", "--proxy-protocol", "--threads", "2"])
            .arg("--listen")
            .arg(SocketAddrV4::new(ip, port).to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let proc = Proc::spawn(&format!("shout serve on {ip}"), cmd, false);
        let addr = proc
            .wait_line(WAIT, |l| {
                l.strip_prefix("listening on ")?
                    .strip_suffix(" (tcp)")?
                    .parse::<SocketAddr>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no `listening on` line from shout:\n{}", proc.log()));
        Backend { proc, addr }
    }

    /// Three instances, on 127.0.0.2, .3 and .4, each on a free port.
    fn three() -> Vec<Backend> {
        BACKEND_IPS
            .iter()
            .map(|ip| Backend::start(*ip, 0, &[]))
            .collect()
    }
}

/// The logs of every instance, for a failure message.
fn logs(backends: &[Backend]) -> String {
    backends
        .iter()
        .map(|b| format!("---- {} ----\n{}", b.addr, b.proc.log()))
        .collect()
}

// ---- balancers ---------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Haproxy,
    Nginx,
}

/// A balancer running in the foreground from a temporary directory.
struct Balancer {
    proc: Proc,
    addr: SocketAddr,
    dir: TempDir,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("shout-balancers-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port that was free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// `text` with every `from` replaced by `to`; `from` must be there.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "the deploy/ template no longer contains {from:?}; update the test"
    );
    text.replace(from, to)
}

fn template(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

impl Balancer {
    /// Starts `kind` in front of `backends`, on a free port of 127.0.0.1,
    /// and waits until it accepts connections (and, for HAProxy, answers
    /// on its stats socket). A port taken meanwhile is tried again.
    fn start(kind: Kind, backends: &[Backend]) -> Balancer {
        match kind {
            Kind::Haproxy => require(HAPROXY, "haproxy"),
            Kind::Nginx => require(NGINX, "nginx-light libnginx-mod-stream"),
        }
        let mut failures = String::new();
        for _ in 0..3 {
            let dir = TempDir::new(match kind {
                Kind::Haproxy => "haproxy",
                Kind::Nginx => "nginx",
            });
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
            let mut proc = match kind {
                Kind::Haproxy => haproxy(&dir.0, addr, backends),
                Kind::Nginx => nginx(&dir.0, addr, backends),
            };
            let deadline = Instant::now() + WAIT;
            while Instant::now() < deadline && proc.try_wait().is_none() {
                let up = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
                    && (kind == Kind::Nginx
                        || stats(&dir.0.join("stats.sock"), "show info").is_ok());
                if up {
                    return Balancer { proc, addr, dir };
                }
                thread::sleep(Duration::from_millis(20));
            }
            let status = proc.try_wait();
            failures.push_str(&format!("{kind:?} on {addr} ({status:?}):\n{}", proc.log()));
            if status.is_none() {
                break; // running but not answering: trying again will not help
            }
        }
        panic!("{kind:?} did not start:\n{failures}");
    }

    fn stats_socket(&self) -> PathBuf {
        self.dir.0.join("stats.sock")
    }
}

/// HAProxy with deploy/haproxy.cfg, in the foreground (`-db`).
fn haproxy(dir: &Path, addr: SocketAddr, backends: &[Backend]) -> Proc {
    let mut cfg = template("haproxy.cfg");
    cfg = replace(&cfg, "bind 127.0.0.1:8002", &format!("bind {addr}"));
    for (i, b) in backends.iter().enumerate() {
        let from = format!("{}:8002 ", BACKEND_IPS[i]);
        cfg = replace(&cfg, &from, &format!("{} ", b.addr));
    }
    let sock = dir.join("stats.sock");
    cfg = replace(&cfg, "/run/haproxy/shout.sock", sock.to_str().unwrap());
    // 20000 needs a descriptor limit of 40000 or more, which an
    // unprivileged user may not be allowed to set.
    cfg = replace(&cfg, "maxconn 20000", "maxconn 256");
    // A log line per session on stderr (with its termination state), for
    // the failure messages.
    cfg = replace(
        &cfg,
        "\nglobal\n",
        "\nglobal\n    log stderr format raw local0 info\n",
    );
    cfg = replace(
        &cfg,
        "\ndefaults\n",
        "\ndefaults\n    log global\n    option tcplog\n",
    );
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).unwrap();
    let mut cmd = Command::new(HAPROXY);
    cmd.arg("-db")
        .arg("-f")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Proc::spawn("haproxy", cmd, false)
}

/// nginx with deploy/nginx-stream.conf, in the foreground, with its pid
/// file and prefix in `dir` and its log on stderr.
fn nginx(dir: &Path, addr: SocketAddr, backends: &[Backend]) -> Proc {
    let mut conf = template("nginx-stream.conf");
    conf = replace(&conf, "listen 127.0.0.1:8002;", &format!("listen {addr};"));
    for (i, b) in backends.iter().enumerate() {
        let from = format!("server {}:8002 ", BACKEND_IPS[i]);
        conf = replace(&conf, &from, &format!("server {} ", b.addr));
    }
    conf = replace(
        &conf,
        "pid /run/nginx-shout.pid;",
        &format!("pid {};", dir.join("nginx.pid").display()),
    );
    conf = replace(
        &conf,
        "error_log /var/log/nginx/shout-error.log notice;",
        "error_log stderr info;",
    );
    // Not one per core of the machine running the tests.
    conf = replace(&conf, "worker_processes auto;", "worker_processes 2;");
    if !Path::new(NGINX_STREAM_MODULE).is_file() {
        // A build with the stream module compiled in.
        conf = replace(&conf, &format!("load_module {NGINX_STREAM_MODULE};"), "");
    }
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(NGINX);
    cmd.arg("-p")
        .arg(format!("{}/", dir.display()))
        // The log before the configuration is read (Debian's default is
        // /var/log/nginx/error.log).
        .args(["-e", "stderr"])
        .arg("-c")
        .arg(&path)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Proc::spawn("nginx", cmd, true)
}

/// One command on HAProxy's stats socket; its whole answer.
fn stats(sock: &Path, command: &str) -> std::io::Result<String> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(WAIT))?;
    s.set_write_timeout(Some(WAIT))?;
    s.write_all(format!("{command}\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// (status, check_status) of each instance, in order, from `show stat`.
fn server_states(sock: &Path) -> Vec<(String, String)> {
    let csv = stats(sock, "show stat").expect("show stat on the stats socket");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .and_then(|h| h.strip_prefix("# "))
        .expect("a CSV header")
        .split(',')
        .collect();
    let col = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (px, sv, status, check) = (
        col("pxname"),
        col("svname"),
        col("status"),
        col("check_status"),
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    HAPROXY_SERVERS
        .iter()
        .map(|name| {
            let row = rows
                .iter()
                .find(|r| r.len() > check && r[px] == HAPROXY_BACKEND && r[sv] == *name)
                .unwrap_or_else(|| panic!("no row for {name} in\n{csv}"));
            (row[status].to_string(), row[check].to_string())
        })
        .collect()
}

/// Polls `f` every 50 ms until it gives a value, for at most `limit`.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the instances' `show stat` status is `want` (for `UP` and
/// `DRAIN`, with the last check passed: `L7OK`); gives how long that took.
fn wait_states(b: &Balancer, want: [&str; 3], limit: Duration, why: &str) -> Duration {
    let start = Instant::now();
    let mut last = Vec::new();
    let ok = wait_for(limit, || {
        last = server_states(&b.stats_socket());
        last.iter()
            .zip(want)
            .all(|((status, check), want)| status == want && (want == "DOWN" || check == "L7OK"))
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "{why}: wanted {want:?} within {limit:?}, got {last:?}\nhaproxy:\n{}",
        b.proc.log()
    );
    start.elapsed()
}

// ---- clients -----------------------------------------------------------

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, WAIT)
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// The figures `shout-bench --json` printed.
struct BenchResult {
    responses: u64,
    errors: u64,
    json: String,
}

/// Runs `shout-bench --json ARGS ADDR` (bounded) through `lb`; it must
/// exit 0.
fn bench(lb: &Balancer, args: &[&str]) -> BenchResult {
    let addr = lb.addr;
    let mut cmd = Command::new(&bins().bench);
    cmd.arg("--json")
        .args(args)
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn("shout-bench", cmd, false);
    let status = p.wait(Duration::from_secs(60));
    // Let the output readers finish.
    let json = wait_for(WAIT, || {
        let log = p.log();
        log.lines().find(|l| l.starts_with('{')).map(str::to_string)
    })
    .unwrap_or_else(|| panic!("no JSON from shout-bench {args:?}:\n{}", p.log()));
    assert!(
        status.success(),
        "shout-bench {args:?} through {addr}: {status}\n{}\nthe balancer:\n{}",
        p.log(),
        lb.proc.log()
    );
    BenchResult {
        responses: json_u64(&json, "responses"),
        errors: json_u64(&json, "errors"),
        json,
    }
}

/// A top-level unsigned number of a compact JSON object.
fn json_u64(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\":");
    let at = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    let digits: String = json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// Sends a line through the balancer and gives the connection's own
/// address, which the instance that served it must log as the client.
fn line_through(addr: SocketAddr) -> SocketAddr {
    let mut s = connect(addr);
    let local = s.local_addr().unwrap();
    s.write_all(b"where am i\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).expect("the answer, then the end");
    assert_eq!(got, b"WHERE AM I\n", "the answer through {addr}");
    local
}

/// Which instance logged `client` as a session's client address.
fn served_by(backends: &[Backend], client: SocketAddr) -> Option<usize> {
    let want = format!("client={client} framing=");
    wait_for(WAIT, || {
        backends.iter().position(|b| {
            b.proc
                .log()
                .lines()
                .any(|l| l.contains("connection opened") && l.contains(&want))
        })
    })
}

/// What one frame client of the rolling restart did.
#[derive(Debug, Default)]
struct Tally {
    /// DATA answers checked.
    answered: u64,
    /// Connections opened.
    sessions: u64,
    /// Sessions the server ended with CLOSE while requests were unanswered
    /// or the client still had more to send.
    closed_by_server: u64,
    /// Requests sent again on a new connection after such a CLOSE.
    resent: u64,
    /// Connections closed or reset by the balancer before the server's
    /// HELLO (tolerated only where the test says so).
    reset_before_hello: u64,
}

/// Reads one frame; `None` at a clean end of input before its header.
fn read_frame(s: &mut TcpStream) -> Result<Option<(u8, Vec<u8>)>, String> {
    let mut header = [0u8; 5];
    let mut got = 0;
    while got < header.len() {
        match s.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err("input ended inside a frame header".into()),
            Ok(n) => got += n,
            Err(e) => return Err(format!("reading a frame header: {e}")),
        }
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > 1 << 20 {
        return Err(format!("a frame of {len} bytes"));
    }
    let mut payload = vec![0; len];
    s.read_exact(&mut payload)
        .map_err(|e| format!("reading a {len}-byte payload: {e}"))?;
    Ok(Some((header[0], payload)))
}

/// A frame client that keeps `depth` DATA requests in flight until
/// `until`, checks every answer against its own request (each payload is
/// unique), and, when the server ends a session with CLOSE (an instance
/// draining), reconnects and sends again what was not answered. At the end
/// it sends CLOSE and wants CLOSE back. Any other end (EOF or a reset
/// without CLOSE, ERROR, a wrong byte, a stall of `WAIT`) is a failure,
/// except, if `tolerate_reset_before_hello`, a connection ended before the
/// server's first byte, which is opened again.
fn frame_client(
    addr: SocketAddr,
    id: usize,
    depth: usize,
    until: Instant,
    tolerate_reset_before_hello: bool,
) -> Result<Tally, String> {
    let hard_limit = until + Duration::from_secs(30);
    let hello = server_hello_with(1 << 20, TransformKind::Ascii);
    let mut tally = Tally::default();
    let mut seq = 0u64;
    let mut retry: VecDeque<Vec<u8>> = VecDeque::new();
    loop {
        if Instant::now() > hard_limit {
            return Err(format!(
                "client {id}: not done 30 s after the end: {tally:?}"
            ));
        }
        let mut s = TcpStream::connect_timeout(&addr, WAIT)
            .map_err(|e| format!("client {id}: connect: {e}"))?;
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.set_write_timeout(Some(WAIT)).unwrap();
        s.set_nodelay(true).unwrap();
        tally.sessions += 1;
        let fail = |what: String, t: &Tally| {
            format!("client {id}, session {}: {what} ({t:?})", t.sessions)
        };
        s.write_all(&client_hello(b""))
            .map_err(|e| fail(format!("sending HELLO: {e}"), &tally))?;
        match read_frame(&mut s) {
            Ok(Some((0, p))) if p == hello[5..] => {}
            // Connected, then closed or reset before a byte: an instance
            // dropped its listen queue (see the test). Nothing on this
            // connection was answered: the same as after a CLOSE.
            Ok(None) | Err(_) if tolerate_reset_before_hello => {
                tally.reset_before_hello += 1;
                thread::sleep(Duration::from_millis(10));
                continue;
            }
            other => {
                return Err(fail(
                    format!("expected the server HELLO, got {other:?}"),
                    &tally,
                ))
            }
        }
        let mut in_flight: VecDeque<Vec<u8>> = VecDeque::new();
        let mut closing = false;
        loop {
            let more = Instant::now() < until;
            while !closing && in_flight.len() < depth && (more || !retry.is_empty()) {
                let payload = match retry.pop_front() {
                    Some(p) => {
                        tally.resent += 1;
                        p
                    }
                    None => {
                        seq += 1;
                        let mut p = format!("client{id}-request{seq}-").into_bytes();
                        p.extend((0..40).map(|i| b'a' + (i % 26) as u8));
                        p
                    }
                };
                s.write_all(&data(&payload))
                    .map_err(|e| fail(format!("sending DATA: {e}"), &tally))?;
                in_flight.push_back(payload);
            }
            if in_flight.is_empty() && !closing {
                s.write_all(&close())
                    .map_err(|e| fail(format!("sending CLOSE: {e}"), &tally))?;
                closing = true;
            }
            match read_frame(&mut s).map_err(|e| fail(e, &tally))? {
                Some((1, answer)) => {
                    let Some(request) = in_flight.pop_front() else {
                        return Err(fail("a DATA answer nobody asked for".into(), &tally));
                    };
                    if answer != request.to_ascii_uppercase() {
                        return Err(fail(
                            format!(
                                "{:?} answered with {:?}",
                                String::from_utf8_lossy(&request),
                                String::from_utf8_lossy(&answer)
                            ),
                            &tally,
                        ));
                    }
                    tally.answered += 1;
                }
                Some((4, _)) => {
                    // The end of the session, asked for or not; then EOF.
                    let mut rest = Vec::new();
                    match s.read_to_end(&mut rest) {
                        Ok(_) if rest.is_empty() => {}
                        Ok(_) => {
                            return Err(fail(format!("{} bytes after CLOSE", rest.len()), &tally))
                        }
                        Err(e) => return Err(fail(format!("after CLOSE: {e}"), &tally)),
                    }
                    if closing {
                        return Ok(tally);
                    }
                    tally.closed_by_server += 1;
                    // Not answered: sent again, first, in order.
                    while let Some(p) = in_flight.pop_back() {
                        retry.push_front(p);
                    }
                    break;
                }
                Some((kind, payload)) => {
                    return Err(fail(
                        format!(
                            "a frame of kind {kind}: {:?}",
                            String::from_utf8_lossy(&payload)
                        ),
                        &tally,
                    ))
                }
                None => {
                    return Err(fail(
                        format!(
                            "closed without CLOSE, {} requests unanswered",
                            in_flight.len()
                        ),
                        &tally,
                    ))
                }
            }
        }
    }
}

// ---- the tests ---------------------------------------------------------

/// HAProxy's health check (deploy/haproxy.cfg) is a SHOUT/1 frame session
/// with a PROXY header: it passes on all three instances, and an instance
/// stopped with SIGTERM is marked DOWN within a few seconds; its
/// replacement is UP again at its first check.
#[test]
fn haproxy_health_checks_speak_shout_and_follow_the_instances() {
    let mut backends = Backend::three();
    let lb = Balancer::start(Kind::Haproxy, &backends);
    let took = wait_states(&lb, ["UP"; 3], Duration::from_secs(5), "at start");
    eprintln!("all three UP (L7OK) after {took:?}");
    // The checks reached shout as frame sessions that ended with CLOSE,
    // and none was refused for want of a PROXY header.
    for b in &backends {
        let ok = wait_for(WAIT, || {
            let log = b.proc.log();
            (log.contains("framing=\"frame\"") && log.contains("detail=\"peer sent CLOSE\""))
                .then_some(())
        });
        assert!(
            ok.is_some(),
            "no clean check session on {}:\n{}",
            b.addr,
            b.proc.log()
        );
        assert!(
            !b.proc.log().contains("PROXY header refused"),
            "a check without a PROXY header:\n{}",
            b.proc.log()
        );
    }

    let stopped = Instant::now();
    backends[0].proc.signal("TERM");
    let status = backends[0].proc.wait(WAIT);
    assert!(
        status.success(),
        "the instance drains and exits 0: {status}"
    );
    let took = wait_states(
        &lb,
        ["DOWN", "UP", "UP"],
        Duration::from_secs(6),
        "after SIGTERM",
    );
    eprintln!(
        "{} DOWN {:?} after SIGTERM ({took:?} after it exited)",
        HAPROXY_SERVERS[0],
        stopped.elapsed()
    );

    let addr = backends[0].addr;
    backends[0] = Backend::start(BACKEND_IPS[0], addr.port(), &[]);
    let took = wait_states(&lb, ["UP"; 3], Duration::from_secs(5), "after the restart");
    eprintln!("the replacement UP {took:?} after it started");
}

/// shout-bench, which checks every byte, through HAProxy (PROXY v2) in
/// frame and line mode; and the instance logs the test client's own
/// address and port.
#[test]
fn haproxy_carries_load_and_the_client_address() {
    carries_load_and_the_client_address(Kind::Haproxy);
}

/// The same through nginx's stream proxy (PROXY v1).
#[test]
fn nginx_carries_load_and_the_client_address() {
    carries_load_and_the_client_address(Kind::Nginx);
}

fn carries_load_and_the_client_address(kind: Kind) {
    let backends = Backend::three();
    let lb = Balancer::start(kind, &backends);
    if kind == Kind::Haproxy {
        wait_states(&lb, ["UP"; 3], Duration::from_secs(5), "at start");
    }
    for mode in ["frame", "line"] {
        let started = Instant::now();
        let r = bench(&lb, &["--mode", mode, "-c", "8", "-d", "4", "-s", "2"]);
        eprintln!(
            "{kind:?} {mode}: {} responses, {} errors in {:?}",
            r.responses,
            r.errors,
            started.elapsed()
        );
        assert!(r.responses > 0, "{kind:?} {mode}: no response: {}", r.json);
        assert_eq!(r.errors, 0, "{kind:?} {mode}: {}", r.json);
    }
    // Every instance served some of the load: line sessions (raw under
    // `auto`), which health checks are not.
    for b in &backends {
        let log = b.proc.log();
        let sessions = log
            .lines()
            .filter(|l| l.contains("connection opened") && l.contains("framing=\"raw\""))
            .count();
        assert!(
            sessions > 0,
            "{} served no line session:\n{}",
            b.addr,
            logs(&backends)
        );
    }
    let client = line_through(lb.addr);
    assert!(
        served_by(&backends, client).is_some(),
        "no instance logged client={client} ({kind:?}):\n{}",
        logs(&backends)
    );
}

/// A rolling restart under load through HAProxy, in DEPLOY.md's order:
/// while 16 frame clients keep 4 requests each in flight for 6 s, one
/// instance is set to drain in HAProxy (no new connection goes to it),
/// gets SIGTERM, drains and exits 0; HAProxy marks it DOWN; its
/// replacement starts on the same address, passes its first check and is
/// set ready. Every request is answered exactly, in order, and no
/// connection is lost: the clients on the stopped instance get CLOSE after
/// the answers to what it had received, and send the rest again on a new
/// connection, which HAProxy gives to another instance. Then the
/// replacement takes new connections.
///
/// (`shout-bench` cannot be the load here: it counts a CLOSE, or the end of
/// a connection, before its run is over as an error and does not
/// reconnect.)
#[test]
fn haproxy_rolling_restart_loses_no_response() {
    let t = rolling_restart(true);
    assert_eq!(t.reset_before_hello, 0, "{t:?}");
}

/// The same with SIGTERM alone, HAProxy finding out from its health
/// checks. At the signal every event loop first takes the connections
/// already queued on its listener and closes it, and only once all have
/// does any session get its CLOSE: a client that reconnects then is
/// refused by the stopping instance and HAProxy retries it elsewhere. (When
/// each loop closed its listener in its own time, a connection queued on a
/// listener still open while another loop's clients got CLOSE was reset
/// after HAProxy had connected, and could not be retried.) So nothing is
/// reset, lost or answered wrong.
#[test]
fn haproxy_rolling_restart_with_sigterm_alone() {
    let t = rolling_restart(false);
    assert_eq!(t.reset_before_hello, 0, "{t:?}");
}

/// Runs the rolling restart; gives the clients' tally.
fn rolling_restart(drain_first: bool) -> Tally {
    let mut backends = Backend::three();
    let lb = Balancer::start(Kind::Haproxy, &backends);
    let sock = lb.stats_socket();
    wait_states(&lb, ["UP"; 3], Duration::from_secs(5), "at start");
    let name = format!("{HAPROXY_BACKEND}/{}", HAPROXY_SERVERS[0]);
    let set_state = |state: &str| {
        let answer = stats(&sock, &format!("set server {name} state {state}")).unwrap();
        assert!(
            answer.trim().is_empty(),
            "set server {name} state {state}: {answer}"
        );
    };

    let start = Instant::now();
    let until = start + Duration::from_secs(6);
    let addr = lb.addr;
    let clients: Vec<_> = (0..16)
        .map(|id| thread::spawn(move || frame_client(addr, id, 4, until, !drain_first)))
        .collect();

    thread::sleep(Duration::from_millis(1500));
    if drain_first {
        set_state("drain");
        wait_states(&lb, ["DRAIN", "UP", "UP"], WAIT, "set to drain");
    }
    backends[0].proc.signal("TERM");
    let status = backends[0].proc.wait(WAIT);
    assert!(status.success(), "the stopped instance exits 0: {status}");
    let exited = start.elapsed();
    // Its listener is closed: the health checks are refused.
    let down = wait_states(
        &lb,
        ["DOWN", "UP", "UP"],
        Duration::from_secs(6),
        "after SIGTERM",
    );
    let port = backends[0].addr.port();
    let stopped = std::mem::replace(&mut backends[0], Backend::start(BACKEND_IPS[0], port, &[]));
    let first = if drain_first { "DRAIN" } else { "UP" };
    let up = wait_states(
        &lb,
        [first, "UP", "UP"],
        Duration::from_secs(5),
        "the replacement",
    );
    if drain_first {
        set_state("ready");
        wait_states(&lb, ["UP"; 3], WAIT, "set ready");
    }
    eprintln!(
        "SIGTERM at 1.5 s, exited at {exited:?}, DOWN {down:?} later, \
         the replacement UP {up:?} after it started, at {:?}",
        start.elapsed()
    );
    // leastconn: while the load holds its connections on the other two,
    // a new connection goes to the replacement.
    if Instant::now() + Duration::from_millis(500) < until {
        let client = line_through(lb.addr);
        assert_eq!(
            served_by(&backends, client),
            Some(0),
            "the replacement takes new connections:\n{}",
            logs(&backends)
        );
    } else {
        eprintln!("the load ended before the replacement was up: not probed");
    }

    let mut total = Tally::default();
    let mut failures = Vec::new();
    for c in clients {
        match c.join().expect("a client thread") {
            Ok(t) => {
                total.answered += t.answered;
                total.sessions += t.sessions;
                total.closed_by_server += t.closed_by_server;
                total.resent += t.resent;
                total.reset_before_hello += t.reset_before_hello;
            }
            Err(e) => failures.push(e),
        }
    }
    eprintln!("rolling restart: {total:?} in {:?}", start.elapsed());
    assert!(
        failures.is_empty(),
        "{} of 16 clients failed:\n{}\n---- the stopped instance ----\n{}\n{}\nhaproxy:\n{}",
        failures.len(),
        failures.join("\n"),
        stopped.proc.log(),
        logs(&backends),
        lb.proc.log()
    );
    assert!(total.answered > 0, "{total:?}");
    assert!(
        total.closed_by_server > 0,
        "no client was on the stopped instance: {total:?}\n{}",
        stopped.proc.log()
    );
    assert!(
        stopped.proc.log().contains("draining"),
        "the instance drained:\n{}",
        stopped.proc.log()
    );
    total
}

/// An instance behind the balancers cannot be reached around them: a
/// connection straight to it, without a PROXY header, is closed without a
/// byte of output, whatever it sends (or if it sends nothing).
#[test]
fn an_instance_refuses_a_connection_without_a_proxy_header() {
    let b = Backend::start(BACKEND_IPS[0], 0, &["--idle-timeout", "1"]);
    let cases: [(&str, Vec<u8>); 3] = [
        ("a line", b"hello\n".to_vec()),
        ("a frame HELLO", client_hello(b"")),
        ("nothing", Vec::new()),
    ];
    for (what, input) in cases {
        let mut s = connect(b.addr);
        s.write_all(&input).unwrap();
        let started = Instant::now();
        let mut got = Vec::new();
        let end = s.read_to_end(&mut got);
        assert!(
            got.is_empty(),
            "{what}: {} bytes of output: {:?}",
            got.len(),
            String::from_utf8_lossy(&got)
        );
        match end {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("{what}: not closed within {WAIT:?}: {e}"),
        }
        eprintln!(
            "{what}: closed without output after {:?}",
            started.elapsed()
        );
    }
    let refused = wait_for(WAIT, || {
        (b.proc.log().matches("PROXY header refused").count() >= 3).then_some(())
    });
    assert!(
        refused.is_some(),
        "three refusals logged:\n{}",
        b.proc.log()
    );
}

//! End to end: the firmware (adapters/embedded-io/firmware) in QEMU's
//! lm3s6965evb, its UART0 on a TCP port, driven from here with a
//! client on `shout_core`'s `RequestEncoder` and `ReplyDecoder`. Every response is checked byte for
//! byte.
//!
//! The tests are ignored by default (`#[ignore = "..."]`): they need `qemu-system-arm` and the
//! firmware ELF, built first. `.ci/run` does both, then runs them with
//! `--ignored`. By hand, from the repository root:
//!
//! ```sh
//! (cd adapters/embedded-io/firmware && cargo build --release)
//! cargo test -p shout-embedded-io --test qemu -- --ignored --nocapture
//! ```
//!
//! Run that way, a test never passes without running: it fails, saying what to do, when
//! `qemu-system-arm` is missing, when the ELF is missing, or when the ELF
//! is older than a source it is built from (see [`firmware_ready`]).
//!
//! The ELF is `SHOUT_FIRMWARE_ELF` if set, else
//! `$CARGO_TARGET_DIR/thumbv7m-none-eabi/release/shout-firmware` if
//! `CARGO_TARGET_DIR` is set (the directory the firmware build used too;
//! give an absolute one: a relative one is taken from this test's working
//! directory, adapters/embedded-io), else the firmware's own
//! `firmware/target/thumbv7m-none-eabi/release/shout-firmware`.
//!
//! With `SHOUT_QEMU_RAM_DUMP=<file>`, QEMU gets a monitor socket and the
//! firmware's 64 KiB of RAM is saved to `<file>` after the scenario, to
//! measure how deep the stack went (firmware/measure.sh).

mod common;

use std::collections::HashSet;
use std::fs::File;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration as StdDuration, Instant as StdInstant, SystemTime};

use common::client::{
    expected_replies, expected_wire, frame_session, mixed_requests, read_exactly, read_until_quiet,
};
use shout_core::wire::Kind;
use shout_core::{Config, Duration};

/// The firmware's idle timeout (IDLE_TIMEOUT_MS in firmware/src/main.rs).
const IDLE: StdDuration = StdDuration::from_millis(400);
/// Silence long enough for the firmware's idle timeout to have fired,
/// with room for a host busy with other work.
const QUIET: StdDuration = StdDuration::from_millis(1500);
const LIMIT: StdDuration = StdDuration::from_secs(60);

/// QEMU, killed by PID when dropped, whatever happened; its log (shown
/// when a test fails) is removed then.
struct Qemu {
    child: Child,
    log: PathBuf,
    monitor: Option<PathBuf>,
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        if let Some(m) = &self.monitor {
            let _ = std::fs::remove_file(m);
        }
    }
}

impl Qemu {
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// How to (re)build the firmware, for the failure messages.
const BUILD: &str =
    "build it first: `(cd adapters/embedded-io/firmware && cargo build --locked --release)` \
     with the same CARGO_TARGET_DIR as this test, if any (see .ci/run)";

/// Where the firmware ELF is: see the module documentation.
fn firmware_elf() -> PathBuf {
    if let Some(p) = std::env::var_os("SHOUT_FIRMWARE_ELF") {
        return PathBuf::from(p);
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firmware/target"),
    };
    target.join("thumbv7m-none-eabi/release/shout-firmware")
}

/// The firmware ELF, once it is known QEMU can run it and it is up to
/// date; otherwise the test fails here, saying why and what to do.
///
/// Stale means older than a source the ELF is built from: under
/// `firmware/src`, `src` (this crate) or `core/src`, or the firmware's
/// `Cargo.toml`, `memory.x` and `build.rs`. When cargo wrote its
/// dep-info file next to the ELF (`shout-firmware.d`, the list of files
/// the build read), a file under those `src` trees counts only if that
/// list names it: one the firmware does not compile (the core's unicode
/// transform, left out of it, or a file no module includes yet) would not
/// make cargo rebuild, so it must not make the ELF stale either. A file
/// the list names that is gone makes it stale.
fn firmware_ready() -> PathBuf {
    match Command::new("qemu-system-arm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("`qemu-system-arm --version` failed ({s}); reinstall QEMU"),
        Err(e) => panic!(
            "qemu-system-arm is not installed ({e}): install it \
             (Debian: `apt-get install qemu-system-arm`; .ci/run does)"
        ),
    }
    let elf = firmware_elf();
    let built = match std::fs::metadata(&elf).and_then(|m| m.modified()) {
        Ok(t) => t,
        Err(e) => panic!("no firmware ELF at {} ({e}): {BUILD}", elf.display()),
    };
    let stale = stale_sources(&elf, built);
    if !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|s| format!("  {s}")).collect();
        panic!(
            "the firmware ELF at {} is stale, older than what it is built from:\n{}\n{BUILD} \
             (if cargo finds nothing to rebuild, a manifest was touched without a change: \
             touch the ELF)",
            elf.display(),
            list.join("\n")
        );
    }
    elf
}

/// What makes the ELF built at `built` stale (see [`firmware_ready`]),
/// one line each.
fn stale_sources(elf: &Path, built: SystemTime) -> Vec<String> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let firmware = here.join("firmware");
    let core = here.join("../../core");
    let read = dep_info(elf);
    let mut candidates: Vec<PathBuf> = ["Cargo.toml", "memory.x", "build.rs"]
        .iter()
        .map(|f| firmware.join(f))
        .filter(|f| f.exists())
        .collect();
    for tree in [firmware.join("src"), here.join("src"), core.join("src")] {
        let mut files = Vec::new();
        walk(&tree, &mut files);
        assert!(!files.is_empty(), "no sources under {}", tree.display());
        candidates.extend(files.into_iter().filter(|f| match &read {
            Some(read) => read.contains(&canonical(f)),
            None => true,
        }));
    }
    let mut stale: Vec<(SystemTime, String)> = candidates
        .iter()
        .filter_map(|f| {
            let modified = std::fs::metadata(f).and_then(|m| m.modified()).ok()?;
            (modified > built).then(|| (modified, format!("{} is newer", canonical(f).display())))
        })
        .collect();
    stale.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut stale: Vec<String> = stale.into_iter().map(|(_, s)| s).collect();
    if let Some(read) = read {
        let mut gone: Vec<String> = read
            .iter()
            .filter(|f| !f.exists())
            .map(|f| format!("{} is gone", f.display()))
            .collect();
        gone.sort();
        stale.extend(gone);
    }
    stale
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, out),
            Ok(_) => out.push(path),
            Err(_) => {}
        }
    }
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The files cargo's dep-info file next to `elf` (`<elf>.d`, a make rule
/// `elf: file file ...` with spaces in names escaped) says the build
/// read, if there is one.
fn dep_info(elf: &Path) -> Option<HashSet<PathBuf>> {
    let mut d = elf.as_os_str().to_owned();
    d.push(".d");
    let text = std::fs::read_to_string(PathBuf::from(d)).ok()?;
    let mut files = HashSet::new();
    for line in text.lines() {
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        let mut name = String::new();
        let mut chars = deps.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => name.extend(chars.next()),
                ' ' => {
                    if !name.is_empty() {
                        files.insert(canonical(Path::new(&std::mem::take(&mut name))));
                    }
                }
                c => name.push(c),
            }
        }
        if !name.is_empty() {
            files.insert(canonical(Path::new(&name)));
        }
    }
    Some(files)
}

/// One emulated board at a time: the scenario's timing checks (the idle
/// timeout, the silences) assume the host is not also running another.
fn one_board() -> MutexGuard<'static, ()> {
    static BOARD: Mutex<()> = Mutex::new(());
    BOARD.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts QEMU on a free port and connects to its UART0 the moment the
/// port accepts (it is tried every millisecond), which can be before the
/// firmware has run at all; a port taken between choosing and binding is
/// retried with another.
fn start(elf: &PathBuf) -> (Qemu, TcpStream) {
    let mut last_error = String::new();
    for attempt in 0..5 {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log =
            std::env::temp_dir().join(format!("shout-qemu-{}-{attempt}.log", std::process::id()));
        let log_file = File::create(&log).unwrap();
        let monitor = std::env::var_os("SHOUT_QEMU_RAM_DUMP").map(|_| {
            std::env::temp_dir().join(format!("shout-qemu-{}-{attempt}.mon", std::process::id()))
        });
        let monitor_arg = match &monitor {
            Some(m) => format!("unix:{},server=on,wait=off", m.display()),
            None => "none".to_string(),
        };
        let child = Command::new("qemu-system-arm")
            .args([
                "-M",
                "lm3s6965evb",
                "-display",
                "none",
                "-monitor",
                &monitor_arg,
            ])
            .args(["-semihosting-config", "enable=on,target=native"])
            .arg("-serial")
            .arg(format!("tcp:127.0.0.1:{port},server=on,wait=off"))
            .arg("-kernel")
            .arg(elf)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("start qemu-system-arm");
        let mut qemu = Qemu {
            child,
            log,
            monitor,
        };
        let deadline = StdInstant::now() + StdDuration::from_secs(10);
        while StdInstant::now() < deadline {
            if let Ok(Some(status)) = qemu.child.try_wait() {
                last_error = format!("qemu exited with {status}: {}", qemu.log_text());
                break;
            }
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                s.set_write_timeout(Some(LIMIT)).unwrap();
                s.set_nodelay(true).unwrap();
                return (qemu, s);
            }
            std::thread::sleep(StdDuration::from_millis(1));
        }
        if last_error.is_empty() {
            last_error = format!("could not connect to port {port}: {}", qemu.log_text());
        }
    }
    panic!("qemu did not come up: {last_error}");
}

/// Waits until the firmware answers. QEMU accepts bytes on the port as
/// soon as it listens, before the firmware has configured UART0, and
/// configuring it clears the receive FIFO, as on the real chip. The
/// firmware does that first thing at boot, so only bytes that arrive in
/// the first instructions are lost ([`firmware_answers_a_hello_sent_at_boot`]
/// checks that a client talking at once is answered), but the long
/// scenario does not bet on it. So probe with one raw byte until
/// its echo comes back, then let that raw session idle out.
fn wait_until_serving(stream: &TcpStream) -> Result<(), String> {
    let deadline = StdInstant::now() + StdDuration::from_secs(30);
    while StdInstant::now() < deadline {
        send(stream, b".");
        let got = read_until_quiet(
            stream,
            StdDuration::from_millis(250),
            StdDuration::from_secs(2),
        );
        if !got.is_empty() {
            if got.iter().any(|&b| b != b'.') {
                return Err(format!("unexpected answer to a probe: {got:?}"));
            }
            expect_quiet(stream, "after the probe");
            return Ok(());
        }
    }
    Err("the firmware never echoed a probe byte".to_string())
}

/// The firmware's configuration, as far as the wire shows it.
fn firmware_config() -> Config {
    Config::default().with_idle_timeout(Some(Duration::from_millis(IDLE.as_millis() as u64)))
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn send(stream: &TcpStream, bytes: &[u8]) {
    let mut s = stream;
    s.write_all(bytes).unwrap();
}

/// Asserts the link stays silent for [`QUIET`]: the device has nothing
/// more to say, and a raw session has idled out.
fn expect_quiet(stream: &TcpStream, what: &str) {
    let extra = read_until_quiet(stream, QUIET, LIMIT);
    assert!(extra.is_empty(), "{what}: unexpected bytes {extra:?}");
}

/// Runs `f`; if it panics, prints QEMU's log first.
fn with_qemu_log(qemu: &Qemu, f: impl FnOnce()) {
    if let Err(e) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        eprintln!("qemu log:\n{}", qemu.log_text());
        std::panic::resume_unwind(e);
    }
}

#[test]
#[ignore = "needs qemu-system-arm and the firmware built first: see .ci/run"]
fn firmware_serves_shout_on_uart0() {
    let elf = firmware_ready();
    let _board = one_board();
    let (qemu, stream) = start(&elf);
    if let Err(why) = wait_until_serving(&stream) {
        panic!("{why}\nqemu log:\n{}", qemu.log_text());
    }
    let started = StdInstant::now();
    with_qemu_log(&qemu, || scenario(&stream));
    println!("firmware end-to-end scenario took {:?}", started.elapsed());
    if let (Some(dump), Some(monitor)) = (std::env::var_os("SHOUT_QEMU_RAM_DUMP"), &qemu.monitor) {
        save_ram(monitor, &PathBuf::from(dump));
    }
    drop(qemu);
}

/// A client that sends its HELLO the moment the serial port accepts the
/// connection, with no probe and no delay, while the board may still be
/// booting, gets the server's HELLO: the firmware configures UART0 before
/// anything else, so what the client sent is not lost. (When the first
/// byte is lost, what is left is no HELLO: the answer is an ERROR, ERROR 5
/// after the idle timeout.)
#[test]
#[ignore = "needs qemu-system-arm and the firmware built first: see .ci/run"]
fn firmware_answers_a_hello_sent_at_boot() {
    let elf = firmware_ready();
    let _board = one_board();
    let (qemu, stream) = start(&elf);
    send(&stream, &common::hello());
    let sent = StdInstant::now();
    with_qemu_log(&qemu, || {
        let want = common::server_hello(1 << 20);
        let got = read_exactly(&stream, want.len(), StdDuration::from_secs(10))
            .unwrap_or_else(|e| panic!("waiting for the server's HELLO: {e}"));
        if got != want {
            let mut got = got;
            got.extend(read_until_quiet(&stream, QUIET, LIMIT));
            panic!(
                "a HELLO sent at boot got \"{}\" instead of the server's HELLO \"{}\"",
                got.escape_ascii(),
                want.escape_ascii()
            );
        }
        println!("server HELLO {:?} after sending ours", sent.elapsed());
        // The session goes on as any other.
        let mut request = common::frame(1, b"sent at boot");
        request.extend(common::frame(4, b""));
        send(&stream, &request);
        let mut want = common::frame(1, b"SENT AT BOOT");
        want.extend(common::frame(4, b""));
        assert_eq!(read_exactly(&stream, want.len(), LIMIT).unwrap(), want);
    });
}

/// Asks QEMU's monitor to save the 64 KiB of RAM to `file`.
fn save_ram(monitor: &PathBuf, file: &PathBuf) {
    use std::io::Read as _;
    let _ = std::fs::remove_file(file);
    let mut m = std::os::unix::net::UnixStream::connect(monitor).expect("monitor socket");
    m.set_read_timeout(Some(StdDuration::from_millis(200)))
        .unwrap();
    writeln!(m, "pmemsave 0x20000000 65536 \"{}\"", file.display()).unwrap();
    let deadline = StdInstant::now() + StdDuration::from_secs(10);
    let mut sink = [0u8; 1024];
    while std::fs::metadata(file).map_or(true, |md| md.len() < 65536) {
        assert!(StdInstant::now() < deadline, "QEMU did not save the RAM");
        let _ = m.read(&mut sink);
    }
    println!("RAM saved to {}", file.display());
}

fn scenario(stream: &TcpStream) {
    let mut t = StdInstant::now();
    let mut step = |what: &str| {
        println!("  {what}: {:?}", t.elapsed());
        t = StdInstant::now();
    };
    // 1. A raw exchange: the first byte is not NUL, so `auto` picks raw.
    let text: Vec<u8> = b"Hello, SHOUT over a UART! "
        .iter()
        .copied()
        .chain((0..2000u32).map(|i| (i % 255) as u8 + 1))
        .collect();
    send(stream, &text);
    assert_eq!(
        read_exactly(stream, text.len(), LIMIT).unwrap(),
        text.to_ascii_uppercase()
    );
    // Within the idle timeout, more bytes (even a HELLO) are the same raw
    // session. (They start with a letter so that the answer is the same
    // should a loaded host delay them past the idle timeout.)
    let more = b"still raw: \x00\x00\x00\x00\x06SHOUT\x01";
    send(stream, more);
    assert_eq!(
        read_exactly(stream, more.len(), LIMIT).unwrap(),
        more.to_ascii_uppercase()
    );
    expect_quiet(stream, "after the raw session");
    step("raw exchange (+ quiet)");

    // 2. A frame session: HELLO, 100 DATA of mixed sizes up to 4 KiB,
    //    PING, CLOSE.
    let requests = mixed_requests(2024);
    let s = frame_session(stream, &requests, true, LIMIT).unwrap();
    assert_eq!(s.wire, expected_wire(1 << 20, &requests, true));
    assert_eq!(s.replies, expected_replies(1 << 20, &requests, true));
    let bytes: usize = requests.iter().map(|r| r.1.len()).sum();
    step(&format!(
        "frame session, 100 DATA + PING, {bytes} payload bytes each way"
    ));

    // 3. A second frame session right away on the same link.
    let requests: Vec<(Kind, Vec<u8>)> = (0..10)
        .map(|i| (Kind::Data, format!("session two, request {i}").into_bytes()))
        .chain([(Kind::Ping, b"p\x00ng".to_vec())])
        .collect();
    let s = frame_session(stream, &requests, true, LIMIT).unwrap();
    assert_eq!(s.wire, expected_wire(1 << 20, &requests, true));
    expect_quiet(stream, "after the second frame session");
    step("second frame session (+ quiet)");

    // 4. Garbage bursts, each answered per the contract, then silence.
    for (seed, first) in [(1u64, Some(0u8)), (2, None), (3, Some(0)), (4, Some(b'x'))] {
        let mut burst = noise(seed, 300);
        if let Some(b) = first {
            burst[0] = b;
        }
        send(stream, &burst);
        let got = read_until_quiet(stream, QUIET, LIMIT);
        let want = common::reference_burst_then_quiet(firmware_config(), &burst);
        assert_eq!(got, want, "garbage burst {seed}");
    }
    step("4 garbage bursts (+ quiet each)");

    // 5. A good session after the garbage.
    let requests = mixed_requests(99)[..20].to_vec();
    let s = frame_session(stream, &requests, true, LIMIT).unwrap();
    assert_eq!(s.wire, expected_wire(1 << 20, &requests, true));
    assert_eq!(s.replies, expected_replies(1 << 20, &requests, true));

    // 6. Two sessions sent back to back in one write: both answered.
    let mut two = Vec::new();
    let mut want = Vec::new();
    for word in [&b"first"[..], b"second"] {
        two.extend(common::hello());
        two.extend(common::frame(1, word));
        two.extend(common::frame(4, b""));
        want.extend(common::server_hello(1 << 20));
        want.extend(common::frame(1, &word.to_ascii_uppercase()));
        want.extend(common::frame(4, b""));
    }
    send(stream, &two);
    assert_eq!(read_exactly(stream, want.len(), LIMIT).unwrap(), want);

    step("good session, then two pipelined sessions");

    // 7. A frame session that goes quiet gets ERROR 5 after the idle timeout.
    send(stream, &common::hello());
    let sent_at = StdInstant::now();
    let mut want = common::server_hello(1 << 20);
    let mut err = vec![0, 5];
    err.extend_from_slice(b"idle timeout");
    want.extend(common::frame(5, &err));
    assert_eq!(read_exactly(stream, want.len(), LIMIT).unwrap(), want);
    let waited = sent_at.elapsed();
    assert!(
        waited >= IDLE - StdDuration::from_millis(50),
        "ERROR 5 after {waited:?}"
    );
    assert!(waited < IDLE * 5, "ERROR 5 only after {waited:?}");
    expect_quiet(stream, "at the end");
    step(&format!("idle frame session: ERROR 5 after {waited:?}"));
}

//! A real browser: headless Chromium, driven by chromedriver over W3C
//! WebDriver (a minimal client here, HTTP/1.1 over a `TcpStream` and
//! `serde_json`), loads the page of `shout serve` over `http:` and then
//! `https:`, types messages and sees them come back uppercased over the
//! page's WebSocket (`ws:`, then `wss:`).
//!
//! It needs Debian's `chromium` and `chromium-driver`, and fails (it never
//! skips) when either is missing. With `SHOUT_SCREENSHOT` set, the page's
//! screenshot is written to `docs/page.png` (for the README); otherwise to
//! a temporary file, checked to be a PNG.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::certs::Certs;
use common::*;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The longest the browser may take for one step (start, load, answer).
const STEP: Duration = Duration::from_secs(30);
/// The key of a W3C WebDriver element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

// ---- a minimal WebDriver client ------------------------------------------------

/// One HTTP/1.1 request to chromedriver: its status and JSON body.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, STEP)
        .unwrap_or_else(|e| panic!("connect to chromedriver on {addr}: {e}"));
    s.set_read_timeout(Some(STEP * 2)).unwrap();
    s.set_write_timeout(Some(STEP)).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    // chromedriver keeps the connection open whatever `Connection` says:
    // the answer ends where its length says.
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    let mut read_more = |all: &mut Vec<u8>| {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("{method} {path}: reading chromedriver's answer: {e}"));
        assert!(
            n > 0,
            "{method} {path}: chromedriver closed mid-answer: {:?}",
            String::from_utf8_lossy(all)
        );
        all.extend_from_slice(&buf[..n]);
    };
    let split = loop {
        if let Some(p) = all.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        read_more(&mut all);
    };
    let head = String::from_utf8_lossy(&all[..split]).to_string();
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: bad status line in {head}"));
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let start = split + 4;
    let payload = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            if let Some(body) = dechunk(&all[start..]) {
                break body;
            }
            read_more(&mut all);
        }
    } else {
        let n: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{method} {path}: no Content-Length in {head}"));
        while all.len() < start + n {
            read_more(&mut all);
        }
        all[start..start + n].to_vec()
    };
    let value = if payload.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&payload).unwrap_or_else(|e| {
            panic!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&payload)
            )
        })
    };
    (status, value)
}

/// A chunked body, joined; `None` until its last chunk is in.
fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        if b.len() < eol + 4 + size {
            return None;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
}

/// chromedriver and the Chromium it starts; both killed on drop, whatever
/// happened.
struct Browser {
    driver: Child,
    port: u16,
    session: Option<String>,
    /// Chromium's profile (`--user-data-dir`), which also names its
    /// processes; and chromedriver's log.
    dir: TempDir,
}

impl Browser {
    fn start() -> Browser {
        require(CHROMEDRIVER, &["--version"], "chromium-driver");
        assert!(
            Path::new(CHROMIUM).exists(),
            "this test needs {CHROMIUM} (Debian: apt-get install chromium)"
        );
        require(CHROMIUM, &["--version"], "chromium");
        let dir = TempDir::new("browser");
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = std::fs::File::create(dir.0.join("chromedriver.log")).unwrap();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so that everything it starts can be
            // killed by the group's id.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("this test needs `{CHROMEDRIVER}` (Debian: apt-get install chromium-driver): {e}")
            });
        let mut b = Browser {
            driver,
            port,
            session: None,
            dir,
        };
        b.wait_ready();
        b.new_session();
        b
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("chromedriver.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(s) = self.driver.try_wait().unwrap() {
                panic!("chromedriver exited ({s}): {}", self.log());
            }
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                let (code, v) = http(self.port, "GET", "/status", None);
                if code == 200 && v["value"]["ready"] == json!(true) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready in {STEP:?}: {}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn new_session(&mut self) {
        let profile = self.dir.0.join("profile");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    // The https page's certificate is self-signed.
                    "acceptInsecureCerts": true,
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            format!("--user-data-dir={}", profile.display()),
                            "--window-size=900,700",
                        ]
                    }
                }
            }
        });
        let (code, v) = http(self.port, "POST", "/session", Some(&caps));
        assert_eq!(code, 200, "new session: {v}\n{}", self.log());
        let id = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"))
            .to_owned();
        self.session = Some(id);
    }

    /// A command of the session; its `value`, the status checked.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let id = self.session.as_ref().expect("a session");
        let path = format!("/session/{id}{path}");
        let (code, v) = http(self.port, method, &path, body.as_ref());
        assert_eq!(code, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn navigate(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn elements(&self, css: &str) -> Vec<String> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .unwrap_or_else(|| panic!("elements {css}: {v}"))
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    /// The one element `css` selects.
    fn element(&self, css: &str) -> String {
        let found = self.elements(css);
        assert_eq!(found.len(), 1, "{css} selects {} elements", found.len());
        found.into_iter().next().unwrap()
    }

    /// The rendered text of an element.
    fn text_of(&self, element: &str) -> String {
        let v = self.cmd("GET", &format!("/element/{element}/text"), None);
        v.as_str().unwrap_or_default().to_owned()
    }

    fn text(&self, css: &str) -> String {
        self.text_of(&self.element(css))
    }

    fn type_into(&self, css: &str, keys: &str) {
        let e = self.element(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": keys })),
        );
    }

    fn click(&self, css: &str) {
        let e = self.element(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    /// Waits (bounded by [`STEP`]) until `ok` holds of the text of the
    /// element `css` selects; that text.
    fn wait_text(&self, css: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let t = self.text(css);
            if ok(&t) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css}: waited {STEP:?} for {what}; it says {t:?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits (bounded) until `n` answers are on the page; their texts.
    fn wait_answers(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + STEP;
        loop {
            let texts: Vec<String> = self
                .elements("#answers .answer")
                .iter()
                .map(|e| self.text_of(e).trim().to_owned())
                .collect();
            if texts.len() >= n {
                return texts;
            }
            assert!(
                Instant::now() < deadline,
                "waited {STEP:?} for {n} answers; the page has {texts:?}; state {:?}",
                self.text("#state")
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self.cmd("GET", "/screenshot", None);
        base64_decode(v.as_str().expect("a base64 screenshot"))
    }

    /// Every process whose command line names this browser's profile.
    fn chromium_pids(&self) -> Vec<i32> {
        let profile = self.dir.0.join("profile").display().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&profile))
            })
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Politely first: the session's end closes Chromium.
        if let Some(id) = self.session.take() {
            let port = self.port;
            let polite = thread::spawn(move || {
                let _ = std::panic::catch_unwind(|| {
                    http(port, "DELETE", &format!("/session/{id}"), None)
                });
            });
            let deadline = Instant::now() + Duration::from_secs(10);
            while !polite.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(20));
            }
        }
        // Then by id: chromedriver's process group, and any Chromium
        // process left with this profile.
        let kill = rustix::process::Signal::KILL;
        if let Some(pid) = rustix::process::Pid::from_raw(self.driver.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, kill);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = self.chromium_pids();
            if left.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in left {
                if let Some(p) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(p, kill);
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Standard base64 (with padding), as WebDriver sends screenshots.
fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:#x}"),
        }
    };
    let digits: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// A PNG's width and height, checking its signature.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG ({} bytes)",
        png.len()
    );
    let be = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
    (be(16), be(20))
}

/// The page is loaded, connects its WebSocket, and shows the answers to a
/// message sent with Enter and one sent with the Send button.
fn exchange_on_the_page(b: &Browser, url: &str, transform: &str) {
    b.navigate(url);
    let title = b.cmd("GET", "/title", None);
    assert_eq!(title, json!("SHOUT/1"), "the page's title");
    b.wait_text("#state", "`open`", |t| t.starts_with("open"));
    assert_eq!(b.text("#transform"), transform);
    assert_eq!(b.text("#framing"), "web");

    b.type_into("#message", "hello browser\u{E007}");
    let answers = b.wait_answers(1);
    assert_eq!(answers, ["HELLO BROWSER"], "the answer on the page");

    b.type_into("#message", "sent with the button");
    b.click("#send");
    let answers = b.wait_answers(2);
    assert_eq!(answers, ["HELLO BROWSER", "SENT WITH THE BUTTON"]);
    // Still connected.
    assert!(b.text("#state").starts_with("open"), "{}", b.text("#state"));
}

#[test]
fn a_browser_loads_the_page_and_sees_its_messages_shouted() {
    let browser = Browser::start();

    // http: and ws:.
    let server = Serve::start(&[]);
    exchange_on_the_page(&browser, &format!("http://{}/", server.addr), "ascii");
    let png = browser.screenshot();
    let (w, h) = png_size(&png);
    assert!(w >= 300 && h >= 200, "screenshot {w}x{h}");
    let path = if std::env::var_os("SHOUT_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        std::fs::create_dir_all(&docs).unwrap();
        docs.join("page.png")
    } else {
        browser.dir.0.join("page.png")
    };
    std::fs::write(&path, &png).unwrap();
    let back = std::fs::read(&path).unwrap();
    assert_eq!(png_size(&back), (w, h));
    eprintln!(
        "screenshot {w}x{h}, {} bytes: {}",
        png.len(),
        path.display()
    );

    // https: and wss: (a self-signed certificate the browser was told to
    // accept), with the unicode transform.
    let certs = Certs::new();
    let tls = certs.serve(&["--transform", "unicode"]);
    exchange_on_the_page(&browser, &format!("https://{}/", tls.addr), "unicode");
    browser.type_into("#message", "straße\u{E007}");
    let answers = browser.wait_answers(3);
    assert_eq!(answers[2], "STRASSE");
}

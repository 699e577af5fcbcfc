//! The web framing end to end: the page over HTTP/1.1 and the WebSocket on
//! `/ws`, against the real binary on 127.0.0.1 port 0.
//!
//! Two independent clients: the `tungstenite` crate (its own handshake,
//! masking, framing and reassembly) and hand-made frames over a plain
//! `TcpStream` (a tiny masked-frame encoder and server-frame parser here),
//! for fragmentation, exact answer frames and every error Close. Every
//! read is bounded by the socket timeouts of `common::connect`.

mod common;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::certs::Certs;
use common::*;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::coding::{Data, OpCode};
use tungstenite::protocol::frame::{CloseFrame, Frame};
use tungstenite::{Message, WebSocket};

/// The default `--max-payload`.
const MIB: usize = 1 << 20;

// ---- a WebSocket by tungstenite -------------------------------------------

/// A socket for tungstenite whose writes go out on a thread of their own:
/// a client may send a large message (or many) while the server's answers
/// stream back, and neither side waits for the other to read.
struct Duplex {
    read: TcpStream,
    tx: mpsc::Sender<Vec<u8>>,
}

impl Duplex {
    fn connect(addr: SocketAddr) -> Duplex {
        let read = connect(addr);
        let mut write = read.try_clone().unwrap();
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        thread::spawn(move || {
            let mut failed = false;
            for chunk in rx {
                // After a failed write (the server closed), later chunks
                // are dropped: the test reads what the server said.
                failed = failed || write.write_all(&chunk).is_err();
            }
        });
        Duplex { read, tx }
    }
}

impl Read for Duplex {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read.read(buf)
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .send(buf.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The client handshake by tungstenite over `stream` (it checks the
/// server's `Sec-WebSocket-Accept` against its own random key).
fn ws_over<S: Read + Write>(url: &str, stream: S) -> WebSocket<S> {
    match tungstenite::client(url, stream) {
        Ok((ws, response)) => {
            assert_eq!(response.status().as_u16(), 101);
            ws
        }
        Err(e) => panic!("WebSocket handshake with {url} failed: {e}"),
    }
}

fn ws(addr: SocketAddr) -> WebSocket<Duplex> {
    ws_over(&format!("ws://{addr}/ws"), Duplex::connect(addr))
}

/// The next message that is not a Pong.
fn next<S: Read + Write>(ws: &mut WebSocket<S>) -> Message {
    loop {
        match ws.read() {
            Ok(Message::Pong(_)) => continue,
            Ok(m) => return m,
            Err(e) => panic!("read a message: {e}"),
        }
    }
}

fn text<S: Read + Write>(ws: &mut WebSocket<S>) -> String {
    match next(ws) {
        Message::Text(t) => t.as_str().to_owned(),
        m => panic!("expected a text message, got {m:?}"),
    }
}

/// Reads until the server's Close; its code and reason.
fn close_of<S: Read + Write>(ws: &mut WebSocket<S>) -> (u16, String) {
    match ws.read() {
        Ok(Message::Close(Some(f))) => (u16::from(f.code), f.reason.to_string()),
        Ok(Message::Close(None)) => panic!("Close without a status code"),
        Ok(m) => panic!("expected Close, got {m:?}"),
        Err(e) => panic!("expected Close, got the error {e}"),
    }
}

/// After the Close handshake the connection ends (tungstenite says so, or
/// the socket ended or was reset under it).
fn ends<S: Read + Write>(ws: &mut WebSocket<S>) {
    match ws.read() {
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
        Err(tungstenite::Error::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ) => {}
        other => panic!("expected the end of the connection, got {other:?}"),
    }
}

// ---- hand-made frames -------------------------------------------------------

const MASK: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

// First bytes: FIN bit | opcode.
const FIN: u8 = 0x80;
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BIN: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// A client frame: first byte `b0` (FIN, RSV, opcode as given), `payload`
/// masked with `mask` when there is one.
fn encode(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut f = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        f.push(m | len as u8);
    } else if len <= 0xFFFF {
        f.push(m | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(m | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(k) => {
            f.extend_from_slice(&k);
            f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i & 3]));
        }
        None => f.extend_from_slice(payload),
    }
    f
}

/// A masked client frame.
fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    encode(b0, payload, Some(MASK))
}

/// A masked client frame header announcing `len` bytes (the payload is
/// the caller's business).
fn header_only(b0: u8, len: u64) -> Vec<u8> {
    let mut f = vec![b0, 0x80 | 127];
    f.extend_from_slice(&len.to_be_bytes());
    f.extend_from_slice(&MASK);
    f
}

/// A server frame.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WsFrame {
    fin: bool,
    opcode: u8,
    payload: Vec<u8>,
}

impl WsFrame {
    fn new(fin: bool, opcode: u8, payload: &[u8]) -> WsFrame {
        WsFrame {
            fin,
            opcode,
            payload: payload.to_vec(),
        }
    }

    /// The status code of a Close.
    fn code(&self) -> Option<u16> {
        assert_eq!(self.opcode, CLOSE, "not a Close: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    fn reason(&self) -> &[u8] {
        &self.payload[2.min(self.payload.len())..]
    }
}

/// Reads one server frame (never masked, no reserved bit); `None` when
/// the connection ends before its first byte.
fn read_frame(s: &mut impl Read) -> Option<WsFrame> {
    let mut h = [0u8; 2];
    match s.read(&mut h[..1]) {
        Ok(0) => return None,
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("read a frame header: {e}"),
    }
    s.read_exact(&mut h[1..]).expect("frame header");
    assert_eq!(h[0] & 0x70, 0, "server frame with a reserved bit: {h:?}");
    assert_eq!(h[1] & 0x80, 0, "masked server frame: {h:?}");
    let len = match h[1] & 0x7F {
        126 => {
            let mut l = [0u8; 2];
            s.read_exact(&mut l).unwrap();
            u64::from(u16::from_be_bytes(l))
        }
        127 => {
            let mut l = [0u8; 8];
            s.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l)
        }
        n => u64::from(n),
    };
    let mut payload = vec![0u8; len as usize];
    s.read_exact(&mut payload).expect("frame payload");
    Some(WsFrame {
        fin: h[0] & 0x80 != 0,
        opcode: h[0] & 0x0F,
        payload,
    })
}

/// Reads frames until the server's Close, then checks that the connection
/// ends: the frames before the Close, and the Close.
fn until_close(s: &mut TcpStream) -> (Vec<WsFrame>, WsFrame) {
    let mut before = Vec::new();
    loop {
        let f = read_frame(s).unwrap_or_else(|| {
            panic!("the connection ended without a Close; frames before: {before:?}")
        });
        if f.opcode == CLOSE {
            let mut rest = Vec::new();
            match s.read_to_end(&mut rest) {
                Ok(_) => assert!(rest.is_empty(), "bytes after Close: {rest:?}"),
                Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}"),
            }
            return (before, f);
        }
        before.push(f);
    }
}

/// Data frames joined into messages: (opcode, payload), checking that
/// continuations continue and every message ends.
fn messages(frames: &[WsFrame]) -> Vec<(u8, Vec<u8>)> {
    let mut out: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut open = false;
    for f in frames.iter().filter(|f| f.opcode < 8) {
        if open {
            assert_eq!(f.opcode, CONT, "new message inside one: {frames:?}");
            out.last_mut().unwrap().1.extend_from_slice(&f.payload);
        } else {
            assert_ne!(f.opcode, CONT, "continuation with no message: {frames:?}");
            out.push((f.opcode, f.payload.clone()));
        }
        open = !f.fin;
    }
    assert!(!open, "unfinished message: {frames:?}");
    out
}

/// The example key of RFC 6455 section 1.3 and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads an HTTP response head, byte by byte (nothing after it).
fn read_head(s: &mut impl Read) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16384, "head too long: {head:?}");
        s.read_exact(&mut b).expect("read the response head");
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Checks a 101 response head.
fn check_101(head: &str) {
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let h = headers(head);
    assert_eq!(
        h.get("sec-websocket-accept").map(String::as_str),
        Some(ACCEPT),
        "{head}"
    );
    assert!(h["upgrade"].eq_ignore_ascii_case("websocket"), "{head}");
    assert!(
        h["connection"].to_ascii_lowercase().contains("upgrade"),
        "{head}"
    );
    assert!(!h.contains_key("sec-websocket-extensions"), "{head}");
    assert!(!h.contains_key("sec-websocket-protocol"), "{head}");
}

/// A WebSocket by hand: the handshake (asking for a compression
/// extension and a subprotocol, which must not be negotiated) and its 101.
fn raw_ws(addr: SocketAddr) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(
        upgrade_request(
            "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Protocol: chat\r\n",
        )
        .as_bytes(),
    )
    .unwrap();
    check_101(&read_head(&mut s));
    s
}

/// Sends `input` on a fresh WebSocket; every frame up to the Close, and it.
fn raw_session(addr: SocketAddr, input: &[u8]) -> (Vec<WsFrame>, WsFrame) {
    let mut s = raw_ws(addr);
    s.write_all(input).unwrap();
    until_close(&mut s)
}

// ---- HTTP ------------------------------------------------------------------

/// Header names (lowercase) to values.
fn headers(head: &str) -> HashMap<String, String> {
    head.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

struct Response {
    status: u16,
    head: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Sends `request` and reads until the server closes; the response,
/// checked for `Content-Length` (equal to the body's length) and
/// `Connection: close`, which every status but 101 carries.
fn http(addr: SocketAddr, request: &[u8]) -> Response {
    let mut s = connect(addr);
    s.write_all(request).unwrap();
    response(&mut s)
}

/// Reads a response until the server closes, checked as [`http`] says.
fn response(s: &mut TcpStream) -> Response {
    let all = read_all(s);
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&all)));
    let head = String::from_utf8(all[..split + 4].to_vec()).unwrap();
    let body = all[split + 4..].to_vec();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let headers = headers(&head);
    let length: usize = headers
        .get("content-length")
        .unwrap_or_else(|| panic!("no Content-Length: {head}"))
        .parse()
        .unwrap();
    assert_eq!(
        length,
        body.len(),
        "Content-Length against the body: {head}"
    );
    assert_eq!(
        headers.get("connection").map(|v| v.to_ascii_lowercase()),
        Some("close".into()),
        "{head}"
    );
    Response {
        status,
        head,
        headers,
        body,
    }
}

fn status(addr: SocketAddr, request: &str) -> u16 {
    http(addr, request.as_bytes()).status
}

/// The page checks: 200, HTML, self-contained, names `transform`.
fn check_page(r: &Response, transform: &str) {
    assert_eq!(r.status, 200, "{}", r.head);
    assert!(r.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", r.head);
    assert_eq!(
        r.headers.get("content-type").map(String::as_str),
        Some("text/html; charset=utf-8"),
        "{}",
        r.head
    );
    let body = String::from_utf8(r.body.clone()).expect("the page is UTF-8");
    let meta = format!(r#"<meta name="shout-transform" content="{transform}">"#);
    assert!(body.contains(&meta), "no {meta} in the page");
    assert!(!body.contains("{{"), "an unfilled marker in the page");
    for external in ["http://", "https://", "src=", "url(", "@import"] {
        assert!(!body.contains(external), "the page has {external}");
    }
    for id in [
        "id=\"message\"",
        "id=\"send\"",
        "id=\"state\"",
        "id=\"answers\"",
    ] {
        assert!(body.contains(id), "the page has no {id}");
    }
    assert!(body.contains("/ws"), "the page does not connect to /ws");
    assert!(body.trim_end().ends_with("</html>"), "the page is cut");
}

const PAGE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n";

// ---- WebSocket by tungstenite ------------------------------------------------

#[test]
fn text_and_binary_messages_are_answered_in_order_and_close_is_echoed() {
    let server = Serve::start(&[]);
    let mut ws = ws(server.addr);
    ws.send(Message::text("hello, web")).unwrap();
    ws.send(Message::binary(vec![b'a', 0, 0xFF, b'z', 0x80]))
        .unwrap();
    ws.send(Message::text("Mixed Case 123 é")).unwrap();
    ws.send(Message::text("")).unwrap();
    assert_eq!(text(&mut ws), "HELLO, WEB");
    match next(&mut ws) {
        Message::Binary(b) => assert_eq!(&b[..], &[b'A', 0, 0xFF, b'Z', 0x80]),
        m => panic!("expected binary, got {m:?}"),
    }
    // ascii: only a-z change.
    assert_eq!(text(&mut ws), "MIXED CASE 123 é");
    assert_eq!(text(&mut ws), "");
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .unwrap();
    assert_eq!(close_of(&mut ws).0, 1000);
    ends(&mut ws);
}

#[test]
fn many_pipelined_messages_are_answered_in_order() {
    let server = Serve::start(&[]);
    let mut ws = ws(server.addr);
    let n = 2000;
    for i in 0..n {
        let m = if i % 3 == 0 {
            Message::binary(format!("binary message {i}").into_bytes())
        } else {
            Message::text(format!("text message {i} {}", "x".repeat(i % 300)))
        };
        ws.write(m).unwrap();
    }
    ws.flush().unwrap();
    for i in 0..n {
        match next(&mut ws) {
            Message::Binary(b) if i % 3 == 0 => {
                assert_eq!(&b[..], format!("BINARY MESSAGE {i}").as_bytes())
            }
            Message::Text(t) if i % 3 != 0 => assert_eq!(
                t.as_str(),
                format!("TEXT MESSAGE {i} {}", "X".repeat(i % 300))
            ),
            m => panic!("answer {i}: {m:?}"),
        }
    }
    ws.close(None).unwrap();
    // A Close with no status is echoed with none.
    match ws.read() {
        Ok(Message::Close(None)) => {}
        other => panic!("expected an empty Close, got {other:?}"),
    }
    ends(&mut ws);
}

#[test]
fn a_message_of_max_payload_is_answered_and_one_byte_more_closes_1009() {
    let server = Serve::start(&[]);
    let big: String = (0..MIB).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let mut ws = ws(server.addr);
    ws.send(Message::text(big.clone())).unwrap();
    assert_eq!(text(&mut ws), big.to_ascii_uppercase());
    let bin: Vec<u8> = (0..MIB).map(|i| (i * 7) as u8).collect();
    ws.send(Message::binary(bin.clone())).unwrap();
    match next(&mut ws) {
        Message::Binary(b) => assert!(b[..] == bin.to_ascii_uppercase()[..], "1 MiB binary"),
        m => panic!("expected binary, got {m:?}"),
    }
    ws.send(Message::text("still here")).unwrap();
    assert_eq!(text(&mut ws), "STILL HERE");

    let mut ws2 = self::ws(server.addr);
    ws2.send(Message::text("before")).unwrap();
    ws2.send(Message::text(format!("{big}a"))).unwrap();
    assert_eq!(text(&mut ws2), "BEFORE");
    let (code, reason) = close_of(&mut ws2);
    assert_eq!(code, 1009, "reason {reason:?}");
    ends(&mut ws2);

    // The first connection is unaffected.
    ws.send(Message::text("last")).unwrap();
    assert_eq!(text(&mut ws), "LAST");
}

#[test]
fn a_fragmented_message_is_answered_as_one_message() {
    let server = Serve::start(&[]);
    let mut ws = ws(server.addr);
    let parts = ["frag", "mented ", "", "message"];
    for (i, p) in parts.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let fin = i == parts.len() - 1;
        ws.write(Message::Frame(Frame::message(
            p.as_bytes().to_vec(),
            opcode,
            fin,
        )))
        .unwrap();
        if i == 1 {
            // A control frame between fragments is allowed.
            ws.write(Message::Ping(b"mid".to_vec().into())).unwrap();
        }
    }
    ws.send(Message::text("next")).unwrap();
    // tungstenite joins the answer's fragments (the Pong is skipped).
    assert_eq!(text(&mut ws), "FRAGMENTED MESSAGE");
    assert_eq!(text(&mut ws), "NEXT");
}

#[test]
fn ping_is_answered_by_pong_with_the_same_payload() {
    let server = Serve::start(&[]);
    let mut ws = ws(server.addr);
    for payload in [&b""[..], b"ping me", &[b'x'; 125][..], &[0u8, 0xFF, b'a']] {
        ws.send(Message::Ping(payload.to_vec().into())).unwrap();
        match ws.read().unwrap() {
            // Untransformed.
            Message::Pong(p) => assert_eq!(&p[..], payload),
            m => panic!("expected Pong, got {m:?}"),
        }
    }
    // An unsolicited Pong is ignored.
    ws.send(Message::Pong(b"unsolicited".to_vec().into()))
        .unwrap();
    ws.send(Message::text("after pong")).unwrap();
    assert_eq!(text(&mut ws), "AFTER PONG");
}

#[test]
fn unicode_transform_uppercases_full_unicode() {
    let server = Serve::start(&["--transform", "unicode"]);
    let page = http(server.addr, PAGE_REQUEST);
    check_page(&page, "unicode");

    let mut ws = ws(server.addr);
    ws.send(Message::text("straße")).unwrap();
    assert_eq!(text(&mut ws), "STRASSE");
    ws.send(Message::text("ŉ é ǆ ﬃ")).unwrap();
    assert_eq!(text(&mut ws), "ʼN É Ǆ FFI");
    // A binary message: UTF-8 uppercased, other bytes unchanged.
    ws.send(Message::binary(b"stra\xc3\x9fe \xff ok".to_vec()))
        .unwrap();
    match next(&mut ws) {
        Message::Binary(b) => assert_eq!(&b[..], [&b"STRASSE "[..], &[0xFF], b" OK"].concat()),
        m => panic!("expected binary, got {m:?}"),
    }
    // Messages of max_payload: an answer of the same length, and one
    // longer than max_payload (ß becomes SS: the answer's length is not
    // the limit's business).
    let a: String = (0..MIB).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    ws.send(Message::text(a.clone())).unwrap();
    assert_eq!(text(&mut ws), a.to_uppercase());
    let sharp = "ß".repeat(MIB / 2);
    ws.send(Message::text(sharp)).unwrap();
    assert_eq!(text(&mut ws), "SS".repeat(MIB / 2));
    // Over it: 1009.
    ws.send(Message::text(format!("{a}a"))).unwrap();
    assert_eq!(close_of(&mut ws).0, 1009);
    ends(&mut ws);
    // Not UTF-8: 1007 here too.
    let mut input = masked(FIN | TEXT, "é".as_bytes());
    input.extend(masked(FIN | TEXT, b"\xff"));
    let (frames, close) = raw_session(server.addr, &input);
    assert_eq!(frames[0], WsFrame::new(true, TEXT, "É".as_bytes()));
    assert_eq!(close.code(), Some(1007), "{frames:?} {close:?}");

    // A character split across two fragments of a text message: the
    // message as a whole is transformed.
    let mut s = raw_ws(server.addr);
    let mut input = masked(TEXT, b"stra\xc3");
    input.extend(masked(FIN | CONT, b"\x9fe"));
    input.extend(masked(FIN | CLOSE, &1000u16.to_be_bytes()));
    s.write_all(&input).unwrap();
    let (frames, close) = until_close(&mut s);
    assert_eq!(
        messages(&frames),
        vec![(TEXT, "STRASSE".as_bytes().to_vec())],
        "{frames:?}"
    );
    assert_eq!(close.code(), Some(1000));
}

// ---- WebSocket by hand -------------------------------------------------------

#[test]
fn fragments_are_mirrored_one_answer_frame_per_client_frame() {
    let server = Serve::start(&[]);
    let mut input = masked(TEXT, b"hel");
    input.extend(masked(CONT, b"lo "));
    input.extend(masked(FIN | PING, b"p"));
    input.extend(masked(FIN | PONG, b"ignored"));
    input.extend(masked(CONT, b""));
    input.extend(masked(FIN | CONT, b"world"));
    input.extend(masked(BIN, b"bi"));
    input.extend(masked(FIN | CONT, b"nary"));
    input.extend(masked(FIN | CLOSE, &[0x0F, 0xA0, b'o', b'k']));
    let (frames, close) = raw_session(server.addr, &input);
    assert_eq!(
        frames,
        vec![
            WsFrame::new(false, TEXT, b"HEL"),
            WsFrame::new(false, CONT, b"LO "),
            WsFrame::new(true, PONG, b"p"),
            WsFrame::new(false, CONT, b""),
            WsFrame::new(true, CONT, b"WORLD"),
            WsFrame::new(false, BIN, b"BI"),
            WsFrame::new(true, CONT, b"NARY"),
        ]
    );
    // The client's status code (4000) comes back.
    assert_eq!(close.code(), Some(4000));
}

#[test]
fn close_is_echoed_after_every_earlier_message() {
    let server = Serve::start(&[]);
    // Pipelined with the Close in one write: all answered first.
    let mut input = Vec::new();
    for i in 0..50 {
        input.extend(masked(FIN | TEXT, format!("m{i}").as_bytes()));
    }
    input.extend(masked(FIN | CLOSE, &1000u16.to_be_bytes()));
    // Bytes after Close are not answered.
    input.extend(masked(FIN | TEXT, b"after close"));
    let (frames, close) = raw_session(server.addr, &input);
    let want: Vec<(u8, Vec<u8>)> = (0..50)
        .map(|i| (TEXT, format!("M{i}").into_bytes()))
        .collect();
    assert_eq!(messages(&frames), want);
    assert_eq!(close.code(), Some(1000));

    // Every code a client may send comes back, its reason not needed.
    for code in [1000u16, 1001, 1008, 3000, 4999] {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(b"a reason");
        let (frames, close) = raw_session(server.addr, &masked(FIN | CLOSE, &payload));
        assert!(frames.is_empty(), "{frames:?}");
        assert_eq!(close.code(), Some(code));
    }
    // A Close with no status: a Close with none.
    let (frames, close) = raw_session(server.addr, &masked(FIN | CLOSE, b""));
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(close.payload, b"", "{close:?}");
}

#[test]
fn every_protocol_error_closes_1002_after_earlier_messages() {
    let server = Serve::start(&[]);
    let ok = masked(FIN | TEXT, b"ok");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked frame", encode(FIN | TEXT, b"plain", None)),
        (
            "unmasked close",
            encode(FIN | CLOSE, &1000u16.to_be_bytes(), None),
        ),
        ("RSV1", masked(FIN | 0x40 | TEXT, b"deflated?")),
        ("RSV2", masked(FIN | 0x20 | BIN, b"x")),
        ("RSV3", masked(FIN | 0x10 | PING, b"")),
        ("data opcode 3", masked(FIN | 0x3, b"x")),
        ("data opcode 7", masked(FIN | 0x7, b"")),
        ("control opcode 0xB", masked(FIN | 0xB, b"")),
        ("control opcode 0xF", masked(FIN | 0xF, b"x")),
        ("ping of 126 bytes", masked(FIN | PING, &[b'p'; 126])),
        ("close of 126 bytes", masked(FIN | CLOSE, &[3u8; 126])),
        ("pong of 200 bytes", masked(FIN | PONG, &[0u8; 200])),
        ("fragmented ping", masked(PING, b"half")),
        ("fragmented close", masked(CLOSE, &1000u16.to_be_bytes())),
        ("continuation alone", masked(FIN | CONT, b"orphan")),
        ("unfinished continuation alone", masked(CONT, b"orphan")),
        (
            "text inside a message",
            [masked(TEXT, b"first"), masked(FIN | TEXT, b"second")].concat(),
        ),
        (
            "binary inside a message",
            [masked(BIN, b"first"), masked(FIN | BIN, b"second")].concat(),
        ),
    ];
    for (why, bad) in cases {
        let mut input = ok.clone();
        input.extend_from_slice(&bad);
        // Never answered: after the error the server reads no more.
        input.extend(masked(FIN | TEXT, b"after"));
        let (frames, close) = raw_session(server.addr, &input);
        assert_eq!(close.code(), Some(1002), "{why}: {close:?}");
        let msgs: Vec<(u8, Vec<u8>)> = frames
            .iter()
            .filter(|f| f.fin)
            .map(|f| (f.opcode, f.payload.clone()))
            .collect();
        assert_eq!(msgs, vec![(TEXT, b"OK".to_vec())], "{why}: {frames:?}");
        if why.ends_with("inside a message") {
            // The first fragment was answered before the error.
            assert_eq!(frames.len(), 2, "{why}: {frames:?}");
            assert_eq!(frames[1].payload, b"FIRST", "{why}");
        }
    }
}

#[test]
fn a_text_message_that_is_not_utf8_closes_1007() {
    let server = Serve::start(&[]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a lone 0xFF", masked(FIN | TEXT, b"ab\xffcd")),
        ("an overlong encoding", masked(FIN | TEXT, b"\xc0\xaf")),
        ("a surrogate", masked(FIN | TEXT, b"\xed\xa0\x80")),
        ("cut at the end", masked(FIN | TEXT, b"abc\xc3")),
        (
            "cut at the end of fragments",
            [masked(TEXT, b"abc"), masked(FIN | CONT, b"d\xe2\x82")].concat(),
        ),
        (
            "bad in a later fragment",
            [masked(TEXT, b"fine "), masked(FIN | CONT, b"\x80")].concat(),
        ),
    ];
    // Long enough for the vector passes (which say whether a whole
    // payload is ASCII, and so whether UTF-8 is checked at all): one bad
    // byte in the first 32-byte block, a middle one, the tail.
    let long = |at: usize| {
        let mut t = b"shout at the browser, ".repeat(14)[..300].to_vec();
        t[at] = 0x80;
        t
    };
    let long_cases = [
        ("a long message, bad early", long(5)),
        ("a long message, bad in the middle", long(150)),
        ("a long message, bad in the tail", long(299)),
    ];
    let cases = cases.into_iter().chain(
        long_cases
            .iter()
            .map(|(why, t)| (*why, masked(FIN | TEXT, t))),
    );
    for (why, bad) in cases {
        let mut input = masked(FIN | TEXT, b"valid \xc3\xa9");
        input.extend_from_slice(&bad);
        input.extend(masked(FIN | TEXT, b"after"));
        let (frames, close) = raw_session(server.addr, &input);
        assert_eq!(close.code(), Some(1007), "{why}: {close:?}");
        // The valid message first; then at most (a part of) the bad one.
        assert_eq!(
            frames[0],
            WsFrame::new(true, TEXT, "VALID é".as_bytes()),
            "{why}"
        );
        for f in &frames[1..] {
            assert!(
                matches!(f.opcode, TEXT | CONT),
                "{why}: a frame other than the bad message's answer: {frames:?}"
            );
            assert!(
                !f.payload.starts_with(b"AFTER"),
                "{why}: answered after the error"
            );
        }
    }
    // Invalid UTF-8 in a binary message is just bytes.
    let mut input = masked(FIN | BIN, b"ab\xffcd");
    input.extend(masked(FIN | CLOSE, &1000u16.to_be_bytes()));
    let (frames, close) = raw_session(server.addr, &input);
    assert_eq!(frames, vec![WsFrame::new(true, BIN, b"AB\xffCD")]);
    assert_eq!(close.code(), Some(1000));
}

#[test]
fn a_message_over_max_payload_closes_1009_from_its_header() {
    let server = Serve::start(&[]);
    // A header announcing 1 MiB + 1, and not a byte of its payload: the
    // header alone is refused.
    let mut s = raw_ws(server.addr);
    let mut input = masked(FIN | TEXT, b"first");
    input.extend(header_only(FIN | TEXT, MIB as u64 + 1));
    s.write_all(&input).unwrap();
    let (frames, close) = until_close(&mut s);
    assert_eq!(frames, vec![WsFrame::new(true, TEXT, b"FIRST")]);
    assert_eq!(close.code(), Some(1009), "{close:?}");
    // A length with its top bit set.
    let (_, close) = raw_session(server.addr, &header_only(FIN | BIN, u64::MAX));
    assert_eq!(close.code(), Some(1009), "{close:?}");

    // Over the limit across fragments: the fragments within it are
    // answered, the one that shows the message too big is not.
    let small = Serve::start(&["--max-payload", "1000"]);
    let mut input = masked(TEXT, &[b'a'; 600]);
    input.extend(masked(CONT, &[b'b'; 400]));
    input.extend(masked(FIN | CONT, b"c"));
    let (frames, close) = raw_session(small.addr, &input);
    assert_eq!(
        frames,
        vec![
            WsFrame::new(false, TEXT, &[b'A'; 600]),
            WsFrame::new(false, CONT, &[b'B'; 400]),
        ]
    );
    assert_eq!(close.code(), Some(1009));
    // Exactly max_payload across fragments is fine.
    let mut input = masked(TEXT, &[b'a'; 600]);
    input.extend(masked(FIN | CONT, &[b'b'; 400]));
    input.extend(masked(FIN | CLOSE, &1000u16.to_be_bytes()));
    let (frames, close) = raw_session(small.addr, &input);
    assert_eq!(
        messages(&frames),
        vec![(TEXT, [[b'A'; 600].as_slice(), &[b'B'; 400]].concat())]
    );
    assert_eq!(close.code(), Some(1000));
}

#[test]
fn idle_timeout_closes_1001_idle_timeout() {
    let server = Serve::start(&["--idle-timeout", "0.5"]);
    let mut s = raw_ws(server.addr);
    s.write_all(&masked(FIN | TEXT, b"one")).unwrap();
    assert_eq!(read_frame(&mut s), Some(WsFrame::new(true, TEXT, b"ONE")));
    let t = Instant::now();
    let (frames, close) = until_close(&mut s);
    let waited = t.elapsed();
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(close.code(), Some(1001), "{close:?}");
    assert_eq!(close.reason(), b"idle timeout");
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "idle Close after {waited:?}"
    );

    // Quiet between two fragments of a message, and inside a frame
    // header: the same Close.
    for (why, input, answered) in [
        (
            "between fragments",
            masked(TEXT, b"half"),
            vec![WsFrame::new(false, TEXT, b"HALF")],
        ),
        (
            "inside a header",
            masked(FIN | TEXT, b"x")[..3].to_vec(),
            vec![],
        ),
    ] {
        let (frames, close) = raw_session(server.addr, &input);
        assert_eq!(frames, answered, "{why}");
        assert_eq!(close.code(), Some(1001), "{why}: {close:?}");
        assert_eq!(close.reason(), b"idle timeout", "{why}");
    }
}

/// A client that goes quiet inside a frame's payload (its header
/// announced more than it sent). Where the answer frame is already under
/// way (ascii answers cut-through; a Pong copies its Ping as it comes), a
/// Close cannot go inside it: the answer so far, then the connection
/// closes without a Close (PROTOCOL.md section 7 says so; the contract's
/// "idle timeout -> 1001" is kept everywhere else). Where the frame waits
/// whole first (unicode data), nothing is under way and Close 1001 comes.
#[test]
fn idle_timeout_inside_a_frame_payload() {
    for (args, under_way_data) in [
        (&["--idle-timeout", "0.5"][..], true),
        (&["--idle-timeout", "0.5", "--transform", "unicode"], false),
    ] {
        let server = Serve::start(args);
        for (why, b0, answer_header, under_way) in [
            ("a text frame", FIN | TEXT, [0x81u8, 0x0a], under_way_data),
            ("a binary frame", FIN | BIN, [0x82, 0x0a], under_way_data),
            ("a ping", FIN | PING, [0x8a, 0x0a], true),
        ] {
            // A header announcing 10 bytes, and 3 of them.
            let mut input = masked(b0, b"abcdefghij");
            input.truncate(2 + 4 + 3);
            let mut s = raw_ws(server.addr);
            s.write_all(&input).unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got);
            if under_way {
                let body: &[u8] = if b0 == FIN | PING { b"abc" } else { b"ABC" };
                let want = [&answer_header[..], body].concat();
                assert_eq!(got, want, "{args:?}, quiet inside {why}'s payload");
            } else {
                assert_eq!(
                    got,
                    b"\x88\x0e\x03\xe9idle timeout".to_vec(),
                    "{args:?}, quiet inside {why}'s payload"
                );
            }
        }
    }
}

#[test]
fn sigterm_finishes_the_message_in_progress_then_closes_1001_going_away() {
    let mut server = Serve::start(&["--drain-timeout", "5"]);
    // One WebSocket between messages, one inside a message.
    let mut idle = raw_ws(server.addr);
    idle.write_all(&masked(FIN | TEXT, b"idle one")).unwrap();
    assert_eq!(
        read_frame(&mut idle),
        Some(WsFrame::new(true, TEXT, b"IDLE ONE"))
    );
    let mut busy = raw_ws(server.addr);
    busy.write_all(&masked(TEXT, b"begun ")).unwrap();
    assert_eq!(
        read_frame(&mut busy),
        Some(WsFrame::new(false, TEXT, b"BEGUN "))
    );
    // Two HTTP requests whose heads have begun: the page, an upgrade.
    let mut page = connect(server.addr);
    page.write_all(&PAGE_REQUEST[..20]).unwrap();
    let upgrade = upgrade_request("");
    let mut upgrading = connect(server.addr);
    upgrading.write_all(&upgrade.as_bytes()[..40]).unwrap();
    thread::sleep(Duration::from_millis(100));

    server.signal("TERM");
    let (frames, close) = until_close(&mut idle);
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(close.code(), Some(1001));
    assert_eq!(close.reason(), b"going away");

    // The message in progress may still arrive whole and is answered.
    thread::sleep(Duration::from_millis(200));
    let mut rest = masked(CONT, b"and ");
    rest.extend(masked(FIN | CONT, b"finished"));
    busy.write_all(&rest).unwrap();
    let (frames, close) = until_close(&mut busy);
    assert_eq!(
        frames,
        vec![
            WsFrame::new(false, CONT, b"AND "),
            WsFrame::new(true, CONT, b"FINISHED"),
        ]
    );
    assert_eq!(close.code(), Some(1001));
    assert_eq!(close.reason(), b"going away");

    // The requests begun are answered: the page; the 101, then at once
    // the WebSocket's Close 1001.
    page.write_all(&PAGE_REQUEST[20..]).unwrap();
    check_page(&response(&mut page), "ascii");
    upgrading.write_all(&upgrade.as_bytes()[40..]).unwrap();
    check_101(&read_head(&mut upgrading));
    let (frames, close) = until_close(&mut upgrading);
    assert!(frames.is_empty(), "{frames:?}");
    assert_eq!(close.code(), Some(1001));
    assert_eq!(close.reason(), b"going away");

    let status = server.wait_exit(WAIT);
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
}

// ---- HTTP --------------------------------------------------------------------

#[test]
fn get_slash_serves_the_self_contained_page_and_closes() {
    for args in [&[][..], &["--framing", "web"]] {
        let server = Serve::start(args);
        let r = http(server.addr, PAGE_REQUEST);
        check_page(&r, "ascii");
        // HTTP/1.0, a query string, an empty body announced.
        let r = http(server.addr, b"GET /?x=1 HTTP/1.0\r\n\r\n");
        check_page(&r, "ascii");
        let r = http(server.addr, b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        check_page(&r, "ascii");
    }
    // The head may come a few bytes at a time.
    let server = Serve::start(&[]);
    let mut s = connect(server.addr);
    for chunk in PAGE_REQUEST.chunks(3) {
        s.write_all(chunk).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    let all = read_all(&mut s);
    assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[test]
fn an_unknown_path_is_404() {
    let server = Serve::start(&[]);
    for path in ["/index.html", "/ws/", "/wss", "/favicon.ico", "//"] {
        let r = http(
            server.addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 404, "{path}: {}", r.head);
        assert!(
            r.head.starts_with("HTTP/1.1 404 Not Found\r\n"),
            "{}",
            r.head
        );
    }
}

#[test]
fn bad_requests_are_400() {
    let server = Serve::start(&[]);
    let ws = |drop: &str, add: &str| {
        let mut head = String::from("GET /ws HTTP/1.1\r\nHost: x\r\n");
        for (name, value) in [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", KEY),
        ] {
            if name != drop {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(add);
        head.push_str("\r\n");
        head
    };
    let cases: Vec<(&str, String)> = vec![
        ("no version", "GET /\r\n\r\n".into()),
        ("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n".into()),
        ("garbage version", "GET / FTP/1.1\r\n\r\n".into()),
        ("no target", "GET  HTTP/1.1\r\n\r\n".into()),
        (
            "bad header line",
            "GET / HTTP/1.1\r\nno colon here\r\n\r\n".into(),
        ),
        (
            "a body",
            "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello".into(),
        ),
        (
            "a chunked body",
            "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".into(),
        ),
        (
            "GET /ws with no handshake",
            "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        ),
        ("no Upgrade", ws("Upgrade", "")),
        ("no Connection", ws("Connection", "")),
        ("no version header", ws("Sec-WebSocket-Version", "")),
        ("no key", ws("Sec-WebSocket-Key", "")),
        ("Upgrade: h2c", ws("Upgrade", "Upgrade: h2c\r\n")),
        (
            "Connection: keep-alive",
            ws("Connection", "Connection: keep-alive\r\n"),
        ),
        (
            "a key of 15 bytes",
            ws(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n",
            ),
        ),
        (
            "a key that is not base64",
            ws(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n",
            ),
        ),
    ];
    for (why, request) in &cases {
        let r = http(server.addr, request.as_bytes());
        assert_eq!(r.status, 400, "{why}: {}", r.head);
        assert!(
            r.head.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{why}: {}",
            r.head
        );
    }
    // A well-formed variant is accepted: case-insensitive tokens, the
    // Upgrade token among others.
    let mut s = connect(server.addr);
    s.write_all(
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nsec-websocket-version: 13\r\nsec-websocket-key: {KEY}\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    check_101(&read_head(&mut s));

    // Another method, or no HTTP at all, on an explicit web server.
    let web = Serve::start(&["--framing", "web"]);
    for request in [
        "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        "HEAD / HTTP/1.1\r\n\r\n",
        "PUT /ws HTTP/1.1\r\n\r\n",
        "get / HTTP/1.1\r\n\r\n",
        "hello\n",
    ] {
        let r = http(web.addr, request.as_bytes());
        assert_eq!(r.status, 400, "{request:?}: {}", r.head);
    }
    let r = http(web.addr, PAGE_REQUEST);
    check_page(&r, "ascii");
}

#[test]
fn another_websocket_version_is_426_naming_13() {
    let server = Serve::start(&[]);
    for version in ["8", "12", "14", "0"] {
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
        );
        let r = http(server.addr, request.as_bytes());
        assert_eq!(r.status, 426, "version {version}: {}", r.head);
        assert!(
            r.head.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{}",
            r.head
        );
        assert_eq!(
            r.headers.get("sec-websocket-version").map(String::as_str),
            Some("13"),
            "{}",
            r.head
        );
    }
}

#[test]
fn a_head_over_8192_bytes_is_431() {
    let server = Serve::start(&[]);
    let head_of = |total: usize| {
        let start = "GET / HTTP/1.1\r\nX-Pad: ";
        let end = "\r\n\r\n";
        let pad = total - start.len() - end.len();
        format!("{start}{}{end}", "a".repeat(pad))
    };
    let r = http(server.addr, head_of(9000).as_bytes());
    assert_eq!(r.status, 431, "{}", r.head);
    assert!(
        r.head
            .starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{}",
        r.head
    );
    // 8192 bytes exactly is a head; one more is not.
    check_page(&http(server.addr, head_of(8192).as_bytes()), "ascii");
    assert_eq!(status(server.addr, &head_of(8193)), 431);
    // Many header lines, each short, over the limit together.
    let mut many = String::from("GET / HTTP/1.1\r\n");
    while many.len() < 9000 {
        many.push_str("X-A: b\r\n");
    }
    many.push_str("\r\n");
    assert_eq!(status(server.addr, &many), 431);
}

// ---- auto: the `GET ` rule -----------------------------------------------------

#[test]
fn auto_waits_on_a_prefix_of_get_and_answers_it_raw_at_the_end() {
    let server = Serve::start(&["--idle-timeout", "1"]);
    assert_eq!(exchange(server.addr, b"G"), b"G");
    assert_eq!(exchange(server.addr, b"GE"), b"GE");
    assert_eq!(exchange(server.addr, b"GET"), b"GET");
    assert_eq!(exchange(server.addr, b"Gx"), b"GX");
    assert_eq!(exchange(server.addr, b"GEx and more"), b"GEX AND MORE");
    assert_eq!(exchange(server.addr, b"GETx"), b"GETX");
    assert_eq!(exchange(server.addr, b"GEt lost"), b"GET LOST");
    assert_eq!(
        exchange(server.addr, b"get / HTTP/1.1\r\n\r\n"),
        b"GET / HTTP/1.1\r\n\r\n"
    );
    assert_eq!(exchange(server.addr, b"hello"), b"HELLO");

    // The prefix arrives first, the rest later: still the page.
    let mut s = connect(server.addr);
    s.write_all(b"GE").unwrap();
    thread::sleep(Duration::from_millis(150));
    s.write_all(&PAGE_REQUEST[2..]).unwrap();
    let all = read_all(&mut s);
    assert!(
        all.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "{:?}",
        String::from_utf8_lossy(&all)
    );

    // A prefix that idles out is answered as raw, then closed.
    let mut s = connect(server.addr);
    s.write_all(b"GET").unwrap();
    let t = Instant::now();
    assert_eq!(read_all(&mut s), b"GET");
    assert!(
        t.elapsed() >= Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );

    // A plain socket client that sends `hello` and reads `HELLO`, kept
    // open (raw streams).
    let mut s = connect(server.addr);
    s.write_all(b"hello").unwrap();
    assert_eq!(read_n(&mut s, 5), b"HELLO");
    s.write_all(b" again").unwrap();
    assert_eq!(read_n(&mut s, 6), b" AGAIN");

    // A frame client.
    let mut input = HELLO.to_vec();
    input.extend(frame(1, b"get me"));
    input.extend(frame(4, b""));
    let mut want = server_hello(MIB as u32);
    want.extend(frame(1, b"GET ME"));
    want.extend(frame(4, b""));
    assert_eq!(exchange(server.addr, &input), want);

    // And a WebSocket on the same port.
    let mut ws = ws(server.addr);
    ws.send(Message::text("same port")).unwrap();
    assert_eq!(text(&mut ws), "SAME PORT");
}

// ---- TLS -----------------------------------------------------------------------

/// A rustls client trusting `certs`' certificate, for `localhost`.
fn tls_connect(
    certs: &Certs,
    addr: SocketAddr,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(certs.cert()).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(conn, connect(addr))
}

#[test]
fn page_and_websocket_over_tls() {
    let certs = Certs::new();
    for extra in [&[][..], &["--framing", "web"]] {
        let server = certs.serve(extra);

        // https: the page, then the server's close_notify (read_to_end
        // ends cleanly only on it).
        let mut tls = tls_connect(&certs, server.addr);
        tls.write_all(PAGE_REQUEST).unwrap();
        let mut all = Vec::new();
        tls.read_to_end(&mut all)
            .expect("the page over TLS, ended by close_notify");
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(all[..split + 4].to_vec()).unwrap();
        let h = headers(&head);
        let body = all[split + 4..].to_vec();
        assert_eq!(h["content-length"].parse::<usize>().unwrap(), body.len());
        check_page(
            &Response {
                status: 200,
                headers: h,
                head,
                body,
            },
            "ascii",
        );

        // wss: tungstenite over the rustls stream.
        let mut ws = ws_over("wss://localhost/ws", tls_connect(&certs, server.addr));
        ws.send(Message::text("over tls")).unwrap();
        ws.send(Message::binary(b"bytes \x00\xff".to_vec()))
            .unwrap();
        ws.send(Message::Ping(b"tls ping".to_vec().into())).unwrap();
        let big = "z".repeat(200_000);
        ws.send(Message::text(big.clone())).unwrap();
        assert_eq!(text(&mut ws), "OVER TLS");
        match next(&mut ws) {
            Message::Binary(b) => assert_eq!(&b[..], b"BYTES \x00\xff"),
            m => panic!("expected binary, got {m:?}"),
        }
        assert_eq!(text(&mut ws), big.to_ascii_uppercase());
        ws.close(Some(CloseFrame {
            code: CloseCode::Away,
            reason: "".into(),
        }))
        .unwrap();
        assert_eq!(close_of(&mut ws).0, 1001);
        match ws.read() {
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {}
            other => panic!("expected the end over TLS, got {other:?}"),
        }
    }
}

// ---- metrics -------------------------------------------------------------------

#[test]
fn metrics_count_web_sessions_and_messages() {
    let server = Serve::start(&["--metrics", "127.0.0.1:0"]);
    let metrics = server.metrics_addr();
    let before = scrape(metrics);
    assert_eq!(value(&before, r#"shout_sessions_total{framing="web"}"#), 0);
    assert_eq!(value(&before, r#"shout_requests_total{framing="web"}"#), 0);

    check_page(&http(server.addr, PAGE_REQUEST), "ascii");
    let mut ws = ws(server.addr);
    for m in ["one", "two", "three"] {
        ws.send(Message::text(m)).unwrap();
        assert_eq!(text(&mut ws), m.to_uppercase());
    }
    ws.close(None).unwrap();
    assert!(matches!(ws.read().unwrap(), Message::Close(None)));
    ends(&mut ws);
    // Closed on this side too: the server's linger ends, the close counts.
    drop(ws);

    let sessions = r#"shout_sessions_total{framing="web"}"#;
    let requests = r#"shout_requests_total{framing="web"}"#;
    let closes = |reason: &str| format!(r#"shout_session_closes_total{{reason="{reason}"}}"#);
    let deadline = Instant::now() + WAIT;
    let m = loop {
        let m = scrape(metrics);
        let now = (
            value(&m, sessions),
            value(&m, requests),
            value(&m, &closes("end")),
        );
        if now == (2, 3, 2) || Instant::now() > deadline {
            break m;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(value(&m, sessions), 2, "web sessions");
    assert_eq!(value(&m, requests), 3, "web requests");
    for other in ["raw", "line", "frame"] {
        assert_eq!(
            value(&m, &format!(r#"shout_sessions_total{{framing="{other}"}}"#)),
            0,
            "{other} sessions"
        );
    }
    // The page and the WebSocket Close: both ended normally.
    assert_eq!(value(&m, &closes("end")), 2, "closes by end");
    assert_eq!(value(&m, &closes("protocol_error")), 0);

    // An HTTP error status and a WebSocket error Close are protocol errors.
    assert_eq!(status(server.addr, "GET /nowhere HTTP/1.1\r\n\r\n"), 404);
    let (_, close) = raw_session(server.addr, &masked(FIN | 0x3, b""));
    assert_eq!(close.code(), Some(1002));
    let deadline = Instant::now() + WAIT;
    let m = loop {
        let m = scrape(metrics);
        if value(&m, &closes("protocol_error")) == 2 || Instant::now() > deadline {
            break m;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        value(&m, &closes("protocol_error")),
        2,
        "closes by protocol error"
    );
    assert_eq!(value(&m, sessions), 4, "web sessions");
    assert_eq!(value(&m, requests), 3, "web requests");
}

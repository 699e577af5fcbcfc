//! `shout send`: a small blocking client for the three framings.
//!
//! Requests are written by a second thread while the main thread reads
//! and prints the answers, so a message of any size flows through the
//! server's backpressure instead of deadlocking on full socket buffers.
//! In frame framing the two threads share nothing but a channel: the
//! writer owns a [`RequestEncoder`] and tells the reader which request it
//! sent; the reader owns a [`ReplyDecoder`], which checks each answer
//! against the oldest request waiting. The writer does not wait for the
//! server's HELLO (the contract lets a client send right after its own),
//! so a message over the server's limit is always the server's to refuse,
//! with ERROR 4, whatever the threads' timing.

mod stream;
mod web;

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;

use shout_core::wire::{ErrorCode, Kind};
use shout_core::{Framing, Reply, ReplyDecoder, RequestEncoder};

use crate::cli::{ClientFraming, SendArgs};
use stream::Stream;
pub use stream::TlsTarget;

/// Where `shout send` connects, and whether over TLS.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The server's address.
    pub addr: SocketAddr,
    /// TLS to it, the certificate checked.
    pub tls: Option<TlsTarget>,
}

impl Endpoint {
    /// Plain TCP to `addr`.
    pub fn plain(addr: SocketAddr) -> Endpoint {
        Endpoint { addr, tls: None }
    }
}

/// Why `shout send` failed, and so its exit status.
#[derive(Debug)]
pub enum SendError {
    /// Refused before connecting (status 2).
    Usage(String),
    /// The connection, the server or the local side failed (status 1).
    Failed(String),
}

impl SendError {
    /// The process exit status for this failure.
    pub fn exit_status(&self) -> i32 {
        match self {
            SendError::Usage(_) => 2,
            SendError::Failed(_) => 1,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Usage(m) | SendError::Failed(m) => f.write_str(m),
        }
    }
}

type Result<T> = std::result::Result<T, SendError>;

fn failed(msg: impl Into<String>) -> SendError {
    SendError::Failed(msg.into())
}

/// Runs `shout send`, answers to standard output.
pub fn run(args: &SendArgs) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let messages = (!args.messages.is_empty()).then_some(&args.messages[..]);
    let endpoint = args.endpoint().map_err(SendError::Usage)?;
    let result = send(args.framing, &endpoint, messages, &mut out);
    let _ = out.flush();
    result
}

/// Sends `messages` (or standard input when `None`) to `to` and writes
/// the answers to `out`.
pub fn send(
    framing: ClientFraming,
    to: &Endpoint,
    messages: Option<&[String]>,
    out: &mut dyn Write,
) -> Result<()> {
    match framing {
        ClientFraming::Frame => frame(to, messages, out),
        ClientFraming::Line => line(to, messages, out),
        ClientFraming::Raw => raw(to, messages, out),
        ClientFraming::Web => web::web(to, messages, out),
    }
}

fn connect(to: &Endpoint) -> Result<Stream> {
    Stream::connect(to.addr, to.tls.as_ref()).map_err(failed)
}

fn write_out(out: &mut dyn Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes)
        .map_err(|e| failed(format!("cannot write to standard output: {e}")))
}

fn read_err(e: io::Error) -> SendError {
    match e.kind() {
        io::ErrorKind::ConnectionReset => failed("the server reset the connection"),
        _ => failed(format!("reading from the server: {e}")),
    }
}

/// Runs `write` on a thread with its own handle to the connection.
fn spawn_writer<F>(stream: &Stream, write: F) -> Result<thread::JoinHandle<Result<()>>>
where
    F: FnOnce(BufWriter<Stream>) -> Result<()> + Send + 'static,
{
    let w = stream
        .try_clone()
        .map_err(|e| failed(format!("cannot share the socket: {e}")))?;
    Ok(thread::spawn(move || {
        write(BufWriter::with_capacity(64 * 1024, w))
    }))
}

/// Joins the writer. A reader error is reported at once (the writer may
/// be blocked on standard input and does not matter any more). When the
/// server ended the exchange while the writer still had input to send,
/// that is an error too.
fn finish(writer: thread::JoinHandle<Result<()>>, read: Result<()>) -> Result<()> {
    read?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while !writer.is_finished() {
        if std::time::Instant::now() >= deadline {
            return Err(failed(
                "the server ended the connection before everything was sent",
            ));
        }
        thread::sleep(std::time::Duration::from_millis(2));
    }
    writer
        .join()
        .unwrap_or_else(|_| Err(failed("the sending thread failed")))
}

fn sent(e: io::Error) -> SendError {
    failed(format!("sending to the server: {e}"))
}

/// Lines of standard input, one at a time, each with its LF (the last one
/// may have none).
fn for_each_stdin_line(mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| failed(format!("reading standard input: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        each(&line)?;
    }
}

/// A line without its LF or CRLF.
fn without_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

// ---- frame -------------------------------------------------------------

fn frame(to: &Endpoint, messages: Option<&[String]>, out: &mut dyn Write) -> Result<()> {
    let stream = connect(to)?;
    let mut replies = ReplyDecoder::new(Framing::Frame);
    let (sent_tx, sent_rx) = mpsc::channel::<Kind>();
    let owned: Option<Vec<String>> = messages.map(<[String]>::to_vec);
    let writer = spawn_writer(&stream, move |mut w| {
        w.write_all(&RequestEncoder::hello()).map_err(sent)?;
        // The wire's own limit: the server judges its max_payload.
        let mut requests = RequestEncoder::frame(u32::MAX);
        let request = |w: &mut BufWriter<Stream>, payload: &[u8]| -> Result<()> {
            let header = requests
                .data(payload.len())
                .map_err(|e| failed(e.to_string()))?;
            // Told before the bytes leave, so the reader knows of the
            // request before any answer to it can arrive.
            let _ = sent_tx.send(Kind::Data);
            w.write_all(&header).map_err(sent)?;
            w.write_all(payload).map_err(sent)
        };
        let sent_all = match owned {
            Some(list) => list.iter().try_for_each(|m| request(&mut w, m.as_bytes())),
            None => for_each_stdin_line(|line| {
                request(&mut w, without_terminator(line))?;
                w.flush().map_err(sent)
            }),
        };
        // CLOSE even after a failed request: the server answers what was
        // sent, then ends the session, so the reader ends too.
        let close = requests.close().map_err(|e| failed(e.to_string()))?;
        w.write_all(&close).map_err(sent)?;
        w.flush().map_err(sent)?;
        sent_all
    })?;
    let mut reading = stream.try_clone().map_err(|e| failed(e.to_string()))?;
    let read = read_frames(&mut reading, &mut replies, &sent_rx, out);
    if read.is_err() {
        // Unblock a writer stuck on a server that stopped reading.
        stream.shutdown_both();
    }
    finish(writer, read)
}

fn server_error(code: u16, reason: &str) -> SendError {
    let name = ErrorCode::from_u16(code).map_or("unknown code", |c| c.name());
    failed(format!("the server sent ERROR {code} ({name}): {reason}"))
}

fn read_frames(
    stream: &mut Stream,
    replies: &mut ReplyDecoder,
    sent: &mpsc::Receiver<Kind>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        while let Ok(kind) = sent.try_recv() {
            replies.expect(kind).map_err(|e| failed(e.to_string()))?;
        }
        if n == 0 {
            return replies
                .handle_end_of_input()
                .map_err(|e| failed(e.to_string()));
        }
        let mut at = 0;
        while at < n {
            let (used, reply) = replies
                .handle_input(&buf[at..n])
                .map_err(|e| failed(e.to_string()))?;
            at += used;
            match reply {
                Some(Reply::Data { chunk, last }) => {
                    write_out(out, chunk)?;
                    if last {
                        write_out(out, b"\n")?;
                        out.flush().map_err(|e| failed(e.to_string()))?;
                    }
                }
                Some(Reply::Close) => return Ok(()),
                Some(Reply::Error { code, reason }) => return Err(server_error(code, reason)),
                Some(Reply::Hello(_)) | None => {}
                Some(_) => return Err(failed("malformed reply from server: unexpected frame")),
            }
            if used == 0 {
                break;
            }
        }
    }
}

// ---- line --------------------------------------------------------------

fn line(to: &Endpoint, messages: Option<&[String]>, out: &mut dyn Write) -> Result<()> {
    if let Some(list) = messages {
        if let Some(i) = list.iter().position(|m| m.contains('\n')) {
            return Err(SendError::Usage(format!(
                "message {} contains a newline, which line framing cannot send",
                i + 1
            )));
        }
    }
    let stream = connect(to)?;
    let owned: Option<Vec<String>> = messages.map(<[String]>::to_vec);
    let writer = spawn_writer(&stream, move |mut w| {
        match owned {
            Some(list) => {
                for m in &list {
                    w.write_all(m.as_bytes()).map_err(sent)?;
                    w.write_all(b"\n").map_err(sent)?;
                }
            }
            // Lines as they are; flushed per line so answers stream.
            None => for_each_stdin_line(|line| {
                w.write_all(line).map_err(sent)?;
                w.flush().map_err(sent)
            })?,
        }
        w.flush().map_err(sent)?;
        w.get_ref().shutdown_write().map_err(sent)
    })?;
    let mut reading = stream.try_clone().map_err(|e| failed(e.to_string()))?;
    let read = read_lines(&mut reading, out);
    if read.is_err() {
        stream.shutdown_both();
    }
    finish(writer, read)
}

/// Copies response lines to `out` as they come; a line the server starts
/// with `error:` (no response can) is its error message.
fn read_lines(stream: &mut Stream, out: &mut dyn Write) -> Result<()> {
    const ERROR: &[u8] = b"error:";
    let mut buf = vec![0u8; 64 * 1024];
    // The start of the current line while it may still be an error line.
    let mut held: Vec<u8> = Vec::new();
    let mut at_line_start = true;
    let mut holding = false;
    let mut last = b'\n';
    let mut printed = false;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        if n == 0 {
            break;
        }
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            if at_line_start {
                at_line_start = false;
                holding = true;
                held.clear();
            }
            let end = memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
            let (piece, tail) = rest.split_at(end);
            rest = tail;
            let complete = piece.last() == Some(&b'\n');
            if holding {
                held.extend_from_slice(piece);
                let k = held.len().min(ERROR.len());
                if held[..k] != ERROR[..k] {
                    holding = false;
                    write_out(out, &held)?;
                    printed = true;
                    last = *held.last().unwrap_or(&last);
                } else if held.len() >= ERROR.len() && complete {
                    let text = String::from_utf8_lossy(&held);
                    return Err(failed(format!("the server said: {}", text.trim_end())));
                }
            } else {
                write_out(out, piece)?;
                printed = true;
                last = *piece.last().unwrap_or(&last);
            }
            if complete {
                at_line_start = true;
            }
        }
        out.flush().map_err(|e| failed(e.to_string()))?;
    }
    if holding && !held.is_empty() {
        if held.starts_with(ERROR) {
            let text = String::from_utf8_lossy(&held);
            return Err(failed(format!("the server said: {}", text.trim_end())));
        }
        write_out(out, &held)?;
        printed = true;
        last = *held.last().unwrap_or(&last);
    }
    if printed && last != b'\n' {
        write_out(out, b"\n")?;
    }
    Ok(())
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

// ---- raw ---------------------------------------------------------------

fn raw(to: &Endpoint, messages: Option<&[String]>, out: &mut dyn Write) -> Result<()> {
    match messages {
        Some(list) => {
            for m in list {
                let payload = m.clone().into_bytes();
                raw_exchange(to, out, move |mut w| {
                    w.write_all(&payload).map_err(sent)?;
                    w.flush().map_err(sent)
                })?;
                write_out(out, b"\n")?;
            }
            Ok(())
        }
        None => raw_exchange(to, out, |mut w| {
            let stdin = io::stdin();
            let mut input = stdin.lock();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(failed(format!("reading standard input: {e}"))),
                };
                w.write_all(&buf[..n]).map_err(sent)?;
                w.flush().map_err(sent)?;
            }
            w.flush().map_err(sent)
        }),
    }
}

/// One raw connection: `write` sends, then the sending side is shut;
/// everything the server answers is copied to `out` until it closes.
fn raw_exchange<F>(to: &Endpoint, out: &mut dyn Write, write: F) -> Result<()>
where
    F: FnOnce(BufWriter<Stream>) -> Result<()> + Send + 'static,
{
    let stream = connect(to)?;
    let writer = spawn_writer(&stream, move |w| {
        let s = w.get_ref().try_clone().map_err(|e| failed(e.to_string()))?;
        write(w)?;
        s.shutdown_write().map_err(sent)
    })?;
    let mut reading = stream.try_clone().map_err(|e| failed(e.to_string()))?;
    let mut buf = vec![0u8; 64 * 1024];
    let read = loop {
        match reading.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = write_out(out, &buf[..n]).and_then(|()| {
                    out.flush()
                        .map_err(|e| failed(format!("cannot write to standard output: {e}")))
                }) {
                    break Err(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(read_err(e)),
        }
    };
    if read.is_err() {
        stream.shutdown_both();
    }
    finish(writer, read)
}

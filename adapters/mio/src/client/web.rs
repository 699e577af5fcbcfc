//! `shout send --framing web`: a WebSocket client on the core's frame
//! encoder and header reader. One connection: the opening handshake on
//! `/ws`, one text message per MESSAGE (or per line of standard input),
//! each answer printed with a newline, then a Close.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};

use base64::Engine as _;
use shout_core::websocket::{self, FrameHeader, HeaderReader};

use super::{failed, for_each_stdin_line, sent, spawn_writer, without_terminator, write_out};
use super::{read_err, Endpoint, Result, SendError};
use crate::client::stream::Stream;

/// Random bytes from the standard library's per-process hash keys (std
/// has no RNG; a WebSocket key and masks need to be unpredictable to
/// intermediaries, not secret).
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64),
    );
    h.finish()
}

fn random_mask() -> [u8; 4] {
    (random_u64() as u32).to_ne_bytes()
}

pub(super) fn web(to: &Endpoint, messages: Option<&[String]>, out: &mut dyn Write) -> Result<()> {
    let mut stream = super::connect(to)?;
    handshake(&mut stream, to)?;
    let owned: Option<Vec<String>> = messages.map(<[String]>::to_vec);
    let writer = spawn_writer(&stream, move |mut w| {
        let message = |w: &mut std::io::BufWriter<Stream>, text: &[u8]| -> Result<()> {
            let mask = random_mask();
            let (h, n) = websocket::client_header(true, websocket::TEXT, text.len() as u64, mask);
            let mut payload = text.to_vec();
            websocket::apply_mask(&mut payload, mask, 0);
            w.write_all(&h[..n]).map_err(sent)?;
            w.write_all(&payload).map_err(sent)
        };
        match owned {
            Some(list) => list
                .iter()
                .try_for_each(|m| message(&mut w, m.as_bytes()))?,
            None => for_each_stdin_line(|line| {
                message(&mut w, without_terminator(line))?;
                w.flush().map_err(sent)
            })?,
        }
        let mask = random_mask();
        let mut code = 1000u16.to_be_bytes();
        websocket::apply_mask(&mut code, mask, 0);
        let (h, n) = websocket::client_header(true, websocket::CLOSE, 2, mask);
        w.write_all(&h[..n]).map_err(sent)?;
        w.write_all(&code).map_err(sent)?;
        w.flush().map_err(sent)
    })?;
    let mut reading = stream.try_clone().map_err(|e| failed(e.to_string()))?;
    let read = read_messages(&mut reading, out);
    if read.is_err() {
        stream.shutdown_both();
    }
    super::finish(writer, read)
}

/// Sends the opening handshake and checks the server's 101.
fn handshake(stream: &mut Stream, to: &Endpoint) -> Result<()> {
    let raw: [u8; 16] = {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&random_u64().to_ne_bytes());
        k[8..].copy_from_slice(&random_u64().to_ne_bytes());
        k
    };
    let key = base64::engine::general_purpose::STANDARD.encode(raw);
    let host = to.addr.to_string();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(sent)?;
    // The response head, a byte at a time: nothing after it may be taken.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(failed("malformed reply from server: an endless HTTP head"));
        }
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(failed(
                    "the server closed the connection during the WebSocket handshake",
                ))
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let status = text.lines().next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 101") {
        return Err(failed(format!(
            "the server refused the WebSocket: {status}"
        )));
    }
    let want = websocket::accept(key.as_bytes()).ok_or_else(|| failed("bad key"))?;
    let accepted = text.lines().any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("sec-websocket-accept") && v.trim().as_bytes() == want
        })
    });
    if !accepted {
        return Err(failed(
            "malformed reply from server: a wrong or missing Sec-WebSocket-Accept",
        ));
    }
    Ok(())
}

/// Reads the server's frames: each answer message printed with a newline,
/// until its Close.
fn read_messages(stream: &mut Stream, out: &mut dyn Write) -> Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut header = HeaderReader::new();
    let mut frame: Option<(FrameHeader, u64)> = None;
    let mut close: Vec<u8> = Vec::new();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                return Err(failed(
                    "the server closed the connection without a WebSocket Close",
                ))
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        let mut at = 0;
        while at < n {
            let (h, left) = match frame {
                Some(f) => f,
                None => {
                    let (used, h) = header.read(&buf[at..n]);
                    at += used;
                    let Some(h) = h else { continue };
                    if h.mask.is_some() || h.rsv != 0 {
                        return Err(failed(
                            "malformed reply from server: a masked or reserved frame",
                        ));
                    }
                    (h, h.len)
                }
            };
            let take = (left as usize).min(n - at);
            let chunk = &buf[at..at + take];
            at += take;
            match h.opcode {
                websocket::TEXT | websocket::BINARY | websocket::CONTINUATION => {
                    write_out(out, chunk)?
                }
                websocket::CLOSE => close.extend_from_slice(chunk),
                _ => {}
            }
            let left = left - take as u64;
            frame = (left > 0).then_some((h, left));
            if left == 0 && end_frame(h, &close, out)? {
                return Ok(());
            }
        }
        let _ = out.flush();
    }
}

/// A whole frame is in: a message's end prints its newline. True for the
/// server's Close, which ends the exchange (with a status other than 1000,
/// as an error).
fn end_frame(h: FrameHeader, close: &[u8], out: &mut dyn Write) -> Result<bool> {
    match h.opcode {
        websocket::CLOSE => {
            let code = (close.len() >= 2).then(|| u16::from_be_bytes([close[0], close[1]]));
            let reason = String::from_utf8_lossy(close.get(2..).unwrap_or(&[])).into_owned();
            match code {
                None | Some(1000) => Ok(true),
                Some(c) => Err(SendError::Failed(format!(
                    "the server closed the WebSocket with {c}: {reason}"
                ))),
            }
        }
        websocket::TEXT | websocket::BINARY | websocket::CONTINUATION if h.fin => {
            write_out(out, b"\n")?;
            Ok(false)
        }
        _ => Ok(false),
    }
}

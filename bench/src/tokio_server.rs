//! The comparison: SHOUT/1 written the way most Rust users would, with
//! tokio and tokio-util codecs (`BytesCodec` for raw, `LinesCodec` for
//! line, a small length-prefixed codec for frame), one task per
//! connection, `framed.send(...)` per response, on a current-thread
//! runtime so it runs on one core like `shout serve --threads 1`.
//!
//! It speaks the protocol well enough for the benchmark's traffic (HELLO,
//! DATA, PING, CLOSE; lines; raw bytes; auto on the first byte), not every
//! corner of the contract. Frame headers and the HELLO come from
//! [`shout_core::wire`]; everything else is tokio's.

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{BytesCodec, Decoder, Encoder, Framed, LinesCodec, LinesCodecError};

use shout_core::wire::{ClientHello, ErrorCode, Header, Kind, ServerHello, HEADER_LEN};
use shout_core::{Framing, TransformKind};

/// Serves on `addr` until killed; prints `listening on ADDR (tcp)`.
pub fn serve(
    addr: SocketAddr,
    framing: Framing,
    max_payload: u32,
    max_line: u32,
) -> io::Result<()> {
    serve_each(addr, move |sock| async move {
        let _ = handle(sock, framing, max_payload, max_line).await;
    })
}

/// Binds `addr` on a current-thread runtime, prints `listening on ADDR
/// (tcp)`, and gives each accepted connection (TCP_NODELAY set) a task of
/// its own running `handle`, until killed. Both tokio comparison servers
/// accept this way.
pub(crate) fn serve_each<F, Fut>(addr: SocketAddr, handle: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        eprintln!("listening on {} (tcp)", listener.local_addr()?);
        loop {
            let (sock, _) = listener.accept().await?;
            let _ = sock.set_nodelay(true);
            tokio::spawn(handle(sock));
        }
    })
}

async fn handle(
    sock: TcpStream,
    framing: Framing,
    max_payload: u32,
    max_line: u32,
) -> io::Result<()> {
    let framing = match framing {
        Framing::Auto => {
            let mut first = [0u8; 1];
            if sock.peek(&mut first).await? == 0 {
                return Ok(());
            }
            if first[0] == 0 {
                Framing::Frame
            } else {
                Framing::Raw
            }
        }
        f => f,
    };
    match framing {
        Framing::Line => {
            let mut framed = Framed::new(sock, LinesCodec::new_with_max_length(max_line as usize));
            while let Some(line) = framed.next().await {
                match line {
                    Ok(l) => framed
                        .send(l.to_ascii_uppercase())
                        .await
                        .map_err(lines_err)?,
                    Err(LinesCodecError::MaxLineLengthExceeded) => {
                        let msg = format!("\nerror: line too long (limit {max_line} bytes)");
                        framed.send(msg).await.map_err(lines_err)?;
                        break;
                    }
                    Err(e) => return Err(lines_err(e)),
                }
            }
        }
        Framing::Frame => {
            let mut framed = Framed::new(sock, FrameCodec { max_payload });
            let mut hello = false;
            while let Some(frame) = framed.next().await {
                let (kind, mut payload) = match frame {
                    Ok(f) => f,
                    Err(_) => {
                        framed
                            .send(error(ErrorCode::FrameTooLarge, "frame too large"))
                            .await?;
                        break;
                    }
                };
                match Kind::from_u8(kind) {
                    Some(Kind::Hello) if !hello && ClientHello::check(&payload).is_ok() => {
                        hello = true;
                        let reply = ServerHello {
                            max_payload,
                            transform: TransformKind::Ascii,
                        }
                        .frame();
                        let p = Bytes::copy_from_slice(&reply[HEADER_LEN..]);
                        framed.send((Kind::Hello, p)).await?;
                    }
                    Some(Kind::Data) if hello => {
                        payload.make_ascii_uppercase();
                        framed.send((Kind::Data, payload.freeze())).await?;
                    }
                    Some(Kind::Ping) if hello => {
                        framed.send((Kind::Pong, payload.freeze())).await?
                    }
                    Some(Kind::Pong) if hello => {}
                    Some(Kind::Close) if hello => {
                        framed.send((Kind::Close, Bytes::new())).await?;
                        break;
                    }
                    Some(Kind::Error) if hello => break,
                    None => {
                        framed
                            .send(error(ErrorCode::UnknownKind, "unknown frame kind"))
                            .await?;
                        break;
                    }
                    _ => {
                        framed
                            .send(error(ErrorCode::Malformed, "malformed"))
                            .await?;
                        break;
                    }
                }
            }
        }
        _ => {
            let mut framed = Framed::new(sock, BytesCodec::new());
            while let Some(chunk) = framed.next().await {
                let mut b = chunk?;
                b.make_ascii_uppercase();
                framed.send(b.freeze()).await?;
            }
        }
    }
    Ok(())
}

fn lines_err(e: LinesCodecError) -> io::Error {
    match e {
        LinesCodecError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

fn error(code: ErrorCode, reason: &str) -> (Kind, Bytes) {
    let mut p = BytesMut::with_capacity(2 + reason.len());
    p.put_u16(code.as_u16());
    p.put_slice(reason.as_bytes());
    (Kind::Error, p.freeze())
}

/// kind u8 + length u32 BE + payload, the header read and written by
/// [`shout_core::wire::Header`].
struct FrameCodec {
    max_payload: u32,
}

impl Decoder for FrameCodec {
    type Item = (u8, BytesMut);
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> io::Result<Option<Self::Item>> {
        let Some(header) = Header::parse_prefix(src) else {
            return Ok(None);
        };
        let len = header.len;
        if len > self.max_payload {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "frame too large",
            ));
        }
        let total = HEADER_LEN + len as usize;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        Ok(Some((header.kind, src.split_to(len as usize))))
    }
}

impl Encoder<(Kind, Bytes)> for FrameCodec {
    type Error = io::Error;

    fn encode(&mut self, (kind, payload): (Kind, Bytes), dst: &mut BytesMut) -> io::Result<()> {
        dst.reserve(HEADER_LEN + payload.len());
        dst.put_slice(&Header::new(kind, payload.len() as u32).to_bytes());
        dst.put_slice(&payload);
        Ok(())
    }
}

//! The WebSocket comparison: the web framing's WebSocket side written the
//! way most Rust users would, with tokio-tungstenite: `accept_async` on
//! every connection (any path), one task per connection, each text or
//! binary message answered by one message of the same type with its
//! payload ASCII-uppercased (a text stays valid UTF-8), on a
//! current-thread runtime so it runs on one core like
//! `shout serve --threads 1`.
//!
//! Answers are batched as a careful tokio user would: each is `feed`ed
//! (buffered by tungstenite, written once its buffer is full), and the
//! connection is flushed only when the next message is not already there,
//! so a client with many messages in flight gets its answers in few
//! writes. Ping → Pong and the Close handshake are tungstenite's own
//! (defaults everywhere: `WebSocketConfig::default()`, whose read buffer
//! is 128 KiB per connection, messages up to 64 MiB). It serves no page
//! and no HTTP error statuses: only what the benchmark's traffic needs.

use std::io;
use std::net::SocketAddr;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Serves on `addr` until killed; prints `listening on ADDR (tcp)`.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    crate::tokio_server::serve_each(addr, |sock| async move {
        let _ = handle(sock).await;
    })
}

async fn handle(sock: TcpStream) -> Result<(), WsError> {
    let mut ws = tokio_tungstenite::accept_async(sock).await?;
    loop {
        // A message already read (or readable now) is answered before
        // anything is flushed; only when the next one would wait does
        // what was fed go out.
        let next = match ws.next().now_or_never() {
            Some(next) => next,
            None => {
                ws.flush().await?;
                ws.next().await
            }
        };
        let Some(msg) = next else {
            break; // the Close handshake is done (tungstenite answered it)
        };
        match msg? {
            Message::Text(t) => ws.feed(Message::text(t.to_ascii_uppercase())).await?,
            Message::Binary(b) => ws.feed(Message::binary(b.to_ascii_uppercase())).await?,
            // Ping: tungstenite queues the Pong itself; Close: it queues
            // the reply and ends the stream after it.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {}
        }
    }
    Ok(())
}

//! The blocking driver over a real TCP socket on 127.0.0.1, through
//! `embedded-io-adapters`' `FromStd`, against a client built on
//! `shout_core::RequestEncoder` and `shout_core::ReplyDecoder`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use common::client::{expected_replies, expected_wire, frame_session, mixed_requests};
use embedded_io_adapters::std::FromStd;
use shout_core::wire::ErrorCode;
use shout_core::{Config, Duration, Instant};
use shout_embedded_io::{BlockingServer, Error, LinkMode, Summary};
use shout_testkit::frames;

const LIMIT: StdDuration = StdDuration::from_secs(20);

/// A monotonic clock for the core, from std.
fn clock() -> impl FnMut() -> Instant {
    let start = std::time::Instant::now();
    move || Instant::from_micros(start.elapsed().as_micros() as u64)
}

/// Serves one connection with the blocking driver on another thread, then
/// shuts down its sending side and reads until the client closes, as the
/// contract's linger asks.
fn serve_one(
    config: Config,
    wrap_timeouts: bool,
) -> (
    std::net::SocketAddr,
    JoinHandle<Result<Summary, Error<std::io::Error>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let (mut rx, mut tx) = ([0u8; 512], [0u8; 256]);
        let result = if wrap_timeouts {
            stream
                .set_read_timeout(Some(StdDuration::from_millis(20)))
                .unwrap();
            let link = TimeoutsAsTimedOut(FromStd::new(stream.try_clone().unwrap()));
            let mut server =
                BlockingServer::new(link, clock(), config, LinkMode::Stream, &mut rx, &mut tx)
                    .unwrap();
            server.run().map_err(|e| match e {
                Error::Read(e) => Error::Read(e),
                Error::Write(e) => Error::Write(e),
                Error::WriteZero => Error::WriteZero,
            })
        } else {
            let link = FromStd::new(stream.try_clone().unwrap());
            let mut server =
                BlockingServer::new(link, clock(), config, LinkMode::Stream, &mut rx, &mut tx)
                    .unwrap();
            server.run()
        };
        let _ = stream.shutdown(Shutdown::Write);
        let _ = stream.set_read_timeout(Some(StdDuration::from_secs(5)));
        let mut sink = [0u8; 4096];
        let mut s = &stream;
        while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        result
    });
    (addr, handle)
}

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s
}

#[test]
fn frame_session_with_100_mixed_data_ping_and_close() {
    let (addr, server) = serve_one(Config::default(), false);
    let stream = connect(addr);
    let requests = mixed_requests(7);
    let session = frame_session(&stream, &requests, true, LIMIT).unwrap();
    assert_eq!(session.wire, expected_wire(1 << 20, &requests, true));
    assert_eq!(session.replies, expected_replies(1 << 20, &requests, true));
    drop(stream);
    let summary = server.join().unwrap().unwrap();
    assert_eq!(summary.sessions_ended, 1);
    assert_eq!(summary.sent as usize, session.wire.len());
}

#[test]
fn raw_exchange_ends_at_half_close() {
    let (addr, server) = serve_one(Config::default(), false);
    let mut stream = connect(addr);
    let text: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8 + 1).collect();
    let writer = common::client::send_in_background(&stream, text.clone()).unwrap();
    writer.join().unwrap().unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, text.to_ascii_uppercase());
    let summary = server.join().unwrap().unwrap();
    assert_eq!(summary.received as usize, text.len());
}

/// A frame cut off by end of input gets ERROR 1 and no CLOSE.
#[test]
fn truncated_frame_gets_error_1() {
    let (addr, server) = serve_one(Config::default(), false);
    let mut stream = connect(addr);
    stream.write_all(&common::hello()).unwrap();
    stream.write_all(&[1, 0, 0]).unwrap(); // half a header
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    let mut want = common::server_hello(1 << 20);
    want.extend(frames::error_frame(
        ErrorCode::Malformed,
        "frame cut off by end of input",
    ));
    assert_eq!(got, want);
    server.join().unwrap().unwrap();
}

/// With a socket read timeout reported as `TimedOut`, the idle timeout
/// fires while the client is silent: ERROR 5.
#[test]
fn idle_timeout_over_tcp() {
    let cfg = Config::default().with_idle_timeout(Some(Duration::from_millis(200)));
    let (addr, server) = serve_one(cfg, true);
    let mut stream = connect(addr);
    stream.write_all(&common::hello()).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let started = std::time::Instant::now();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    let waited = started.elapsed();
    let mut want = common::server_hello(1 << 20);
    want.extend(frames::error_frame(ErrorCode::IdleTimeout, "idle timeout"));
    assert_eq!(got, want);
    assert!(waited >= StdDuration::from_millis(150), "{waited:?}");
    assert!(waited < StdDuration::from_secs(5), "{waited:?}");
    drop(stream);
    server.join().unwrap().unwrap();
}

/// A std socket with a read timeout says WouldBlock; the driver wants
/// TimedOut for "no input yet".
struct TimeoutsAsTimedOut(FromStd<TcpStream>);

impl embedded_io::ErrorType for TimeoutsAsTimedOut {
    type Error = std::io::Error;
}

impl embedded_io::Read for TimeoutsAsTimedOut {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                std::io::Error::from(std::io::ErrorKind::TimedOut)
            } else {
                e
            }
        })
    }
}

impl embedded_io::Write for TimeoutsAsTimedOut {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        embedded_io::Write::flush(&mut self.0)
    }
}

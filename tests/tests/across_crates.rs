//! End to end across the workspace, over real sockets on 127.0.0.1:
//! the mio server against the reference model, and the mio client against
//! the embedded-io driver. Every loop is bounded by a deadline.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::Duration as StdDuration;

use embedded_io_adapters::std::FromStd;
use proptest::collection::vec;
use proptest::prelude::*;
use shout_core::wire::Kind;
use shout_core::{Config, Framing, Instant, TransformKind};
use shout_embedded_io::{BlockingServer, LinkMode};
use shout_mio::cli::ClientFraming;
use shout_mio::server::{self, Options, Running};
use shout_testkit::frames::{client_hello, frame};
use shout_testkit::model;

const LIMIT: StdDuration = StdDuration::from_secs(20);

fn start_mio(config: Config) -> Running {
    let options = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        config: config.validate().expect("a valid test configuration"),
        udp: false,
        max_connections: 64,
        threads: 1,
        max_buffered: 256 << 20,
        proxy_protocol: false,
        tls: None,
        metrics: None,
        socket_buffer: std::num::NonZeroUsize::new(server::DEFAULT_SOCKET_BUFFER),
    };
    server::start(&options, None).expect("the server starts on a free port")
}

/// Sends `input` in writes of the given sizes, half-closes, and reads the
/// whole answer until the server closes.
fn exchange(addr: SocketAddr, input: &[u8], writes: &[usize]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_nodelay(true).unwrap();
    let reader = {
        let mut r = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            r.read_to_end(&mut out)
                .expect("the server closes within the limit");
            out
        })
    };
    let mut at = 0;
    for size in writes.iter().cycle() {
        if at == input.len() {
            break;
        }
        let n = (*size).clamp(1, input.len() - at);
        s.write_all(&input[at..at + n]).unwrap();
        at += n;
    }
    s.shutdown(Shutdown::Write).unwrap();
    reader.join().unwrap()
}

/// A realistic client input: a frame session, a line session or raw text.
fn session(framing: Framing) -> impl Strategy<Value = Vec<u8>> {
    let text = vec(prop_oneof![Just(b'\n'), any::<u8>(), b'a'..=b'z'], 0..200);
    match framing {
        Framing::Frame => vec((0u8..3, text), 0..8)
            .prop_map(|reqs| {
                let mut input = client_hello(b"");
                for (k, payload) in reqs {
                    let k = [Kind::Data, Kind::Ping, Kind::Pong][k as usize];
                    input.extend(frame(k, &payload));
                }
                input
            })
            .boxed(),
        _ => text.boxed(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The real server gives the model's bytes, however the client's writes
    /// cut the input, for every framing and both transforms.
    #[test]
    fn mio_server_answers_like_the_model(
        (framing, input) in prop_oneof![Just(Framing::Raw), Just(Framing::Line), Just(Framing::Frame)]
            .prop_flat_map(|f| (Just(f), session(f))),
        unicode in any::<bool>(),
        writes in vec(1usize..64, 1..5),
    ) {
        let transform = if unicode { TransformKind::Unicode } else { TransformKind::Ascii };
        let config = Config::default()
            .with_framing(framing)
            .with_transform(transform)
            .with_max_line(64);
        let running = start_mio(config);
        let got = exchange(running.local_addr(), &input, &writes);
        running.shutdown();
        prop_assert!(running.join().is_ok(), "the server's event loops ended cleanly");
        let want = model::serve(&config, &input);
        prop_assert_eq!(got, want.output);
    }
}

/// The mio crate's `shout send` client against the embedded-io blocking
/// driver serving one TCP connection through `FromStd`.
#[test]
fn mio_client_talks_to_the_embedded_driver() {
    for (framing, expected) in [
        (ClientFraming::Frame, "HELLO\nSTRASSE WORLD\n"),
        (ClientFraming::Line, "HELLO\nSTRASSE WORLD\n"),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(LIMIT)).unwrap();
            let start = std::time::Instant::now();
            let clock = move || Instant::from_micros(start.elapsed().as_micros() as u64);
            let config = Config::default().with_transform(TransformKind::Unicode);
            let (mut rx, mut tx) = ([0u8; 1 << 16], [0u8; 64]);
            let link = FromStd::new(stream.try_clone().unwrap());
            let config = match framing {
                ClientFraming::Line => config.with_framing(Framing::Line),
                _ => config.with_max_payload(1 << 16),
            };
            let mut server =
                BlockingServer::new(link, clock, config, LinkMode::Stream, &mut rx, &mut tx)
                    .expect("rx holds max_payload");
            let result = server.run();
            let _ = stream.shutdown(Shutdown::Write);
            result.map(|_| ())
        });
        let messages = ["hello".to_string(), "straße world".to_string()];
        let mut out = Vec::new();
        shout_mio::client::send(
            framing,
            &shout_mio::client::Endpoint::plain(addr),
            Some(&messages),
            &mut out,
        )
        .expect("the exchange succeeds");
        assert_eq!(String::from_utf8(out).unwrap(), expected, "{framing:?}");
        served.join().unwrap().expect("the driver ends cleanly");
    }
}

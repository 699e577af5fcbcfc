//! Property tests of the web framing's WebSocket decoder against a model:
//! random messages cut into random fragments, each frame masked with its
//! own key, the whole split into random reads and answered through random
//! windows (in place too). The answer is the model's byte for byte: the
//! 101, then one server frame per client frame (same FIN, the message's
//! opcode on its first frame, continuation after, the payload unmasked and
//! uppercased), Pongs in place, and the client's Close echoed.

use proptest::collection::vec;
use proptest::prelude::*;
use shout_core::websocket::{
    accept, apply_mask, client_header, BINARY, CLOSE, CONTINUATION, PING, PONG, TEXT,
};
use shout_core::{Config, Framing, TransformKind};
use shout_testkit::drive::{Driver, Plan};
use shout_testkit::{show, CheckedServer};

const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig::with_cases(shout_testkit::scaled_cases(n))
}

/// What the client sends, frame by frame.
#[derive(Clone, Debug)]
enum Sent {
    /// A data message: text or binary, its fragments' payloads and masks.
    Message {
        text: bool,
        fragments: Vec<(Vec<u8>, [u8; 4])>,
    },
    Ping(Vec<u8>, [u8; 4]),
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(prop::sample::select(b"abcxyzABC 09\n".to_vec()), 0..40),
        vec(any::<u8>(), 0..300),
    ]
}

fn sent() -> impl Strategy<Value = Sent> {
    prop_oneof![
        4 => (any::<bool>(), vec((payload(), any::<[u8; 4]>()), 1..4)).prop_map(|(text, mut f)| {
            if text {
                // Text must be UTF-8 as a whole: keep it ASCII.
                for (p, _) in &mut f {
                    for b in p.iter_mut() {
                        *b &= 0x7F;
                    }
                }
            }
            Sent::Message { text, fragments: f }
        }),
        1 => (vec(any::<u8>(), 0..125), any::<[u8; 4]>()).prop_map(|(p, m)| Sent::Ping(p, m)),
    ]
}

fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let (h, n) = client_header(fin, opcode, payload.len() as u64, mask);
    let mut f = h[..n].to_vec();
    let mut p = payload.to_vec();
    apply_mask(&mut p, mask, 0);
    f.extend_from_slice(&p);
    f
}

fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => f.push(n as u8),
        n if n <= 0xFFFF => {
            f.push(126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(payload);
    f
}

/// The client's bytes and the model's answer.
fn exchange(messages: &[Sent], close_code: u16) -> (Vec<u8>, Vec<u8>) {
    let mut input = format!(
        "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {}\r\n\r\n",
        std::str::from_utf8(KEY).unwrap()
    )
    .into_bytes();
    let mut want = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        std::str::from_utf8(&accept(KEY).unwrap()).unwrap()
    )
    .into_bytes();
    for m in messages {
        match m {
            Sent::Message { text, fragments } => {
                let first = if *text { TEXT } else { BINARY };
                for (i, (p, mask)) in fragments.iter().enumerate() {
                    let fin = i + 1 == fragments.len();
                    let op = if i == 0 { first } else { CONTINUATION };
                    input.extend(client_frame(fin, op, p, *mask));
                    want.extend(server_frame(fin, op, &p.to_ascii_uppercase()));
                }
            }
            Sent::Ping(p, mask) => {
                input.extend(client_frame(true, PING, p, *mask));
                want.extend(server_frame(true, PONG, p));
            }
        }
    }
    input.extend(client_frame(
        true,
        CLOSE,
        &close_code.to_be_bytes(),
        [9, 8, 7, 6],
    ));
    want.extend(server_frame(true, CLOSE, &close_code.to_be_bytes()));
    (input, want)
}

fn plan() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, bool)> {
    (vec(0usize..70, 0..6), vec(0usize..70, 0..6), any::<bool>())
}

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn answers_equal_the_model_at_any_split(
        messages in vec(sent(), 0..6),
        code in 1000u16..5000,
        (splits, windows, in_place) in plan(),
        auto in any::<bool>(),
    ) {
        let (input, want) = exchange(&messages, code);
        let framing = if auto { Framing::Auto } else { Framing::Web };
        let config = Config::default().with_framing(framing).with_transform(TransformKind::Ascii);
        let mut d = Driver::with_checked(
            CheckedServer::web(config),
            &Plan::new(&splits, &windows).in_place(in_place),
        );
        d.push(&input);
        d.finish();
        prop_assert_eq!(show(d.checked().output()), show(&want));
        prop_assert_eq!(d.server().framing(), Some(Framing::Web));
    }

    #[test]
    fn unicode_answers_the_same_for_ascii_text_at_any_split(
        messages in vec(sent(), 0..4),
        (splits, windows, _) in plan(),
    ) {
        // Unicode waits for each frame whole, then answers it: on ASCII
        // text (binary bytes could be UTF-8 with another uppercase) its
        // answer is the same as ascii's.
        let messages: Vec<Sent> = messages
            .into_iter()
            .filter(|m| matches!(m, Sent::Message { text: true, .. } | Sent::Ping(..)))
            .collect();
        let (input, want) = exchange(&messages, 1000);
        let config = Config::default()
            .with_framing(Framing::Web)
            .with_transform(TransformKind::Unicode);
        let mut d = Driver::with_checked(CheckedServer::web(config), &Plan::new(&splits, &windows));
        d.push(&input);
        d.finish();
        prop_assert_eq!(show(d.checked().output()), show(&want));
    }
}

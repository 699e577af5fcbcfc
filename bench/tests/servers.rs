//! End to end: the binary serves the echo ceiling (and, with the
//! `tokio-compare` feature, the tokio server and the tokio-tungstenite
//! WebSocket server) and loads it, with every response checked; a short
//! run of each mode must report no errors.

mod common;

use std::process::Command;

use common::Server;

const BIN: &str = env!("CARGO_BIN_EXE_shout-bench");

/// Starts `shout-bench ARGS` and waits for its `listening on ADDR (tcp)`.
fn serve(args: &[&str]) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    common::serve(cmd)
}

/// Runs a load with `--json`; the parsed result, after checking that the
/// run succeeded and found no error.
fn load(server: &Server, args: &[&str]) -> serde_json::Value {
    let out = Command::new(BIN)
        .arg("--json")
        .args(args)
        .arg(&server.addr)
        .output()
        .expect("run shout-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(r["errors"], 0, "{args:?}: {r}");
    r
}

#[test]
fn every_mode_against_the_echo_ceiling() {
    let echo = serve(&["--serve-echo", "127.0.0.1:0"]);
    for mode in ["line", "frame"] {
        let r = load(
            &echo,
            &[
                "--echo", "--mode", mode, "-c", "4", "-d", "4", "-b", "100", "-s", "0.3",
            ],
        );
        assert!(r["responses"].as_u64().unwrap() > 0, "{r}");
    }
    let r = load(
        &echo,
        &["--echo", "--mode", "raw", "-c", "2", "--bytes", "1000000"],
    );
    assert_eq!(r["bytes"], 2_000_000);
    let r = load(&echo, &["--mode", "hold", "-c", "50", "-s", "0"]);
    assert_eq!(r["responses"], 50);
}

#[test]
fn expecting_uppercase_from_the_echo_ceiling_fails() {
    // The echo ceiling does not uppercase: a load expecting uppercase
    // must see the wrong bytes and exit with status 1.
    let echo = serve(&["--serve-echo", "127.0.0.1:0"]);
    let out = Command::new(BIN)
        .args(["--json", "--mode", "line", "-c", "1", "-s", "0.2"])
        .arg(&echo.addr)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let why = r["first_error"].as_str().unwrap();
    assert!(why.contains("wrong bytes"), "{why}");
}

#[cfg(feature = "tokio-compare")]
#[test]
fn frame_handshake_and_hold_against_the_tokio_server() {
    let tokio = serve(&["--serve-tokio", "127.0.0.1:0"]);
    let r = load(
        &tokio,
        &[
            "--mode", "frame", "-c", "4", "-d", "2", "-b", "64", "-s", "0.3",
        ],
    );
    assert!(r["responses"].as_u64().unwrap() > 0, "{r}");
    let r = load(
        &tokio,
        &["--mode", "hold", "--hello", "-c", "20", "-s", "0"],
    );
    assert_eq!(r["responses"], 20);
}

#[cfg(feature = "tokio-compare")]
#[test]
fn ws_and_hold_ws_against_the_tokio_tungstenite_server() {
    let ws = serve(&["--serve-tokio-ws", "127.0.0.1:0"]);
    let small = ["--mode", "ws", "-c", "4", "-d", "4", "-b", "64", "-s", "1"];
    let big = [
        "--mode", "ws", "-c", "2", "-d", "1", "-b", "1048576", "-s", "1",
    ];
    let binary = [
        "--mode",
        "ws",
        "--ws-binary",
        "-c",
        "4",
        "-d",
        "4",
        "-b",
        "300",
        "-s",
        "1",
    ];
    for args in [&small[..], &big, &binary] {
        let r = load(&ws, args);
        assert!(r["responses"].as_u64().unwrap() > 0, "{args:?}: {r}");
        let payload: u64 = args[args.iter().position(|a| *a == "-b").unwrap() + 1]
            .parse()
            .unwrap();
        assert_eq!(
            r["bytes"].as_u64().unwrap(),
            r["responses"].as_u64().unwrap() * payload,
            "{r}"
        );
        let kind = if args.contains(&"--ws-binary") {
            "binary"
        } else {
            "text"
        };
        assert_eq!(r["ws_message"], kind, "{r}");
    }
    let r = load(&ws, &["--mode", "hold", "--ws", "-c", "20", "-s", "0"]);
    assert_eq!(r["responses"], 20, "{r}");
    assert_eq!(r["ws_message"], "text", "{r}");
}

#[cfg(feature = "tokio-compare")]
#[test]
fn ws_against_a_server_that_does_not_speak_it_fails_clearly() {
    // The tokio SHOUT/1 server on raw framing answers the upgrade request
    // with it uppercased: no 101, nothing can be measured (exit status 1).
    let tokio = serve(&["--serve-tokio", "127.0.0.1:0", "--server-framing", "raw"]);
    let out = Command::new(BIN)
        .args(["--mode", "ws", "-c", "2", "-s", "0.2"])
        .arg(&tokio.addr)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not 101"), "{err}");
}

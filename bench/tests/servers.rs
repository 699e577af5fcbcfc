//! End to end: the binary serves the echo ceiling (and, with the
//! `tokio-compare` feature, the tokio server) and loads it, with every
//! response checked; a short run of each mode must report no errors.

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

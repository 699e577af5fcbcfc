//! What the end-to-end tests share: a server child process, started and
//! waited for, and the `shout` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;

/// A server child, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` and waits for its `listening on ADDR (tcp)`; the rest of
/// its stderr is drained (and shown) so that its logging never blocks it.
pub(crate) fn serve(mut cmd: Command) -> Server {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no listening line: {line:?}"))
        .to_string();
    thread::spawn(move || {
        for l in stderr.lines().map_while(Result::ok) {
            eprintln!("server: {l}");
        }
    });
    Server { child, addr }
}

/// The `shout` binary: `SHOUT_BIN` if set, otherwise the one cargo builds
/// (or already has) for this profile, located from cargo's own report
/// (a test only gets its own crate's binaries from cargo).
pub(crate) fn shout_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_shout).clone()
}

fn build_shout() -> PathBuf {
    if let Some(p) = std::env::var_os("SHOUT_BIN") {
        return p.into();
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "-p",
        "shout-mio",
        "--bin",
        "shout",
        "--message-format=json",
    ])
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd.output().expect("run cargo build for the shout binary");
    assert!(out.status.success(), "cargo build -p shout-mio failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "shout")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo reported no shout executable")
}

//! End to end: a short hostile soak against the product server, `shout
//! serve` (the binary of the shout-mio crate, built here with cargo if
//! need be: a test only gets its own crate's binaries from cargo), on
//! 127.0.0.1 port 0. The good clients must see no error in either phase
//! and every hostile group must be reported, its connections accounted
//! for.

mod common;

use std::process::{Command, Stdio};

use common::Server;
use std::thread;
use std::time::{Duration, Instant};

const BENCH: &str = env!("CARGO_BIN_EXE_shout-bench");
/// The longest the soak may take (it bounds itself to a few seconds).
const SOAK_LIMIT: Duration = Duration::from_secs(60);

/// Starts `shout serve --listen 127.0.0.1:0 ARGS`.
fn serve(args: &[&str]) -> Server {
    let mut cmd = Command::new(common::shout_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0"]).args(args);
    common::serve(cmd)
}

#[test]
fn a_short_hostile_soak_against_shout_serve() {
    let server = serve(&["--transform", "unicode", "--idle-timeout", "2"]);
    let pid = server.child.id().to_string();
    let mut soak = Command::new(BENCH)
        .args([
            "--json",
            "--mode",
            "hostile",
            "--hostile",
            "200",
            "-c",
            "8",
            "--soak-baseline",
            "1",
            "-s",
            "2",
            "--settle",
            "1",
            "--server-pid",
            &pid,
            &server.addr,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run shout-bench");
    let limit = Instant::now() + SOAK_LIMIT;
    while soak.try_wait().unwrap().is_none() {
        if Instant::now() > limit {
            let _ = soak.kill();
            panic!("the soak did not end within {SOAK_LIMIT:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
    let out = soak.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}{stderr}", out.status);
    assert!(
        stderr.contains("bench hostile:"),
        "no progress lines: {stderr}"
    );
    let r: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");

    assert_eq!(r["mode"], "hostile", "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert_eq!(r["unanswered"], 0, "{r}");
    for phase in ["baseline", "loaded"] {
        let n = r[phase]["responses"].as_u64().unwrap();
        assert!(n > 0, "no good responses {phase}: {r}");
        assert!(r[phase]["latency_us"]["p99"].as_u64().is_some(), "{r}");
        assert!(r[phase]["server_cpu_seconds"].as_f64().is_some(), "{r}");
    }
    assert_eq!(r["server_transform"], "unicode", "{r}");
    let rss = &r["server_rss_bytes"];
    for k in ["idle_before", "before_hostile", "peak", "after_settle"] {
        assert!(rss[k].as_u64().is_some_and(|b| b > 0), "{k}: {r}");
    }

    let h = &r["hostile"];
    assert_eq!(h["connections"], 200, "{r}");
    let groups = h["groups"].as_object().unwrap();
    let names = [
        "idle",
        "slowloris",
        "garbage-frame",
        "garbage-text",
        "stalled-unicode",
        "never-read",
        "reset-storm",
        "half-open",
    ];
    assert_eq!(groups.len(), names.len(), "{r}");
    let mut sockets = 0;
    for name in names {
        let g = &groups[name];
        let n = |k: &str| g[k].as_u64().unwrap_or_else(|| panic!("{name}.{k}: {r}"));
        sockets += n("sockets");
        assert!(n("sockets") > 0 && n("connected") > 0, "{name}: {r}");
        if name == "reset-storm" {
            assert!(n("reset_by_us") > 0, "{name}: {r}");
            continue;
        }
        // Every socket ended exactly one way.
        let after_error: u64 = g["closed_by_server_after_error"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let ended = n("connect_failed")
            + n("still_connecting")
            + n("closed_by_server")
            + after_error
            + n("reset_by_server")
            + n("open_at_end");
        assert_eq!(ended, n("sockets"), "{name}: {r}");
    }
    assert_eq!(sockets, 200, "{r}");
}

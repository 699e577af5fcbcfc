//! Socket activation: with `LISTEN_FDS`/`LISTEN_PID` the server serves the
//! sockets it was passed (fd 3 and up) instead of binding `--listen`.
//! Driven by systemd's own `systemd-socket-activate` (Debian's `systemd`
//! package, which `.ci/run` installs when it is missing).

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::*;

const ACTIVATE: &str = "/usr/bin/systemd-socket-activate";

/// A port free on 127.0.0.1 for both TCP and UDP, as far as one can tell.
fn free_port() -> u16 {
    for _ in 0..32 {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

/// Runs `systemd-socket-activate ARGS shout serve SERVE_ARGS`. It starts
/// the server when the first connection (or datagram) arrives; the
/// receiver gets the server's stderr lines.
fn activate(args: &[String], serve: &[&str]) -> (Child, mpsc::Receiver<String>) {
    assert!(
        std::path::Path::new(ACTIVATE).exists(),
        "{ACTIVATE} is missing: install Debian's systemd package (.ci/run does)"
    );
    let mut child = Command::new(ACTIVATE)
        .args(args)
        .arg(BIN)
        .arg("serve")
        .args(serve)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // The activator says `Listening on ADDR as FD.` for each socket once
    // it is bound.
    let mut bound = 0;
    while bound < args.iter().filter(|a| a.starts_with("--listen")).count() {
        match rx.recv_timeout(WAIT) {
            Ok(line) if line.starts_with("Listening on ") => bound += 1,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("systemd-socket-activate did not bind");
            }
        }
    }
    (child, rx)
}

/// The first `n` `listening on` lines the server printed (bounded wait).
fn listening(rx: &mpsc::Receiver<String>, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let line = rx
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("no `listening on` lines; so far: {got:?}"));
        if line.starts_with("listening on ") {
            got.push(line);
        }
    }
    got
}

/// Sends SIGTERM and waits (bounded) for a clean exit.
fn stop(mut child: Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    for _ in 0..500 {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    panic!("the activated server did not exit");
}

#[test]
fn serves_every_passed_tcp_socket_instead_of_binding() {
    let a: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let b: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    // --listen names another port: it must not be bound.
    let listen = format!("127.0.0.1:{}", free_port());
    let (child, rx) = activate(
        &[format!("--listen={a}"), format!("--listen={b}")],
        &["--listen", &listen, "--threads", "2"],
    );
    // The first connection starts the server, which answers it.
    assert_eq!(exchange(a, b"first"), b"FIRST");
    assert_eq!(
        listening(&rx, 2),
        [
            format!("listening on {a} (tcp)"),
            format!("listening on {b} (tcp)")
        ]
    );
    // Both sockets, many connections (spread over both event loops).
    for i in 0..8 {
        let addr = if i % 2 == 0 { a } else { b };
        assert_eq!(exchange(addr, b"activated"), b"ACTIVATED");
    }
    assert!(
        std::net::TcpStream::connect(&*listen).is_err(),
        "--listen was bound too"
    );
    stop(child);
}

#[test]
fn udp_sockets_are_served_as_if_udp_were_given() {
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (child, rx) = activate(
        &["--datagram".into(), format!("--listen={addr}")],
        &["--threads", "2"],
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    // The first datagram starts the server; it and the next are answered.
    for msg in [&b"datagram"[..], b"another"] {
        client.send_to(msg, addr).unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = client.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&msg.to_ascii_uppercase()[..], addr));
    }
    assert_eq!(listening(&rx, 1), [format!("listening on {addr} (udp)")]);
    stop(child);
}

#[test]
fn listen_fds_for_another_process_are_ignored() {
    // LISTEN_PID names another process: the server binds --listen.
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|l| l.strip_suffix(" (tcp)"))
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert_eq!(exchange(addr, b"bound"), b"BOUND");
    stop(child);
}

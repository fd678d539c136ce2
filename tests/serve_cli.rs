//! `famlink serve --demo`, README's first command, as a newcomer runs it: the
//! binary starts, trains the matcher on the sample, loads it, prints one token per
//! role, serves a review queue made by the engine, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

#[test]
fn serve_demo_starts_with_a_review_queue_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("famlink"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("demo"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
        line.clear();
    }
    let addr = addr.expect("the service says where it listens");
    let mut stdout = String::new();
    // The tokens are printed before the service listens.
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 4096];
    while !stdout.contains("admin") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "stdout closed: {stdout}");
        stdout.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    while !stdout.contains("try:") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0);
        stdout.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let token = |role: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(role))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no {role} token in {stdout}"))
            .to_string()
    };
    let (status, body) = get(
        &addr,
        "/api/v1/proposals?status=pending&band=likely",
        &token("reviewer"),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(!v["items"].as_array().unwrap().is_empty(), "{v}");
    // The demo ends with a trained model, and its queue is the engine's: every
    // comparison with its level and weight.
    let data = dir.path().join("demo");
    assert!(data.join("model/tracing.model.json").is_file());
    assert!(data.join("model/tracing.term-frequencies.json").is_file());
    for p in v["items"].as_array().unwrap() {
        let e = p["explanation"].as_array().unwrap();
        assert!(e.iter().any(|c| c["field"] == "personal_name"), "{p}");
        assert!(
            e.iter()
                .all(|c| c["level"].is_string() && c["weight"].is_number()),
            "{p}"
        );
    }
    let (status, _) = get(&addr, "/api/v1/proposals", &token("officer"));
    assert_eq!(status, 403);
    let (status, _) = get(&addr, "/api/v1/search?name=Mohammed", &token("officer"));
    assert_eq!(status, 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

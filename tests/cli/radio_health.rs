//! Radio health in words: a radio that cannot come up fails the one-shot commands at once with
//! its reason (one line, non-zero exit), and `run` logs it. Against the fake ESPHome proxy
//! (`tests/testbeds/esphome/fake_proxy.py`) and closed loopback ports; never another address.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{bluefleet, fails_clearly};

/// A base64 key (bytes 0..32) and a different valid one.
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const WRONG_KEY: &str = "HxwdHhscGRoXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// The fake proxy as a child process, killed when dropped.
struct FakeProxy {
    child: Child,
    port: u16,
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> PathBuf {
    std::env::var_os("BLUEFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bluefleet-venv/bin/python"))
}

fn fake_proxy(args: &[&str]) -> FakeProxy {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testbeds/esphome/fake_proxy.py");
    let mut child = Command::new(python())
        .arg(script)
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python with aioesphomeapi runs the fake proxy (bash scripts/test sets it up)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("LISTENING ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("the fake proxy did not start: {line:?}"));
    FakeProxy { child, port }
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs `args` and checks it fails clearly with `what`, well before its own duration.
fn fails_fast(args: &[&str], what: &str) {
    let started = Instant::now();
    fails_clearly(args, what);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{args:?} took {:?}: it should fail as soon as the radio reports",
        started.elapsed()
    );
}

#[test]
fn a_wrong_or_missing_key_fails_at_once_naming_the_key() {
    let fake = fake_proxy(&["--noise-psk", KEY]);
    let wrong = format!("127.0.0.1:{},{WRONG_KEY}", fake.port);
    fails_fast(
        &[
            "scan",
            "--backend",
            "esphome",
            "--proxy",
            &wrong,
            "--duration",
            "30s",
        ],
        "invalid encryption key",
    );
    let missing = format!("127.0.0.1:{}", fake.port);
    fails_fast(
        &[
            "beacons",
            "--backend",
            "esphome",
            "--proxy",
            &missing,
            "--duration",
            "30s",
        ],
        "the proxy requires encryption, configure its API key",
    );
    let right = format!("127.0.0.1:{},{KEY}", fake.port);
    let run = bluefleet(&[
        "scan",
        "--backend",
        "esphome",
        "--proxy",
        &right,
        "--duration",
        "2s",
    ]);
    assert!(run.ok, "the right key works: {}", run.stderr);
    assert!(run.stdout.contains("fake-sensor-1"), "{}", run.stdout);
}

#[test]
fn a_closed_port_fails_at_once_saying_refused() {
    let proxy = format!("127.0.0.1:{}", closed_port());
    fails_fast(
        &[
            "scan",
            "--backend",
            "esphome",
            "--proxy",
            &proxy,
            "--duration",
            "30s",
        ],
        "refused the connection",
    );
    fails_fast(
        &[
            "explore",
            "A4:C1:38:00:00:01",
            "--backend",
            "esphome",
            "--proxy",
            &proxy,
        ],
        "refused the connection",
    );
    let run = bluefleet(&["scan", "--backend", "esphome", "--proxy", &proxy]);
    assert_eq!(
        run.stderr.matches(&proxy).count(),
        1,
        "the radio is named once: {}",
        run.stderr
    );
}

#[test]
fn run_logs_every_radio_state_change_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let port = closed_port();
    std::fs::write(
        &hub,
        format!("[[radio]]\nbackend = \"esphome\"\nhost = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let run = bluefleet(&["run", "--config", hub.to_str().unwrap(), "--duration", "1s"]);
    assert!(
        run.ok,
        "a proxy being down does not stop the daemon: {}",
        run.stderr
    );
    let down = run
        .stderr
        .lines()
        .find(|l| l.contains("radio down"))
        .unwrap_or_else(|| panic!("no radio-down line: {}", run.stderr));
    assert!(down.contains("refused the connection"), "{down}");
    assert!(
        !down.contains("\x1b["),
        "no colour codes off a terminal: {down}"
    );
}

#[test]
fn version_lists_the_backends_built_in() {
    let run = bluefleet(&["--version"]);
    assert!(run.ok);
    let line = run.stdout.trim();
    assert!(line.starts_with("bluefleet "), "{line}");
    for backend in ["sim", "bluez", "esphome"] {
        assert!(line.contains(backend), "{line}");
    }
}

#[test]
fn demo_runs_its_built_in_world_from_any_directory() {
    let elsewhere = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args(["demo", "--speed", "0", "--duration", "20s", "--json"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["world"], "flat");
    assert!(summary["connections"].as_u64().unwrap() > 0);
}

#[test]
fn bluez_without_bluetoothd_says_so() {
    // A private, empty bus stands in for a system bus where bluetoothd is not running.
    let mut daemon = Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("dbus-daemon is installed (see README prerequisites)");
    let mut address = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args(["scan", "--backend", "bluez", "--duration", "1s"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", address.trim())
        .output()
        .unwrap();
    let _ = daemon.kill();
    let _ = daemon.wait();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bluetoothd is not running"), "{stderr}");
}

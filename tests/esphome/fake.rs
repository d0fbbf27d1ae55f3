//! Starts the fake ESPHome proxy (`tests/testbeds/esphome/fake_proxy.py`) for one test and
//! steers it through its stdin control commands.
//!
//! Python comes from `BLUEFLEET_PYTHON`, else `/tmp/bluefleet-venv/bin/python` (where `.ci/run`
//! creates the venv with `tests/testbeds/requirements.txt`). If neither can run the fake, the
//! test fails and says how to set it up: it never skips.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bluefleet::backend::esphome::EsphomeConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::timeout;

/// A base64 key for Noise tests (bytes 0..32).
pub const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// A different valid key.
pub const WRONG_KEY: &str = "HxwdHhscGRoXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// One running fake proxy.
pub struct FakeProxy {
    _child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _scenario: tempfile::NamedTempFile,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
}

fn python() -> PathBuf {
    std::env::var_os("BLUEFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bluefleet-venv/bin/python"))
}

const SETUP_HINT: &str = "the ESPHome tests need Python with aioesphomeapi==46.23.0: run \
     `bash .ci/run` (it creates /tmp/bluefleet-venv from tests/testbeds/requirements.txt), or \
     create that venv yourself and/or set BLUEFLEET_PYTHON to its python";

/// Fast timings so a test takes well under a second per step.
fn scenario(extra: serde_json::Value) -> serde_json::Value {
    let mut base = serde_json::json!({
        "adv_interval_s": 0.05,
        "notify_interval_s": 0.05,
        "connect_delay_s": 0.01,
        "unknown_device_delay_s": 0.05,
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}

impl FakeProxy {
    /// Starts a fake with default devices and extra scenario keys (`{"noise_psk": KEY}` ...).
    pub async fn start(extra: serde_json::Value) -> Self {
        let python = python();
        assert!(
            python.exists(),
            "{} does not exist: {SETUP_HINT}",
            python.display()
        );
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbeds/esphome/fake_proxy.py");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), scenario(extra).to_string()).unwrap();
        // The fake's log goes to a file (a pipe nobody reads could fill and stall it).
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--port", "0", "--control", "stdin", "--scenario"])
            .arg(file.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.reopen().unwrap()))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}; {SETUP_HINT}", python.display()));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = timeout(Duration::from_secs(20), stdout.next_line()).await;
        let port = match first {
            Ok(Ok(Some(line))) if line.starts_with("LISTENING ") => {
                line[10..].trim().parse().unwrap()
            }
            other => {
                let stderr = std::fs::read_to_string(log.path()).unwrap_or_default();
                panic!("the fake proxy did not start ({other:?}): {stderr}\n{SETUP_HINT}")
            }
        };
        Self {
            _child: child,
            stdin,
            stdout,
            _scenario: file,
            port,
        }
    }

    /// A plaintext config for this fake with short test timings.
    pub fn config(&self) -> EsphomeConfig {
        let mut config =
            EsphomeConfig::new("127.0.0.1", self.port).named(format!("fake-{}", self.port));
        config.reconnect_min = Duration::from_millis(50);
        config.reconnect_max = Duration::from_millis(400);
        config.handshake_timeout = Duration::from_secs(5);
        config.request_timeout = Duration::from_secs(5);
        config
    }

    /// Sends a control command and returns its one-line answer.
    pub async fn command(&mut self, line: &str) -> String {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        timeout(Duration::from_secs(5), self.stdout.next_line())
            .await
            .expect("the fake proxy did not answer a control command")
            .unwrap()
            .unwrap_or_default()
    }

    /// How many messages of this kind the fake received.
    pub async fn count(&mut self, message: &str) -> usize {
        let answer = self.command(&format!("count {message}")).await;
        answer.strip_prefix("COUNT ").unwrap().parse().unwrap()
    }
}

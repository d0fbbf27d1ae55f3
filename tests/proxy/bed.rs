//! The processes a proxy test runs: `bluefleet proxy`, the fake ESPHome proxy, the driver.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A Noise key (bytes 0..32) and another valid one.
pub const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const WRONG_KEY: &str = "HxwdHhscGRoXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";

/// How long a process may take to say it is ready, or a driver to finish.
const START: Duration = Duration::from_secs(30);
const DRIVER: Duration = Duration::from_secs(120);

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proxy")
}

pub fn python() -> PathBuf {
    std::env::var_os("BLUEFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bluefleet-venv/bin/python"))
}

const SETUP_HINT: &str = "the proxy tests need Python with tests/testbeds/requirements.txt \
    (aioesphomeapi, bleak-esphome, habluetooth, bleak-retry-connector): run `bash scripts/test`, \
    or set BLUEFLEET_PYTHON to a venv's python that has them";

/// Lines of a child's stdout, read on a thread so waits can be bounded.
fn lines(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// A child process killed when dropped.
pub struct Process {
    child: Child,
    pub lines: mpsc::Receiver<String>,
    log: tempfile::NamedTempFile,
}

impl Process {
    /// The next stdout line that starts with `prefix`, within `START`.
    pub fn wait_line(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + START;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line starting with {prefix:?}; log:\n{}", self.log()),
            }
        }
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn(mut command: Command) -> Process {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}; {SETUP_HINT}"));
    let lines = lines(child.stdout.take().unwrap());
    Process { child, lines, log }
}

/// A running `bluefleet proxy` and its ports.
pub struct Proxy {
    pub process: Process,
    pub ports: Vec<u16>,
}

/// Starts `bluefleet proxy` on the test world with extra arguments; `listeners` is how many
/// `listening on` lines to wait for.
pub fn proxy(extra: &[&str], listeners: usize) -> Proxy {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bluefleet"));
    command
        .args(["proxy", "--listen", "127.0.0.1:0", "--no-mdns"])
        .args(extra)
        .env("RUST_LOG", "info");
    if !extra.contains(&"--backend") {
        command
            .args(["--backend", "sim", "--world"])
            .arg(here().join("world.toml"));
    }
    let mut process = spawn(command);
    let ports = (0..listeners)
        .map(|_| {
            let line = process.wait_line("listening on ");
            let address = line["listening on ".len()..]
                .split_whitespace()
                .next()
                .unwrap();
            assert!(address.starts_with("127.0.0.1:"), "{line}");
            address.rsplit(':').next().unwrap().parse().unwrap()
        })
        .collect();
    Proxy { process, ports }
}

/// Starts `bluefleet run` on a hub file whose `[proxy]` section is `proxy_section`, serving
/// the test world; waits for its one `listening on` line.
pub fn hub(proxy_section: &str) -> (Proxy, tempfile::NamedTempFile) {
    let world = here().join("world.toml");
    let file = tempfile::NamedTempFile::new().unwrap();
    let text = format!(
        "[[radio]]\nbackend = \"sim\"\nworld = {world:?}\n\n[proxy]\n{proxy_section}\n",
        world = world.display().to_string()
    );
    std::fs::write(file.path(), text).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_bluefleet"));
    command.args(["run", "--config"]).arg(file.path());
    let mut process = spawn(command);
    let line = process.wait_line("listening on ");
    let address = line["listening on ".len()..]
        .split_whitespace()
        .next()
        .unwrap();
    let port = address.rsplit(':').next().unwrap().parse().unwrap();
    (
        Proxy {
            process,
            ports: vec![port],
        },
        file,
    )
}

/// Starts the fake ESPHome proxy (tests/testbeds/esphome) with fast timings.
pub fn fake_proxy() -> (Process, u16) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbeds/esphome/fake_proxy.py");
    let mut command = Command::new(python());
    command.arg(script).args(["--port", "0"]);
    let mut process = spawn(command);
    let line = process.wait_line("LISTENING ");
    let port = line["LISTENING ".len()..].trim().parse().unwrap();
    (process, port)
}

/// Starts the driver without waiting for it.
pub fn start_driver(scenario: &str, ports: &[u16], extra: &[&str]) -> Process {
    start_script("driver.py", Some(scenario), ports, extra)
}

/// Starts one of this directory's Python scripts without waiting for it.
pub fn start_script(
    script: &str,
    scenario: Option<&str>,
    ports: &[u16],
    extra: &[&str],
) -> Process {
    let mut command = Command::new(python());
    command.arg(here().join(script)).args(scenario);
    for port in ports {
        command.args(["--port", &port.to_string()]);
    }
    command
        .args(["--version", env!("CARGO_PKG_VERSION")])
        .args(extra);
    spawn(command)
}

/// Runs a driver scenario to the end and fails the test with its output if a check failed.
/// Returns the `PASS` lines.
pub fn driver(scenario: &str, ports: &[u16], extra: &[&str]) -> Vec<String> {
    run_script("driver.py", Some(scenario), ports, extra)
}

/// Runs one of this directory's Python scripts to the end, as [`driver`] does.
pub fn run_script(
    script: &str,
    scenario: Option<&str>,
    ports: &[u16],
    extra: &[&str],
) -> Vec<String> {
    let scenario_name = scenario.unwrap_or(script);
    let mut process = start_script(script, scenario, ports, extra);
    let deadline = std::time::Instant::now() + DRIVER;
    let status = loop {
        if let Some(status) = process.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "driver {scenario_name} ran longer than {DRIVER:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let output: Vec<String> = process.lines.try_iter().collect();
    assert!(
        status.success(),
        "driver {scenario_name} failed ({status}):\n{}\n--- driver stderr ---\n{}",
        output.join("\n"),
        process.log()
    );
    output
        .into_iter()
        .filter(|l| l.starts_with("PASS "))
        .collect()
}

//! `bluefleet run` as a daemon: SIGHUP applies a changed hub file without touching what did
//! not change, SIGTERM shuts down cleanly with exit 0. The sim runs in real time here (no
//! `--duration`), so every wait is for a line of output, bounded by a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(30);

const LIVING_ROOM: &str = "[[device]]\naddress = \"A4:C1:38:00:00:01\"\nname = \"Living room\"\nsubscribe = [{ characteristic = \"2a6e\", decode = \"sint16\", scale = 0.01 }]\n";
const CHEST_STRAP: &str = "[[device]]\naddress = \"F0:0D:00:00:00:07\"\nname = \"Chest strap\"\nsubscribe = [{ characteristic = \"2a37\" }]\n";

/// A running `bluefleet` child and its stdout lines.
struct Daemon {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Daemon {
    /// `bluefleet run --json --config HUB`.
    fn start(hub: &std::path::Path) -> Self {
        let hub = hub.to_str().unwrap();
        Self::spawn(&["run", "--json", "--config", hub])
    }

    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self { child, lines }
    }

    /// The JSON lines up to and including the first that `wanted` accepts.
    fn until(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no {what} within {PATIENCE:?}; saw {seen:?}"));
            let Ok(line) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let found = wanted(&line);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }

    /// The next `reloaded` line (what the hub runs after a SIGHUP).
    fn reloaded(&self) -> Value {
        let lines = self.until("the reloaded line", |line| line["event"] == "reloaded");
        lines.last().cloned().unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and waits (bounded) for the exit: it must be a clean one.
    fn terminate_cleanly(&mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "SIGTERM did not stop it");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn value_of(device: &'static str) -> impl Fn(&Value) -> bool {
    move |line| line["device"] == device && !line["value"].is_null()
}

#[test]
fn sighup_adds_a_device_without_touching_the_others_and_sigterm_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let radios = "seed = 3\n[[radio]]\nbackend = \"sim\"\nworld = \"flat\"\n";
    std::fs::write(&hub, format!("{radios}{LIVING_ROOM}")).unwrap();
    let mut daemon = Daemon::start(&hub);
    daemon.until("a living-room value", value_of("Living room"));

    std::fs::write(&hub, format!("{radios}{LIVING_ROOM}{CHEST_STRAP}")).unwrap();
    daemon.signal("HUP");
    let after_reload = daemon.until("a chest-strap value after SIGHUP", value_of("Chest strap"));
    let after_reload = [
        after_reload,
        daemon.until("a living-room value", value_of("Living room")),
    ]
    .concat();
    assert!(
        after_reload
            .iter()
            .all(|l| !(l["device"] == "Living room" && l["event"].is_string())),
        "the unchanged device saw no disconnect or resubscribe: {after_reload:?}"
    );

    daemon.terminate_cleanly();
}

#[test]
fn a_bad_file_on_sighup_keeps_the_running_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let radios = "[[radio]]\nbackend = \"sim\"\nworld = \"flat\"\n";
    std::fs::write(&hub, format!("{radios}{LIVING_ROOM}")).unwrap();
    let daemon = Daemon::start(&hub);
    daemon.until("a living-room value", value_of("Living room"));
    std::fs::write(&hub, "[[radio]]\nbackend = \"sim\"\nslots = \"x\"\n").unwrap();
    daemon.signal("HUP");
    daemon.until(
        "living-room values after a refused reload",
        value_of("Living room"),
    );
    daemon.until("more living-room values", value_of("Living room"));
}

#[test]
fn the_radio_watchdog_setting_is_checked_in_the_file_and_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let radios = "[[radio]]\nbackend = \"sim\"\nworld = \"flat\"\n";
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .args(["run", "--duration", "5s", "--config"])
            .arg(&hub)
            .args(extra)
            .output()
            .unwrap()
    };
    std::fs::write(&hub, format!("radio_watchdog = \"soon\"\n{radios}")).unwrap();
    let bad_file = run(&[]);
    let said = String::from_utf8_lossy(&bad_file.stderr);
    assert!(!bad_file.status.success());
    assert!(
        said.contains("radio_watchdog") && said.contains("'soon'"),
        "{said}"
    );
    // The flag overrides the file, and is checked itself.
    std::fs::write(&hub, format!("radio_watchdog = \"30s\"\n{radios}")).unwrap();
    assert!(run(&["--radio-watchdog", "off"]).status.success());
    let bad_flag = run(&["--radio-watchdog", "0.5s"]);
    let said = String::from_utf8_lossy(&bad_flag.stderr);
    assert!(!bad_flag.status.success());
    assert!(
        said.contains("--radio-watchdog") && said.contains("at least 1s"),
        "{said}"
    );
}

#[test]
fn sigterm_stops_bluefleet_proxy_cleanly() {
    let mut proxy = Daemon::spawn(&["proxy", "--listen", "127.0.0.1:0", "--no-mdns"]);
    let first = proxy
        .lines
        .recv_timeout(PATIENCE)
        .expect("a listening line");
    assert!(first.starts_with("listening on 127.0.0.1:"), "{first}");
    proxy.terminate_cleanly();
}

/// A world of one proxy named `radio` and the two climate sensors.
fn one_proxy_world(radio: &str) -> String {
    let sensor = |n: u8, x: f64| {
        format!(
            "[[devices]]\naddress = \"A4:C1:38:00:00:0{n}\"\nprofile = \"env-sensor\"\nposition = [{x}, 1.0]\nadvert_interval = \"1s\"\n"
        )
    };
    format!(
        "[[radios]]\nname = \"{radio}\"\nkind = \"esphome-proxy\"\nslot_limit = 3\nposition = [0.0, 0.0]\n{}{}",
        sensor(1, 1.0),
        sensor(2, 2.0)
    )
}

#[test]
fn sighup_removes_the_radios_and_releases_the_devices_gone_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), one_proxy_world("proxy-a")).unwrap();
    std::fs::write(dir.path().join("b.toml"), one_proxy_world("proxy-b")).unwrap();
    let hub = dir.path().join("hub.toml");
    let radio = |world: &str| format!("[[radio]]\nbackend = \"sim\"\nworld = \"{world}\"\n");
    const KITCHEN: &str = "[[device]]\naddress = \"A4:C1:38:00:00:02\"\nname = \"Kitchen\"\nsubscribe = [{ characteristic = \"2a6e\" }]\n";
    let (a, b) = (radio("a.toml"), radio("b.toml"));
    std::fs::write(&hub, format!("seed = 5\n{a}{b}{LIVING_ROOM}{KITCHEN}")).unwrap();
    let mut daemon = Daemon::start(&hub);
    daemon.until("a living-room value", value_of("Living room"));
    daemon.until("a kitchen value", value_of("Kitchen"));

    std::fs::write(&hub, format!("seed = 5\n{a}{LIVING_ROOM}")).unwrap();
    daemon.signal("HUP");
    let running = daemon.reloaded();
    assert_eq!(
        running["radios"],
        serde_json::json!(["proxy-a"]),
        "{running}"
    );
    assert_eq!(
        running["devices"],
        serde_json::json!(["A4:C1:38:00:00:01"]),
        "the kitchen sensor is released, not just idle: {running}"
    );
    daemon.until(
        "a living-room value after the reload",
        value_of("Living room"),
    );
    daemon.terminate_cleanly();
}

#[test]
fn a_reload_with_a_bad_radio_entry_applies_the_others_and_says_which_failed() {
    let dir = tempfile::tempdir().unwrap();
    let world = |file: &str, text: &str| std::fs::write(dir.path().join(file), text).unwrap();
    world("a.toml", &one_proxy_world("proxy-a"));
    world("b.toml", "[[radios]]\nname = \"proxy-b\"\n");
    world("c.toml", &one_proxy_world("proxy-c"));
    let hub = dir.path().join("hub.toml");
    let radio = |world: &str| format!("[[radio]]\nbackend = \"sim\"\nworld = \"{world}\"\n");
    std::fs::write(&hub, format!("{}{LIVING_ROOM}", radio("a.toml"))).unwrap();
    let mut daemon = Daemon::start(&hub);
    daemon.until("a living-room value", value_of("Living room"));

    let (a, b, c) = (radio("a.toml"), radio("b.toml"), radio("c.toml"));
    std::fs::write(&hub, format!("{a}{b}{c}{LIVING_ROOM}")).unwrap();
    daemon.signal("HUP");
    let running = daemon.reloaded();
    assert_eq!(
        running["radios"],
        serde_json::json!(["proxy-a", "proxy-c"]),
        "{running}"
    );
    let not_applied = running["not_applied"].as_str().unwrap_or_default();
    assert!(
        not_applied.starts_with("radio[1] (sim world b.toml): ")
            && !not_applied.contains("radio[2]"),
        "{running}"
    );

    world("b.toml", &one_proxy_world("proxy-b"));
    daemon.signal("HUP");
    let running = daemon.reloaded();
    assert_eq!(
        running["radios"],
        serde_json::json!(["proxy-a", "proxy-b", "proxy-c"]),
        "{running}"
    );
    assert!(running["not_applied"].is_null(), "{running}");
    daemon.terminate_cleanly();
}

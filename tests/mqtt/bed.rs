//! The test bed: a real mosquitto per test on 127.0.0.1 and a free port, `bluefleet run` as a
//! child process on a simulated world in real time, and mosquitto's own clients
//! (`mosquitto_sub`, `mosquitto_pub`) as the independent observer. Every wait is bounded.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Topics the watchers probe their own subscription with; no watcher passes them on.
const PROBE_PREFIX: &str = "bluefleet-test/probe/";

/// Where Debian puts the broker.
const MOSQUITTO: [&str; 2] = ["/usr/sbin/mosquitto", "mosquitto"];

fn mosquitto_binary() -> Option<String> {
    MOSQUITTO
        .iter()
        .find(|bin| {
            Command::new(bin)
                .arg("-h")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .map(|bin| bin.to_string())
}

/// The broker, or `None` (with a message naming the packages) when it is not installed.
pub fn broker() -> Option<Broker> {
    let Some(binary) = mosquitto_binary() else {
        eprintln!(
            "skipping: mosquitto is not installed (Debian packages `mosquitto` and \
             `mosquitto-clients`; .ci/run installs them)"
        );
        return None;
    };
    Some(Broker::start(binary))
}

/// One mosquitto on loopback.
pub struct Broker {
    binary: String,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    tls_port: Option<u16>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Broker {
    fn start(binary: String) -> Self {
        let mut broker = Self {
            binary,
            port: free_port(),
            dir: tempfile::tempdir().expect("a temp dir"),
            child: None,
            tls_port: None,
        };
        broker.up();
        broker
    }

    /// Starts the broker process (empty: no persistence) and waits until it accepts.
    pub fn up(&mut self) {
        let conf = self.dir.path().join("mosquitto.conf");
        let mut text = format!(
            "per_listener_settings false\nallow_anonymous true\npersistence false\nlistener {} 127.0.0.1\n",
            self.port
        );
        if let Some(tls) = self.tls_port {
            let dir = self.dir.path().display();
            text += &format!(
                "listener {tls} 127.0.0.1\ncafile {dir}/ca.pem\ncertfile {dir}/server.pem\nkeyfile {dir}/server.key\n"
            );
        }
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(&self.binary)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen in 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Restarts the broker with a second, TLS listener (certificates `ca.pem`, `server.pem`,
    /// `server.key` in its directory); returns that port.
    pub fn add_tls_listener(&mut self) -> u16 {
        let port = free_port();
        self.tls_port = Some(port);
        self.down();
        self.up();
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto's TLS listener did not open"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        port
    }

    /// Kills the broker (everything retained is lost: it has no persistence).
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A subscriber on `filter` (MQTT 5), printing retain flag, topic, correlation data, payload.
    /// It returns once the broker has the subscription: it also subscribes to a probe topic of
    /// its own and publishes to it until the probe comes back, so a message published after
    /// this returns cannot be missed (mosquitto_sub says nothing when it has subscribed).
    pub fn watch(&self, filter: &str) -> Watch {
        static PROBES: AtomicU64 = AtomicU64::new(0);
        let probe = format!(
            "{PROBE_PREFIX}{}-{}",
            std::process::id(),
            PROBES.fetch_add(1, Ordering::Relaxed)
        );
        let mut child = Command::new("mosquitto_sub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-V",
                "mqttv5",
            ])
            .args(["-t", filter, "-t", &probe, "-F", "%r\x1f%t\x1f%D\x1f%p"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub starts");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let own_probe = probe.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut parts = line.splitn(4, '\x1f');
                let seen = Seen {
                    retained: parts.next() == Some("1"),
                    topic: parts.next().unwrap_or_default().to_string(),
                    correlation: parts.next().unwrap_or_default().to_string(),
                    payload: parts.next().unwrap_or_default().to_string(),
                };
                if seen.topic.starts_with(PROBE_PREFIX) {
                    if seen.topic == own_probe {
                        let _ = ready_tx.send(());
                    }
                    continue;
                }
                if tx.send(seen).is_err() {
                    return;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.publish(&probe, "", &[], true);
            if ready.recv_timeout(Duration::from_millis(250)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto_sub on {filter} did not subscribe within 20 s"
            );
        }
        Watch { child, rx }
    }

    /// What is retained under `filter` now (collected for `within`).
    pub fn retained(&self, filter: &str, within: Duration) -> Vec<Seen> {
        let watch = self.watch(filter);
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while let Some(message) = watch.next_before(deadline) {
            if message.retained {
                seen.push(message);
            }
        }
        seen
    }

    /// Publishes with mosquitto_pub; `properties` are `-D publish …` pairs (MQTT 5).
    pub fn publish(&self, topic: &str, payload: &str, properties: &[(&str, &str)], v5: bool) {
        let mut command = Command::new("mosquitto_pub");
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        command.args(["-V", if v5 { "mqttv5" } else { "mqttv311" }]);
        command.args(["-t", topic, "-m", payload]);
        for (name, value) in properties {
            command.args(["-D", "publish", name, value]);
        }
        let status = command.status().expect("mosquitto_pub runs");
        assert!(status.success(), "mosquitto_pub failed");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.down();
    }
}

/// One message a watcher saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub retained: bool,
    pub topic: String,
    pub correlation: String,
    pub payload: String,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.payload)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.topic, self.payload))
    }
}

/// A running mosquitto_sub.
pub struct Watch {
    child: Child,
    rx: mpsc::Receiver<Seen>,
}

impl Watch {
    fn next_before(&self, deadline: Instant) -> Option<Seen> {
        let left = deadline.checked_duration_since(Instant::now())?;
        self.rx.recv_timeout(left).ok()
    }

    /// The first message matching `accept` within `within`, or a panic naming `what`.
    pub fn until(&self, what: &str, within: Duration, accept: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + within;
        while let Some(seen) = self.next_before(deadline) {
            if accept(&seen) {
                return seen;
            }
        }
        panic!("no {what} within {within:?}");
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The world every test runs: one local radio, a climate sensor kept connected, a counter
/// (notifying, with a writable byte) that only commands touch, and a BTHome thermometer that
/// only advertises.
pub const WORLD: &str = r#"
[[radios]]
name = "hci0"
kind = "local-controller"
slot_limit = 3
position = [0.0, 0.0]

[[devices]]
address = "A4:C1:38:00:00:01"
name = "Living room climate"
profile = "env-sensor"
position = [2.0, 1.0]
advert_interval = "500ms"

[[devices]]
address = "C0:FF:EE:00:00:01"
name = "Counter"
profile = "counter"
position = [3.0, 0.0]
advert_interval = "500ms"

[[devices]]
address = "A4:C1:38:8D:18:B2"
name = "ATC_8D18B2"
advert_format = "bthome"
readings = { temperature = 21.4, humidity = 48.0, battery = 87 }
position = [1.0, 1.0]
advert_interval = "500ms"
"#;

/// The hub file's devices.
pub const DEVICES: &str = r#"
[[device]]
address = "A4:C1:38:00:00:01"
name = "Living room"
subscribe = [
  { characteristic = "2a6e", decode = "int16le", scale = 0.01, unit = "°C" },
  { characteristic = "2a6f", decode = "uint16le", scale = 0.01, unit = "%" },
  { characteristic = "2a19", decode = "uint8", unit = "%", poll = "2s" },
]
"#;

/// `bluefleet run` as a child process.
pub struct Hub {
    child: Option<Child>,
    pub config: PathBuf,
}

impl Hub {
    /// Starts a hub named `attic` on `broker` with `extra` lines in `[mqtt]` and `devices`.
    pub fn start(broker: &Broker, devices: &str, extra: &str) -> Self {
        Self::start_on(broker, broker.port, devices, extra)
    }

    /// The same, on another port of the broker.
    pub fn start_on(broker: &Broker, port: u16, devices: &str, extra: &str) -> Self {
        let dir = broker.dir();
        std::fs::write(dir.join("world.toml"), WORLD).expect("write world");
        let config = dir.join("hub.toml");
        std::fs::write(
            &config,
            format!(
                "seed = 7\n[[radio]]\nbackend = \"sim\"\nworld = \"world.toml\"\n{devices}\n\
                 [mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nhub = \"attic\"\nkeepalive = \"5s\"\n{extra}\n"
            ),
        )
        .expect("write hub.toml");
        let child = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bluefleet runs");
        Self {
            child: Some(child),
            config,
        }
    }

    /// Stops it as Ctrl-C would, and waits (bounded) for it to exit.
    pub fn interrupt(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("bluefleet run did not stop within 15 s of SIGINT");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

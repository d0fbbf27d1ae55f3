//! The cluster's test bed: three `bluefleet run` processes on the same simulated devices and
//! seed, each with its own radio in another corner of the house, on one mosquitto; a loopback
//! TCP relay the test owns, to cut one hub from the broker without the hub knowing; and every
//! sim link change, read from each hub's own log with the log's timestamps, so the test can
//! check that no two hubs ever held one device at the same moment.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::bed::Broker;

/// The MQTT keepalive of every hub: the lease, and the takeover bound is twice it.
pub const KEEPALIVE: Duration = Duration::from_secs(5);

/// Six devices: two near each hub's radio.
pub const DEVICES: [(&str, [f64; 2]); 6] = [
    ("A4:C1:38:00:00:01", [1.0, 1.0]),
    ("A4:C1:38:00:00:02", [2.0, 2.5]),
    ("A4:C1:38:00:00:03", [11.0, 1.0]),
    ("A4:C1:38:00:00:04", [10.0, 2.5]),
    ("A4:C1:38:00:00:05", [6.0, 9.0]),
    ("A4:C1:38:00:00:06", [7.5, 8.0]),
];

/// The hubs and where their one radio stands.
pub const HUBS: [(&str, [f64; 2]); 3] = [
    ("attic", [0.0, 0.0]),
    ("cellar", [12.0, 0.0]),
    ("garage", [6.0, 10.0]),
];

/// The hub whose radio is nearest to `device` (the one that hears it best).
pub fn nearest(device: &str) -> &'static str {
    let (_, at) = DEVICES.iter().find(|(a, _)| *a == device).unwrap();
    let distance = |p: &[f64; 2]| (p[0] - at[0]).hypot(p[1] - at[1]);
    HUBS.iter()
        .min_by(|a, b| distance(&a.1).total_cmp(&distance(&b.1)))
        .unwrap()
        .0
}

fn world(radio: &str, at: [f64; 2]) -> String {
    let mut text = format!(
        "[rf]\nnoise_sigma_db = 1.0\n\n[[radios]]\nname = \"{radio}-hci\"\nkind = \"local-controller\"\n\
         slot_limit = 3\nposition = [{}, {}]\n",
        at[0], at[1]
    );
    for (address, position) in DEVICES {
        text += &format!(
            "\n[[devices]]\naddress = \"{address}\"\nprofile = \"env-sensor\"\nposition = [{}, {}]\nadvert_interval = \"250ms\"\n",
            position[0], position[1]
        );
    }
    text
}

/// One sim link change in a hub, at the hub's log time (µs since the Unix epoch).
#[derive(Clone, Debug)]
pub struct LinkChange {
    pub at_us: i64,
    pub device: String,
    pub up: bool,
}

/// One claim a hub published (its log's `claiming <ADDRESS> (epoch n)` line).
#[derive(Clone, Debug)]
pub struct ClaimMade {
    pub at_us: i64,
    pub device: String,
    pub epoch: u64,
}

/// Microseconds since the Unix epoch of a log timestamp `2026-12-01T14:30:00.123456Z`.
fn log_time_us(stamp: &str) -> Option<i64> {
    let (date, time) = stamp.trim_end_matches('Z').split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next()?.parse::<i64>().ok()?,
        hms.next()?.parse::<i64>().ok()?,
    );
    let seconds: f64 = hms.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000_000 + (seconds * 1e6).round() as i64)
}

/// Now, in the log's time base.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// One hub process.
pub struct ClusterHub {
    pub name: &'static str,
    child: Option<Child>,
    pub links: Arc<Mutex<Vec<LinkChange>>>,
    pub claims: Arc<Mutex<Vec<ClaimMade>>>,
    /// When it was killed (µs), if it was.
    pub killed_at: Option<i64>,
}

impl ClusterHub {
    /// Starts hub `index` of [`HUBS`] on `port` (the broker's or a relay's).
    pub fn start(broker: &Broker, index: usize, port: u16) -> Self {
        let (name, at) = HUBS[index];
        let dir = broker.dir();
        std::fs::write(dir.join(format!("world-{name}.toml")), world(name, at)).unwrap();
        let mut hub =
            format!("seed = 11\n[[radio]]\nbackend = \"sim\"\nworld = \"world-{name}.toml\"\n");
        for (address, _) in DEVICES {
            hub += &format!("[[device]]\naddress = \"{address}\"\n");
        }
        hub += &format!(
            "[mqtt]\nhost = \"127.0.0.1\"\nport = {port}\nhub = \"{name}\"\nkeepalive = \"{}s\"\n\
             discovery = false\n[cluster]\nname = \"house\"\n",
            KEEPALIVE.as_secs()
        );
        let config = dir.join(format!("hub-{name}.toml"));
        std::fs::write(&config, hub).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .args(["run", "--config"])
            .arg(&config)
            .env(
                "RUST_LOG",
                "warn,bluefleet::backend::sim=debug,bluefleet::mqtt::cluster=info",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bluefleet runs");
        let stderr = child.stderr.take().unwrap();
        let links = Arc::new(Mutex::new(Vec::new()));
        let claims = Arc::new(Mutex::new(Vec::new()));
        let (sink, claim_sink) = (Arc::clone(&links), Arc::clone(&claims));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let stamp = line.split_whitespace().next().unwrap_or_default();
                if let Some(rest) = line.split("cluster: claiming ").nth(1) {
                    let mut words = rest.split_whitespace();
                    let device = words.next().unwrap_or_default().to_string();
                    let epoch = words
                        .nth(1)
                        .and_then(|e| e.trim_end_matches(')').parse().ok())
                        .unwrap_or_default();
                    let at_us = log_time_us(stamp)
                        .unwrap_or_else(|| panic!("no timestamp in log line: {line}"));
                    claim_sink.lock().unwrap().push(ClaimMade {
                        at_us,
                        device,
                        epoch,
                    });
                    continue;
                }
                let up = line.contains("sim link up ");
                if !up && !line.contains("sim link down ") {
                    continue;
                }
                let device = line
                    .split("sim link ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .unwrap_or_default()
                    .to_string();
                let at_us = log_time_us(stamp)
                    .unwrap_or_else(|| panic!("no timestamp in log line: {line}"));
                sink.lock().unwrap().push(LinkChange { at_us, device, up });
            }
        });
        Self {
            name,
            child: Some(child),
            links,
            claims,
            killed_at: None,
        }
    }

    /// SIGKILL: no goodbye, no release; its sim's links end with it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.killed_at = Some(now_us());
        }
    }

    /// The devices its sim has a link to now.
    pub fn holding(&self) -> Vec<String> {
        if self.killed_at.is_some() {
            return Vec::new();
        }
        let mut open = BTreeMap::new();
        for change in self.links.lock().unwrap().iter() {
            open.insert(change.device.clone(), change.up);
        }
        open.into_iter()
            .filter(|(_, up)| *up)
            .map(|(d, _)| d)
            .collect()
    }

    /// Every link interval `(device, from, until)`; open ones end at the kill or at `now`.
    pub fn intervals(&self, now: i64) -> Vec<(String, i64, i64)> {
        let mut open: BTreeMap<String, i64> = BTreeMap::new();
        let mut out = Vec::new();
        for change in self.links.lock().unwrap().iter() {
            if change.up {
                open.insert(change.device.clone(), change.at_us);
            } else if let Some(from) = open.remove(&change.device) {
                out.push((change.device.clone(), from, change.at_us));
            }
        }
        let end = self.killed_at.unwrap_or(now);
        out.extend(open.into_iter().map(|(d, from)| (d, from, end)));
        out
    }

    /// When it last claimed `device`, and under which epoch.
    pub fn last_claim(&self, device: &str) -> Option<(i64, u64)> {
        self.claims
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.device == device)
            .map(|c| (c.at_us, c.epoch))
    }

    /// When its sim last brought a link to `device` up, and down.
    pub fn last(&self, device: &str, up: bool) -> Option<i64> {
        self.links
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|c| c.device == device && c.up == up)
            .map(|c| c.at_us)
    }
}

impl Drop for ClusterHub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Which hub holds each device now, waiting (bounded) until every device is held by exactly
/// one hub.
pub fn settled(hubs: &[ClusterHub], within: Duration) -> BTreeMap<String, &'static str> {
    let deadline = Instant::now() + within;
    loop {
        let mut holders: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        for hub in hubs {
            for device in hub.holding() {
                holders.entry(device).or_default().push(hub.name);
            }
        }
        let once = holders.len() == DEVICES.len() && holders.values().all(|h| h.len() == 1);
        if once {
            return holders.into_iter().map(|(d, h)| (d, h[0])).collect();
        }
        assert!(
            Instant::now() < deadline,
            "devices not each held once within {within:?}: {holders:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Panics if two hubs' sims ever had a link to one device at the same moment.
pub fn assert_never_two_holders(hubs: &[ClusterHub]) {
    let now = now_us();
    let all: Vec<(&str, String, i64, i64)> = hubs
        .iter()
        .flat_map(|hub| {
            hub.intervals(now)
                .into_iter()
                .map(move |(d, from, until)| (hub.name, d, from, until))
        })
        .collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let overlap = a.1 == b.1 && a.0 != b.0 && a.2 < b.3 && b.2 < a.3;
            assert!(!overlap, "two hubs held {} at once: {a:?} and {b:?}", a.1);
        }
    }
}

/// A loopback TCP relay in front of the broker that can stop forwarding (a silent cut: no
/// socket closes, as when a network path dies).
pub struct Relay {
    pub port: u16,
    cut: Arc<AtomicBool>,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    pub fn start(to: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let (flag, kept) = (Arc::clone(&cut), Arc::clone(&streams));
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                for stream in [&client, &upstream] {
                    kept.lock().unwrap().push(stream.try_clone().unwrap());
                }
                pump(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    &flag,
                );
                pump(upstream, client, &flag);
            }
        });
        Self { port, cut, streams }
    }

    /// Stops forwarding in both directions; the sockets stay open.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, cut: &Arc<AtomicBool>) {
    let cut = Arc::clone(cut);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 {
                break;
            }
            if !cut.load(Ordering::SeqCst) && to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

impl Drop for Relay {
    fn drop(&mut self) {
        for stream in self.streams.lock().unwrap().iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

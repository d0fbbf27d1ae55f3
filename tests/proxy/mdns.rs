//! The mDNS announcement, found by the library Home Assistant discovers ESPHome devices with
//! (python-zeroconf), without a packet leaving loopback: everything runs in a fresh user and
//! network namespace (`unshare --user --net`) whose only interface is `lo`, with multicast
//! routed to it. Skips, saying why, where unprivileged namespaces are not allowed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::bed::{python, KEY};

/// Whether this machine lets an unprivileged user make a network namespace.
fn namespaces_allowed() -> bool {
    Command::new("unshare")
        .args([
            "--user",
            "--net",
            "--map-root-user",
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The namespace's script: loopback up with the mDNS group routed to it, an announcing proxy
/// (with a key) and a `--no-mdns` one, then the browser.
const SCRIPT: &str = r#"set -e
ip link set lo up
ip route add 224.0.0.0/4 dev lo
"$BIN" proxy --backend sim --world "$WORLD" --listen 127.0.0.1:0 --name announced --psk "$KEY" --duration 25s &
A=$!
"$BIN" proxy --backend sim --world "$WORLD" --listen 127.0.0.1:0 --name silent --no-mdns --duration 25s &
B=$!
sleep 1
"$PY" "$BROWSE" --seconds 6
kill $A $B 2>/dev/null || true
wait
"#;

#[test]
fn the_announcement_is_found_by_zeroconf_on_loopback_and_no_mdns_keeps_quiet() {
    if !namespaces_allowed() {
        eprintln!(
            "SKIPPED: the mDNS test needs unprivileged user and network namespaces \
             (`unshare --user --net`, util-linux) and `ip` (iproute2)"
        );
        return;
    }
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proxy");
    let started = Instant::now();
    let output = Command::new("unshare")
        .args(["--user", "--net", "--map-root-user", "sh", "-c", SCRIPT])
        .env("BIN", env!("CARGO_BIN_EXE_bluefleet"))
        .env("WORLD", here.join("world.toml"))
        .env("PY", python())
        .env("BROWSE", here.join("mdns_browse.py"))
        .env("KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    assert!(started.elapsed() < Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let log = format!(
        "{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{log}");
    let listening = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with("listening on ") && l.contains(&format!("({name}, MAC ")))
            .unwrap_or_else(|| panic!("no listening line for {name}: {log}"))
            .to_string()
    };
    let announced = listening("announced");
    listening("silent");
    let found: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("FOUND "))
        .map(|j| serde_json::from_str(j).unwrap())
        .collect();
    assert_eq!(found.len(), 1, "only the announcing proxy is found: {log}");
    let service = &found[0];
    assert_eq!(service["name"], "announced._esphomelib._tcp.local.");
    let port = announced
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .unwrap();
    assert_eq!(service["port"].to_string(), port, "{log}");
    assert_eq!(service["addresses"], serde_json::json!(["127.0.0.1"]));
    let mac = announced
        .split("MAC ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .replace(':', "")
        .to_lowercase();
    let properties = &service["properties"];
    assert_eq!(properties["mac"], mac.as_str(), "{log}");
    assert_eq!(properties["friendly_name"], "announced");
    assert_eq!(properties["project_name"], "bluefleet.hub");
    assert_eq!(properties["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        properties["api_encryption"],
        "Noise_NNpsk0_25519_ChaChaPoly_SHA256"
    );
}

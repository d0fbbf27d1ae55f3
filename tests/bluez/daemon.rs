//! `bluefleet run` against the BlueZ double, as systemd would run it: SIGTERM disconnects
//! every device before the process exits (BlueZ shows `Connected = false`), with exit 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use zbus::fdo::PropertiesProxy;

use crate::bed::{thermometer, MockBluez, PATIENCE};
use crate::THERMO;

/// Waits until the device's `Connected` is `wanted`, on the property's change signals.
async fn connected_becomes(bed: &MockBluez, device: &str, wanted: bool) {
    let conn = bed.connection().await;
    let props = PropertiesProxy::builder(&conn)
        .destination("org.bluez")
        .path(device.to_string())
        .build()
        .await
        .unwrap();
    let mut changes = props.receive_properties_changed().await.unwrap();
    let now = props
        .get("org.bluez.Device1".try_into().unwrap(), "Connected")
        .await
        .unwrap();
    if bool::try_from(&*now).unwrap() == wanted {
        return;
    }
    let seen = tokio::time::timeout(PATIENCE, async {
        while let Some(change) = changes.next().await {
            let args = change.args().unwrap();
            if let Some(value) = args.changed_properties().get("Connected") {
                if bool::try_from(value).unwrap() == wanted {
                    return;
                }
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "Connected did not become {wanted} within {PATIENCE:?}"
    );
}

#[tokio::test]
async fn sigterm_on_run_disconnects_every_device_and_exits_zero() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let thermo = thermometer(&mock, "hci0", THERMO).await;
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    std::fs::write(
        &hub,
        format!("[[radio]]\nbackend = \"bluez\"\nadapter = \"hci0\"\n[[device]]\naddress = \"{THERMO}\"\n"),
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args(["run", "--config"])
        .arg(&hub)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bed.address())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The advert makes BlueZ report the device; bluefleet then keeps it connected.
    mock.advertise(&thermo.device, -60, Default::default())
        .await
        .unwrap();
    connected_becomes(&bed, &thermo.device, true).await;

    let status = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = daemon.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop the daemon");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    connected_becomes(&bed, &thermo.device, false).await;
}

#[tokio::test]
async fn scan_leaves_other_programs_links_alone_unless_asked() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let thermo = thermometer(&mock, "hci0", THERMO).await;
    crate::discovery::connect_outside_bluefleet(&bed, &thermo.device).await;
    let scan = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .args(["scan", "--backend", "bluez", "--duration", "1s"])
            .args(extra)
            .env("DBUS_SYSTEM_BUS_ADDRESS", bed.address())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    scan(&[]);
    connected_becomes(&bed, &thermo.device, true).await;
    scan(&["--close-stale-connections"]);
    connected_becomes(&bed, &thermo.device, false).await;
}

/// The hub's `reloaded` lines, from `bluefleet run --json`'s stdout.
struct Reloads(tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>);

impl Reloads {
    /// The next `reloaded` line, within [`PATIENCE`].
    async fn next(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = self.0.next_line().await.unwrap() {
                let Ok(line) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if line["event"] == "reloaded" {
                    return line;
                }
            }
            panic!("bluefleet run ended before a reloaded line");
        })
        .await;
        line.expect("a reloaded line after SIGHUP")
    }
}

/// The new entries are an adapter (added) and a world file that does not parse (refused): the
/// adapter follower still learns of the added adapter, so unplugging it removes it.
#[tokio::test]
async fn a_reload_that_fails_in_part_follows_the_adapters_it_added() {
    use tokio::io::AsyncBufReadExt;
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    mock.add_adapter("hci1", "hub-2").await.unwrap();
    let thermo = thermometer(&mock, "hci0", THERMO).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), "[[radios]]\nname = 3\n").unwrap();
    let hub = dir.path().join("hub.toml");
    let entry =
        |adapter: &str| format!("[[radio]]\nbackend = \"bluez\"\nadapter = \"{adapter}\"\n");
    let device = format!("[[device]]\naddress = \"{THERMO}\"\n");
    std::fs::write(&hub, format!("{}{device}", entry("hci0"))).unwrap();
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args(["run", "--json", "--config"])
        .arg(&hub)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bed.address())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut reloads = Reloads(tokio::io::BufReader::new(daemon.stdout.take().unwrap()).lines());
    let hangup = || {
        let sent = Command::new("kill")
            .args(["-HUP", &daemon.id().unwrap().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    // Running (and handling signals) once it keeps the thermometer connected.
    mock.advertise(&thermo.device, -60, Default::default())
        .await
        .unwrap();
    connected_becomes(&bed, &thermo.device, true).await;

    let world = "[[radio]]\nbackend = \"sim\"\nworld = \"bad.toml\"\n";
    std::fs::write(
        &hub,
        format!("{}{}{world}{device}", entry("hci0"), entry("hci1")),
    )
    .unwrap();
    hangup();
    let running = reloads.next().await;
    assert_eq!(
        running["radios"],
        serde_json::json!(["hci0", "hci1"]),
        "{running}"
    );
    let not_applied = running["not_applied"].as_str().unwrap_or_default();
    assert!(
        not_applied.starts_with("radio[2] (sim world bad.toml): "),
        "{running}"
    );

    mock.remove_adapter_with_devices("hci1").await.unwrap();
    // Each SIGHUP says what runs (the bad entry is refused again); the follower's removal
    // arrives within PATIENCE.
    let deadline = Instant::now() + PATIENCE;
    loop {
        hangup();
        let running = reloads.next().await;
        if running["radios"] == serde_json::json!(["hci0"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "hci1 was not followed: {running}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

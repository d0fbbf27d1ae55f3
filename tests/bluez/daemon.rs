//! `bluefleet run` against the BlueZ double, as systemd would run it: SIGTERM disconnects
//! every device before the process exits (BlueZ shows `Connected = false`), with exit 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use zbus::fdo::PropertiesProxy;

use crate::bed::{thermometer, MockBluez, PATIENCE};

const THERMO: &str = "D4:00:00:00:00:01";

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

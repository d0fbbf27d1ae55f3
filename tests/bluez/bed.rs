//! The test bed: a private system-like D-Bus and python-dbusmock's BlueZ double, per test.
//!
//! Each [`MockBluez`] starts its own `dbus-daemon` (in a temporary directory) and
//! `python -m dbusmock --template tests/testbeds/bluez/bluez_fleet.py` on it, and kills both
//! when dropped, so tests run in parallel without sharing state. The backend under test gets
//! a connection to that bus by address; the process environment is never touched.
//!
//! Python is `$BLUEFLEET_PYTHON`, else `/tmp/bluefleet-venv/bin/python` (what `.ci/run`
//! creates). A missing dbus-daemon or python-dbusmock fails the test with what to run.
//!
//! These tests talk to real processes, so they run on the real clock: every wait is for an
//! event, bounded by a deadline ([`within`]); none sleeps.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use bluefleet::fleet::SubscriptionEvent;
use bluefleet::Subscription;
use futures::StreamExt;
use tempfile::TempDir;
use zbus::{fdo, Connection, Variant};

/// How long a test waits for something the mock should do at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The UUIDs the fixtures use.
pub const ENV_SENSING: &str = "0000181a-0000-1000-8000-00805f9b34fb";
pub const TEMPERATURE: &str = "00002a6e-0000-1000-8000-00805f9b34fb";
pub const BATTERY_LEVEL: &str = "00002a19-0000-1000-8000-00805f9b34fb";
pub const CCCD: &str = "00002902-0000-1000-8000-00805f9b34fb";

/// One private bus with the BlueZ double on it.
pub struct MockBluez {
    address: String,
    // Field order is drop order: the mock goes first, then its bus, then the directory.
    _mock: KillOnDrop,
    _bus: KillOnDrop,
    dir: TempDir,
}

/// A child process that is killed (and reaped) when dropped, even if the test panics.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `org.bluez.Mock` at `/`: the template's control methods.
#[zbus::proxy(
    interface = "org.bluez.Mock",
    default_service = "org.bluez",
    default_path = "/"
)]
pub trait BluezMock {
    fn add_adapter(&self, device_name: &str, system_name: &str) -> zbus::Result<String>;
    fn remove_adapter_with_devices(&self, device_name: &str) -> zbus::Result<()>;
    fn add_le_device(
        &self,
        adapter: &str,
        address: &str,
        name: &str,
        rssi: i16,
    ) -> zbus::Result<String>;
    fn advertise(
        &self,
        device: &str,
        rssi: i16,
        manufacturer_data: HashMap<u16, Vec<u8>>,
    ) -> zbus::Result<()>;
    fn add_gatt_service(&self, device: &str, handle: u16, uuid: &str) -> zbus::Result<String>;
    fn add_gatt_characteristic(
        &self,
        service: &str,
        handle: u16,
        uuid: &str,
        flags: &[&str],
    ) -> zbus::Result<String>;
    fn add_gatt_descriptor(&self, chr: &str, handle: u16, uuid: &str) -> zbus::Result<String>;
    fn notify(&self, chr: &str, value: &[u8]) -> zbus::Result<()>;
    fn shift_gatt_service(&self, service: &str, new_handle: u16) -> zbus::Result<String>;
    fn inject_error(
        &self,
        path: &str,
        method: &str,
        error_name: &str,
        message: &str,
        sticky: bool,
    ) -> zbus::Result<()>;
    fn set_connect_delay(&self, device: &str, delay_ms: u32) -> zbus::Result<()>;
    fn get_max_connects_in_flight(&self, adapter: &str) -> zbus::Result<u32>;
    fn get_connects_in_flight(&self, adapter: &str) -> zbus::Result<u32>;
    fn get_last_write_type(&self, chr: &str) -> zbus::Result<String>;
    fn drop_connection(&self, device: &str) -> zbus::Result<()>;
    fn stall_discovery(&self, adapter: &str, cured_by: &str) -> zbus::Result<()>;
    fn get_recovery_counts(&self, adapter: &str) -> zbus::Result<(u32, u32)>;
    fn get_monitors(&self, adapter: &str) -> zbus::Result<Vec<String>>;
}

/// `org.freedesktop.DBus.Mock` on any mock object: raw property updates.
#[zbus::proxy(interface = "org.freedesktop.DBus.Mock", default_service = "org.bluez")]
pub trait ObjectMock {
    fn update_properties(
        &self,
        interface: &str,
        properties: HashMap<&str, Variant<'_>>,
    ) -> zbus::Result<()>;
}

fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = std::env::var("BLUEFLEET_PYTHON")
            .unwrap_or_else(|_| "/tmp/bluefleet-venv/bin/python".to_string());
        let importable = Command::new(&python)
            .args(["-c", "import dbusmock, dbus"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            importable,
            "python-dbusmock is not importable with {python} (set BLUEFLEET_PYTHON or run \
             `bash .ci/run`, which installs the test beds)"
        );
        python
    })
}

impl MockBluez {
    /// Starts a bus and the mock, and waits until the mock owns `org.bluez`.
    pub async fn start() -> Self {
        Self::start_with("{}").await
    }

    /// Like [`MockBluez::start`], with template parameters (JSON, e.g.
    /// `{"enable_monitor_api": false}`).
    pub async fn start_with(parameters: &str) -> Self {
        let python = python();
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus.sock");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(&socket.display().to_string())).unwrap();
        let mut bus = KillOnDrop(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--nofork", "--print-address=1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run dbus-daemon ({e}): run `bash .ci/run`")),
        );
        let mut line = String::new();
        BufReader::new(bus.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        let template = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/testbeds/bluez/bluez_fleet.py"
        );
        let mock = KillOnDrop(
            Command::new(python)
                .args(["-m", "dbusmock", "--system", "--template", template])
                .args(["-p", parameters, "-l"])
                .arg(dir.path().join("mock.log"))
                .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.path().join("mock.err")).unwrap())
                .spawn()
                .unwrap(),
        );
        let bed = Self {
            address,
            _mock: mock,
            _bus: bus,
            dir,
        };
        bed.wait_for_bluez().await;
        bed
    }

    async fn wait_for_bluez(&self) {
        let conn = self.connection().await;
        let dbus = fdo::DBusProxy::new(&conn).await.unwrap();
        let mut owners = dbus
            .receive_name_owner_changed_with_args(&[(0, "org.bluez")])
            .await
            .unwrap();
        if dbus
            .name_has_owner("org.bluez".try_into().unwrap())
            .await
            .unwrap()
        {
            return;
        }
        let appeared = tokio::time::timeout(Duration::from_secs(20), owners.next()).await;
        assert!(
            matches!(appeared, Ok(Some(_))),
            "the mock did not claim org.bluez: {}",
            std::fs::read_to_string(self.dir.path().join("mock.err")).unwrap_or_default()
        );
    }

    /// The private bus's address (for a child process's `DBUS_SYSTEM_BUS_ADDRESS`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A new connection to the private bus.
    pub async fn connection(&self) -> Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .build()
            .await
            .unwrap()
    }

    /// The mock's control interface, on its own connection.
    pub async fn control(&self) -> BluezMockProxy<'static> {
        BluezMockProxy::new(&self.connection().await).await.unwrap()
    }

    /// Raw property updates on the object at `path`.
    pub async fn object(&self, path: &str) -> ObjectMockProxy<'static> {
        ObjectMockProxy::builder(&self.connection().await)
            .path(path.to_string())
            .build()
            .await
            .unwrap()
    }
}

fn bus_config(socket: &str) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
"#
    )
}

/// Paths of a thermometer with one service, two characteristics and a CCCD.
#[derive(Debug)]
pub struct Thermometer {
    pub device: String,
    pub temperature: String,
    pub battery: String,
}

/// Adds an LE device `address` ("Thermo", RSSI -70) on `adapter` with its GATT objects:
/// service 0x0010 (Environmental Sensing), temperature 0x0011 (read/write/notify) with its
/// CCCD 0x0012, battery level 0x0013 (read).
pub async fn thermometer(mock: &BluezMockProxy<'_>, adapter: &str, address: &str) -> Thermometer {
    let device = mock
        .add_le_device(adapter, address, "Thermo", -70)
        .await
        .unwrap();
    let service = mock
        .add_gatt_service(&device, 0x10, ENV_SENSING)
        .await
        .unwrap();
    let flags = ["read", "write", "write-without-response", "notify"];
    let temperature = mock
        .add_gatt_characteristic(&service, 0x11, TEMPERATURE, &flags)
        .await
        .unwrap();
    mock.add_gatt_descriptor(&temperature, 0x12, CCCD)
        .await
        .unwrap();
    let battery = mock
        .add_gatt_characteristic(&service, 0x13, BATTERY_LEVEL, &["read"])
        .await
        .unwrap();
    Thermometer {
        device,
        temperature,
        battery,
    }
}

/// The first item of `stream` that `pick` accepts, within [`PATIENCE`].
pub async fn within<S, T, U>(stream: &mut S, what: &str, mut pick: impl FnMut(T) -> Option<U>) -> U
where
    S: futures::Stream<Item = T> + Unpin,
{
    let found = tokio::time::timeout(PATIENCE, async {
        while let Some(item) = stream.next().await {
            if let Some(found) = pick(item) {
                return Some(found);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => found,
        Ok(None) => panic!("the stream ended before {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The subscription's next event, within [`PATIENCE`].
pub async fn next(subscription: &mut Subscription) -> SubscriptionEvent {
    tokio::time::timeout(PATIENCE, subscription.recv())
        .await
        .expect("a subscription event in time")
        .expect("the subscription is open")
}

/// The subscription's next two events are a link's gap: `Disconnected`, then `Reconnected`
/// (notify is on again on the new link).
pub async fn expect_reconnect(subscription: &mut Subscription) {
    let dropped = next(subscription).await;
    assert!(
        matches!(dropped, SubscriptionEvent::Disconnected { .. }),
        "the gap is marked first: {dropped:?}"
    );
    assert_eq!(next(subscription).await, SubscriptionEvent::Reconnected);
}

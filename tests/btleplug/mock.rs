//! The BlueZ double: a private system-like D-Bus with the project's dbusmock template
//! (`tests/testbeds/bluez/bluez_fleet.py`, shared with the zbus BlueZ tests) on it
//! ([`MockBluez`]), and a typed client for the template's control methods
//! ([`Control`]).
//!
//! The parent test process starts the double and hands its address to the scenario's child
//! process, which is the only process whose btleplug talks to it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dbus::arg::{RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::Channel;

const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The Python that runs dbusmock: `BLUEFLEET_PYTHON`, else the venv `.ci/run` makes.
fn python() -> PathBuf {
    std::env::var_os("BLUEFLEET_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/bluefleet-venv/bin/python"))
}

/// A private bus with the mock BlueZ on it; both processes end when this drops.
pub struct MockBluez {
    pub address: String,
    bus: Child,
    mock: Child,
    _dir: tempfile::TempDir,
}

impl MockBluez {
    /// Starts the bus and the mock and waits until `org.bluez` answers.
    ///
    /// # Panics
    /// With instructions, if dbusmock or dbus-daemon is missing.
    pub fn start() -> Self {
        let python = python();
        let importable = Command::new(&python)
            .args(["-c", "import dbusmock, dbus, gi"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            importable,
            "python-dbusmock is not importable with {} (set BLUEFLEET_PYTHON or run `bash .ci/run` \
             to create /tmp/bluefleet-venv with python-dbusmock==0.38.1)",
            python.display()
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("bus.conf");
        std::fs::write(&config, bus_config(&dir.path().join("bus.sock"))).expect("bus config");
        let mut bus = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus-daemon; run `bash .ci/run`)");
        let mut first_line = String::new();
        BufReader::new(bus.stdout.take().expect("dbus-daemon stdout"))
            .read_line(&mut first_line)
            .expect("dbus-daemon prints its address");
        let address = first_line.trim().to_string();
        let template =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testbeds/bluez/bluez_fleet.py");
        let mock = Command::new(&python)
            .args(["-m", "dbusmock", "--system", "--template"])
            .arg(&template)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python -m dbusmock");
        let started = MockBluez {
            address,
            bus,
            mock,
            _dir: dir,
        };
        started.wait_for_bluez();
        started
    }

    fn wait_for_bluez(&self) {
        let connection = open(&self.address);
        let bus = connection.with_proxy("org.freedesktop.DBus", "/", CALL_TIMEOUT);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let owned: Result<(bool,), _> =
                bus.method_call("org.freedesktop.DBus", "NameHasOwner", ("org.bluez",));
            if matches!(owned, Ok((true,))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the mock BlueZ did not appear on the bus within 15 s");
    }
}

impl Drop for MockBluez {
    fn drop(&mut self) {
        for child in [&mut self.mock, &mut self.bus] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn bus_config(socket: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>
  </policy>
</busconfig>
"#,
        socket.display()
    )
}

fn open(address: &str) -> Connection {
    let mut channel = Channel::open_private(address).expect("connect to the private bus");
    channel.register().expect("register on the private bus");
    Connection::from(channel)
}

/// Calls the mock's control methods (blocking; the mock answers in milliseconds).
pub struct Control {
    connection: Connection,
}

type Props = HashMap<&'static str, Variant<Box<dyn RefArg>>>;

impl Control {
    /// Connects to the bus named by `DBUS_SYSTEM_BUS_ADDRESS`.
    pub fn from_env() -> Self {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").expect("the parent sets the bus");
        Self {
            connection: open(&address),
        }
    }

    fn mock<A: dbus::arg::AppendAll, R: dbus::arg::ReadAll>(&self, method: &str, args: A) -> R {
        self.connection
            .with_proxy("org.bluez", "/", CALL_TIMEOUT)
            .method_call("org.bluez.Mock", method, args)
            .unwrap_or_else(|e| panic!("org.bluez.Mock.{method}: {e}"))
    }

    pub fn add_adapter(&self, name: &str) -> String {
        let (path,): (String,) = self.mock("AddAdapter", (name, "hub"));
        path
    }

    pub fn add_le_device(&self, adapter: &str, address: &str, name: &str, rssi: i16) -> String {
        let (path,): (String,) = self.mock("AddLeDevice", (adapter, address, name, rssi));
        path
    }

    pub fn advertise(&self, device: &str, rssi: i16, company: u16, data: &[u8]) {
        let manufacturer: HashMap<u16, Vec<u8>> = [(company, data.to_vec())].into();
        self.mock::<_, ()>("Advertise", (device, rssi, manufacturer));
    }

    /// Adds a Device1 property the template does not set (no signal).
    pub fn add_device_property(&self, device: &str, name: &str, value: Variant<Box<dyn RefArg>>) {
        self.connection
            .with_proxy("org.bluez", device, CALL_TIMEOUT)
            .method_call::<(), _, _, _>(
                "org.freedesktop.DBus.Mock",
                "AddProperty",
                ("org.bluez.Device1", name, value),
            )
            .unwrap_or_else(|e| panic!("AddProperty {name} on {device}: {e}"));
    }

    /// Sets Device1 properties with BlueZ's types (emits PropertiesChanged).
    pub fn update_device(&self, device: &str, props: Props) {
        self.connection
            .with_proxy("org.bluez", device, CALL_TIMEOUT)
            .method_call::<(), _, _, _>(
                "org.freedesktop.DBus.Mock",
                "UpdateProperties",
                ("org.bluez.Device1", props),
            )
            .unwrap_or_else(|e| panic!("UpdateProperties on {device}: {e}"));
    }

    pub fn add_service(&self, device: &str, handle: u16, uuid: &str) -> String {
        let (path,): (String,) = self.mock("AddGattService", (device, handle, uuid));
        path
    }

    pub fn add_characteristic(
        &self,
        service: &str,
        handle: u16,
        uuid: &str,
        flags: &[&str],
    ) -> String {
        let flags: Vec<&str> = flags.to_vec();
        let (path,): (String,) = self.mock("AddGattCharacteristic", (service, handle, uuid, flags));
        path
    }

    pub fn add_descriptor(&self, characteristic: &str, handle: u16, uuid: &str) -> String {
        let (path,): (String,) = self.mock("AddGattDescriptor", (characteristic, handle, uuid));
        path
    }

    /// Sets a characteristic's value the way a peer's write would.
    pub fn set_value(&self, characteristic: &str, value: &[u8]) {
        let options: HashMap<&str, Variant<Box<dyn RefArg>>> = HashMap::new();
        self.connection
            .with_proxy("org.bluez", characteristic, CALL_TIMEOUT)
            .method_call::<(), _, _, _>(
                "org.bluez.GattCharacteristic1",
                "WriteValue",
                (value.to_vec(), options),
            )
            .unwrap_or_else(|e| panic!("WriteValue on {characteristic}: {e}"));
    }

    pub fn notify(&self, characteristic: &str, value: &[u8]) {
        self.mock::<_, ()>("Notify", (characteristic, value.to_vec()));
    }

    pub fn inject_error(&self, path: &str, method: &str, name: &str, message: &str, sticky: bool) {
        self.mock::<_, ()>("InjectError", (path, method, name, message, sticky));
    }

    /// The double's own `Adapter1.Discovering`.
    pub fn is_discovering(&self, adapter: &str) -> bool {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        self.connection
            .with_proxy("org.bluez", adapter, CALL_TIMEOUT)
            .get("org.bluez.Adapter1", "Discovering")
            .unwrap_or_else(|e| panic!("Discovering of {adapter}: {e}"))
    }

    /// The double's own `Device1.Connected`.
    pub fn is_connected(&self, device: &str) -> bool {
        use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
        self.connection
            .with_proxy("org.bluez", device, CALL_TIMEOUT)
            .get("org.bluez.Device1", "Connected")
            .unwrap_or_else(|e| panic!("Connected of {device}: {e}"))
    }

    pub fn drop_connection(&self, device: &str) {
        self.mock::<_, ()>("DropConnection", (device,));
    }
}

/// A property value for [`Control::update_device`].
pub fn variant(value: impl RefArg + 'static) -> Variant<Box<dyn RefArg>> {
    Variant(Box::new(value))
}

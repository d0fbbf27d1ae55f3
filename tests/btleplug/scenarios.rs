//! The scenarios, each run in its own child process against the double its parent started.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use bluefleet::adverts::AdvertFilter;
use bluefleet::backend::btleplug::{BtleplugConfig, BtleplugRadio};
use bluefleet::backend::{
    ConnectRequest, LinkEvent, RadioEvent, RadioInfo, RadioKind, WriteMode, LINK_EVENT_CAPACITY,
};
use bluefleet::fleet::SubscriptionEvent;
use bluefleet::model::{parse_uuid, Address, AddressKind, Advertisement};
use bluefleet::{ErrorKind, FailureSource, Fleet, Subscription};
use dbus::arg::Variant;
use futures::StreamExt;
use uuid::Uuid;

use crate::mock::{variant, Control};

const THERMO: &str = "D4:00:00:00:00:01";
const ENVIRONMENTAL_SENSING: &str = "0000181a-0000-1000-8000-00805f9b34fb";
const TEMPERATURE: &str = "00002a6e-0000-1000-8000-00805f9b34fb";
const CCCD: &str = "00002902-0000-1000-8000-00805f9b34fb";
const COMPANY: u16 = 0x0499;

/// Any single wait in a scenario.
const WAIT: Duration = Duration::from_secs(10);

pub async fn run(scenario: &str) {
    match scenario {
        "adapters_are_listed" => adapters_are_listed().await,
        "device_is_discovered" => device_is_discovered().await,
        "connect_read_notify" => connect_read_notify().await,
        "link_loss_and_resubscribe" => link_loss_and_resubscribe().await,
        "classified_connect_failure" => classified_connect_failure().await,
        "crashed_actor_disconnects" => crashed_actor_disconnects().await,
        "one_link_lost_of_two" => one_link_lost_of_two().await,
        "scan_while_any_stream_is_held" => scan_while_any_stream_is_held().await,
        "slow_link_reader" => slow_link_reader().await,
        "cli_scan" => cli_scan(),
        "cli_hub_file" => cli_hub_file(),
        other => panic!("no scenario named {other}"),
    }
}

fn uuid(text: &str) -> Uuid {
    parse_uuid(text).unwrap()
}

fn thermo() -> Address {
    Address::parse(THERMO).unwrap()
}

async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within {WAIT:?}"))
}

async fn fleet() -> Fleet {
    let radios = BtleplugRadio::discover_all(&BtleplugConfig::default())
        .await
        .unwrap();
    Fleet::builder()
        .radios(radios)
        .connect_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(20))
        .seed(7)
        .build()
        .unwrap()
}

/// hci0 with one LE thermometer at [`THERMO`]. Returns the device and characteristic paths.
fn thermometer(mock: &Control) -> (String, String) {
    mock.add_adapter("hci0");
    add_thermometer(mock, THERMO)
}

/// An LE thermometer on hci0: an Environmental Sensing service whose Temperature
/// characteristic (read, write, notify; value 0x2a) has a CCCD. Returns the device and
/// characteristic paths.
fn add_thermometer(mock: &Control, address: &str) -> (String, String) {
    let device = mock.add_le_device("hci0", address, "Thermo", -70);
    let service = mock.add_service(&device, 0x10, ENVIRONMENTAL_SENSING);
    let characteristic =
        mock.add_characteristic(&service, 0x11, TEMPERATURE, &["read", "write", "notify"]);
    mock.add_descriptor(&characteristic, 0x12, CCCD);
    mock.set_value(&characteristic, &[0x2a]);
    (device, characteristic)
}

async fn next_notification(subscription: &mut Subscription) -> SubscriptionEvent {
    within("a subscription event", subscription.recv())
        .await
        .expect("the subscription is open")
}

/// Waits until a fresh subscription's notify is on (a subscription is an intent: it reports
/// `Waiting` before a connection and `Reconnected` once values flow).
async fn enabled(subscription: &mut Subscription) {
    loop {
        match next_notification(subscription).await {
            SubscriptionEvent::Reconnected => return,
            SubscriptionEvent::Waiting => continue,
            other => panic!("expected notify to be enabled, got {other:?}"),
        }
    }
}

/// A hub file's `btleplug` radio: `run` reads the thermometer through it (a `poll` entry, the
/// double's value 0x2a as uint8); an adapter btleplug does not list is named with those it does.
fn cli_hub_file() {
    let mock = Control::from_env();
    let (device, _) = thermometer(&mock);
    mock.advertise(&device, -48, COMPANY, &[0x05, 0x10]);
    let dir = tempfile::tempdir().unwrap();
    let hub = dir.path().join("hub.toml");
    let write = |adapter: &str| {
        let text = format!(
            "[[radio]]\nbackend = \"btleplug\"\nadapter = \"{adapter}\"\nslots = 2\n[[device]]\naddress = \"{THERMO}\"\nsubscribe = [{{ characteristic = \"2a6e\", decode = \"uint8\", poll = \"1s\" }}]\n"
        );
        std::fs::write(&hub, text).unwrap();
    };
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_bluefleet"))
            .args([
                "run",
                "--config",
                hub.to_str().unwrap(),
                "--duration",
                "6s",
                "--json",
            ])
            .output()
            .unwrap()
    };
    write("hci0");
    let output = run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let values: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["characteristic"] == "0x2a6e")
        .collect();
    assert!(
        values.iter().any(|l| l["value"] == 42.0),
        "no read through btleplug:\n{stdout}\n{stderr}"
    );
    write("hci9");
    let output = run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("btleplug found no adapter hci9 (adapters found: hci0)"),
        "{stderr}"
    );
}

/// `bluefleet scan --backend btleplug` lists the thermometer with its advertised RSSI.
fn cli_scan() {
    let mock = Control::from_env();
    let (device, _) = thermometer(&mock);
    mock.advertise(&device, -48, COMPANY, &[0x05, 0x10]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bluefleet"))
        .args(["scan", "--backend", "btleplug", "--duration", "3", "--json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let found: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let thermo = found["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["address"] == THERMO)
        .unwrap();
    assert_eq!(thermo["name"], "Thermo");
    assert_eq!(thermo["best_radio"], "hci0");
}

async fn adapters_are_listed() {
    let mock = Control::from_env();
    mock.add_adapter("hci1");
    mock.add_adapter("hci0");
    let config = BtleplugConfig { slot_limit: 3 };
    let radios = BtleplugRadio::discover_all(&config).await.unwrap();
    let names: Vec<String> = radios.iter().map(|r| r.id().to_string()).collect();
    assert_eq!(names, ["hci0", "hci1"]);
    let expected = RadioInfo {
        kind: RadioKind::LocalController,
        slot_limit: 3,
        reports_slots: false,
    };
    assert!(radios.iter().all(|r| r.info() == expected));
    let fleet = Fleet::builder().radios(radios).build().unwrap();
    let diagnostics = within("diagnostics", fleet.diagnostics()).await.unwrap();
    assert_eq!(diagnostics.radios.len(), 2, "{diagnostics:?}");
}

async fn device_is_discovered() {
    let mock = Control::from_env();
    mock.add_adapter("hci0");
    let device = mock.add_le_device("hci0", THERMO, "Thermo", -70);
    mock.add_device_property(&device, "TxPower", variant(-8i16));
    let service_data: HashMap<String, Variant<Vec<u8>>> =
        [(ENVIRONMENTAL_SENSING.to_string(), Variant(vec![1u8, 2]))].into();
    mock.update_device(
        &device,
        [
            ("ServiceData", variant(service_data)),
            ("UUIDs", variant(vec![ENVIRONMENTAL_SENSING.to_string()])),
        ]
        .into(),
    );
    let fleet = fleet().await;
    let mut adverts = Box::pin(fleet.adverts());
    let complete = |a: &Advertisement| a.address == thermo() && a.rssi_dbm == -48;
    let advert = within("the advertisement", async {
        loop {
            mock.advertise(&device, -48, COMPANY, &[0x05, 0x10]);
            let waited = tokio::time::timeout(Duration::from_millis(500), async {
                while let Some(item) = adverts.next().await {
                    if let Some(advert) = item.item().filter(|a| complete(a)) {
                        return Some(advert);
                    }
                }
                None
            });
            if let Ok(Some(advert)) = waited.await {
                return advert;
            }
        }
    })
    .await;
    assert_eq!(advert.radio.as_str(), "hci0");
    assert_eq!(advert.address_kind, AddressKind::Random);
    assert_eq!(advert.local_name(), Some("Thermo"));
    assert_eq!(advert.data.manufacturer_data[&COMPANY], vec![0x05, 0x10]);
    let sensing = uuid(ENVIRONMENTAL_SENSING);
    assert_eq!(advert.data.service_data[&sensing], vec![1, 2]);
    assert_eq!(advert.data.service_uuids, vec![sensing]);
    assert_eq!(advert.data.tx_power_dbm, Some(-8));
    let heard = fleet.heard_device(&thermo()).expect("the fleet heard it");
    assert_eq!(heard.name.as_deref(), Some("Thermo"));
    assert_eq!(
        heard.best_radio.map(|r| r.to_string()).as_deref(),
        Some("hci0")
    );
}

async fn connected_thermometer(mock: &Control) -> (Fleet, bluefleet::Device, String, String) {
    let (device_path, characteristic) = thermometer(mock);
    let fleet = fleet().await;
    let filter = AdvertFilter::new().address(thermo());
    within("hearing the thermometer", fleet.find_device(&filter, WAIT))
        .await
        .unwrap();
    let device = fleet.device(thermo()).await.unwrap();
    within("connect", device.connect()).await.unwrap();
    (fleet, device, device_path, characteristic)
}

async fn connect_read_notify() {
    let mock = Control::from_env();
    let (_fleet, device, _, characteristic) = connected_thermometer(&mock).await;
    let temperature = uuid(TEMPERATURE);
    let table = device.services().await.unwrap();
    let found = table
        .find_characteristic(None, &temperature)
        .expect("listed");
    assert_eq!(found.descriptors.len(), 1);
    assert_eq!(found.descriptors[0].uuid, uuid(CCCD));
    assert_eq!(device.read(temperature).await.unwrap().as_ref(), [0x2a]);

    let mut subscription = device.subscribe(temperature).await.unwrap();
    enabled(&mut subscription).await;
    mock.notify(&characteristic, &[1, 2]);
    mock.notify(&characteristic, &[3]);
    for expected in [vec![1u8, 2], vec![3]] {
        match next_notification(&mut subscription).await {
            SubscriptionEvent::Notification(value) => assert_eq!(value.as_ref(), expected),
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    device
        .write(temperature, vec![0x30], WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(device.read(temperature).await.unwrap().as_ref(), [0x30]);
    let cccd = device
        .read_descriptor(temperature, uuid(CCCD))
        .await
        .unwrap();
    assert!(cccd.is_empty(), "the double's CCCD reads empty: {cccd:?}");
}

async fn link_loss_and_resubscribe() {
    let mock = Control::from_env();
    let (_fleet, device, device_path, characteristic) = connected_thermometer(&mock).await;
    let mut subscription = device.subscribe(uuid(TEMPERATURE)).await.unwrap();
    enabled(&mut subscription).await;
    mock.drop_connection(&device_path);
    match next_notification(&mut subscription).await {
        SubscriptionEvent::Disconnected { reason } => {
            assert!(reason.contains("disconnected"), "{reason}")
        }
        other => panic!("expected Disconnected, got {other:?}"),
    }
    match next_notification(&mut subscription).await {
        SubscriptionEvent::Reconnected => {}
        other => panic!("expected Reconnected, got {other:?}"),
    }
    mock.notify(&characteristic, &[9]);
    loop {
        match next_notification(&mut subscription).await {
            SubscriptionEvent::Notification(value) if value.as_ref() == [9] => break,
            SubscriptionEvent::Notification(_) => continue,
            other => panic!("expected the notification after reconnecting, got {other:?}"),
        }
    }
}

async fn classified_connect_failure() {
    let mock = Control::from_env();
    let (device_path, _) = thermometer(&mock);
    mock.inject_error(
        &device_path,
        "Connect",
        "org.bluez.Error.Failed",
        "le-connection-abort-by-local",
        true,
    );
    let fleet = fleet().await;
    let filter = AdvertFilter::new().address(thermo());
    within("hearing the thermometer", fleet.find_device(&filter, WAIT))
        .await
        .unwrap();
    let device = fleet.device(thermo()).await.unwrap();
    let error = within("the failed connect", device.connect())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), Some(ErrorKind::Aborted), "{error}");
    let failure = error.failure().expect("the backend's words");
    assert_eq!(failure.source, FailureSource::Btleplug);
    assert_eq!(failure.name.as_deref(), Some("org.bluez.Error.Failed"));
    assert!(
        failure.text.contains("le-connection-abort-by-local"),
        "{failure}"
    );
}

async fn crashed_actor_disconnects() {
    let mock = Control::from_env();
    let (fleet, device, device_path, _) = connected_thermometer(&mock).await;
    assert!(mock.is_connected(&device_path));
    assert!(fleet.crash_device_actor(device.address()).await);
    within("the dropped link disconnecting", async {
        while mock.is_connected(&device_path) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let held: usize = fleet.slot_usage().iter().map(|u| u.held_by.len()).sum();
    assert_eq!(held, 0, "{:?}", fleet.slot_usage());
}

async fn one_link_lost_of_two() {
    const SECOND: &str = "D4:00:00:00:00:02";
    let mock = Control::from_env();
    let (first_path, _) = thermometer(&mock);
    let (_, second_characteristic) = add_thermometer(&mock, SECOND);
    let fleet = fleet().await;
    let temperature = uuid(TEMPERATURE);
    let mut subscriptions = Vec::new();
    for address in [THERMO, SECOND] {
        let address = Address::parse(address).unwrap();
        let filter = AdvertFilter::new().address(address);
        within("hearing a thermometer", fleet.find_device(&filter, WAIT))
            .await
            .unwrap();
        let device = fleet.device(address).await.unwrap();
        subscriptions.push(
            within("subscribe", device.subscribe(temperature))
                .await
                .unwrap(),
        );
    }
    for subscription in &mut subscriptions {
        enabled(subscription).await;
    }
    let [first, second] = &mut subscriptions[..] else {
        unreachable!("two subscriptions")
    };
    mock.drop_connection(&first_path);
    assert!(matches!(
        next_notification(first).await,
        SubscriptionEvent::Disconnected { .. }
    ));
    mock.notify(&second_characteristic, &[7]);
    match next_notification(second).await {
        SubscriptionEvent::Notification(value) => assert_eq!(value.as_ref(), [7]),
        other => panic!("the second link should be untouched, got {other:?}"),
    }
}

/// Waits until the double's adapter is (or is not) discovering.
async fn discovering_becomes(mock: &Control, adapter: &str, wanted: bool) {
    within(&format!("Discovering = {wanted}"), async {
        while mock.is_discovering(adapter) != wanted {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn scan_while_any_stream_is_held() {
    let mock = Control::from_env();
    let adapter = mock.add_adapter("hci0");
    let radios = BtleplugRadio::discover_all(&BtleplugConfig::default())
        .await
        .unwrap();
    let radio = &radios[0];
    let mut older = radio.events();
    assert_eq!(
        within("the first event", older.next()).await,
        Some(RadioEvent::Up)
    );
    discovering_becomes(&mock, &adapter, true).await;
    let mut newer = radio.events();
    assert_eq!(
        within("the first event", newer.next()).await,
        Some(RadioEvent::Up)
    );
    drop(older);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        mock.is_discovering(&adapter),
        "the newer stream still scans"
    );
    drop(newer);
    discovering_becomes(&mock, &adapter, false).await;
}

/// A link whose reader stalls keeps the newest `LINK_EVENT_CAPACITY` notifications and says
/// how many older ones it dropped (the channel every backend uses), instead of making
/// btleplug's forwarding task wait.
async fn slow_link_reader() {
    let mock = Control::from_env();
    let (_, characteristic) = thermometer(&mock);
    let radios = BtleplugRadio::discover_all(&BtleplugConfig::default())
        .await
        .unwrap();
    let request = ConnectRequest {
        address: thermo(),
        address_kind: AddressKind::Public,
        cached_services: None,
        timeout: WAIT,
    };
    let mut connection = within("connect", radios[0].connect(request)).await.unwrap();
    let table = connection.link.services().await.unwrap();
    let handle = table
        .find_characteristic(None, &uuid(TEMPERATURE))
        .expect("listed")
        .handle;
    connection.link.set_notify(handle, true).await.unwrap();
    let sent = u16::try_from(LINK_EVENT_CAPACITY + 44).unwrap();
    for n in 0..sent {
        mock.notify(&characteristic, &n.to_le_bytes());
    }
    // Nothing read until every value had time to reach the channel.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut kept, mut dropped) = (Vec::new(), 0u64);
    while kept.last() != Some(&(sent - 1)) {
        match within("the newest notification", connection.events.next()).await {
            Some(LinkEvent::Notification { value, .. }) => {
                kept.push(u16::from_le_bytes([value[0], value[1]]));
            }
            Some(LinkEvent::NotificationsDropped { count, .. }) => dropped += count,
            other => panic!("expected notifications, got {other:?}"),
        }
    }
    assert!(dropped > 0, "nothing dropped: the reader never fell behind");
    assert_eq!(kept.len(), LINK_EVENT_CAPACITY, "the newest are kept");
    assert_eq!(
        dropped + kept.len() as u64,
        u64::from(sent),
        "every drop is counted"
    );
    assert!(
        kept.windows(2).all(|w| w[0] + 1 == w[1]),
        "in order: {kept:?}"
    );
}

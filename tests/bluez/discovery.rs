//! Adapters and advertisements: what a radio reports before any connection.

use std::collections::HashMap;

use bluefleet::backend::bluez::BluezConfig;
use bluefleet::backend::{Radio, RadioEvent, RadioKind};
use bluefleet::model::{uuid_from_u16, AddressKind, Advertisement};
use futures::stream::BoxStream;
use zbus::Variant;

use crate::bed::{thermometer, within, MockBluez, ENV_SENSING};
use crate::{radio, radios};

async fn next_advert(events: &mut BoxStream<'static, RadioEvent>, what: &str) -> Advertisement {
    within(events, what, |event| match event {
        RadioEvent::Adverts(mut adverts) => adverts.pop(),
        _ => None,
    })
    .await
}

async fn device_flag(bed: &MockBluez, path: &str, name: &str) -> bool {
    let conn = bed.connection().await;
    let props = zbus::fdo::PropertiesProxy::builder(&conn)
        .destination("org.bluez")
        .path(path)
        .build()
        .await
        .unwrap();
    let interface = if path.contains("/dev_") {
        "org.bluez.Device1"
    } else {
        "org.bluez.Adapter1"
    };
    let value = props
        .get(interface.try_into().unwrap(), name)
        .await
        .unwrap();
    bool::try_from(&value).unwrap()
}

#[tokio::test]
async fn two_adapters_appear_as_local_controllers_with_configured_slots() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    mock.add_adapter("hci1", "hub-2").await.unwrap();
    let config: BluezConfig = toml::from_str("slot_limits = { hci1 = 7 }").unwrap();
    let radios = radios(&bed, &config).await;
    let names: Vec<String> = radios.iter().map(|r| r.id().to_string()).collect();
    assert_eq!(names, ["hci0", "hci1"]);
    let infos: Vec<_> = radios.iter().map(Radio::info).collect();
    assert!(infos
        .iter()
        .all(|i| i.kind == RadioKind::LocalController && !i.reports_slots));
    assert_eq!(
        infos.iter().map(|i| i.slot_limit).collect::<Vec<_>>(),
        [5, 7]
    );
    for radio in &radios {
        let mut events = radio.events();
        within(&mut events, "Up", |e| (e == RadioEvent::Up).then_some(())).await;
        assert!(
            device_flag(&bed, radio.path(), "Discovering").await,
            "discovery is on"
        );
    }
}

#[tokio::test]
async fn devices_are_discovered_with_their_advertisement_data() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let radio = radio(&bed, "hci0").await;
    let mut events = radio.events();
    within(&mut events, "Up", |e| (e == RadioEvent::Up).then_some(())).await;

    let thermo = thermometer(&mock, "hci0", "D4:00:00:00:00:01").await;
    let advert = next_advert(&mut events, "the new device's advert").await;
    assert_eq!(advert.address.to_string(), "D4:00:00:00:00:01");
    assert_eq!(advert.address_kind, AddressKind::Random);
    assert_eq!(
        (advert.rssi_dbm, advert.local_name()),
        (-70, Some("Thermo"))
    );
    assert_eq!(advert.radio.as_str(), "hci0");

    let manufacturer = HashMap::from([(0x0499u16, vec![0x05u8, 0x10])]);
    mock.advertise(&thermo.device, -48, manufacturer)
        .await
        .unwrap();
    let advert = next_advert(&mut events, "the manufacturer data advert").await;
    assert_eq!(advert.rssi_dbm, -48);
    assert_eq!(
        advert.data.manufacturer_data.get(&0x0499),
        Some(&vec![0x05, 0x10])
    );

    let service_data = HashMap::from([(ENV_SENSING, Variant::from(vec![0x01u8, 0x02]))]);
    let update = HashMap::from([
        ("ServiceData", Variant::from(service_data)),
        ("UUIDs", Variant::from(vec![ENV_SENSING])),
        ("RSSI", Variant::from(-52i16)),
    ]);
    bed.object(&thermo.device)
        .await
        .update_properties("org.bluez.Device1", update)
        .await
        .unwrap();
    let advert = next_advert(&mut events, "the service data advert").await;
    let env_sensing = uuid_from_u16(0x181A);
    assert_eq!(
        advert.data.service_data.get(&env_sensing),
        Some(&vec![1, 2])
    );
    assert_eq!(advert.data.service_uuids, vec![env_sensing]);
    assert_eq!(advert.rssi_dbm, -52);
    assert_eq!(
        advert.data.manufacturer_data.len(),
        1,
        "earlier fields are kept"
    );
}

#[tokio::test]
async fn broken_property_types_are_skipped_without_a_panic() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let device = mock
        .add_le_device("hci0", "D4:00:00:00:00:02", "Scale", -60)
        .await
        .unwrap();
    let radio = radio(&bed, "hci0").await;
    let mut events = radio.events();
    next_advert(&mut events, "the snapshot advert").await;

    // ManufacturerData as aa{qv} (the stock template's bug), RSSI as text, UUIDs as a number.
    let nested: Vec<HashMap<u16, Variant<'_>>> = vec![HashMap::new()];
    let broken = HashMap::from([
        ("ManufacturerData", Variant::from(nested)),
        ("RSSI", Variant::from("loud")),
        ("UUIDs", Variant::from(42u32)),
        ("Name", Variant::from("Scale 2")),
    ]);
    bed.object(&device)
        .await
        .update_properties("org.bluez.Device1", broken)
        .await
        .unwrap();
    let advert = next_advert(&mut events, "the advert with broken fields").await;
    assert_eq!(
        advert.rssi_dbm, -60,
        "the bad RSSI is skipped, the last good one kept"
    );
    assert_eq!(
        advert.local_name(),
        Some("Scale 2"),
        "good fields still apply"
    );

    mock.advertise(&device, -41, HashMap::from([(1u16, vec![9u8])]))
        .await
        .unwrap();
    let advert = next_advert(&mut events, "a good advert after the broken one").await;
    assert_eq!(advert.rssi_dbm, -41);
    assert_eq!(advert.data.manufacturer_data.get(&1), Some(&vec![9]));
}

#[tokio::test]
async fn stale_connections_are_closed_at_start() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let kept = thermometer(&mock, "hci0", "D4:00:00:00:00:03").await;
    let stale = thermometer(&mock, "hci0", "D4:00:00:00:00:04").await;
    for device in [&kept.device, &stale.device] {
        connect_outside_bluefleet(&bed, device).await;
    }
    let keep_them = BluezConfig {
        close_stale_connections: false,
        ..BluezConfig::default()
    };
    radios(&bed, &keep_them).await;
    assert!(device_flag(&bed, &kept.device, "Connected").await);

    radios(&bed, &BluezConfig::default()).await;
    assert!(!device_flag(&bed, &kept.device, "Connected").await);
    assert!(!device_flag(&bed, &stale.device, "Connected").await);
}

/// A connection some earlier program made.
pub async fn connect_outside_bluefleet(bed: &MockBluez, device: &str) {
    let conn = bed.connection().await;
    conn.call_method(
        Some("org.bluez"),
        device,
        Some("org.bluez.Device1"),
        "Connect",
        &(),
    )
    .await
    .unwrap();
    assert!(device_flag(bed, device, "Connected").await);
}

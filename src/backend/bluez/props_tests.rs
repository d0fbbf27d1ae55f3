//! Decoding Device1 properties: BlueZ's real types, and hostile ones.

use std::collections::HashMap;

use zbus::{OwnedVariant, Variant};

use super::*;
use crate::model::uuid_from_u16;

fn owned(value: Variant<'_>) -> OwnedVariant {
    OwnedVariant::try_from(value).unwrap()
}

fn props(entries: Vec<(&str, Variant<'_>)>) -> PropMap {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), owned(v)))
        .collect()
}

fn thermometer() -> PropMap {
    let mut manufacturer: HashMap<u16, Variant<'_>> = HashMap::new();
    manufacturer.insert(0x0499, Variant::from(vec![0x05u8, 0x10]));
    let mut service: HashMap<&str, Variant<'_>> = HashMap::new();
    service.insert(
        "0000181a-0000-1000-8000-00805f9b34fb",
        Variant::from(vec![1u8, 2]),
    );
    props(vec![
        ("Address", Variant::from("D4:00:00:00:00:01")),
        ("AddressType", Variant::from("random")),
        ("Name", Variant::from("Thermo")),
        ("Alias", Variant::from("Thermo")),
        ("RSSI", Variant::from(-48i16)),
        ("TxPower", Variant::from(4i16)),
        ("Connected", Variant::from(false)),
        (
            "UUIDs",
            Variant::from(vec!["0000181a-0000-1000-8000-00805f9b34fb"]),
        ),
        ("ManufacturerData", Variant::from(manufacturer)),
        ("ServiceData", Variant::from(service)),
    ])
}

#[tokio::test(start_paused = true)]
async fn bluez_typed_properties_become_an_advertisement() {
    let view = DeviceView::from_props(&thermometer()).unwrap();
    let advert = view
        .advertisement(&RadioId::new("hci0"), Instant::now())
        .unwrap();
    assert_eq!(advert.address.to_string(), "D4:00:00:00:00:01");
    assert_eq!(advert.address_kind, AddressKind::Random);
    assert_eq!(advert.rssi_dbm, -48);
    assert_eq!(advert.local_name(), Some("Thermo"));
    assert_eq!(advert.data.tx_power_dbm, Some(4));
    assert_eq!(
        advert.data.manufacturer_data.get(&0x0499),
        Some(&vec![0x05, 0x10])
    );
    assert_eq!(
        advert.data.service_data.get(&uuid_from_u16(0x181A)),
        Some(&vec![1, 2])
    );
    assert_eq!(advert.data.service_uuids, vec![uuid_from_u16(0x181A)]);
}

#[test]
fn a_change_merges_into_the_view_and_says_whether_it_was_an_advert() {
    let mut view = DeviceView::from_props(&thermometer()).unwrap();
    assert!(view.apply(&props(vec![("RSSI", Variant::from(-60i16))])));
    assert_eq!(view.rssi_dbm, Some(-60));
    assert_eq!(view.data.local_name.as_deref(), Some("Thermo"));
    assert!(!view.apply(&props(vec![("Connected", Variant::from(true))])));
    assert!(view.connected);
    view.invalidate(&["RSSI".to_string(), "ManufacturerData".to_string()]);
    assert_eq!(view.rssi_dbm, None);
    assert!(view.data.manufacturer_data.is_empty());
    assert!(view
        .advertisement(&RadioId::new("hci0"), Instant::now())
        .is_none());
}

#[test]
fn wrongly_typed_properties_are_skipped_not_fatal() {
    // python-dbusmock's stock template: aa{qv} instead of a{qv}; plus a few worse ones.
    let nested: Vec<HashMap<u16, Variant<'_>>> = vec![HashMap::new()];
    let mut bad_values: HashMap<u16, Variant<'_>> = HashMap::new();
    bad_values.insert(1, Variant::from("not bytes"));
    let mut view = DeviceView::from_props(&thermometer()).unwrap();
    let changed = props(vec![
        ("ManufacturerData", Variant::from(nested)),
        ("ServiceData", Variant::from(7u32)),
        ("RSSI", Variant::from("loud")),
        ("UUIDs", Variant::from(vec!["not-a-uuid", "180f"])),
        ("TxPower", Variant::from(1000i16)),
        ("Name", Variant::from(3u8)),
    ]);
    assert!(view.apply(&changed));
    assert_eq!(
        view.rssi_dbm,
        Some(-48),
        "a bad RSSI keeps the last good one"
    );
    assert_eq!(view.data.manufacturer_data.len(), 1);
    assert_eq!(view.data.service_data.len(), 1);
    assert_eq!(view.data.service_uuids, vec![uuid_from_u16(0x180F)]);
    assert_eq!(view.data.tx_power_dbm, Some(4));
    assert_eq!(view.data.local_name.as_deref(), Some("Thermo"));
    assert!(view.apply(&props(vec![(
        "ManufacturerData",
        Variant::from(bad_values)
    )])));
    assert_eq!(view.data.manufacturer_data.len(), 1);
}

#[test]
fn a_device_without_a_readable_address_is_ignored() {
    assert!(DeviceView::from_props(&props(vec![("RSSI", Variant::from(-1i16))])).is_none());
    assert!(DeviceView::from_props(&props(vec![("Address", Variant::from(5u8))])).is_none());
    assert!(DeviceView::from_props(&props(vec![("Address", Variant::from("nope"))])).is_none());
}

#[test]
fn the_address_shaped_default_alias_is_not_a_name() {
    let view = DeviceView::from_props(&props(vec![
        ("Address", Variant::from("D4:00:00:00:00:02")),
        ("Alias", Variant::from("D4-00-00-00-00-02")),
    ]))
    .unwrap();
    assert_eq!(view.data.local_name, None);
    let view = DeviceView::from_props(&props(vec![
        ("Address", Variant::from("D4:00:00:00:00:02")),
        ("Alias", Variant::from("Kitchen")),
    ]))
    .unwrap();
    assert_eq!(view.data.local_name.as_deref(), Some("Kitchen"));
}

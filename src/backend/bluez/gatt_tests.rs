//! Building the GATT table from BlueZ objects: real handles, synthetic handles, broken objects.

use std::collections::HashMap;

use zbus::{OwnedVariant, Variant};

use super::*;
use crate::model::uuid_from_u16;

const DEV: &str = "/org/bluez/hci0/dev_D4_00_00_00_00_01";

fn object(interface: &str, entries: Vec<(&str, Variant<'_>)>) -> HashMap<String, PropMap> {
    let props = entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), OwnedVariant::try_from(v).unwrap()))
        .collect();
    HashMap::from([(interface.to_string(), props)])
}

fn uuid16(short: u16) -> String {
    uuid_from_u16(short).to_string()
}

/// A device with one service (0x181A), one characteristic (0x2A6E) and its CCCD; with the
/// `Handle` properties when `with_handles`.
fn objects(with_handles: bool) -> Objects {
    let handle = |h: u16| -> Vec<(&'static str, Variant<'static>)> {
        if with_handles {
            vec![("Handle", Variant::from(h))]
        } else {
            vec![]
        }
    };
    let mut objects = Objects::new();
    let svc = format!("{DEV}/service0010");
    let chr = format!("{svc}/char0011");
    let mut service = vec![("UUID", Variant::from(uuid16(0x181A)))];
    service.extend(handle(0x10));
    let mut characteristic = vec![
        ("UUID", Variant::from(uuid16(0x2A6E))),
        (
            "Flags",
            Variant::from(vec!["read", "notify", "encrypt-read"]),
        ),
        ("MTU", Variant::from(247u16)),
    ];
    characteristic.extend(handle(0x11));
    let mut descriptor = vec![("UUID", Variant::from(uuid16(0x2902)))];
    descriptor.extend(handle(0x12));
    objects.insert(DEV.to_string(), object(DEVICE_IFACE, vec![]));
    objects.insert(svc.clone(), object(SERVICE, service));
    objects.insert(chr.clone(), object(CHARACTERISTIC, characteristic));
    objects.insert(format!("{chr}/desc0012"), object(DESCRIPTOR, descriptor));
    // Another device's service must not leak in.
    objects.insert(
        "/org/bluez/hci0/dev_D4_00_00_00_00_02/service0010".to_string(),
        object(SERVICE, vec![("UUID", Variant::from(uuid16(0x180F)))]),
    );
    objects
}

const DEVICE_IFACE: &str = "org.bluez.Device1";

#[test]
fn handle_properties_are_used_when_every_object_has_one() {
    let index = GattIndex::build(&objects(true), DEV);
    assert_eq!(index.table.services.len(), 1);
    let service = &index.table.services[0];
    assert_eq!(
        (service.uuid, service.handle),
        (uuid_from_u16(0x181A), 0x10)
    );
    let characteristic = &service.characteristics[0];
    assert_eq!(characteristic.handle, 0x11);
    assert_eq!(
        characteristic.properties,
        CharProps::READ | CharProps::NOTIFY
    );
    assert_eq!(characteristic.descriptors[0].handle, 0x12);
    assert_eq!(index.table.mtu, 247);
    let chr_path = format!("{DEV}/service0010/char0011");
    assert_eq!(index.characteristic_path(0x11), Some(chr_path.as_str()));
    assert_eq!(index.handle_of(&chr_path), Some(0x11));
    assert!(index
        .descriptor_path(0x12)
        .is_some_and(|p| p.ends_with("desc0012")));
    assert_eq!(index.characteristic_path(0x12), None);
}

#[test]
fn synthetic_handles_follow_object_path_order() {
    let index = GattIndex::build(&objects(false), DEV);
    let service = &index.table.services[0];
    assert_eq!(service.handle, 1);
    assert_eq!(service.characteristics[0].handle, 2);
    assert_eq!(service.characteristics[0].descriptors[0].handle, 3);
    assert!(index
        .characteristic_path(2)
        .is_some_and(|p| p.ends_with("char0011")));
    // The same objects give the same handles again.
    let again = GattIndex::build(&objects(false), DEV);
    assert_eq!(again.table, index.table);
}

#[test]
fn objects_without_a_uuid_or_parent_are_skipped() {
    let mut objects = objects(true);
    objects.insert(
        format!("{DEV}/service0020"),
        object(
            SERVICE,
            vec![
                ("UUID", Variant::from(7u32)),
                ("Handle", Variant::from(0x20u16)),
            ],
        ),
    );
    objects.insert(
        format!("{DEV}/service0020/char0021"),
        object(
            CHARACTERISTIC,
            vec![
                ("UUID", Variant::from(uuid16(0x2A19))),
                ("Handle", Variant::from(0x21u16)),
            ],
        ),
    );
    let index = GattIndex::build(&objects, DEV);
    assert_eq!(index.table.services.len(), 1);
    assert_eq!(index.characteristic_path(0x21), None);
    assert_eq!(
        GattIndex::build(&Objects::new(), DEV).table.mtu,
        DEFAULT_MTU
    );
}

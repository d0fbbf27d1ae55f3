//! btleplug's view of a peripheral as bluefleet's [`Advertisement`].
//!
//! btleplug reports advertisement fields as events that each carry one part (RSSI,
//! manufacturer data, service data, services) and keeps the merged state in
//! `PeripheralProperties`. The scan task reads that snapshot on every event and turns it into
//! one [`Advertisement`] here: local name, manufacturer data, service data, service UUIDs,
//! TX power and RSSI. A snapshot without RSSI is a device the platform remembers but has not
//! heard (BlueZ keeps paired and cached devices), which is not a sighting: it gives `None`.
//!
//! CoreBluetooth hides device addresses: btleplug reports `00:00:00:00:00:00` there and names
//! peripherals by a per-host UUID instead. bluefleet keys everything by address, so for such
//! peripherals [`address_of`] derives a stable stand-in from the last six bytes of that UUID
//! (any other id text is hashed), with the two top bits set as in a random static address.

use std::fmt::Display;

use btleplug::api::{AddressType, BDAddr, PeripheralProperties};
use tokio::time::Instant;

use crate::model::{Address, AddressKind, AdvertData, Advertisement, RadioId};

/// bluefleet's address for a btleplug peripheral: its own address, or a stand-in derived from
/// its id where the platform hides the address (all zeroes).
pub(crate) fn address_of(address: BDAddr, id: &impl Display) -> (Address, AddressKind) {
    let bytes: [u8; 6] = address.into();
    if bytes != [0; 6] {
        let value = bytes
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
        return (Address::from_u64(value), AddressKind::Public);
    }
    let id = id.to_string();
    let value = match uuid::Uuid::parse_str(&id) {
        Ok(uuid) => (uuid.as_u128() & 0xFFFF_FFFF_FFFF) as u64,
        Err(_) => fnv1a(id.as_bytes()) & 0xFFFF_FFFF_FFFF,
    };
    (
        Address::from_u64(value | 0xC000_0000_0000),
        AddressKind::Random,
    )
}

/// 64-bit FNV-1a: a fixed, documented hash, so a stand-in address is the same in every build.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// One sighting from a properties snapshot, or `None` when the device was not heard.
pub(crate) fn advertisement(
    radio: &RadioId,
    id: &impl Display,
    properties: PeripheralProperties,
    seen_at: Instant,
) -> Option<Advertisement> {
    let rssi_dbm = properties.rssi?;
    let mut service_uuids = Vec::with_capacity(properties.services.len());
    for uuid in properties.services {
        if !service_uuids.contains(&uuid) {
            service_uuids.push(uuid);
        }
    }
    let data = AdvertData {
        local_name: properties.local_name.or(properties.advertisement_name),
        manufacturer_data: properties.manufacturer_data.into_iter().collect(),
        service_data: properties.service_data.into_iter().collect(),
        service_uuids,
        tx_power_dbm: properties
            .tx_power_level
            .and_then(|power| i8::try_from(power).ok()),
        flags: None,
    };
    let (address, derived_kind) = address_of(properties.address, id);
    let mut advert = Advertisement::from_data(address, radio.clone(), rssi_dbm, seen_at, data);
    advert.address_kind = match properties.address_type {
        Some(AddressType::Random) => AddressKind::Random,
        Some(AddressType::Public) => AddressKind::Public,
        None => derived_kind,
    };
    Some(advert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid::uuid_from_u16;

    fn heard() -> PeripheralProperties {
        PeripheralProperties {
            address: BDAddr::from([0xD4, 0x00, 0x00, 0x00, 0x00, 0x01]),
            address_type: Some(AddressType::Random),
            local_name: Some("Thermo".into()),
            tx_power_level: Some(-8),
            rssi: Some(-48),
            manufacturer_data: [(0x0499, vec![0x05, 0x10])].into_iter().collect(),
            service_data: [(uuid_from_u16(0x181A), vec![1, 2])].into_iter().collect(),
            services: vec![uuid_from_u16(0x181A), uuid_from_u16(0x181A)],
            ..PeripheralProperties::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_advertised_field_is_carried_over() {
        let advert = advertisement(&RadioId::new("hci0"), &"dev", heard(), Instant::now()).unwrap();
        assert_eq!(advert.address.to_string(), "D4:00:00:00:00:01");
        assert_eq!(advert.address_kind, AddressKind::Random);
        assert_eq!(advert.rssi_dbm, -48);
        assert_eq!(advert.local_name(), Some("Thermo"));
        assert_eq!(advert.data.manufacturer_data[&0x0499], vec![0x05, 0x10]);
        assert_eq!(advert.data.service_data[&uuid_from_u16(0x181A)], vec![1, 2]);
        assert_eq!(advert.data.service_uuids, vec![uuid_from_u16(0x181A)]);
        assert_eq!(advert.data.tx_power_dbm, Some(-8));
        assert_eq!(advert.radio.as_str(), "hci0");
    }

    #[test]
    fn a_hidden_address_gets_a_stable_stand_in_from_the_peripheral_id() {
        let hidden = BDAddr::default();
        let id = "8A1C3E2F-6D4B-4C1A-9E3F-0123456789AB";
        let (address, kind) = address_of(hidden, &id);
        assert_eq!(address.to_string(), "C1:23:45:67:89:AB");
        assert_eq!(kind, AddressKind::Random);
        assert_eq!(address_of(hidden, &id), (address, kind));
        let (other, _) = address_of(hidden, &"not-a-uuid");
        assert_ne!(other, address);
        assert_eq!(address_of(hidden, &"not-a-uuid").0, other);
        let (real, kind) = address_of(BDAddr::from([0xD4, 0, 0, 0, 0, 1]), &id);
        assert_eq!(
            (real.to_string().as_str(), kind),
            ("D4:00:00:00:00:01", AddressKind::Public)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_remembered_device_without_rssi_is_not_a_sighting() {
        let properties = PeripheralProperties {
            rssi: None,
            ..heard()
        };
        assert!(advertisement(&RadioId::new("hci0"), &"dev", properties, Instant::now()).is_none());
    }
}

//! btleplug's view of a peripheral as bluefleet's [`Advertisement`].
//!
//! btleplug reports advertisement fields as events that each carry one part (RSSI,
//! manufacturer data, service data, services) and keeps the merged state in
//! `PeripheralProperties`. The scan task reads that snapshot on every event and turns it into
//! one [`Advertisement`] here: local name, manufacturer data, service data, service UUIDs,
//! TX power and RSSI. A snapshot without RSSI is a device the platform remembers but has not
//! heard (BlueZ keeps paired and cached devices), which is not a sighting: it gives `None`.

use btleplug::api::{AddressType, BDAddr, PeripheralProperties};
use tokio::time::Instant;

use crate::model::{Address, AddressKind, AdvertData, Advertisement, RadioId};

/// bluefleet's address for btleplug's.
pub(crate) fn address_of(address: BDAddr) -> Address {
    let bytes: [u8; 6] = address.into();
    Address::from_u64(
        bytes
            .iter()
            .fold(0u64, |value, byte| (value << 8) | u64::from(*byte)),
    )
}

/// One sighting from a properties snapshot, or `None` when the device was not heard.
pub(crate) fn advertisement(
    radio: &RadioId,
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
    let mut advert = Advertisement::from_data(
        address_of(properties.address),
        radio.clone(),
        rssi_dbm,
        seen_at,
        data,
    );
    advert.address_kind = match properties.address_type {
        Some(AddressType::Random) => AddressKind::Random,
        _ => AddressKind::Public,
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
        let advert = advertisement(&RadioId::new("hci0"), heard(), Instant::now()).unwrap();
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

    #[tokio::test(start_paused = true)]
    async fn a_remembered_device_without_rssi_is_not_a_sighting() {
        let properties = PeripheralProperties {
            rssi: None,
            ..heard()
        };
        assert!(advertisement(&RadioId::new("hci0"), properties, Instant::now()).is_none());
    }
}

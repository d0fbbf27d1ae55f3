//! Converts the proxy's service lists into bluefleet's [`GattTable`].
//!
//! A UUID arrives either as `short_uuid` (a 16/32-bit SIG value) or as two 64-bit words of the
//! 128-bit value (missing words are zero); handles arrive as `u32` and must fit ATT's 16 bits.
//! A handle that does not fit is the proxy's mistake and fails discovery with a clear message.

use uuid::Uuid;

use super::api::gatt::Service;
use crate::backend::{Failure, FailureSource, FailureStage};
use crate::model::uuid::uuid_from_u32;
use crate::model::{CharProps, GattCharacteristic, GattDescriptor, GattService, GattTable};

fn uuid(words: &[u64], short: u32) -> Uuid {
    if short != 0 {
        return uuid_from_u32(short);
    }
    let high = words.first().copied().unwrap_or_default();
    let low = words.get(1).copied().unwrap_or_default();
    Uuid::from_u64_pair(high, low)
}

fn handle(value: u32) -> Result<u16, Failure> {
    u16::try_from(value).map_err(|_| {
        Failure::new(
            FailureSource::Esphome,
            FailureStage::Gatt,
            format!("the proxy listed handle {value}, beyond the 16-bit ATT range"),
        )
    })
}

/// The table for these services at this MTU.
pub(crate) fn to_table(services: &[Service], mtu: u16) -> Result<GattTable, Failure> {
    let services = services
        .iter()
        .map(|service| {
            let characteristics = service
                .characteristics
                .iter()
                .map(|c| {
                    let descriptors = c
                        .descriptors
                        .iter()
                        .map(|d| {
                            Ok(GattDescriptor {
                                uuid: uuid(&d.uuid, d.short_uuid),
                                handle: handle(d.handle)?,
                            })
                        })
                        .collect::<Result<_, Failure>>()?;
                    Ok(GattCharacteristic {
                        uuid: uuid(&c.uuid, c.short_uuid),
                        handle: handle(c.handle)?,
                        properties: CharProps::from_bits((c.properties & 0xFF) as u8),
                        descriptors,
                    })
                })
                .collect::<Result<_, Failure>>()?;
            Ok(GattService {
                uuid: uuid(&service.uuid, service.short_uuid),
                handle: handle(service.handle)?,
                characteristics,
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok(GattTable { services, mtu })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::esphome::api::gatt::{Characteristic, Descriptor};
    use crate::model::uuid_from_u16;

    #[test]
    fn short_and_split_uuids_both_expand() {
        let nus = Uuid::parse_str("6e400001-b5a3-f393-e0a9-e50e24dcca9e").unwrap();
        let (high, low) = nus.as_u64_pair();
        let services = vec![
            Service {
                uuid: vec![],
                handle: 0x10,
                short_uuid: 0x180F,
                characteristics: vec![Characteristic {
                    uuid: vec![],
                    handle: 0x12,
                    properties: 0x12,
                    short_uuid: 0x2A19,
                    descriptors: vec![Descriptor {
                        uuid: vec![],
                        handle: 0x13,
                        short_uuid: 0x2902,
                    }],
                }],
            },
            Service {
                uuid: vec![high, low],
                handle: 0x20,
                short_uuid: 0,
                characteristics: vec![],
            },
        ];
        let table = to_table(&services, 247).unwrap();
        assert_eq!(table.mtu, 247);
        assert_eq!(table.services[0].uuid, uuid_from_u16(0x180F));
        let battery = table.characteristic_by_handle(0x12).unwrap();
        assert!(battery
            .properties
            .contains(CharProps::NOTIFY | CharProps::READ));
        assert_eq!(battery.descriptors[0].uuid, uuid_from_u16(0x2902));
        assert_eq!(table.services[1].uuid, nus);
        assert_eq!(uuid(&[high], 0), Uuid::from_u64_pair(high, 0));
    }

    #[test]
    fn handles_beyond_sixteen_bits_fail_discovery() {
        let services = vec![Service {
            uuid: vec![],
            handle: 70_000,
            short_uuid: 0x1800,
            characteristics: vec![],
        }];
        let err = to_table(&services, 23).unwrap_err();
        assert!(err.text.contains("70000"), "{}", err.text);
    }
}

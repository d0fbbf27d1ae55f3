//! A [`GattTable`] in the proxy's words: service batches for `GetServices`, and handle lookups
//! for the requests that name only a handle.
//!
//! UUIDs on the Bluetooth base go out as `short_uuid` to clients that said API >= 1.12 (what
//! the firmware does), others as two 64-bit words. The firmware sends batches of at most about
//! 1360 encoded bytes; so does this.

use prost::Message;
use uuid::Uuid;

use crate::model::uuid::short_form;
use crate::model::{GattCharacteristic, GattService, GattTable};
use crate::native_api::messages::gatt::{Characteristic, Descriptor, Service, ServicesBatch};

/// Encoded-size budget of one services batch.
const BATCH_BYTES: usize = 1360;
/// The first client API minor version that understands `short_uuid`.
const SHORT_UUID_MINOR: u32 = 12;

fn words(uuid: &Uuid, short_ok: bool) -> (Vec<u64>, u32) {
    match short_form(uuid) {
        Some(short) if short_ok => (Vec::new(), short),
        _ => {
            let (high, low) = uuid.as_u64_pair();
            (vec![high, low], 0)
        }
    }
}

fn service(service: &GattService, short_ok: bool) -> Service {
    let (uuid, short_uuid) = words(&service.uuid, short_ok);
    Service {
        uuid,
        short_uuid,
        handle: u32::from(service.handle),
        characteristics: service
            .characteristics
            .iter()
            .map(|c| {
                let (uuid, short_uuid) = words(&c.uuid, short_ok);
                Characteristic {
                    uuid,
                    short_uuid,
                    handle: u32::from(c.handle),
                    properties: u32::from(c.properties.bits()),
                    descriptors: c
                        .descriptors
                        .iter()
                        .map(|d| {
                            let (uuid, short_uuid) = words(&d.uuid, short_ok);
                            Descriptor {
                                uuid,
                                short_uuid,
                                handle: u32::from(d.handle),
                            }
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}

/// The table as `GetServicesResponse` batches for a client of this API minor version.
pub(crate) fn batches(address: u64, table: &GattTable, client_minor: u32) -> Vec<ServicesBatch> {
    let short_ok = client_minor >= SHORT_UUID_MINOR;
    let mut out = Vec::new();
    let mut current = ServicesBatch {
        address,
        services: Vec::new(),
    };
    for s in &table.services {
        let encoded = service(s, short_ok);
        if !current.services.is_empty()
            && current.encoded_len() + encoded.encoded_len() + 4 > BATCH_BYTES
        {
            out.push(std::mem::replace(
                &mut current,
                ServicesBatch {
                    address,
                    services: Vec::new(),
                },
            ));
        }
        current.services.push(encoded);
    }
    if !current.services.is_empty() {
        out.push(current);
    }
    out
}

/// The characteristic whose value handle is `handle`, with its service's UUID.
pub(crate) fn characteristic(
    table: &GattTable,
    handle: u32,
) -> Option<(&GattService, &GattCharacteristic)> {
    table.services.iter().find_map(|s| {
        s.characteristics
            .iter()
            .find(|c| u32::from(c.handle) == handle)
            .map(|c| (s, c))
    })
}

/// The descriptor with this handle: its characteristic and its UUID.
pub(crate) fn descriptor(table: &GattTable, handle: u32) -> Option<(&GattCharacteristic, Uuid)> {
    table.services.iter().find_map(|s| {
        s.characteristics.iter().find_map(|c| {
            c.descriptors
                .iter()
                .find(|d| u32::from(d.handle) == handle)
                .map(|d| (c, d.uuid))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid::uuid_from_u16;
    use crate::model::{CharProps, GattDescriptor};

    fn table(services: usize) -> GattTable {
        GattTable {
            mtu: 247,
            services: (0..services)
                .map(|i| GattService {
                    uuid: Uuid::from_u128(0x1234_5678_0000_0000_0000_0000_0000_0000 + i as u128),
                    handle: (i * 10 + 1) as u16,
                    characteristics: vec![GattCharacteristic {
                        uuid: uuid_from_u16(0x2A6E),
                        handle: (i * 10 + 3) as u16,
                        properties: CharProps::READ | CharProps::NOTIFY,
                        descriptors: vec![GattDescriptor {
                            uuid: uuid_from_u16(0x2902),
                            handle: (i * 10 + 4) as u16,
                        }],
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn short_uuids_only_for_new_clients_and_long_ones_as_two_words() {
        let t = table(1);
        let new = batches(1, &t, 19);
        let c = &new[0].services[0].characteristics[0];
        assert_eq!((c.short_uuid, c.uuid.len()), (0x2A6E, 0));
        assert_eq!(
            new[0].services[0].uuid.len(),
            2,
            "a vendor UUID has no short form"
        );
        let old = batches(1, &t, 10);
        assert_eq!(old[0].services[0].characteristics[0].uuid.len(), 2);
        assert_eq!(old[0].services[0].characteristics[0].short_uuid, 0);
    }

    #[test]
    fn big_tables_are_split_under_the_firmware_batch_size() {
        let t = table(60);
        let all = batches(7, &t, 19);
        assert!(all.len() > 1);
        assert!(all.iter().all(|b| b.encoded_len() <= BATCH_BYTES));
        assert_eq!(all.iter().map(|b| b.services.len()).sum::<usize>(), 60);
    }

    #[test]
    fn handles_find_their_characteristic_and_descriptor() {
        let t = table(3);
        let (s, c) = characteristic(&t, 13).unwrap();
        assert_eq!((s.handle, c.handle), (11, 13));
        let (c, uuid) = descriptor(&t, 24).unwrap();
        assert_eq!((c.handle, uuid), (23, uuid_from_u16(0x2902)));
        assert!(characteristic(&t, 99).is_none());
    }
}

//! Synthetic ATT handles for btleplug's services: [`HandleMap`] and the [`GattTable`] it gives.
//!
//! btleplug names characteristics by (service UUID, characteristic UUID) and descriptors by
//! adding their own UUID; it does not expose ATT handles on every platform. bluefleet's links
//! address everything by handle, so this module numbers btleplug's sorted service set the way
//! a GATT server lays out its attributes (service declaration, then per characteristic a
//! declaration and its value, then its descriptors) and remembers which btleplug object each
//! number stands for. btleplug returns services as an ordered set, so the same services give
//! the same handles on every connection and the service cache stays valid.

use std::collections::{BTreeMap, BTreeSet};

use btleplug::api::{Characteristic, Descriptor, Service};

use crate::model::{CharProps, GattCharacteristic, GattDescriptor, GattService, GattTable};

/// Which btleplug object each synthetic handle stands for.
#[derive(Clone, Debug, Default)]
pub(crate) struct HandleMap {
    characteristics: BTreeMap<u16, Characteristic>,
    descriptors: BTreeMap<u16, Descriptor>,
}

impl HandleMap {
    /// Numbers `services` and returns the table bluefleet sees plus the map back.
    pub(crate) fn number(services: &BTreeSet<Service>, mtu: u16) -> (GattTable, HandleMap) {
        let mut map = HandleMap::default();
        let mut next: u16 = 1;
        let mut take = || {
            let handle = next;
            next = next.saturating_add(1);
            handle
        };
        let table_services = services
            .iter()
            .map(|service| {
                let handle = take();
                let characteristics = service
                    .characteristics
                    .iter()
                    .map(|characteristic| {
                        let _declaration = take();
                        let value = take();
                        map.characteristics.insert(value, characteristic.clone());
                        let descriptors = characteristic
                            .descriptors
                            .iter()
                            .map(|descriptor| {
                                let handle = take();
                                map.descriptors.insert(handle, descriptor.clone());
                                GattDescriptor {
                                    uuid: descriptor.uuid,
                                    handle,
                                }
                            })
                            .collect();
                        GattCharacteristic {
                            uuid: characteristic.uuid,
                            handle: value,
                            properties: CharProps::from_bits(characteristic.properties.bits()),
                            descriptors,
                        }
                    })
                    .collect();
                GattService {
                    uuid: service.uuid,
                    handle,
                    characteristics,
                }
            })
            .collect();
        let table = GattTable {
            services: table_services,
            mtu,
        };
        (table, map)
    }

    /// The characteristic whose value has this handle.
    pub(crate) fn characteristic(&self, handle: u16) -> Option<&Characteristic> {
        self.characteristics.get(&handle)
    }

    /// The descriptor with this handle.
    pub(crate) fn descriptor(&self, handle: u16) -> Option<&Descriptor> {
        self.descriptors.get(&handle)
    }

    /// The value handle of the characteristic a notification names.
    pub(crate) fn handle_of(
        &self,
        service: &uuid::Uuid,
        characteristic: &uuid::Uuid,
    ) -> Option<u16> {
        self.characteristics
            .iter()
            .find(|(_, c)| c.service_uuid == *service && c.uuid == *characteristic)
            .map(|(handle, _)| *handle)
    }
}

#[cfg(test)]
mod tests {
    use btleplug::api::CharPropFlags;

    use super::*;
    use crate::model::uuid::uuid_from_u16;

    fn services() -> BTreeSet<Service> {
        let service = uuid_from_u16(0x181A);
        let temperature = uuid_from_u16(0x2A6E);
        let humidity = uuid_from_u16(0x2A6F);
        let cccd = Descriptor {
            uuid: uuid_from_u16(0x2902),
            service_uuid: service,
            characteristic_uuid: temperature,
        };
        let characteristic = |uuid, properties, descriptors: Vec<Descriptor>| Characteristic {
            uuid,
            service_uuid: service,
            properties,
            descriptors: descriptors.into_iter().collect(),
        };
        let primary = Service {
            uuid: service,
            primary: true,
            characteristics: [
                characteristic(
                    temperature,
                    CharPropFlags::READ | CharPropFlags::NOTIFY,
                    vec![cccd],
                ),
                characteristic(humidity, CharPropFlags::WRITE, vec![]),
            ]
            .into_iter()
            .collect(),
        };
        [primary].into_iter().collect()
    }

    #[test]
    fn handles_follow_a_gatt_servers_layout_and_map_back() {
        let (table, map) = HandleMap::number(&services(), 247);
        assert_eq!(table.mtu, 247);
        assert_eq!(table.services.len(), 1);
        let service = &table.services[0];
        assert_eq!(service.handle, 1);
        let temperature = &service.characteristics[0];
        assert_eq!(temperature.handle, 3);
        assert_eq!(temperature.descriptors[0].handle, 4);
        assert!(temperature.properties.contains(CharProps::NOTIFY));
        assert_eq!(service.characteristics[1].handle, 6);
        assert_eq!(
            map.characteristic(3).map(|c| c.uuid),
            Some(temperature.uuid)
        );
        assert_eq!(
            map.descriptor(4).map(|d| d.uuid),
            Some(uuid_from_u16(0x2902))
        );
        assert!(map.characteristic(4).is_none());
        assert_eq!(map.handle_of(&service.uuid, &temperature.uuid), Some(3));
    }

    #[test]
    fn the_same_services_get_the_same_handles_every_time() {
        let (first, _) = HandleMap::number(&services(), 23);
        let (second, _) = HandleMap::number(&services(), 23);
        assert_eq!(first, second);
    }
}

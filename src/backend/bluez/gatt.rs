//! A connected device's GATT tree, read from BlueZ's GATT objects, with the handle ↔ path map.
//!
//! BlueZ exports each resolved service, characteristic and descriptor as an object below the
//! device (`…/service0010/char0011/desc0012`). [`GattIndex::build`] turns those into the shared
//! [`GattTable`] and remembers which object path stands for which handle, because every
//! operation of the `Link` trait names a handle while every BlueZ call needs a path.
//!
//! Handles are the objects' `Handle` properties when every object has one (BlueZ ≥ 5.52 does);
//! otherwise every object gets a synthetic handle, counting from 1 in object-path order, which is
//! stable for as long as BlueZ keeps the same objects.

use std::collections::HashMap;

use uuid::Uuid;

use super::objects::Objects;
use super::props::PropMap;
use super::proxies::{CHARACTERISTIC, DESCRIPTOR, SERVICE};
use super::signals::is_under;
use crate::model::{
    parse_uuid, CharProps, GattCharacteristic, GattDescriptor, GattService, GattTable,
};

/// The ATT MTU when BlueZ does not say (the LE minimum).
pub(crate) const DEFAULT_MTU: u16 = 23;

/// One device's GATT table plus the object path behind each handle.
#[derive(Clone, Debug, Default)]
pub(crate) struct GattIndex {
    /// The table every backend reports.
    pub table: GattTable,
    /// Characteristic value handle → object path.
    characteristics: HashMap<u16, String>,
    /// Descriptor handle → object path.
    descriptors: HashMap<u16, String>,
    /// Characteristic object path → value handle (for notifications, which name a path).
    handles: HashMap<String, u16>,
    /// Service object path → its position in `table.services` (while building).
    service_positions: HashMap<String, usize>,
    /// Characteristic object path → its service's and its own position (while building).
    characteristic_positions: HashMap<String, (usize, usize)>,
}

/// A GATT object below the device, in path order.
struct Entry<'a> {
    path: &'a str,
    interface: &'static str,
    props: &'a PropMap,
}

impl GattIndex {
    /// Builds the index from a snapshot, for the device at `device_path`.
    pub fn build(objects: &Objects, device_path: &str) -> Self {
        let entries: Vec<Entry<'_>> = objects
            .iter()
            .filter(|(path, _)| path.as_str() != device_path && is_under(path, device_path))
            .filter_map(|(path, interfaces)| {
                [SERVICE, CHARACTERISTIC, DESCRIPTOR]
                    .into_iter()
                    .find_map(|interface| {
                        interfaces.get(interface).map(|props| Entry {
                            path,
                            interface,
                            props,
                        })
                    })
            })
            .collect();
        let real_handles: Option<Vec<u16>> =
            entries.iter().map(|e| handle_property(e.props)).collect();
        let handles = real_handles.unwrap_or_else(|| (1..).take(entries.len()).collect());

        let mut index = Self::default();
        for (entry, handle) in entries.iter().zip(handles) {
            index.add(entry, handle);
        }
        index.table.mtu = entries
            .iter()
            .filter(|e| e.interface == CHARACTERISTIC)
            .find_map(|e| e.props.get("MTU").and_then(|v| u16::try_from(v).ok()))
            .unwrap_or(DEFAULT_MTU);
        index
    }

    /// The object path of the characteristic with this value handle.
    pub fn characteristic_path(&self, handle: u16) -> Option<&str> {
        self.characteristics.get(&handle).map(String::as_str)
    }

    /// The object path of the descriptor with this handle.
    pub fn descriptor_path(&self, handle: u16) -> Option<&str> {
        self.descriptors.get(&handle).map(String::as_str)
    }

    /// The value handle of the characteristic at this path.
    pub fn handle_of(&self, path: &str) -> Option<u16> {
        self.handles.get(path).copied()
    }

    fn add(&mut self, entry: &Entry<'_>, handle: u16) {
        let Some(uuid) = uuid_property(entry) else {
            return;
        };
        let parent = entry.path.rsplit_once('/').map_or("", |(parent, _)| parent);
        let path = entry.path.to_owned();
        match entry.interface {
            SERVICE => {
                self.service_positions
                    .insert(path, self.table.services.len());
                self.table.services.push(GattService {
                    uuid,
                    handle,
                    characteristics: Vec::new(),
                });
            }
            CHARACTERISTIC => {
                let Some(&s) = self.service_positions.get(parent) else {
                    tracing::debug!(path = entry.path, "characteristic outside a service");
                    return;
                };
                let Some(service) = self.table.services.get_mut(s) else {
                    return;
                };
                let c = service.characteristics.len();
                service.characteristics.push(GattCharacteristic {
                    uuid,
                    handle,
                    properties: flags(entry.props),
                    descriptors: Vec::new(),
                });
                self.characteristic_positions.insert(path.clone(), (s, c));
                self.characteristics.insert(handle, path.clone());
                self.handles.insert(path, handle);
            }
            _ => {
                let Some(&(s, c)) = self.characteristic_positions.get(parent) else {
                    tracing::debug!(path = entry.path, "descriptor outside a characteristic");
                    return;
                };
                let characteristic = self
                    .table
                    .services
                    .get_mut(s)
                    .and_then(|service| service.characteristics.get_mut(c));
                if let Some(characteristic) = characteristic {
                    characteristic
                        .descriptors
                        .push(GattDescriptor { uuid, handle });
                    self.descriptors.insert(handle, path);
                }
            }
        }
    }
}

/// The `Handle` property, when present and non-zero (0 is not a valid ATT handle).
fn handle_property(props: &PropMap) -> Option<u16> {
    props
        .get("Handle")
        .and_then(|v| u16::try_from(v).ok())
        .filter(|&handle| handle != 0)
}

fn uuid_property(entry: &Entry<'_>) -> Option<Uuid> {
    let text = entry
        .props
        .get("UUID")
        .and_then(|v| <&str>::try_from(v).ok());
    match text.map(parse_uuid) {
        Some(Ok(uuid)) => Some(uuid),
        _ => {
            tracing::debug!(
                path = entry.path,
                "skipping a GATT object without a readable UUID"
            );
            None
        }
    }
}

/// Characteristic properties from BlueZ's `Flags` words (security words such as
/// `encrypt-read` are not declaration bits and are left out).
fn flags(props: &PropMap) -> CharProps {
    let words = props
        .get("Flags")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| Vec::<String>::try_from(v).ok())
        .unwrap_or_default();
    words
        .iter()
        .filter_map(|word| CharProps::from_name(word))
        .fold(CharProps::default(), |acc, flag| acc | flag)
}

#[cfg(test)]
#[path = "gatt_tests.rs"]
mod tests;

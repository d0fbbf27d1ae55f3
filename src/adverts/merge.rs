//! The merged view of what a device advertised: [`MergedAdvert`].
//!
//! Owns the union of every advert and scan response a device sent, in a compact form:
//! manufacturer and service data each in one packed buffer (`packed_map.rs`), service
//! UUIDs in an exactly-sized list, instead of `BTreeMap`s, whose first node alone costs 300–450
//! bytes and would break the "a few hundred bytes per advertising device" budget (performance
//! anchors G5). Lookups are linear, which is fastest at the one to three entries a real advert
//! carries.
//!
//! Merge rules (the BlueZ and habluetooth ones): manufacturer and service data are merged by
//! key, the newest bytes winning; service UUIDs are unioned; tx power and flags take the
//! newest value; a name replaces the old one unless it is a truncation of it (a shortened name
//! in the advert must not undo the complete name from the scan response). [`MergedAdvert::merge`]
//! reports whether anything changed and allocates only when a value's length changed.

use uuid::Uuid;

use super::exact_list;
use super::packed_map::PackedMap;
use crate::model::AdvertData;

/// The union of a device's adverts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergedAdvert {
    name: Option<Box<str>>,
    manufacturer_data: PackedMap<u16>,
    service_data: PackedMap<Uuid>,
    service_uuids: Box<[Uuid]>,
    tx_power_dbm: Option<i8>,
    flags: Option<u8>,
}

impl MergedAdvert {
    /// Merges a newer advert in; returns whether the merged view changed.
    pub fn merge(&mut self, newer: &AdvertData) -> bool {
        let mut changed = false;
        if let Some(name) = newer.local_name.as_deref() {
            changed |= self.merge_name(name);
        }
        for (company, bytes) in &newer.manufacturer_data {
            changed |= self.manufacturer_data.upsert(*company, bytes);
        }
        for (uuid, bytes) in &newer.service_data {
            changed |= self.service_data.upsert(*uuid, bytes);
        }
        for uuid in &newer.service_uuids {
            if !self.service_uuids.contains(uuid) {
                exact_list::push(&mut self.service_uuids, *uuid);
                changed = true;
            }
        }
        if newer.tx_power_dbm.is_some() && newer.tx_power_dbm != self.tx_power_dbm {
            self.tx_power_dbm = newer.tx_power_dbm;
            changed = true;
        }
        if newer.flags.is_some() && newer.flags != self.flags {
            self.flags = newer.flags;
            changed = true;
        }
        changed
    }

    fn merge_name(&mut self, name: &str) -> bool {
        match self.name.as_deref() {
            Some(current) if current == name => false,
            Some(current) if current.starts_with(name) => false,
            _ => {
                self.name = Some(name.into());
                true
            }
        }
    }

    /// The best name seen.
    pub fn local_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Manufacturer data of one company.
    pub fn manufacturer_data(&self, company: u16) -> Option<&[u8]> {
        self.manufacturer_data.get(&company)
    }

    /// Service data of one service.
    pub fn service_data(&self, uuid: &Uuid) -> Option<&[u8]> {
        self.service_data.get(uuid)
    }

    /// The companies it sent manufacturer data for, in first-seen order.
    pub fn manufacturer_ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.manufacturer_data.keys()
    }

    /// The services it sent data for, in first-seen order.
    pub fn service_data_uuids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.service_data.keys()
    }

    /// Every service UUID advertised, in first-seen order.
    pub fn service_uuids(&self) -> &[Uuid] {
        &self.service_uuids
    }

    /// Whether the device announced this service, by UUID list or by service data.
    pub fn has_service(&self, uuid: &Uuid) -> bool {
        self.service_uuids.contains(uuid) || self.service_data(uuid).is_some()
    }

    /// The latest tx power level.
    pub fn tx_power_dbm(&self) -> Option<i8> {
        self.tx_power_dbm
    }

    /// The merged view in the model's shape (allocates; for handles and diagnostics).
    pub fn to_advert_data(&self) -> AdvertData {
        AdvertData {
            local_name: self.name.as_deref().map(str::to_owned),
            manufacturer_data: self
                .manufacturer_data
                .iter()
                .map(|(company, bytes)| (company, bytes.to_vec()))
                .collect(),
            service_data: self
                .service_data
                .iter()
                .map(|(uuid, bytes)| (uuid, bytes.to_vec()))
                .collect(),
            service_uuids: self.service_uuids.to_vec(),
            tx_power_dbm: self.tx_power_dbm,
            flags: self.flags,
        }
    }

    /// Heap bytes held (the allocations' requested sizes, without allocator overhead).
    pub fn heap_bytes(&self) -> usize {
        self.name.as_deref().map_or(0, str::len)
            + self.manufacturer_data.heap_bytes()
            + self.service_data.heap_bytes()
            + std::mem::size_of_val(&*self.service_uuids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid_from_u16;
    use std::collections::BTreeMap;

    fn data(name: Option<&str>, company_bytes: &[u8]) -> AdvertData {
        AdvertData {
            local_name: name.map(str::to_owned),
            manufacturer_data: BTreeMap::from([(0x0499, company_bytes.to_vec())]),
            ..AdvertData::default()
        }
    }

    #[test]
    fn a_scan_response_name_survives_adverts_without_one() {
        let mut merged = MergedAdvert::default();
        assert!(merged.merge(&data(Some("Thermometer"), &[1])));
        assert!(merged.merge(&data(None, &[2])));
        assert_eq!(merged.local_name(), Some("Thermometer"));
        assert_eq!(merged.manufacturer_data(0x0499), Some(&[2u8][..]));
    }

    #[test]
    fn a_truncated_name_does_not_replace_the_complete_one_but_a_rename_does() {
        let mut merged = MergedAdvert::default();
        merged.merge(&data(Some("Thermometer"), &[1]));
        assert!(!merged.merge(&data(Some("Therm"), &[1])));
        assert_eq!(merged.local_name(), Some("Thermometer"));
        assert!(merged.merge(&data(Some("Kitchen"), &[1])));
        assert_eq!(merged.local_name(), Some("Kitchen"));
    }

    #[test]
    fn an_identical_advert_changes_nothing() {
        let mut merged = MergedAdvert::default();
        let mut advert = data(Some("A"), &[1, 2, 3]);
        advert.service_uuids = vec![uuid_from_u16(0x180F)];
        advert.service_data = BTreeMap::from([(uuid_from_u16(0xFCD2), vec![0x40, 1])]);
        advert.tx_power_dbm = Some(4);
        advert.flags = Some(6);
        assert!(merged.merge(&advert));
        assert!(!merged.merge(&advert));
        assert_eq!(merged.to_advert_data(), advert);
        assert!(merged.has_service(&uuid_from_u16(0xFCD2)));
        assert!(merged.has_service(&uuid_from_u16(0x180F)));
    }

    #[test]
    fn values_of_a_new_length_replace_the_old_ones() {
        let mut merged = MergedAdvert::default();
        merged.merge(&data(None, &[1, 2]));
        assert!(merged.merge(&data(None, &[1, 2, 3])));
        assert_eq!(merged.manufacturer_data(0x0499), Some(&[1u8, 2, 3][..]));
        assert!(merged.merge(&data(None, &[9, 9, 9])));
        assert_eq!(merged.manufacturer_data(0x0499), Some(&[9u8, 9, 9][..]));
    }
}

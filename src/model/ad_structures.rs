//! Raw advertising data: the length/type/value AD structures of the Core spec (Vol 3, Part C, 11).
//!
//! Owns [`AdvertData`], the decoded contents of one advertisement or scan response, with
//! [`AdvertData::parse`] to read it from bytes and [`AdvertData::to_bytes`] to write it (the
//! simulated radio and ESPHome raw adverts both carry bytes).
//!
//! The bytes come from the air and from the network, so they are hostile: every read is bounds
//! checked (`clippy::indexing_slicing` is denied here), and a malformed structure yields an
//! [`AdParseError`] that names the offset and the problem and still hands back every field
//! decoded before it. A zero length byte ends the significant part, as the spec says.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeMap;

use uuid::Uuid;

use super::uuid::{uuid_from_u16, uuid_from_u32};

/// AD type numbers this parser understands (Bluetooth assigned numbers, "Common Data Types").
mod ad_type {
    pub const FLAGS: u8 = 0x01;
    pub const UUID16_INCOMPLETE: u8 = 0x02;
    pub const UUID16_COMPLETE: u8 = 0x03;
    pub const UUID32_INCOMPLETE: u8 = 0x04;
    pub const UUID32_COMPLETE: u8 = 0x05;
    pub const UUID128_INCOMPLETE: u8 = 0x06;
    pub const UUID128_COMPLETE: u8 = 0x07;
    pub const NAME_SHORTENED: u8 = 0x08;
    pub const NAME_COMPLETE: u8 = 0x09;
    pub const TX_POWER: u8 = 0x0A;
    pub const SERVICE_DATA16: u8 = 0x16;
    pub const SERVICE_DATA32: u8 = 0x20;
    pub const SERVICE_DATA128: u8 = 0x21;
    pub const MANUFACTURER: u8 = 0xFF;
}

/// The decoded fields of one advertisement (or an advert merged with its scan response).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdvertData {
    /// The complete or shortened local name.
    pub local_name: Option<String>,
    /// Manufacturer-specific data by 16-bit company identifier.
    pub manufacturer_data: BTreeMap<u16, Vec<u8>>,
    /// Service data by service UUID.
    pub service_data: BTreeMap<Uuid, Vec<u8>>,
    /// Advertised service UUIDs, in the order they appeared, without duplicates.
    pub service_uuids: Vec<Uuid>,
    /// Transmit power level in dBm.
    pub tx_power_dbm: Option<i8>,
    /// The flags byte (LE discoverable modes, BR/EDR support).
    pub flags: Option<u8>,
}

/// What was wrong with an AD structure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdProblem {
    /// A structure's length runs past the end of the data.
    #[error("structure claims {claimed} bytes but only {available} remain")]
    Truncated {
        /// Bytes the length byte announced (type included).
        claimed: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// A structure's value has a length its type does not allow.
    #[error("AD type 0x{ad_type:02x} cannot be {len} bytes long")]
    WrongLength {
        /// The AD type.
        ad_type: u8,
        /// The value length found.
        len: usize,
    },
}

/// A malformed advertisement, with every field decoded before the fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed advertising data at byte {offset}: {problem}")]
pub struct AdParseError {
    /// Offset of the bad structure's length byte.
    pub offset: usize,
    /// What was wrong.
    pub problem: AdProblem,
    /// The fields decoded before the bad structure.
    pub partial: Box<AdvertData>,
}

impl AdvertData {
    /// Decodes AD structures; on a malformed one, the error carries what came before it.
    pub fn parse(bytes: &[u8]) -> Result<Self, AdParseError> {
        let mut data = AdvertData::default();
        let mut offset = 0;
        while let Some(&len) = bytes.get(offset) {
            let len = usize::from(len);
            if len == 0 {
                break;
            }
            let fail = |problem, data: AdvertData| AdParseError {
                offset,
                problem,
                partial: Box::new(data),
            };
            let Some(structure) = bytes.get(offset + 1..offset + 1 + len) else {
                let available = bytes.len() - offset - 1;
                return Err(fail(
                    AdProblem::Truncated {
                        claimed: len,
                        available,
                    },
                    data,
                ));
            };
            let Some((&kind, value)) = structure.split_first() else {
                break;
            };
            if let Err(problem) = data.apply(kind, value) {
                return Err(fail(problem, data));
            }
            offset += 1 + len;
        }
        Ok(data)
    }

    /// Decodes what it can: the fields before a malformed structure, and the error if any.
    pub fn parse_lenient(bytes: &[u8]) -> (Self, Option<AdParseError>) {
        match Self::parse(bytes) {
            Ok(data) => (data, None),
            Err(err) => (*err.partial.clone(), Some(err)),
        }
    }

    fn apply(&mut self, kind: u8, value: &[u8]) -> Result<(), AdProblem> {
        let wrong = || AdProblem::WrongLength {
            ad_type: kind,
            len: value.len(),
        };
        match kind {
            ad_type::FLAGS => self.flags = Some(*value.first().ok_or_else(wrong)?),
            ad_type::UUID16_INCOMPLETE | ad_type::UUID16_COMPLETE => {
                let uuids = chunks::<2>(value).ok_or_else(wrong)?;
                self.add_uuids(uuids.map(|c| uuid_from_u16(u16::from_le_bytes(c))));
            }
            ad_type::UUID32_INCOMPLETE | ad_type::UUID32_COMPLETE => {
                let uuids = chunks::<4>(value).ok_or_else(wrong)?;
                self.add_uuids(uuids.map(|c| uuid_from_u32(u32::from_le_bytes(c))));
            }
            ad_type::UUID128_INCOMPLETE | ad_type::UUID128_COMPLETE => {
                let uuids = chunks::<16>(value).ok_or_else(wrong)?;
                self.add_uuids(uuids.map(|c| Uuid::from_u128(u128::from_le_bytes(c))));
            }
            ad_type::NAME_SHORTENED if self.local_name.is_none() => {
                self.local_name = Some(String::from_utf8_lossy(value).into_owned());
            }
            ad_type::NAME_COMPLETE => {
                self.local_name = Some(String::from_utf8_lossy(value).into_owned());
            }
            ad_type::TX_POWER => {
                let [power] = value else { return Err(wrong()) };
                self.tx_power_dbm = Some(i8::from_le_bytes([*power]));
            }
            ad_type::SERVICE_DATA16 => {
                let (uuid, rest) = split_array::<2>(value).ok_or_else(wrong)?;
                self.service_data
                    .insert(uuid_from_u16(u16::from_le_bytes(uuid)), rest.to_vec());
            }
            ad_type::SERVICE_DATA32 => {
                let (uuid, rest) = split_array::<4>(value).ok_or_else(wrong)?;
                self.service_data
                    .insert(uuid_from_u32(u32::from_le_bytes(uuid)), rest.to_vec());
            }
            ad_type::SERVICE_DATA128 => {
                let (uuid, rest) = split_array::<16>(value).ok_or_else(wrong)?;
                self.service_data
                    .insert(Uuid::from_u128(u128::from_le_bytes(uuid)), rest.to_vec());
            }
            ad_type::MANUFACTURER => {
                let (company, rest) = split_array::<2>(value).ok_or_else(wrong)?;
                self.manufacturer_data
                    .insert(u16::from_le_bytes(company), rest.to_vec());
            }
            _ => {}
        }
        Ok(())
    }

    fn add_uuids(&mut self, uuids: impl Iterator<Item = Uuid>) {
        for uuid in uuids {
            if !self.service_uuids.contains(&uuid) {
                self.service_uuids.push(uuid);
            }
        }
    }

    /// Merges a later sighting into this one the way users expect: fields the newer data
    /// carries replace ours, fields it lacks (a scan response's name) are kept.
    pub fn merge_from(&mut self, newer: &AdvertData) {
        if newer.local_name.is_some() {
            self.local_name.clone_from(&newer.local_name);
        }
        for (company, bytes) in &newer.manufacturer_data {
            self.manufacturer_data.insert(*company, bytes.clone());
        }
        for (uuid, bytes) in &newer.service_data {
            self.service_data.insert(*uuid, bytes.clone());
        }
        self.add_uuids(newer.service_uuids.iter().copied());
        if newer.tx_power_dbm.is_some() {
            self.tx_power_dbm = newer.tx_power_dbm;
        }
        if newer.flags.is_some() {
            self.flags = newer.flags;
        }
    }

    /// Encodes the fields as AD structures (shortest UUID form that fits each UUID). Fields
    /// longer than one structure allows are truncated to 254 bytes of value.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(31);
        if let Some(flags) = self.flags {
            push(&mut out, ad_type::FLAGS, &[flags]);
        }
        let mut short16 = Vec::new();
        let mut short32 = Vec::new();
        let mut long = Vec::new();
        for uuid in &self.service_uuids {
            match super::uuid::short_form(uuid) {
                Some(s) if s <= 0xFFFF => short16.extend_from_slice(&(s as u16).to_le_bytes()),
                Some(s) => short32.extend_from_slice(&s.to_le_bytes()),
                None => long.extend_from_slice(&uuid.as_u128().to_le_bytes()),
            }
        }
        for (kind, list) in [
            (ad_type::UUID16_COMPLETE, short16),
            (ad_type::UUID32_COMPLETE, short32),
            (ad_type::UUID128_COMPLETE, long),
        ] {
            if !list.is_empty() {
                push(&mut out, kind, &list);
            }
        }
        if let Some(name) = &self.local_name {
            push(&mut out, ad_type::NAME_COMPLETE, name.as_bytes());
        }
        if let Some(power) = self.tx_power_dbm {
            push(&mut out, ad_type::TX_POWER, &power.to_le_bytes());
        }
        for (uuid, bytes) in &self.service_data {
            let mut value = Vec::with_capacity(bytes.len() + 16);
            let kind = match super::uuid::short_form(uuid) {
                Some(s) if s <= 0xFFFF => {
                    value.extend_from_slice(&(s as u16).to_le_bytes());
                    ad_type::SERVICE_DATA16
                }
                Some(s) => {
                    value.extend_from_slice(&s.to_le_bytes());
                    ad_type::SERVICE_DATA32
                }
                None => {
                    value.extend_from_slice(&uuid.as_u128().to_le_bytes());
                    ad_type::SERVICE_DATA128
                }
            };
            value.extend_from_slice(bytes);
            push(&mut out, kind, &value);
        }
        for (company, bytes) in &self.manufacturer_data {
            let mut value = company.to_le_bytes().to_vec();
            value.extend_from_slice(bytes);
            push(&mut out, ad_type::MANUFACTURER, &value);
        }
        out
    }
}

fn push(out: &mut Vec<u8>, kind: u8, value: &[u8]) {
    let value = value.get(..value.len().min(254)).unwrap_or_default();
    out.push(value.len() as u8 + 1);
    out.push(kind);
    out.extend_from_slice(value);
}

/// Splits `value` into fixed-size chunks, or `None` if it is empty or not a multiple.
fn chunks<const N: usize>(value: &[u8]) -> Option<impl Iterator<Item = [u8; N]> + '_> {
    (!value.is_empty() && value.len().is_multiple_of(N)).then(|| {
        value
            .chunks_exact(N)
            .filter_map(|c| <[u8; N]>::try_from(c).ok())
    })
}

fn split_array<const N: usize>(value: &[u8]) -> Option<([u8; N], &[u8])> {
    let head = value.get(..N)?;
    let rest = value.get(N..)?;
    Some((<[u8; N]>::try_from(head).ok()?, rest))
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(text: &str) -> Vec<u8> {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn ibeacon_frame() {
        // Flags, then Apple (0x004C) manufacturer data: type 0x02, length 0x15, UUID, major 1,
        // minor 2, measured power -59 (0xC5).
        let frame = hex("020106 1AFF4C000215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5");
        let data = AdvertData::parse(&frame).unwrap();
        assert_eq!(data.flags, Some(0x06));
        let apple = &data.manufacturer_data[&0x004C];
        assert_eq!(apple.len(), 23);
        assert_eq!(&apple[..2], &[0x02, 0x15]);
        assert_eq!(apple[22] as i8, -59);
    }

    #[test]
    fn eddystone_url_frame() {
        // Complete 16-bit UUID list {0xFEAA}; service data 0xFEAA: frame 0x10 (URL), tx -20,
        // scheme 0x03 (https://), "goo.gl/xyz".
        let frame = hex("0303AAFE 1016AAFE10EC03676F6F2E676C2F78797A");
        let data = AdvertData::parse(&frame).unwrap();
        let eddystone = uuid_from_u16(0xFEAA);
        assert_eq!(data.service_uuids, vec![eddystone]);
        let payload = &data.service_data[&eddystone];
        assert_eq!(payload[0], 0x10);
        assert_eq!(payload[1] as i8, -20);
        assert_eq!(&payload[3..], b"goo.gl/xyz");
    }

    #[test]
    fn heart_rate_sensor_with_name_and_uuid_list() {
        // Flags, 16-bit UUIDs {0x180D, 0x180F}, complete name "HRM-Pro", tx power +4.
        let frame = hex("020106 05030D180F18 080948524D2D50726F 020A04");
        let data = AdvertData::parse(&frame).unwrap();
        assert_eq!(data.local_name.as_deref(), Some("HRM-Pro"));
        assert_eq!(
            data.service_uuids,
            vec![uuid_from_u16(0x180D), uuid_from_u16(0x180F)]
        );
        assert_eq!(data.tx_power_dbm, Some(4));
    }

    #[test]
    fn truncated_input_keeps_what_came_before() {
        let frame = hex("020106 0809485250"); // name claims 8 bytes, 4 remain
        let err = AdvertData::parse(&frame).unwrap_err();
        assert_eq!(err.offset, 3);
        assert_eq!(
            err.problem,
            AdProblem::Truncated {
                claimed: 8,
                available: 4
            }
        );
        assert_eq!(err.partial.flags, Some(0x06));
        assert!(err.to_string().contains("byte 3"));
    }

    #[test]
    fn wrong_lengths_are_named() {
        let odd_uuid_list = hex("0403 0D1801");
        let err = AdvertData::parse(&odd_uuid_list).unwrap_err();
        assert_eq!(
            err.problem,
            AdProblem::WrongLength {
                ad_type: 0x03,
                len: 3
            }
        );
        let err = AdvertData::parse(&hex("03 0A 0102")).unwrap_err();
        assert!(matches!(
            err.problem,
            AdProblem::WrongLength { ad_type: 0x0A, .. }
        ));
        assert!(AdvertData::parse(&hex("01FF")).is_err()); // manufacturer data with no company
    }

    #[test]
    fn zero_length_ends_the_significant_part() {
        let data = AdvertData::parse(&hex("020106 00 FFFFFFFF")).unwrap();
        assert_eq!(data.flags, Some(6));
    }

    #[test]
    fn lenient_parse_returns_partial_and_error() {
        let (data, err) = AdvertData::parse_lenient(&hex("020106 05FF"));
        assert_eq!(data.flags, Some(6));
        assert!(err.is_some());
    }

    #[test]
    fn merge_keeps_scan_response_name() {
        let mut merged = AdvertData {
            local_name: Some("Thermo".into()),
            ..AdvertData::default()
        };
        let newer = AdvertData {
            manufacturer_data: BTreeMap::from([(0x0499, vec![1, 2])]),
            ..AdvertData::default()
        };
        merged.merge_from(&newer);
        assert_eq!(merged.local_name.as_deref(), Some("Thermo"));
        assert_eq!(merged.manufacturer_data[&0x0499], vec![1, 2]);
    }

    fn arb_data() -> impl Strategy<Value = AdvertData> {
        (
            proptest::option::of("[a-zA-Z0-9 ]{0,20}"),
            proptest::collection::btree_map(
                any::<u16>(),
                proptest::collection::vec(any::<u8>(), 0..8),
                0..3,
            ),
            proptest::collection::vec(
                prop_oneof![
                    any::<u16>().prop_map(uuid_from_u16),
                    any::<u128>().prop_map(Uuid::from_u128)
                ],
                0..3,
            ),
            proptest::option::of(any::<i8>()),
        )
            .prop_map(|(local_name, manufacturer_data, uuids, tx_power_dbm)| {
                let mut data = AdvertData {
                    local_name,
                    manufacturer_data,
                    tx_power_dbm,
                    ..AdvertData::default()
                };
                data.add_uuids(uuids.into_iter());
                data
            })
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AdvertData::parse(&bytes);
        }

        #[test]
        fn encoding_round_trips(data in arb_data()) {
            // Encoding groups UUIDs by width, so compare the lists as sets.
            let sorted = |mut d: AdvertData| { d.service_uuids.sort(); d };
            prop_assert_eq!(sorted(AdvertData::parse(&data.to_bytes()).unwrap()), sorted(data));
        }
    }
}

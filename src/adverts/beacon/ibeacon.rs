//! Apple iBeacon frames, read from manufacturer data.
//!
//! Owns [`IBeacon`] and its decoder. Layout after the company id 0x004C (Apple): type 0x02,
//! length 0x15 (21), proximity UUID (16 bytes, big-endian), major (u16 BE), minor (u16 BE),
//! measured power (i8: the RSSI expected at 1 m, used by the distance estimate).
//!
//! The bytes are hostile: indexing is denied at compile time, and a frame that is short, long,
//! or carries another Apple type is an error value, never a panic.
#![deny(clippy::indexing_slicing)]

use uuid::Uuid;

use super::BeaconError;

/// Apple's company identifier.
pub const APPLE_COMPANY_ID: u16 = 0x004C;
/// Apple's manufacturer-data type byte for iBeacon.
const IBEACON_TYPE: u8 = 0x02;
/// The length byte that follows the type: 21 bytes of beacon data.
const IBEACON_LENGTH: u8 = 0x15;
/// Type, length, 21 bytes.
const FRAME_LEN: usize = 23;

/// A decoded iBeacon advertisement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IBeacon {
    /// The proximity UUID (the deployment).
    pub uuid: Uuid,
    /// Major number (a group, such as a store).
    pub major: u16,
    /// Minor number (one beacon in the group).
    pub minor: u16,
    /// Calibrated RSSI at 1 m, dBm.
    pub measured_power_dbm: i8,
}

impl IBeacon {
    /// Whether Apple manufacturer data announces an iBeacon (type 0x02), whatever its length.
    pub fn is_announced(apple_data: &[u8]) -> bool {
        apple_data.first() == Some(&IBEACON_TYPE)
    }

    /// Decodes Apple manufacturer data (the bytes after the company id).
    pub fn decode(apple_data: &[u8]) -> Result<Self, BeaconError> {
        let frame: &[u8; FRAME_LEN] =
            apple_data
                .try_into()
                .map_err(|_| BeaconError::WrongLength {
                    frame: "iBeacon",
                    expected: FRAME_LEN,
                    found: apple_data.len(),
                })?;
        let [kind, length, uuid @ .., b0, b1, b2, b3, power] = *frame;
        if kind != IBEACON_TYPE || length != IBEACON_LENGTH {
            return Err(BeaconError::WrongHeader {
                frame: "iBeacon",
                found: [kind, length],
            });
        }
        let uuid: [u8; 16] = uuid;
        Ok(Self {
            uuid: Uuid::from_bytes(uuid),
            major: u16::from_be_bytes([b0, b1]),
            minor: u16::from_be_bytes([b2, b3]),
            measured_power_dbm: i8::from_be_bytes([power]),
        })
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index known-good fixtures
mod tests {
    use super::*;
    use crate::adverts::beacon::tests::hex;
    use crate::model::AdvertData;

    #[test]
    fn a_real_ibeacon_frame_decodes_to_its_fields() {
        let frame = hex("020106 1AFF4C000215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5");
        let data = AdvertData::parse(&frame).unwrap();
        let beacon = IBeacon::decode(&data.manufacturer_data[&APPLE_COMPANY_ID]).unwrap();
        assert_eq!(
            beacon.uuid,
            Uuid::parse_str("E2C56DB5-DFFB-48D2-B060-D0F5A71096E0").unwrap()
        );
        assert_eq!((beacon.major, beacon.minor), (1, 2));
        assert_eq!(beacon.measured_power_dbm, -59);
    }

    #[test]
    fn short_long_and_foreign_apple_frames_are_errors() {
        let good = hex("0215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5");
        let short = &good[..22];
        assert_eq!(
            IBeacon::decode(short),
            Err(BeaconError::WrongLength {
                frame: "iBeacon",
                expected: 23,
                found: 22
            })
        );
        let mut long = good.clone();
        long.push(0);
        assert!(matches!(
            IBeacon::decode(&long),
            Err(BeaconError::WrongLength { found: 24, .. })
        ));
        let mut homekit = good.clone();
        homekit[0] = 0x06;
        assert!(matches!(
            IBeacon::decode(&homekit),
            Err(BeaconError::WrongHeader {
                found: [0x06, 0x15],
                ..
            })
        ));
        assert!(IBeacon::decode(&[]).is_err());
    }
}

//! Beacons: which advertising devices are iBeacons or Eddystones, and what they last said.
//!
//! Owns [`BeaconRegistry`] (the latest decoded frames per beacon device and counts by type),
//! [`BeaconState`] and [`BeaconError`]. Decoders live in [`ibeacon`] and [`eddystone`].
//!
//! The pipeline calls [`BeaconRegistry::observe`] only when a device's payload changed, so a
//! beacon repeating itself costs nothing here; a device that is not a beacon costs two map
//! lookups per change and no memory. Malformed frames are counted, not fatal: a broken beacon
//! must not hide the rest of its advert.
#![deny(clippy::indexing_slicing)]

pub mod eddystone;
pub mod ibeacon;

use std::collections::HashMap;

use crate::model::{uuid_from_u16, Address, AdvertData};

pub use eddystone::{EddystoneFrame, EddystoneTlm, EddystoneUid, EddystoneUrl};
pub use ibeacon::IBeacon;

use super::hashing::AddressHashBuilder;

/// Why a beacon frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    /// The frame is shorter or longer than its type allows.
    #[error("{frame} frame must be {expected} bytes, found {found}")]
    WrongLength {
        /// Which frame type.
        frame: &'static str,
        /// The length it should have (the largest, where several are allowed).
        expected: usize,
        /// The length it has.
        found: usize,
    },
    /// The type and length bytes are not the frame's.
    #[error("{frame} header must be 02 15, found {:02x} {:02x}", found[0], found[1])]
    WrongHeader {
        /// Which frame type.
        frame: &'static str,
        /// The two header bytes found.
        found: [u8; 2],
    },
    /// An Eddystone frame type this decoder does not read (EID 0x30, reserved values).
    #[error("Eddystone frame type 0x{frame_type:02x} is not supported")]
    UnsupportedFrame {
        /// The frame type byte.
        frame_type: u8,
    },
    /// TLM other than version 0 (version 1 is encrypted).
    #[error("Eddystone-TLM version {version} is not supported (only unencrypted version 0)")]
    UnsupportedTlmVersion {
        /// The version byte.
        version: u8,
    },
    /// A URL scheme byte outside 0–3.
    #[error("Eddystone-URL scheme code 0x{code:02x} is not defined")]
    InvalidUrlScheme {
        /// The scheme byte.
        code: u8,
    },
    /// A URL byte that is neither printable ASCII nor an expansion code.
    #[error("Eddystone-URL byte 0x{byte:02x} at offset {offset} is reserved")]
    InvalidUrlByte {
        /// Offset in the encoded URL body.
        offset: usize,
        /// The byte.
        byte: u8,
    },
}

/// What one beacon device last said, per frame type (Eddystones rotate UID, URL and TLM).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BeaconState {
    /// The latest iBeacon frame.
    pub ibeacon: Option<IBeacon>,
    /// The latest Eddystone-UID frame.
    pub eddystone_uid: Option<EddystoneUid>,
    /// The latest Eddystone-URL frame.
    pub eddystone_url: Option<EddystoneUrl>,
    /// The latest Eddystone-TLM frame.
    pub eddystone_tlm: Option<EddystoneTlm>,
}

impl BeaconState {
    /// The RSSI expected at 1 m, from the beacon's own calibration: an iBeacon's measured
    /// power, or an Eddystone's 0 m power less the 41 dB the Eddystone spec assumes for 1 m.
    pub fn power_at_1m_dbm(&self) -> Option<i16> {
        let eddystone = || {
            let at_0m = self
                .eddystone_uid
                .map(|uid| uid.tx_power_at_0m_dbm)
                .or(self
                    .eddystone_url
                    .as_ref()
                    .map(|url| url.tx_power_at_0m_dbm))?;
            Some(i16::from(at_0m) - 41)
        };
        self.ibeacon
            .map(|beacon| i16::from(beacon.measured_power_dbm))
            .or_else(eddystone)
    }
}

/// How many known devices have sent each frame type, and how many frames were malformed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BeaconCounts {
    /// Devices with an iBeacon frame.
    pub ibeacon: usize,
    /// Devices with an Eddystone-UID frame.
    pub eddystone_uid: usize,
    /// Devices with an Eddystone-URL frame.
    pub eddystone_url: usize,
    /// Devices with an Eddystone-TLM frame.
    pub eddystone_tlm: usize,
    /// Beacon frames that failed to decode since the registry was made.
    pub malformed_frames: u64,
}

/// Beacon devices and their latest frames.
#[derive(Debug, Default)]
pub struct BeaconRegistry {
    beacons: HashMap<Address, BeaconState, AddressHashBuilder>,
    malformed_frames: u64,
}

impl BeaconRegistry {
    /// Decodes whatever beacon frames `data` carries and records them; returns the first
    /// decoding error (the other frames in the advert are still recorded).
    pub fn observe(&mut self, address: Address, data: &AdvertData) -> Option<BeaconError> {
        let apple = data
            .manufacturer_data
            .get(&ibeacon::APPLE_COMPANY_ID)
            .filter(|bytes| IBeacon::is_announced(bytes));
        let eddystone = data
            .service_data
            .get(&uuid_from_u16(eddystone::EDDYSTONE_SERVICE_UUID16));
        if apple.is_none() && eddystone.is_none() {
            return None;
        }
        let mut first_error = None;
        let mut state = self.beacons.remove(&address).unwrap_or_default();
        if let Some(bytes) = apple {
            match IBeacon::decode(bytes) {
                Ok(beacon) => state.ibeacon = Some(beacon),
                Err(err) => first_error = Some(err),
            }
        }
        if let Some(bytes) = eddystone {
            match EddystoneFrame::decode(bytes) {
                Ok(EddystoneFrame::Uid(uid)) => state.eddystone_uid = Some(uid),
                Ok(EddystoneFrame::Url(url)) => state.eddystone_url = Some(url),
                Ok(EddystoneFrame::Tlm(tlm)) => state.eddystone_tlm = Some(tlm),
                Err(err) => first_error = first_error.or(Some(err)),
            }
        }
        if first_error.is_some() {
            self.malformed_frames += 1;
        }
        if state != BeaconState::default() {
            self.beacons.insert(address, state);
        }
        first_error
    }

    /// The latest frames of one beacon.
    pub fn get(&self, address: &Address) -> Option<&BeaconState> {
        self.beacons.get(address)
    }

    /// Every beacon and its frames.
    pub fn iter(&self) -> impl Iterator<Item = (&Address, &BeaconState)> {
        self.beacons.iter()
    }

    /// Drops a device that disappeared.
    pub fn forget(&mut self, address: &Address) {
        self.beacons.remove(address);
    }

    /// Counts by frame type.
    pub fn counts(&self) -> BeaconCounts {
        let mut counts = BeaconCounts {
            malformed_frames: self.malformed_frames,
            ..BeaconCounts::default()
        };
        for state in self.beacons.values() {
            counts.ibeacon += usize::from(state.ibeacon.is_some());
            counts.eddystone_uid += usize::from(state.eddystone_uid.is_some());
            counts.eddystone_url += usize::from(state.eddystone_url.is_some());
            counts.eddystone_tlm += usize::from(state.eddystone_tlm.is_some());
        }
        counts
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index known-good fixtures
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Hex text (spaces allowed) to bytes.
    pub(crate) fn hex(text: &str) -> Vec<u8> {
        let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
            .collect()
    }

    fn address(last: u8) -> Address {
        Address::new([0xC0, 0, 0, 0, 0, last])
    }

    #[test]
    fn registry_counts_beacons_by_type_and_forgets_them() {
        let mut registry = BeaconRegistry::default();
        let ibeacon = hex("1AFF4C000215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5");
        let uid = hex("1716AAFE 00E7 EDD1EBEAC04E5DEFA017 0BDB87539B67 0000");
        let tlm = hex("1116AAFE 2000 0BB8 1880 000004D2 00000E10");
        let plain = hex("05FF99040102");
        for (last, frame) in [(1, &ibeacon), (2, &uid), (2, &tlm), (3, &plain)] {
            let data = AdvertData::parse(frame).unwrap();
            assert_eq!(registry.observe(address(last), &data), None);
        }
        let counts = registry.counts();
        assert_eq!(
            (
                counts.ibeacon,
                counts.eddystone_uid,
                counts.eddystone_tlm,
                counts.eddystone_url
            ),
            (1, 1, 1, 0)
        );
        assert!(registry.get(&address(3)).is_none());
        assert_eq!(
            registry.get(&address(1)).unwrap().power_at_1m_dbm(),
            Some(-59)
        );
        assert_eq!(
            registry.get(&address(2)).unwrap().power_at_1m_dbm(),
            Some(-66)
        );
        registry.forget(&address(2));
        assert_eq!(registry.counts().eddystone_uid, 0);
    }

    #[test]
    fn malformed_frames_are_counted_and_returned() {
        let mut registry = BeaconRegistry::default();
        let data = AdvertData::parse(&hex("06FF4C000215AA")).unwrap();
        let err = registry.observe(address(9), &data).unwrap();
        assert!(
            err.to_string().contains("iBeacon frame must be 23 bytes"),
            "{err}"
        );
        assert_eq!(registry.counts().malformed_frames, 1);
        assert!(registry.get(&address(9)).is_none());
    }

    proptest! {
        #[test]
        fn hostile_beacon_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = IBeacon::decode(&bytes);
            let _ = EddystoneFrame::decode(&bytes);
            let mut apple = vec![0x02, 0x15];
            apple.extend_from_slice(&bytes);
            let _ = IBeacon::decode(&apple);
            for frame_type in [0x00u8, 0x10, 0x20] {
                let mut frame = vec![frame_type];
                frame.extend_from_slice(&bytes);
                let _ = EddystoneFrame::decode(&frame);
            }
        }
    }
}

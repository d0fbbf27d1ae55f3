//! One radio's sighting of one device.
//!
//! Owns [`Advertisement`]: who was heard ([`Address`]), by which radio ([`RadioId`]), how loud
//! (`rssi_dbm`), when (a tokio [`Instant`], so it follows the paused clock in virtual-time runs),
//! and what it said ([`AdvertData`]). Every backend produces this one shape, so the
//! advertisement pipeline and the device actors never see a backend's own format.

use bytes::Bytes;
use tokio::time::Instant;

use super::ad_structures::{AdParseError, AdvertData};
use super::{Address, AddressKind, RadioId};

/// A single advertisement (or advert plus scan response) heard by one radio.
#[derive(Clone, Debug, PartialEq)]
pub struct Advertisement {
    /// The advertiser's address.
    pub address: Address,
    /// Public or random address.
    pub address_kind: AddressKind,
    /// Received signal strength in dBm.
    pub rssi_dbm: i16,
    /// The radio that heard it.
    pub radio: RadioId,
    /// When it was heard (tokio clock: virtual in simulations).
    pub seen_at: Instant,
    /// Whether the advertiser accepts connections (`None` when the radio does not say).
    pub connectable: Option<bool>,
    /// The decoded fields.
    pub data: AdvertData,
    /// The raw AD bytes, when the radio delivered bytes (ESPHome, simulated radio); lets the
    /// pipeline recognise an unchanged payload without comparing decoded fields.
    pub raw: Option<Bytes>,
}

impl Advertisement {
    /// Builds an advertisement from raw AD bytes. A malformed payload is an error that still
    /// carries every field decoded before the fault.
    pub fn from_raw(
        address: Address,
        radio: RadioId,
        rssi_dbm: i16,
        seen_at: Instant,
        raw: Bytes,
    ) -> Result<Self, AdParseError> {
        let data = AdvertData::parse(&raw)?;
        let mut advert = Self::from_data(address, radio, rssi_dbm, seen_at, data);
        advert.raw = Some(raw);
        Ok(advert)
    }

    /// Builds an advertisement from already decoded fields (BlueZ properties, btleplug).
    pub fn from_data(
        address: Address,
        radio: RadioId,
        rssi_dbm: i16,
        seen_at: Instant,
        data: AdvertData,
    ) -> Self {
        Self {
            address,
            address_kind: AddressKind::Public,
            rssi_dbm,
            radio,
            seen_at,
            connectable: None,
            data,
            raw: None,
        }
    }

    /// The local name, if the device sent one.
    pub fn local_name(&self) -> Option<&str> {
        self.data.local_name.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn raw_bytes_are_decoded_and_kept() {
        let address = Address::parse("A4:CF:12:34:56:78").unwrap();
        let raw = Bytes::from_static(&[0x05, 0x09, b'T', b'e', b'm', b'p']);
        let advert =
            Advertisement::from_raw(address, RadioId::new("hci0"), -60, Instant::now(), raw)
                .unwrap();
        assert_eq!(advert.local_name(), Some("Temp"));
        assert!(advert.raw.is_some());
        let bad = Bytes::from_static(&[0x09, 0x09, b'x']);
        assert!(Advertisement::from_raw(address, "hci0".into(), -60, Instant::now(), bad).is_err());
    }
}

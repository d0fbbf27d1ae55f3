//! [`RawAdvert`]: an advertisement as a raw-bytes radio hands it over, not yet decoded.
//!
//! ESPHome proxies, MGMT sockets and the simulated air deliver AD bytes. Decoding them costs
//! allocations (names, maps of manufacturer and service data), and on a busy hub 80–95 % of
//! adverts repeat what the same radio said about the same device a moment ago. So a raw
//! advert travels up undecoded; the pipeline fingerprints the bytes, compares them with this
//! radio's previous payload and the device's current one, and decodes only what changed
//! (`crate::adverts`).
//! A radio sends a batch of these with [`crate::backend::RadioEvent::RawAdverts`]; the
//! adapter actor adds the radio's name once per batch.

use bytes::Bytes;
use tokio::time::Instant;

use super::{AdParseError, Address, AddressKind, AdvertData, Advertisement, RadioId};

/// One undecoded advertisement (or scan response) heard by the radio that sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAdvert {
    /// The advertiser's address.
    pub address: Address,
    /// Public or random address.
    pub address_kind: AddressKind,
    /// Received signal strength in dBm.
    pub rssi_dbm: i16,
    /// When it was heard (tokio clock: virtual in simulations).
    pub seen_at: Instant,
    /// Whether the advertiser accepts connections (`None` when the radio does not say).
    pub connectable: Option<bool>,
    /// The AD structures, as received.
    pub raw: Bytes,
}

impl RawAdvert {
    /// A raw advert with a public address and unknown connectability.
    pub fn new(address: Address, rssi_dbm: i16, seen_at: Instant, raw: Bytes) -> Self {
        Self {
            address,
            address_kind: AddressKind::Public,
            rssi_dbm,
            seen_at,
            connectable: None,
            raw,
        }
    }

    /// Decodes it into an [`Advertisement`] from `radio`. A malformed payload keeps every field
    /// decoded before the fault and returns the error beside it.
    pub fn decode(&self, radio: &RadioId) -> (Advertisement, Option<AdParseError>) {
        let (data, error) = AdvertData::parse_lenient(&self.raw);
        (self.with_data(radio, data), error)
    }

    /// The advertisement with already decoded fields.
    pub(crate) fn with_data(&self, radio: &RadioId, data: AdvertData) -> Advertisement {
        Advertisement {
            address: self.address,
            address_kind: self.address_kind,
            rssi_dbm: self.rssi_dbm,
            radio: radio.clone(),
            seen_at: self.seen_at,
            connectable: self.connectable,
            data,
            raw: Some(self.raw.clone()),
        }
    }
}

//! What a subscriber to the advertisement stream wants to see: [`AdvertFilter`].
//!
//! Owns the filter (minimum RSSI, name pattern, service UUID, manufacturer id, address; every
//! criterion set must hold) and [`FilterSubject`], the little interface it reads, implemented
//! both by a single [`Advertisement`] (for a live stream) and by a merged [`DeviceView`] (for
//! "is any known device a match", which is how a `find_device(filter, timeout)` answers at once
//! when the device was already heard, before it waits for new adverts).
//!
//! Gotcha: against a single advert, the name and UUID criteria see only what that packet
//! carried (a name often arrives only in the scan response); against a device view they see
//! the merged record.

use regex::Regex;
use uuid::Uuid;

use super::device::DeviceView;
use crate::model::{Address, Advertisement};

/// Why a filter could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The name pattern is not a valid regular expression.
    #[error("name pattern '{pattern}' is not a valid regular expression: {reason}")]
    BadNamePattern {
        /// The pattern given.
        pattern: String,
        /// The regex engine's explanation.
        reason: String,
    },
}

/// What a filter can ask of an advert or a device.
pub trait FilterSubject {
    /// The advertiser.
    fn address(&self) -> Address;
    /// Its signal strength, if measured.
    fn rssi_dbm(&self) -> Option<i16>;
    /// Its name, if known.
    fn local_name(&self) -> Option<&str>;
    /// Whether it announced this service (UUID list or service data).
    fn has_service(&self, uuid: &Uuid) -> bool;
    /// Whether it sent manufacturer data under this company id.
    fn has_manufacturer(&self, company: u16) -> bool;
}

impl FilterSubject for Advertisement {
    fn address(&self) -> Address {
        self.address
    }
    fn rssi_dbm(&self) -> Option<i16> {
        super::rssi::is_reading(self.rssi_dbm).then_some(self.rssi_dbm)
    }
    fn local_name(&self) -> Option<&str> {
        self.data.local_name.as_deref()
    }
    fn has_service(&self, uuid: &Uuid) -> bool {
        self.data.service_uuids.contains(uuid) || self.data.service_data.contains_key(uuid)
    }
    fn has_manufacturer(&self, company: u16) -> bool {
        self.data.manufacturer_data.contains_key(&company)
    }
}

impl FilterSubject for DeviceView {
    fn address(&self) -> Address {
        DeviceView::address(self)
    }
    /// The best radio's smoothed RSSI, rounded.
    fn rssi_dbm(&self) -> Option<i16> {
        self.smoothed_rssi_dbm().map(|dbm| dbm.round() as i16)
    }
    fn local_name(&self) -> Option<&str> {
        self.advert().local_name()
    }
    fn has_service(&self, uuid: &Uuid) -> bool {
        self.advert().has_service(uuid)
    }
    fn has_manufacturer(&self, company: u16) -> bool {
        self.advert().manufacturer_data(company).is_some()
    }
}

/// Criteria an advert or device must all meet; the empty filter matches everything.
#[derive(Clone, Debug, Default)]
pub struct AdvertFilter {
    min_rssi_dbm: Option<i16>,
    name: Option<Regex>,
    service_uuid: Option<Uuid>,
    manufacturer_id: Option<u16>,
    address: Option<Address>,
}

impl AdvertFilter {
    /// Matches everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only signals at least this strong (a subject without a reading does not match).
    pub fn min_rssi_dbm(mut self, dbm: i16) -> Self {
        self.min_rssi_dbm = Some(dbm);
        self
    }

    /// Only names matching this regular expression (unanchored: use `^…$` for a whole name).
    pub fn name_matching(mut self, pattern: &str) -> Result<Self, FilterError> {
        let regex = Regex::new(pattern).map_err(|err| FilterError::BadNamePattern {
            pattern: pattern.to_string(),
            reason: err.to_string(),
        })?;
        self.name = Some(regex);
        Ok(self)
    }

    /// Only devices announcing this service.
    pub fn service_uuid(mut self, uuid: Uuid) -> Self {
        self.service_uuid = Some(uuid);
        self
    }

    /// Only devices sending manufacturer data under this company id.
    pub fn manufacturer_id(mut self, company: u16) -> Self {
        self.manufacturer_id = Some(company);
        self
    }

    /// Only this device.
    pub fn address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    /// Whether `subject` meets every criterion set. Cheap criteria are checked first.
    pub fn matches(&self, subject: &impl FilterSubject) -> bool {
        self.address
            .is_none_or(|address| subject.address() == address)
            && self
                .min_rssi_dbm
                .is_none_or(|min| subject.rssi_dbm().is_some_and(|rssi| rssi >= min))
            && self
                .manufacturer_id
                .is_none_or(|company| subject.has_manufacturer(company))
            && self
                .service_uuid
                .is_none_or(|uuid| subject.has_service(&uuid))
            && self.name.as_ref().is_none_or(|regex| {
                subject
                    .local_name()
                    .is_some_and(|name| regex.is_match(name))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{uuid_from_u16, AdvertData, RadioId};
    use std::collections::BTreeMap;
    use tokio::time::Instant;

    fn advert(name: Option<&str>, rssi: i16) -> Advertisement {
        let data = AdvertData {
            local_name: name.map(str::to_owned),
            manufacturer_data: BTreeMap::from([(0x0499, vec![5])]),
            service_uuids: vec![uuid_from_u16(0x181A)],
            ..AdvertData::default()
        };
        let address = Address::new([0xA4, 0xC1, 0x38, 0, 0, 1]);
        Advertisement::from_data(address, RadioId::new("hci0"), rssi, Instant::now(), data)
    }

    #[test]
    fn the_empty_filter_matches_everything() {
        assert!(AdvertFilter::new().matches(&advert(None, 0)));
    }

    #[test]
    fn each_criterion_rejects_what_it_should() {
        let thermo = advert(Some("ATC_1234"), -60);
        let pass = |filter: AdvertFilter| filter.matches(&thermo);
        assert!(pass(AdvertFilter::new().min_rssi_dbm(-60)));
        assert!(!pass(AdvertFilter::new().min_rssi_dbm(-59)));
        assert!(!AdvertFilter::new()
            .min_rssi_dbm(-100)
            .matches(&advert(None, 0)));
        assert!(pass(AdvertFilter::new().name_matching("^ATC_").unwrap()));
        assert!(!pass(AdvertFilter::new().name_matching("^LYWSD").unwrap()));
        assert!(!AdvertFilter::new()
            .name_matching("ATC")
            .unwrap()
            .matches(&advert(None, -60)));
        assert!(pass(
            AdvertFilter::new().service_uuid(uuid_from_u16(0x181A))
        ));
        assert!(!pass(
            AdvertFilter::new().service_uuid(uuid_from_u16(0x180D))
        ));
        assert!(pass(AdvertFilter::new().manufacturer_id(0x0499)));
        assert!(!pass(AdvertFilter::new().manufacturer_id(0x004C)));
        assert!(pass(AdvertFilter::new().address(thermo.address)));
        assert!(!pass(AdvertFilter::new().address(Address::new([0; 6]))));
    }

    #[test]
    fn all_criteria_must_hold_together() {
        let filter = AdvertFilter::new()
            .min_rssi_dbm(-70)
            .manufacturer_id(0x0499)
            .name_matching("(?i)^atc")
            .unwrap();
        assert!(filter.matches(&advert(Some("ATC_1"), -65)));
        assert!(!filter.matches(&advert(Some("ATC_1"), -75)));
    }

    #[test]
    fn a_bad_pattern_is_a_named_error() {
        let err = AdvertFilter::new().name_matching("(unclosed").unwrap_err();
        assert!(err.to_string().contains("'(unclosed'"), "{err}");
    }
}

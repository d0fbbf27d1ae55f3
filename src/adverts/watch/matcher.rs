//! [`AdvertMatcher`]: which adverts one watcher wants, in the terms Home Assistant's
//! integrations use (address, local name, service UUID, service-data UUID, manufacturer id with
//! a data prefix, connectable, minimum RSSI). Every criterion set must hold; none set matches
//! everything.
//!
//! Content criteria (name, UUIDs, manufacturer and service data) are judged against the
//! device's merged view, so a name that came in a scan response still matches the advert that
//! follows it; RSSI is the advert's own reading; connectable is what the radios said of the
//! device (unknown does not match a `connectable` criterion).

use uuid::Uuid;

use crate::adverts::DeviceView;
use crate::model::Address;

/// How a local name must look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameMatch {
    /// The whole name.
    Exact(String),
    /// The name starts with this.
    Prefix(String),
}

/// Which copies a watcher receives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Copies {
    /// The first advert of each matching device, then only adverts that changed what the
    /// device is known to advertise (its merged view; the default, what integrations want).
    #[default]
    Changed,
    /// Every advert from every radio, repeats included.
    Every,
}

/// Criteria an advert must meet to reach a watcher.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdvertMatcher {
    pub(super) address: Option<Address>,
    pub(super) local_name: Option<NameMatch>,
    pub(super) service_uuid: Option<Uuid>,
    pub(super) service_data_uuid: Option<Uuid>,
    pub(super) manufacturer: Option<(u16, Box<[u8]>)>,
    pub(super) connectable: Option<bool>,
    pub(super) min_rssi_dbm: Option<i16>,
    pub(super) copies: Copies,
}

impl AdvertMatcher {
    /// Matches every advert.
    pub fn any() -> Self {
        Self::default()
    }

    /// Only this device.
    pub fn address(address: Address) -> Self {
        Self {
            address: Some(address),
            ..Self::default()
        }
    }

    /// Only devices with exactly this local name.
    pub fn local_name(mut self, name: impl Into<String>) -> Self {
        self.local_name = Some(NameMatch::Exact(name.into()));
        self
    }

    /// Only devices whose local name starts with `prefix`.
    pub fn local_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.local_name = Some(NameMatch::Prefix(prefix.into()));
        self
    }

    /// Only devices listing this service UUID.
    pub fn service_uuid(mut self, uuid: Uuid) -> Self {
        self.service_uuid = Some(uuid);
        self
    }

    /// Only devices sending service data under this UUID.
    pub fn service_data_uuid(mut self, uuid: Uuid) -> Self {
        self.service_data_uuid = Some(uuid);
        self
    }

    /// Only devices sending manufacturer data under this company id.
    pub fn manufacturer_id(self, company: u16) -> Self {
        self.manufacturer_data_prefix(company, &[])
    }

    /// Only devices whose manufacturer data for `company` starts with `prefix`
    /// (iBeacons: `0x004C`, `[0x02, 0x15]`).
    pub fn manufacturer_data_prefix(mut self, company: u16, prefix: &[u8]) -> Self {
        self.manufacturer = Some((company, prefix.into()));
        self
    }

    /// Only devices that said they are (or are not) connectable.
    pub fn connectable(mut self, connectable: bool) -> Self {
        self.connectable = Some(connectable);
        self
    }

    /// Only adverts at least this strong.
    pub fn min_rssi_dbm(mut self, dbm: i16) -> Self {
        self.min_rssi_dbm = Some(dbm);
        self
    }

    /// Every copy from every radio, not only changed content.
    pub fn every_copy(mut self) -> Self {
        self.copies = Copies::Every;
        self
    }

    /// Which copies it receives.
    pub fn copies(&self) -> Copies {
        self.copies
    }

    /// Whether an advert with `rssi_dbm` from the device `view` matches.
    pub fn matches(&self, view: &DeviceView, rssi_dbm: i16) -> bool {
        let advert = view.advert();
        self.address.is_none_or(|a| a == view.address())
            && self
                .min_rssi_dbm
                .is_none_or(|min| crate::adverts::rssi::is_reading(rssi_dbm) && rssi_dbm >= min)
            && self
                .connectable
                .is_none_or(|wanted| view.connectable() == Some(wanted))
            && self.manufacturer.as_ref().is_none_or(|(company, prefix)| {
                advert
                    .manufacturer_data(*company)
                    .is_some_and(|data| data.starts_with(prefix))
            })
            && self
                .service_data_uuid
                .is_none_or(|uuid| advert.service_data(&uuid).is_some())
            && self
                .service_uuid
                .is_none_or(|uuid| advert.service_uuids().contains(&uuid))
            && self.local_name.as_ref().is_none_or(|wanted| {
                advert.local_name().is_some_and(|name| match wanted {
                    NameMatch::Exact(exact) => name == exact,
                    NameMatch::Prefix(prefix) => name.starts_with(prefix.as_str()),
                })
            })
    }
}

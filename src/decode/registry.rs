//! The [`Registry`]: which decoder wants an advert, found by what the advert carries.
//!
//! Decoders declare [`Claim`]s; the registry indexes them by service-data UUID and company id
//! (plus a short list of name prefixes), so an advert costs one lookup per service-data entry
//! and manufacturer entry it carries, and decoders that cannot want it never run. Candidates are
//! tried in registration order; the first that recognises the advert wins, and an error is
//! reported only when no candidate decoded it.

use std::collections::HashMap;

use crate::model::uuid::short_form;
use crate::model::{Address, AdvertData};

use super::{AdvertIn, Claim, DecodeError, Decoded, Decoder, Keyring};

/// Every decoder, indexed by what it claims.
#[derive(Debug)]
pub struct Registry {
    decoders: Vec<Box<dyn Decoder>>,
    by_service: HashMap<u16, Vec<usize>>,
    by_company: HashMap<u16, Vec<usize>>,
    by_name: Vec<(&'static str, usize)>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::standard()
    }
}

impl Registry {
    /// A registry with no decoders.
    pub fn empty() -> Self {
        Self {
            decoders: Vec::new(),
            by_service: HashMap::new(),
            by_company: HashMap::new(),
            by_name: Vec::new(),
        }
    }

    /// Every format bluefleet knows.
    pub fn standard() -> Self {
        let mut registry = Self::empty();
        registry.register(Box::new(super::bthome::BtHome));
        registry.register(Box::new(super::bthome::v1::BtHomeV1));
        registry.register(Box::new(super::xiaomi::MiBeacon));
        registry.register(Box::new(super::atc::Atc));
        registry.register(Box::new(super::govee::Govee));
        registry.register(Box::new(super::ruuvi::Ruuvi));
        registry.register(Box::new(super::switchbot::SwitchBot));
        registry.register(Box::new(super::inkbird::Inkbird));
        registry.register(Box::new(super::beacons::IBeaconDecoder));
        registry.register(Box::new(super::beacons::EddystoneDecoder));
        registry
    }

    /// Adds a decoder; it is tried after the ones already registered.
    pub fn register(&mut self, decoder: Box<dyn Decoder>) {
        let index = self.decoders.len();
        for claim in decoder.claims() {
            match *claim {
                Claim::ServiceData(uuid) => self.by_service.entry(uuid).or_default().push(index),
                Claim::Manufacturer(id) => self.by_company.entry(id).or_default().push(index),
                Claim::NamePrefix(prefix) => self.by_name.push((prefix, index)),
            }
        }
        self.decoders.push(decoder);
    }

    /// The names of the registered decoders, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.decoders.iter().map(|d| d.name()).collect()
    }

    /// Decodes one advert. `None`: no decoder claims it. `Some(Err)`: a decoder claimed it and
    /// failed (wrong key, replay, malformed frame), and no other decoder read it.
    pub fn decode(
        &self,
        address: Address,
        data: &AdvertData,
        keyring: &mut Keyring,
    ) -> Option<Result<Decoded, DecodeError>> {
        let mut candidates: Vec<usize> = Vec::new();
        let mut add = |list: Option<&Vec<usize>>| {
            for &index in list.into_iter().flatten() {
                if !candidates.contains(&index) {
                    candidates.push(index);
                }
            }
        };
        for uuid in data.service_data.keys() {
            if let Some(short) = short_form(uuid).and_then(|s| u16::try_from(s).ok()) {
                add(self.by_service.get(&short));
            }
        }
        for company in data.manufacturer_data.keys() {
            add(self.by_company.get(company));
        }
        if let Some(name) = &data.local_name {
            for (prefix, index) in &self.by_name {
                if name.starts_with(prefix) && !candidates.contains(index) {
                    candidates.push(*index);
                }
            }
        }
        candidates.sort_unstable();
        let advert = AdvertIn { address, data };
        let mut first_error = None;
        for index in candidates {
            let Some(decoder) = self.decoders.get(index) else {
                continue;
            };
            match keyring.with(address, |secrets| decoder.decode(&advert, secrets)) {
                Ok(Some(decoded)) => return Some(Ok(decoded)),
                Ok(None) => {}
                Err(problem) => {
                    first_error.get_or_insert(DecodeError {
                        device: address,
                        format: decoder.name(),
                        problem,
                    });
                }
            }
        }
        first_error.map(Err)
    }
}

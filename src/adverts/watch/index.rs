//! [`MatcherIndex`]: finds the watchers an advert may concern without asking every matcher.
//!
//! Each matcher is filed under its most selective criterion: address, else manufacturer id,
//! else service-data UUID, else service UUID, else in the small "general" list that every
//! advert visits. An advert then looks up its own address, the companies, service-data UUIDs
//! and service UUIDs its device carries, and walks only those lists. A thousand per-address
//! watchers therefore cost one map lookup per advert, the same as one. Each watcher is filed
//! once, so no advert can reach the same watcher through two keys.

use std::collections::HashMap;
use std::hash::Hash;

use uuid::Uuid;

use super::matcher::AdvertMatcher;
use crate::adverts::hashing::AddressHashBuilder;
use crate::adverts::DeviceView;
use crate::model::Address;

/// A watcher's slot number in the registry.
pub(crate) type WatchId = usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Address(Address),
    Manufacturer(u16),
    ServiceData(Uuid),
    Service(Uuid),
    General,
}

fn key_of(matcher: &AdvertMatcher) -> Key {
    if let Some(address) = matcher.address {
        Key::Address(address)
    } else if let Some((company, _)) = &matcher.manufacturer {
        Key::Manufacturer(*company)
    } else if let Some(uuid) = matcher.service_data_uuid {
        Key::ServiceData(uuid)
    } else if let Some(uuid) = matcher.service_uuid {
        Key::Service(uuid)
    } else {
        Key::General
    }
}

/// Watchers filed by their most selective criterion.
#[derive(Debug, Default)]
pub(crate) struct MatcherIndex {
    by_address: Lists<Address>,
    by_manufacturer: Lists<u16>,
    by_service_data: Lists<Uuid>,
    by_service: Lists<Uuid>,
    general: Vec<WatchId>,
    len: usize,
}

/// Watcher lists by key. The fixed-seed fold hasher of the device map: SipHash was the index's
/// largest cost, and the maps are only looked up, never iterated, so no order depends on it.
type Lists<K> = HashMap<K, Vec<WatchId>, AddressHashBuilder>;

fn file<K: Hash + Eq>(map: &mut Lists<K>, key: K, id: WatchId) {
    map.entry(key).or_default().push(id);
}

fn unfile<K: Hash + Eq>(map: &mut Lists<K>, key: K, id: WatchId) {
    if let Some(ids) = map.get_mut(&key) {
        ids.retain(|known| *known != id);
        if ids.is_empty() {
            map.remove(&key);
        }
    }
}

impl MatcherIndex {
    pub(crate) fn insert(&mut self, id: WatchId, matcher: &AdvertMatcher) {
        self.len += 1;
        match key_of(matcher) {
            Key::Address(a) => file(&mut self.by_address, a, id),
            Key::Manufacturer(c) => file(&mut self.by_manufacturer, c, id),
            Key::ServiceData(u) => file(&mut self.by_service_data, u, id),
            Key::Service(u) => file(&mut self.by_service, u, id),
            Key::General => self.general.push(id),
        }
    }

    pub(crate) fn remove(&mut self, id: WatchId, matcher: &AdvertMatcher) {
        self.len = self.len.saturating_sub(1);
        match key_of(matcher) {
            Key::Address(a) => unfile(&mut self.by_address, a, id),
            Key::Manufacturer(c) => unfile(&mut self.by_manufacturer, c, id),
            Key::ServiceData(u) => unfile(&mut self.by_service_data, u, id),
            Key::Service(u) => unfile(&mut self.by_service, u, id),
            Key::General => self.general.retain(|known| *known != id),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls `visit` with every watcher filed under a key the device carries, each once.
    pub(crate) fn candidates(&self, view: &DeviceView, mut visit: impl FnMut(WatchId)) {
        if self.is_empty() {
            return;
        }
        let mut each =
            |ids: Option<&Vec<WatchId>>| ids.into_iter().flatten().for_each(|id| visit(*id));
        each(self.by_address.get(&view.address()));
        let advert = view.advert();
        if !self.by_manufacturer.is_empty() {
            for company in advert.manufacturer_ids() {
                each(self.by_manufacturer.get(&company));
            }
        }
        if !self.by_service_data.is_empty() {
            for uuid in advert.service_data_uuids() {
                each(self.by_service_data.get(uuid));
            }
        }
        if !self.by_service.is_empty() {
            for uuid in advert.service_uuids() {
                each(self.by_service.get(uuid));
            }
        }
        each(Some(&self.general));
    }
}

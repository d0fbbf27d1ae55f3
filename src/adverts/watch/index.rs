//! [`MatcherIndex`]: finds the watchers an advert may concern without asking every matcher.
//!
//! Each matcher is filed under its most selective criterion: address, else manufacturer id,
//! else service-data UUID, else service UUID, else in the small "general" list that every
//! advert visits. An advert then looks up its own address, the companies, service-data UUIDs
//! and service UUIDs its device carries, and walks only those lists. A thousand per-address
//! watchers therefore cost one map lookup per advert, the same as one. Each watcher is filed
//! once, so no advert can reach the same watcher through two keys. A key with one watcher (the
//! per-address case) keeps its id in the map's own slot: profiled with 1,000 per-address
//! watchers, the lookup's time was two cache misses, the slot and the list behind it.

use std::collections::hash_map::Entry;
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
type Lists<K> = HashMap<K, Ids, AddressHashBuilder>;

/// The watchers filed under one key, in the order they were filed.
#[derive(Debug)]
enum Ids {
    One(WatchId),
    Many(Vec<WatchId>),
}

impl Ids {
    fn as_slice(&self) -> &[WatchId] {
        match self {
            Ids::One(id) => std::slice::from_ref(id),
            Ids::Many(ids) => ids,
        }
    }
}

fn file<K: Hash + Eq>(map: &mut Lists<K>, key: K, id: WatchId) {
    match map.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(Ids::One(id));
        }
        Entry::Occupied(mut slot) => {
            let ids = slot.get_mut();
            match ids {
                Ids::One(first) => *ids = Ids::Many(vec![*first, id]),
                Ids::Many(list) => list.push(id),
            }
        }
    }
}

fn unfile<K: Hash + Eq>(map: &mut Lists<K>, key: K, id: WatchId) {
    let Entry::Occupied(mut slot) = map.entry(key) else {
        return;
    };
    let ids = slot.get_mut();
    match ids {
        Ids::One(only) if *only == id => {
            slot.remove();
        }
        Ids::One(_) => {}
        Ids::Many(list) => {
            list.retain(|known| *known != id);
            match list.as_slice() {
                [] => {
                    slot.remove();
                }
                [only] => *ids = Ids::One(*only),
                _ => {}
            }
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
        let mut each = |ids: Option<&Ids>| {
            if let Some(ids) = ids {
                ids.as_slice().iter().for_each(|id| visit(*id));
            }
        };
        each(self.by_address.get(&view.address()));
        let advert = view.advert();
        if !self.by_manufacturer.is_empty() {
            for company in advert.manufacturer_ids() {
                each(self.by_manufacturer.get(&company));
            }
        }
        if !self.by_service_data.is_empty() {
            for uuid in advert.service_data_uuids() {
                each(self.by_service_data.get(&uuid));
            }
        }
        if !self.by_service.is_empty() {
            for uuid in advert.service_uuids() {
                each(self.by_service.get(uuid));
            }
        }
        self.general.iter().for_each(|id| visit(*id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(map: &Lists<u16>, key: u16) -> Option<Vec<WatchId>> {
        map.get(&key).map(|ids| ids.as_slice().to_vec())
    }

    #[test]
    fn a_key_keeps_its_watchers_in_order_from_one_to_many_and_back() {
        let mut map = Lists::default();
        file(&mut map, 7, 3);
        assert_eq!(ids(&map, 7), Some(vec![3]));
        file(&mut map, 7, 1);
        file(&mut map, 7, 9);
        assert_eq!(ids(&map, 7), Some(vec![3, 1, 9]));
        unfile(&mut map, 7, 1);
        assert_eq!(ids(&map, 7), Some(vec![3, 9]));
        unfile(&mut map, 7, 3);
        assert!(
            matches!(map.get(&7), Some(Ids::One(9))),
            "back to one inline"
        );
        unfile(&mut map, 7, 4);
        assert_eq!(
            ids(&map, 7),
            Some(vec![9]),
            "an id not filed changes nothing"
        );
        unfile(&mut map, 7, 9);
        assert!(map.is_empty(), "an empty key is removed");
        unfile(&mut map, 7, 9);
        assert!(map.is_empty());
    }
}

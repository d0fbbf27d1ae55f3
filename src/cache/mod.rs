//! The service cache: each device's GATT table, kept so a reconnect can skip discovery.
//!
//! Discovery costs 15–40 ATT round trips (0.5–2 s at Linux's default connection interval); a
//! cache hit costs none (design §6). The cache is in memory, written through to a directory
//! (one JSON file per device, atomic rename) so a hub restart keeps it. An entry is dropped
//! when the device says its services changed or a cached characteristic turns out missing;
//! the device actor then rediscovers once.
//!
//! Shared by every device actor of a fleet (a `DashMap`, no actor round trip).

mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use dashmap::DashMap;

use crate::model::{Address, GattTable};
pub use store::CacheStore;

/// One cached table and when it was discovered.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CacheEntry {
    /// The table (with its MTU).
    pub table: Arc<GattTable>,
    /// When it was discovered (wall clock, for humans).
    pub discovered_at: SystemTime,
}

/// Every device's cached services. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ServiceCache {
    entries: Arc<DashMap<Address, CacheEntry>>,
    store: Option<CacheStore>,
}

impl ServiceCache {
    /// An in-memory cache.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A cache persisted under `dir` (created if missing); loads what is there. Files that do
    /// not parse are reported and skipped, never fatal.
    pub fn persistent(dir: impl Into<PathBuf>) -> crate::Result<Self> {
        let store = CacheStore::open(dir.into())?;
        let entries = DashMap::new();
        for (address, entry) in store.load_all() {
            entries.insert(address, entry);
        }
        Ok(Self {
            entries: Arc::new(entries),
            store: Some(store),
        })
    }

    /// The cached table for a device.
    pub fn get(&self, address: &Address) -> Option<Arc<GattTable>> {
        self.entries.get(address).map(|e| Arc::clone(&e.table))
    }

    /// Stores a freshly discovered table (and writes it through).
    pub fn put(&self, address: Address, table: Arc<GattTable>) {
        let entry = CacheEntry {
            table,
            discovered_at: SystemTime::now(),
        };
        if let Some(store) = &self.store {
            if let Err(err) = store.write(&address, &entry) {
                tracing::warn!(%address, %err, "could not persist service cache entry");
            }
        }
        self.entries.insert(address, entry);
    }

    /// Forgets a device's table.
    pub fn invalidate(&self, address: &Address) {
        self.entries.remove(address);
        if let Some(store) = &self.store {
            store.remove(address);
        }
    }

    /// Number of cached devices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{uuid_from_u16, GattService};

    fn table() -> Arc<GattTable> {
        Arc::new(GattTable {
            mtu: 185,
            services: vec![GattService {
                uuid: uuid_from_u16(0x180F),
                handle: 1,
                characteristics: vec![],
            }],
        })
    }

    #[test]
    fn survives_a_restart_through_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let address = Address::new([1, 2, 3, 4, 5, 6]);
        let cache = ServiceCache::persistent(dir.path()).unwrap();
        cache.put(address, table());
        let reopened = ServiceCache::persistent(dir.path()).unwrap();
        assert_eq!(reopened.get(&address), Some(table()));
        reopened.invalidate(&address);
        assert!(ServiceCache::persistent(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_file_is_skipped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("010203040506.json"), b"{not json").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let cache = ServiceCache::persistent(dir.path()).unwrap();
        assert!(cache.is_empty());
    }
}

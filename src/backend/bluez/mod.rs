//! The BlueZ backend: local controllers through `org.bluez` on the system D-Bus, with zbus.
//!
//! Where it sits: a [`BluezRadio`] per adapter implements [`crate::backend::Radio`], and each
//! connection it opens is a [`BluezLink`] implementing [`crate::backend::Link`]; nothing above
//! the backend seam knows it is BlueZ. All I/O is async zbus on tokio.
//!
//! # Flow
//! - `objects.rs` reads the `GetManagedObjects` snapshot; `signals.rs` decodes the signals that
//!   keep it current (`InterfacesAdded`/`Removed`, `PropertiesChanged`).
//! - `radio.rs` lists adapters (and watches for new ones); `scan.rs` streams a radio's
//!   `Up`/`Down` and its devices' advertisements, merged from Device1 properties by `props.rs`.
//! - `connect.rs` runs one connection attempt; `link.rs` is the open connection; `gatt.rs` maps
//!   handles to GATT object paths.
//! - `failure.rs` turns every zbus error into a [`crate::Failure`] in BlueZ's words for the
//!   classifier; `proxies.rs` holds the typed D-Bus clients.
//!
//! BlueZ does not report connection slots, so each adapter's limit comes from
//! [`BluezConfig`]; serialising attempts per adapter is the adapter actor's job.

mod adapter;
mod connect;
mod failure;
mod gatt;
mod link;
mod monitor;
mod objects;
mod props;
mod proxies;
mod radio;
mod recovery;
mod scan;
mod signals;

use std::collections::BTreeMap;

pub use failure::unavailable_words;
pub use link::BluezLink;
pub use radio::{AdapterChange, BluezRadio};
/// The zbus this backend is built on, so callers can open a [`zbus::Connection`] without
/// depending on a matching zbus version themselves.
pub use zbus;

/// Connection slots assumed for a controller when configuration does not say (BlueZ reports
/// none; typical controllers manage 5–10 LE links).
pub const DEFAULT_SLOT_LIMIT: usize = 5;

/// Settings for the BlueZ backend.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BluezConfig {
    /// Slots per adapter unless `slot_limits` names it.
    pub slot_limit: usize,
    /// Slots for particular adapters, by name (`hci1 = 7`).
    pub slot_limits: BTreeMap<String, usize>,
    /// At start, disconnect devices BlueZ still shows as connected on each adapter (left by an
    /// earlier run). Turn off when other programs on the host hold BLE connections of their own.
    pub close_stale_connections: bool,
}

impl Default for BluezConfig {
    fn default() -> Self {
        Self {
            slot_limit: DEFAULT_SLOT_LIMIT,
            slot_limits: BTreeMap::new(),
            close_stale_connections: true,
        }
    }
}

impl BluezConfig {
    /// The slot limit for the adapter with this name.
    pub fn slot_limit_for(&self, adapter: &str) -> usize {
        self.slot_limits
            .get(adapter)
            .copied()
            .unwrap_or(self.slot_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_limits_default_to_five_and_can_be_set_per_adapter() {
        let config: BluezConfig = toml::from_str("slot_limits = { hci1 = 7 }").unwrap();
        assert_eq!(config.slot_limit_for("hci0"), DEFAULT_SLOT_LIMIT);
        assert_eq!(config.slot_limit_for("hci1"), 7);
        assert!(config.close_stale_connections);
        assert!(toml::from_str::<BluezConfig>("slots = 3").is_err());
    }
}

//! The `GetManagedObjects` snapshot, and what the backend reads from it.
//!
//! BlueZ publishes everything as objects under `/org/bluez`: adapters (`hciN`, Adapter1),
//! devices below them (`hciN/dev_XX_…`, Device1) and each connected device's GATT objects below
//! it (`serviceHHHH/charHHHH/descHHHH`). A snapshot, sorted by path, answers "which adapters are
//! there", "which devices does this adapter know", and "what is this device's GATT tree"
//! (`gatt.rs`); signals (`signals.rs`) keep it current afterwards.

use std::collections::{BTreeMap, HashMap};

use zbus::Connection;

use super::props::PropMap;
use super::proxies::{self, ADAPTER, DEVICE};
use super::signals::is_under;

/// Every BlueZ object: path → interface name → properties, sorted by path (for GATT objects
/// that is handle order, since BlueZ names them with fixed-width hex handles).
pub(crate) type Objects = BTreeMap<String, HashMap<String, PropMap>>;

/// Takes a snapshot of every BlueZ object.
pub(crate) async fn snapshot(conn: &Connection) -> zbus::Result<Objects> {
    let managed = proxies::object_manager(conn)
        .await?
        .get_managed_objects()
        .await?;
    Ok(managed
        .into_iter()
        .map(|(path, interfaces)| {
            let interfaces = interfaces
                .into_iter()
                .map(|(name, props)| (name.as_str().to_owned(), props))
                .collect();
            (path.as_str().to_owned(), interfaces)
        })
        .collect())
}

/// The paths of every adapter, in path order (`hci0` before `hci1`).
pub(crate) fn adapter_paths(objects: &Objects) -> Vec<String> {
    objects
        .iter()
        .filter(|(_, interfaces)| interfaces.contains_key(ADAPTER))
        .map(|(path, _)| path.clone())
        .collect()
}

/// The Device1 properties of every device below `adapter`.
pub(crate) fn devices_of<'a>(
    objects: &'a Objects,
    adapter: &'a str,
) -> impl Iterator<Item = (&'a str, &'a PropMap)> + 'a {
    objects.iter().filter_map(move |(path, interfaces)| {
        let device = interfaces.get(DEVICE)?;
        (path != adapter && is_under(path, adapter)).then_some((path.as_str(), device))
    })
}

/// The Adapter1 `Powered` property (absent or unreadable counts as powered, which is what
/// BlueZ reports for every adapter it exports and manages).
pub(crate) fn is_powered(adapter: &PropMap) -> bool {
    adapter
        .get("Powered")
        .and_then(|v| bool::try_from(v).ok())
        .unwrap_or(true)
}

/// The radio name of an adapter path: its last segment (`/org/bluez/hci0` → `hci0`).
pub(crate) fn adapter_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The object path of an adapter name.
pub(crate) fn adapter_path(name: &str) -> String {
    format!("/org/bluez/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_names_and_paths_round_trip() {
        assert_eq!(adapter_name("/org/bluez/hci1"), "hci1");
        assert_eq!(adapter_path("hci1"), "/org/bluez/hci1");
        assert!(is_powered(&PropMap::new()));
    }
}

//! The radios a running hub uses, kept equal to the hub file's `[[radio]]` list.
//!
//! At start every entry is opened (simulated worlds first, then real radios, in file order).
//! On SIGHUP the new list is applied as a difference through the fleet: every radio of an entry
//! that vanished is removed with `Fleet::remove_radio` (its devices move to other radios, its
//! leases are freed; a simulated world stops), new entries are opened and added, and entries
//! that did not change are not touched. BlueZ adapters the file lists are followed while the
//! hub runs (`Fleet::follow_bluez_adapters`): one unplugged leaves the fleet, and comes back
//! when it is plugged in again.
//!
//! A reload is applied entry by entry, so one bad entry (a world file that does not parse, a
//! radio name the fleet already has) costs only that entry: the others are applied, and the
//! error names each entry that failed. An entry is recorded with exactly the radios that made
//! it into the fleet, so a later reload can always remove them; one that failed is tried again
//! on the next reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bluefleet::backend::{Radio, ScanMode};
use bluefleet::config::{HubConfig, RadioConfig};
use bluefleet::model::RadioId;
use bluefleet::sim::{SimControl, Simulation, World};
use bluefleet::Fleet;

/// One `[[radio]]` entry and the radios of it that are in the fleet.
struct Entry {
    config: RadioConfig,
    /// Exactly the radios that made it into the fleet (a reload removes these).
    radios: Vec<RadioId>,
    /// The world of a simulated entry (dropping it stops the simulation).
    simulation: Option<Simulation>,
    /// False when the fleet refused one of the entry's radios: the next reload removes the
    /// radios that made it in and opens the entry again, as if it had changed.
    complete: bool,
}

/// What one `apply` changed, in entries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RadioChanges {
    /// Entries opened and added (in part, when the fleet refused one of their radios).
    pub added: usize,
    /// Entries whose radios were removed.
    pub removed: usize,
}

/// A reload that could not apply every entry: what it did change (that stays applied) and why
/// the other entries failed.
#[derive(Debug)]
pub struct PartlyApplied {
    /// The changes that worked.
    pub changes: RadioChanges,
    /// One line naming each entry that failed and why.
    pub error: String,
}

/// The radios one entry opened, not yet in a fleet.
type Opened = (Vec<Arc<dyn Radio>>, Option<Simulation>);

/// The hub's radios, by entry.
pub struct HubRadios {
    entries: Vec<Entry>,
    hub_file: PathBuf,
    /// `--scan-mode`, over every entry's own.
    scan_mode: Option<ScanMode>,
    /// Dropping it ends the current BlueZ adapter follower.
    #[cfg(feature = "bluez")]
    following: Option<tokio::sync::oneshot::Sender<()>>,
}

impl HubRadios {
    /// Opens every entry of `config` (`worlds` are its simulated entries' worlds, in order)
    /// and returns the radios for the fleet: simulated ones first, then real ones. The first
    /// entry that cannot be opened fails the start, named.
    pub async fn open(
        config: &HubConfig,
        worlds: Vec<World>,
        hub_file: &Path,
        scan_mode: Option<ScanMode>,
    ) -> Result<(Self, Vec<Arc<dyn Radio>>), String> {
        let mut hub = Self {
            entries: Vec::new(),
            hub_file: hub_file.to_path_buf(),
            scan_mode,
            #[cfg(feature = "bluez")]
            following: None,
        };
        let mut worlds = worlds.into_iter();
        let (mut simulated, mut real) = (Vec::new(), Vec::new());
        for (index, entry) in config.radios.iter().enumerate() {
            let world = match entry {
                RadioConfig::Sim { .. } => worlds.next(),
                _ => None,
            };
            let (radios, simulation) = hub
                .open_entry(entry, world, config.seed)
                .await
                .map_err(|why| entry_failed(index, entry, &why))?;
            let into = if simulation.is_some() {
                &mut simulated
            } else {
                &mut real
            };
            into.extend(radios.iter().cloned());
            hub.entries.push(Entry {
                config: entry.clone(),
                radios: radios.iter().map(|r| r.id()).collect(),
                simulation,
                complete: true,
            });
        }
        simulated.append(&mut real);
        Ok((hub, simulated))
    }

    /// The controls of every simulated world (the page's radio commands reach those).
    pub fn controls(&self) -> Vec<SimControl> {
        self.entries
            .iter()
            .filter_map(|e| e.simulation.as_ref().map(Simulation::control))
            .collect()
    }

    /// Makes the fleet's radios equal to `config`'s entries. Removals are applied first, so
    /// an entry changed in place (a new slot count) is reopened under the same names. An entry
    /// that fails does not stop the others: every entry that can be applied is, the BlueZ
    /// follower is refreshed when anything changed, and the failures come back together.
    pub async fn apply(
        &mut self,
        fleet: &Fleet,
        config: &HubConfig,
    ) -> Result<RadioChanges, PartlyApplied> {
        let mut changes = RadioChanges::default();
        let (kept, gone): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| entry.complete && config.radios.contains(&entry.config));
        self.entries = kept;
        for entry in gone {
            for radio in &entry.radios {
                match fleet.remove_radio(radio).await {
                    Ok(()) => tracing::info!(%radio, "reload: radio removed"),
                    Err(error) => tracing::warn!(%radio, %error, "reload: radio not removed"),
                }
            }
            changes.removed += 1;
        }
        let added: Vec<(usize, &RadioConfig)> = config
            .radios
            .iter()
            .enumerate()
            .filter(|(_, r)| !self.entries.iter().any(|e| &e.config == *r))
            .collect();
        let mut failures = Vec::new();
        for (index, entry) in added {
            let before = self.entries.len();
            let outcome = self.add_entry(fleet, entry, config.seed).await;
            if self.entries.len() > before {
                changes.added += 1;
            }
            if let Err(why) = outcome {
                failures.push(entry_failed(index, entry, &why));
            }
        }
        if changes != RadioChanges::default() {
            self.follow_adapters(fleet).await;
        }
        if failures.is_empty() {
            return Ok(changes);
        }
        Err(PartlyApplied {
            changes,
            error: failures.join("; "),
        })
    }

    /// Opens `entry` and adds its radios to the fleet one by one. The entry is recorded with
    /// exactly the radios that made it in; when none did, it is not recorded, so the next
    /// reload tries it again. The error says why the entry, or one of its radios, failed.
    async fn add_entry(
        &mut self,
        fleet: &Fleet,
        entry: &RadioConfig,
        seed: u64,
    ) -> Result<(), String> {
        let world = match entry {
            RadioConfig::Sim { world, .. } => Some(load_world(world, &self.hub_file)?),
            _ => None,
        };
        let (radios, simulation) = self.open_entry(entry, world, seed).await?;
        let (mut added, mut refused) = (Vec::new(), Vec::new());
        for radio in radios {
            let id = radio.id();
            match fleet.add_radio(radio).await {
                Ok(()) => {
                    tracing::info!(radio = %id, "reload: radio added");
                    added.push(id);
                }
                Err(error) => refused.push(error.to_string()),
            }
        }
        if !added.is_empty() {
            self.entries.push(Entry {
                config: entry.clone(),
                radios: added,
                simulation,
                complete: refused.is_empty(),
            });
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(refused.join(", "))
        }
    }

    /// The radios of `entry` (a simulated one from `world`, started with `seed`), asked for
    /// the scan mode; nothing is added to a fleet yet.
    async fn open_entry(
        &self,
        entry: &RadioConfig,
        world: Option<World>,
        seed: u64,
    ) -> Result<Opened, String> {
        let mode = self.scan_mode.unwrap_or(entry.scan_mode());
        match (entry, world) {
            (RadioConfig::Sim { .. }, Some(world)) => {
                let simulation = Simulation::start(world, seed);
                Ok((sim_radios(&simulation, mode)?, Some(simulation)))
            }
            (RadioConfig::Sim { .. }, None) => Err("its world was not loaded".into()),
            (real, _) => Ok((crate::hub_radios::open(real, mode).await?, None)),
        }
    }

    /// Follows the BlueZ adapters the entries name (replacing an earlier follower): one that
    /// goes away is removed from the fleet, one of those names that appears is added with
    /// its entry's slots and scan mode. Without BlueZ entries, nothing is followed.
    #[cfg(feature = "bluez")]
    pub async fn follow_adapters(&mut self, fleet: &Fleet) {
        use bluefleet::backend::bluez::{zbus, AdapterChange, BluezConfig, BluezRadio};
        use futures::StreamExt;
        self.following = None;
        let wanted: std::collections::BTreeMap<String, (usize, ScanMode)> = self
            .entries
            .iter()
            .filter_map(|e| match &e.config {
                RadioConfig::Bluez {
                    adapter,
                    slots,
                    scan_mode,
                } => Some((
                    adapter.clone(),
                    (*slots, self.scan_mode.unwrap_or(*scan_mode)),
                )),
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return;
        }
        let config = BluezConfig {
            slot_limits: wanted
                .iter()
                .map(|(name, (slots, _))| (name.clone(), *slots))
                .collect(),
            ..BluezConfig::default()
        };
        let watched = match zbus::Connection::system().await {
            Ok(conn) => BluezRadio::watch_adapters(conn, config).await,
            Err(error) => Err(error),
        };
        let changes = match watched {
            Ok(changes) => changes,
            Err(error) => {
                return tracing::warn!(%error, "BlueZ adapters plugged in or removed will not be followed")
            }
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let changes = changes
            .filter_map(move |change| {
                let keep = match &change {
                    AdapterChange::Added(radio) => wanted
                        .get(radio.id().as_str())
                        .is_some_and(|(_, mode)| radio.set_scan_mode(*mode).is_ok()),
                    // Only adapters the file names: a radio of another kind may share a name.
                    AdapterChange::Removed(id) => wanted.contains_key(id.as_str()),
                };
                std::future::ready(keep.then_some(change))
            })
            .take_until(stopped);
        match fleet.follow_bluez_adapters(changes).await {
            Ok(()) => self.following = Some(stop),
            Err(error) => tracing::warn!(%error, "BlueZ adapters will not be followed"),
        }
    }

    /// Without the BlueZ backend there are no adapters to follow.
    #[cfg(not(feature = "bluez"))]
    pub async fn follow_adapters(&mut self, _: &Fleet) {}
}

/// The worlds of the simulated radios; a world path is relative to the hub file.
pub fn load_worlds(radios: &[RadioConfig], hub_file: &Path) -> Result<Vec<World>, String> {
    radios
        .iter()
        .filter_map(|r| match r {
            RadioConfig::Sim { world, .. } => Some(load_world(world, hub_file)),
            _ => None,
        })
        .collect()
}

/// A file beside the hub file, else a path as given or a built-in world's name.
fn load_world(world: &Path, hub_file: &Path) -> Result<World, String> {
    let beside = hub_file.parent().unwrap_or(Path::new("")).join(world);
    crate::worlds::load(if beside.exists() { &beside } else { world })
}

/// `radio[index]` (as the file checks name entries) and what it is, with why it failed.
fn entry_failed(index: usize, entry: &RadioConfig, why: &str) -> String {
    let what = match entry {
        RadioConfig::Sim { world, .. } => format!("sim world {}", world.display()),
        RadioConfig::Bluez { adapter, .. } => format!("bluez adapter {adapter}"),
        RadioConfig::Btleplug { adapter, .. } => {
            format!("btleplug adapter {}", adapter.as_deref().unwrap_or("(any)"))
        }
        RadioConfig::Esphome { host, .. } => format!("esphome proxy {host}"),
    };
    format!("radio[{index}] ({what}): {}", why.trim_end())
}

/// The radios of a simulation, asked for `mode`.
fn sim_radios(simulation: &Simulation, mode: ScanMode) -> Result<Vec<Arc<dyn Radio>>, String> {
    let radios = simulation.radios();
    for radio in &radios {
        radio.set_scan_mode(mode)?;
    }
    Ok(radios)
}

#[cfg(test)]
#[path = "run_radios_tests.rs"]
mod tests;

//! The radios a running hub uses, kept equal to the hub file's `[[radio]]` list.
//!
//! At start every entry is opened (simulated worlds first, then real radios, in file order).
//! On SIGHUP the new list is applied as a difference through the fleet: every radio of an entry
//! that vanished is removed with `Fleet::remove_radio` (its devices move to other radios, its
//! leases are freed; a simulated world stops), new entries are opened and added, and entries
//! that did not change are not touched. BlueZ adapters the file lists are followed while the
//! hub runs (`Fleet::follow_bluez_adapters`): one unplugged leaves the fleet, and comes back
//! when it is plugged in again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bluefleet::backend::{Radio, ScanMode};
use bluefleet::config::{HubConfig, RadioConfig};
use bluefleet::model::RadioId;
use bluefleet::sim::{SimControl, Simulation, World};
use bluefleet::Fleet;

/// One `[[radio]]` entry and what it opened.
struct Entry {
    config: RadioConfig,
    radios: Vec<RadioId>,
    /// The world of a simulated entry (dropping it stops the simulation).
    simulation: Option<Simulation>,
}

/// What one `apply` changed, in entries.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RadioChanges {
    /// Entries opened and added.
    pub added: usize,
    /// Entries whose radios were removed.
    pub removed: usize,
}

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
    /// and returns the radios for the fleet: simulated ones first, then real ones.
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
        for entry in &config.radios {
            let mode = scan_mode.unwrap_or(entry.scan_mode());
            let (radios, simulation) = match entry {
                RadioConfig::Sim { .. } => {
                    let world = worlds.next().ok_or("a simulated radio without its world")?;
                    let simulation = Simulation::start(world, config.seed);
                    let radios = sim_radios(&simulation, mode)?;
                    simulated.extend(radios.iter().cloned());
                    (radios, Some(simulation))
                }
                real_entry => {
                    let radios = crate::hub_radios::open(real_entry, mode).await?;
                    real.extend(radios.iter().cloned());
                    (radios, None)
                }
            };
            hub.entries.push(Entry {
                config: entry.clone(),
                radios: radios.iter().map(|r| r.id()).collect(),
                simulation,
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
    /// an entry changed in place (a new slot count) is reopened under the same names.
    pub async fn apply(
        &mut self,
        fleet: &Fleet,
        config: &HubConfig,
    ) -> Result<RadioChanges, String> {
        let mut changes = RadioChanges::default();
        let (kept, gone): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| config.radios.contains(&entry.config));
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
        let added: Vec<RadioConfig> = config
            .radios
            .iter()
            .filter(|r| !self.entries.iter().any(|e| &e.config == *r))
            .cloned()
            .collect();
        for entry in added {
            let mode = self.scan_mode.unwrap_or(entry.scan_mode());
            let (radios, simulation) = match &entry {
                RadioConfig::Sim { .. } => {
                    let world = load_worlds(std::slice::from_ref(&entry), &self.hub_file)?;
                    let simulation = world
                        .into_iter()
                        .map(|w| Simulation::start(w, config.seed))
                        .next();
                    let radios = match &simulation {
                        Some(simulation) => sim_radios(simulation, mode)?,
                        None => Vec::new(),
                    };
                    (radios, simulation)
                }
                real => (crate::hub_radios::open(real, mode).await?, None),
            };
            let ids = radios.iter().map(|r| r.id()).collect();
            for radio in radios {
                tracing::info!(radio = %radio.id(), "reload: radio added");
                fleet.add_radio(radio).await.map_err(|e| e.to_string())?;
            }
            self.entries.push(Entry {
                config: entry,
                radios: ids,
                simulation,
            });
            changes.added += 1;
        }
        if changes != RadioChanges::default() {
            self.follow_adapters(fleet).await;
        }
        Ok(changes)
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
    let base = hub_file.parent().map(PathBuf::from).unwrap_or_default();
    radios
        .iter()
        .filter_map(|r| match r {
            RadioConfig::Sim { world, .. } => {
                // A file beside the hub file, else a path as given or a built-in world's name.
                let beside = base.join(world);
                Some(crate::worlds::load(if beside.exists() {
                    &beside
                } else {
                    world
                }))
            }
            _ => None,
        })
        .collect()
}

/// The radios of a simulation, asked for `mode`.
fn sim_radios(simulation: &Simulation, mode: ScanMode) -> Result<Vec<Arc<dyn Radio>>, String> {
    let radios = simulation.radios();
    for radio in &radios {
        radio.set_scan_mode(mode)?;
    }
    Ok(radios)
}

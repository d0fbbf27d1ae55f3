//! The listen path: every radio's advertisements merged into per-device knowledge.
//!
//! Owns [`AdvertPipeline`], a plain struct (no async, no actor) that the Supervisor feeds with
//! each `RadioEvent::Adverts` batch and ticks for availability. Per device it keeps a
//! [`DeviceView`]: the merged advert, per-radio last and smoothed RSSI and last-seen time, the
//! best radio (with hysteresis), RSSI statistics, the learned advertising interval and the
//! proximity zone; beside them a [`beacon::BeaconRegistry`]. Changes come out as
//! [`AdvertEvent`]s pushed into a caller's `Vec`.
//!
//! Why it is shaped like this: a hub hears thousands of adverts a second, and most repeat the
//! previous payload. Each advert is fingerprinted first; an unchanged payload only updates
//! signal and time (no merge, no allocation), a changed one is merged field by field and
//! decoded for beacons. Devices live in one map of boxed views (a few hundred bytes each,
//! design goal G5), never in actors. Time is the adverts' own `seen_at` and the `now` given to
//! [`AdvertPipeline::tick`], so virtual-time simulations and tests are deterministic.
//!
//! Flow: backend → AdapterActor → Supervisor → [`AdvertPipeline::ingest`] → events → the
//! Supervisor's shared view and the DeviceActors that care; [`AdvertPipeline::radios_heard`]
//! answers the Supervisor's radio choice (smoothed RSSI and last seen per radio).

pub mod availability;
pub mod beacon;
mod device;
mod events;
mod exact_list;
pub mod filter;
mod hashing;
mod ingest;
pub mod merge;
mod packed_map;
pub mod proximity;
pub mod rssi;
#[cfg(test)]
mod tests;
pub mod watch;

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub use device::DeviceView;
pub use events::{AdvertEvent, IngestSummary, PipelineConfig};
pub use filter::{AdvertFilter, FilterError, FilterSubject};
pub use ingest::Ingested;
pub use proximity::Zone;

use beacon::BeaconRegistry;
use device::RadioIndex;
use hashing::AddressHashBuilder;

use crate::decode::SensorReadings;
use crate::model::{Address, Advertisement, RadioId};

/// One radio's view of one device, for radio choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RadioHeard<'a> {
    /// The radio.
    pub radio: &'a RadioId,
    /// Its smoothed RSSI for the device (`None` until a reading arrives).
    pub smoothed_rssi_dbm: Option<f32>,
    /// Its latest reading.
    pub last_rssi_dbm: Option<i16>,
    /// When it last heard the device.
    pub last_seen: Instant,
    /// Whether it is the device's best radio.
    pub is_best: bool,
}

/// Per-device advertisement state for the whole fleet.
#[derive(Debug, Default)]
pub struct AdvertPipeline {
    config: PipelineConfig,
    /// Boxed so the map's buckets stay small (16 bytes) whatever the view's size.
    devices: HashMap<Address, Box<DeviceView>, AddressHashBuilder>,
    /// Radio names by index; sightings store the index, not a reference-counted name.
    radios: Vec<RadioId>,
    /// Index of the radio of the previous advert: batches come from one radio.
    last_radio: Option<RadioIndex>,
    beacons: BeaconRegistry,
    /// Sensor readings decoded from changed payloads (src/decode).
    readings: SensorReadings,
    totals: IngestSummary,
}

impl AdvertPipeline {
    /// An empty pipeline.
    pub fn new(config: PipelineConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Ingests one batch of decoded adverts, pushing what changed into `events`.
    pub fn ingest(
        &mut self,
        batch: &[Advertisement],
        events: &mut Vec<AdvertEvent>,
    ) -> IngestSummary {
        self.ingest_decoded(batch, events, |_, _| {})
    }

    fn intern(&mut self, radio: &RadioId) -> RadioIndex {
        if let Some(last) = self.last_radio {
            if self.radios.get(usize::from(last)) == Some(radio) {
                return last;
            }
        }
        let index = match self.radios.iter().position(|known| known == radio) {
            Some(position) => position,
            None => {
                self.radios.push(radio.clone());
                self.radios.len() - 1
            }
        };
        let index = RadioIndex::try_from(index).unwrap_or(RadioIndex::MAX);
        self.last_radio = Some(index);
        index
    }

    /// Drops devices no radio heard for longer than their timeout (one `Disappeared` each) and
    /// other radios' sightings just as old. Returns how many disappeared.
    pub fn tick(&mut self, now: Instant, events: &mut Vec<AdvertEvent>) -> usize {
        let availability = self.config.availability;
        let beacons = &mut self.beacons;
        let readings = &mut self.readings;
        let before = events.len();
        self.devices.retain(|address, device| {
            let timeout = device.interval.timeout(&availability);
            if now.saturating_duration_since(device.last_seen) > timeout {
                beacons.forget(address);
                readings.forget(address);
                events.push(AdvertEvent::Disappeared {
                    address: *address,
                    last_seen: device.last_seen,
                });
                return false;
            }
            device.prune_sightings(now, timeout);
            true
        });
        events.len() - before
    }

    /// Forgets everything a radio heard (it went down or was removed); devices whose best
    /// radio it was move to their strongest remaining radio.
    pub fn forget_radio(&mut self, radio: &RadioId, events: &mut Vec<AdvertEvent>) {
        let Some(index) = self.radios.iter().position(|known| known == radio) else {
            return;
        };
        let Ok(index) = RadioIndex::try_from(index) else {
            return;
        };
        for (address, device) in &mut self.devices {
            if let Some(new_best) = device.forget_radio(index) {
                if let Some(to) = self.radios.get(usize::from(new_best)) {
                    events.push(AdvertEvent::BestRadioChanged {
                        address: *address,
                        from: radio.clone(),
                        to: to.clone(),
                    });
                }
            }
        }
    }

    /// One device's state.
    pub fn device(&self, address: &Address) -> Option<&DeviceView> {
        self.devices.get(address).map(|device| &**device)
    }

    /// Every known device.
    pub fn devices(&self) -> impl Iterator<Item = &DeviceView> {
        self.devices.values().map(|device| &**device)
    }

    /// Known devices matching `filter`.
    pub fn matching<'a>(
        &'a self,
        filter: &'a AdvertFilter,
    ) -> impl Iterator<Item = &'a DeviceView> + 'a {
        self.devices().filter(|device| filter.matches(*device))
    }

    /// Devices known now.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// Whether no device is known.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Each radio that heard the device: smoothed RSSI and last seen (for radio choice).
    pub fn radios_heard(&self, address: &Address) -> impl Iterator<Item = RadioHeard<'_>> {
        let device = self.devices.get(address);
        let best = device.map(|device| device.best_radio);
        device
            .into_iter()
            .flat_map(|device| device.sightings.iter().map(move |s| (device, s)))
            .filter_map(move |(device, sighting)| {
                Some(RadioHeard {
                    radio: self.radios.get(usize::from(sighting.radio))?,
                    smoothed_rssi_dbm: sighting.smoothed_rssi_dbm,
                    last_rssi_dbm: sighting.last_rssi_dbm,
                    last_seen: device.last_seen_by(sighting),
                    is_best: Some(sighting.radio) == best,
                })
            })
    }

    /// The device's best radio.
    pub fn best_radio(&self, address: &Address) -> Option<&RadioId> {
        let device = self.devices.get(address)?;
        self.radios.get(usize::from(device.best_radio))
    }

    /// The device's learned advertising interval, once learned.
    pub fn learned_interval(&self, address: &Address) -> Option<Duration> {
        self.devices
            .get(address)?
            .interval
            .learned(&self.config.availability)
    }

    /// How long the device may stay silent before it disappears.
    pub fn timeout(&self, address: &Address) -> Option<Duration> {
        let device = self.devices.get(address)?;
        Some(device.interval.timeout(&self.config.availability))
    }

    /// Estimated distance to the best radio in metres, calibrated by the beacon's own power
    /// at 1 m when it is a beacon.
    pub fn distance_m(&self, address: &Address) -> Option<f64> {
        let smoothed = self.devices.get(address)?.smoothed_rssi_dbm()?;
        let calibration = self.beacons.get(address).and_then(|b| b.power_at_1m_dbm());
        Some(proximity::estimate_distance_m(
            &self.config.proximity,
            calibration,
            smoothed,
        ))
    }

    /// The device's latest state as one advertisement from its best radio (merged fields,
    /// latest reading); what a new watcher receives first.
    pub fn latest_advert(&self, view: &DeviceView) -> Advertisement {
        let radio = self
            .radios
            .get(usize::from(view.best_radio))
            .cloned()
            .unwrap_or_else(|| RadioId::new("unknown"));
        Advertisement {
            address: view.address(),
            address_kind: view.address_kind(),
            rssi_dbm: view.last_rssi_dbm().unwrap_or(i16::MIN),
            radio,
            seen_at: view.last_seen(),
            connectable: view.connectable(),
            data: view.advert().to_advert_data(),
            raw: None,
        }
    }

    /// The beacon registry.
    pub fn beacons(&self) -> &BeaconRegistry {
        &self.beacons
    }

    /// Sensor readings decoded from the adverts.
    pub fn readings(&self) -> &SensorReadings {
        &self.readings
    }

    /// Sensor readings, to give bindkeys.
    pub fn readings_mut(&mut self) -> &mut SensorReadings {
        &mut self.readings
    }

    /// Counts since the pipeline was made.
    pub fn totals(&self) -> IngestSummary {
        self.totals
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Bytes the device map and views hold: boxes, vectors, payload copies and the map's
    /// buckets (control byte included), without allocator overhead. The benchmark measures
    /// the allocator's view; this is the cheap always-available figure.
    pub fn accounted_bytes(&self) -> usize {
        let bucket = std::mem::size_of::<(Address, Box<DeviceView>)>() + 1;
        let capacity = self.devices.capacity();
        let buckets = if capacity == 0 {
            0
        } else {
            (capacity * 8 / 7).next_power_of_two()
        };
        let views: usize = self
            .devices
            .values()
            .map(|device| std::mem::size_of::<DeviceView>() + device.heap_bytes())
            .sum();
        buckets * bucket + views
    }
}

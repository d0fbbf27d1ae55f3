//! Diagnostics: what a hub shows when someone asks "why is this sensor unavailable".
//!
//! Per radio: kind, up, slots held and by whom, queue length, attempts and failures by class.
//! Per managed device: state, last error, counters, subscribers. Serialisable for `--json`.

use serde::Serialize;

use crate::adapter::gate::GateStats;
use crate::adverts::watch::WatchCounters;
use crate::adverts::IngestSummary;
use crate::backend::RadioKind;
use crate::device::state::DeviceStatus;
use crate::model::{Address, RadioId};

/// One radio's row.
#[derive(Clone, Debug, Serialize)]
pub struct RadioDiagnostics {
    /// Its name.
    pub radio: RadioId,
    /// Controller or proxy.
    pub kind: RadioKind,
    /// Up now.
    pub up: bool,
    /// Slot limit (as last reported or configured).
    pub slot_limit: usize,
    /// Devices holding our slots there.
    pub held_by: Vec<Address>,
    /// Slots other clients hold there.
    pub foreign: usize,
    /// Attempts and failures.
    pub connects: GateStats,
    /// The scan mode asked for and the one the radio confirms (radios that say nothing:
    /// absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_mode: Option<crate::backend::ScanModeReport>,
    /// What the radio watchdog did (radios without one: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery: Option<crate::watchdog::RecoveryReport>,
    /// Adverts its bounded event channel dropped, oldest first, because ingestion fell
    /// behind (docs/architecture.md, "Backpressure").
    pub adverts_dropped: u64,
}

/// The whole fleet.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostics {
    /// Every radio, by name.
    pub radios: Vec<RadioDiagnostics>,
    /// Every managed device, by address.
    pub devices: Vec<DeviceStatus>,
    /// Devices heard (managed or not).
    pub devices_heard: usize,
    /// Advertisements the pipeline has ingested since the start.
    pub adverts_ingested: u64,
    /// The pipeline's counts since the start: repeats dropped, payloads decoded, malformed.
    pub advert_totals: IngestSummary,
    /// Advert watchers: how many, adverts queued to them, adverts they lost (announced).
    pub watchers: WatchCounters,
    /// Items lost by consumers of `Fleet::adverts` / `Fleet::advert_events` that fell behind
    /// (each announced to its consumer as `Lagged`).
    pub feed_lost: u64,
    /// Notifications links' bounded event channels dropped because a device actor fell
    /// behind (each announced to that characteristic's subscribers as `Lagged`).
    pub notifications_dropped: u64,
    /// Adverts not handed to a managed device's actor because its mailbox was full (the
    /// pipeline still ingested them; the device's next advert refreshes its sightings).
    pub device_adverts_dropped: u64,
}

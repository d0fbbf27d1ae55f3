//! What the pipeline reports and how it is tuned: [`AdvertEvent`], [`IngestSummary`],
//! [`PipelineConfig`].
//!
//! Events are past-tense facts pushed into a caller-owned `Vec`, so a warmed-up Supervisor
//! ingests batches without allocating. Most adverts produce no event at all: an unchanged
//! payload from the same best radio in the same zone is only counted in the summary.

use tokio::time::Instant;

use super::availability::AvailabilityConfig;
use super::proximity::{ProximityConfig, Zone};
use super::rssi::DEFAULT_ALPHA;
use crate::model::{Address, RadioId};

/// A change in what the pipeline knows about a device.
#[derive(Clone, Debug, PartialEq)]
pub enum AdvertEvent {
    /// First heard (or heard again after it disappeared).
    Appeared {
        /// The device.
        address: Address,
        /// The radio that heard it.
        radio: RadioId,
    },
    /// Its merged advert changed (new name, new manufacturer or service data, new UUID…).
    Changed {
        /// The device.
        address: Address,
    },
    /// Another radio became its best radio.
    BestRadioChanged {
        /// The device.
        address: Address,
        /// The previous best radio.
        from: RadioId,
        /// The new one.
        to: RadioId,
    },
    /// Its proximity zone was assigned or changed.
    ZoneChanged {
        /// The device.
        address: Address,
        /// The previous zone (`None` on the first assignment).
        from: Option<Zone>,
        /// The new zone.
        to: Zone,
    },
    /// No radio heard it for longer than its timeout; its state was dropped.
    Disappeared {
        /// The device.
        address: Address,
        /// When it was last heard.
        last_seen: Instant,
    },
}

/// Counts from one [`super::AdvertPipeline::ingest`] call (or, summed, since the start).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestSummary {
    /// Adverts ingested.
    pub adverts: u64,
    /// Adverts whose payload equalled the device's previous one: no merge was done.
    pub deduplicated: u64,
    /// Adverts heard before the content already merged (a radio behind the others): their
    /// signal counts, their payload is not merged.
    pub stale: u64,
    /// Adverts that changed the merged view.
    pub changed: u64,
    /// Devices heard for the first time.
    pub appeared: u64,
    /// Raw payloads decoded (only new content is: repeats stop at their fingerprint).
    pub decoded: u64,
    /// Raw payloads that were malformed (each reported once, when decoded).
    pub malformed: u64,
}

impl IngestSummary {
    /// Adds another summary's counts to this one.
    pub fn add(&mut self, other: &IngestSummary) {
        self.adverts += other.adverts;
        self.deduplicated += other.deduplicated;
        self.stale += other.stale;
        self.changed += other.changed;
        self.appeared += other.appeared;
        self.decoded += other.decoded;
        self.malformed += other.malformed;
    }
}

/// Pipeline tuning.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PipelineConfig {
    /// EMA weight of a new RSSI sample (default 0.3).
    pub ema_alpha: f32,
    /// How much stronger (smoothed) a challenger must be to become the best radio
    /// (default 8 dB; habluetooth settled on 16 dB for unsmoothed proxy ping-pong).
    pub switch_margin_db: f32,
    /// Readings a challenger needs before its RSSI can win (default 3).
    pub switch_min_samples: u16,
    /// Zones and distance.
    pub proximity: ProximityConfig,
    /// Timeouts and interval learning.
    pub availability: AvailabilityConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            ema_alpha: DEFAULT_ALPHA,
            switch_margin_db: 8.0,
            switch_min_samples: 3,
            proximity: ProximityConfig::default(),
            availability: AvailabilityConfig::default(),
        }
    }
}

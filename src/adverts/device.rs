//! One advertising device's state: [`DeviceView`], and which of its radios is the best.
//!
//! Owns, per device: the merged advert, one [`RadioSighting`] per radio that heard it (last and
//! smoothed RSSI, last seen: what the Supervisor's radio choice reads), the best radio, the RSSI
//! statistics, the learned interval and the proximity zone. All of it is plain data: 192 bytes
//! inline (its lists are exactly-sized boxed slices, not `Vec`s), 32 per radio that heard it,
//! plus the payload values in one buffer per kind, so an advertising-only device never needs
//! an actor.
//!
//! Best radio, with hysteresis: a challenger takes over only when its smoothed RSSI beats the
//! best radio's by `switch_margin_db` after `switch_min_samples` readings, or when the best
//! radio has been silent for half the device's availability timeout. Two radios a few dB apart
//! therefore never flap. Interval learning, statistics and the zone follow the best radio only:
//! gaps between two radios' copies of one advert are not intervals, and a zone describes one
//! radio's surroundings.
//!
//! Times inside a view are nanoseconds since the device was first heard (`u64`, 584 years):
//! an advert's time is turned into that once, in [`DeviceView::hear`], and every later
//! comparison of the same advert (gap, staleness, the challenger's silence) is integer
//! arithmetic. Subtracting two `Instant`s costs about 60 instructions and an advert needed 2.6
//! of them (callgrind of spec v1), which was a tenth of its whole cost. A time before the first
//! one (a radio that lags the others) counts as the first.

use std::time::Duration;

use tokio::time::Instant;

use super::availability::IntervalLearner;
use super::exact_list;
use super::hashing::PayloadFingerprint;
use super::merge::MergedAdvert;
use super::proximity::{next_zone, Zone};
use super::rssi::{is_reading, smooth, RssiStats};
use super::PipelineConfig;
use crate::model::{Address, AddressKind, Advertisement, RawAdvert};

/// Index of a radio in the pipeline's radio table.
pub(crate) type RadioIndex = u16;

/// What one radio knows about one device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct RadioSighting {
    pub(crate) radio: RadioIndex,
    /// Readings taken (saturating); gates switching and zones.
    pub(crate) samples: u16,
    pub(crate) last_rssi_dbm: Option<i16>,
    pub(crate) smoothed_rssi_dbm: Option<f32>,
    /// When this radio last heard the device, in nanoseconds since the view's first time
    /// (8 bytes where an `Instant` takes 16; see the module docs).
    last_seen_ns: u64,
    /// Fingerprint of the payload this radio delivered last: "same bytes as last time from
    /// this radio" is decided before anything is decoded.
    pub(crate) last_payload: PayloadFingerprint,
}

/// The payload-independent part of one advert: who, how loud, when.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Signal {
    pub(crate) address: Address,
    pub(crate) address_kind: AddressKind,
    pub(crate) rssi_dbm: i16,
    pub(crate) seen_at: Instant,
    pub(crate) connectable: Option<bool>,
}

impl Signal {
    pub(crate) fn of_advert(advert: &Advertisement) -> Self {
        Self {
            address: advert.address,
            address_kind: advert.address_kind,
            rssi_dbm: advert.rssi_dbm,
            seen_at: advert.seen_at,
            connectable: advert.connectable,
        }
    }

    pub(crate) fn of_raw(advert: &RawAdvert) -> Self {
        Self {
            address: advert.address,
            address_kind: advert.address_kind,
            rssi_dbm: advert.rssi_dbm,
            seen_at: advert.seen_at,
            connectable: advert.connectable,
        }
    }
}

/// What hearing one advert changed besides the payload.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Heard {
    /// The best radio changed; this was the previous one.
    pub(crate) previous_best: Option<RadioIndex>,
    /// The zone changed: (before, after).
    pub(crate) zone_change: Option<(Option<Zone>, Zone)>,
    /// This radio's previous payload for the device had the same fingerprint.
    pub(crate) repeat_from_radio: bool,
    /// When the advert was heard, in the view's nanoseconds (for
    /// [`DeviceView::is_stale`] and [`DeviceView::merge_payload`]).
    pub(crate) at_ns: u64,
}

/// Everything the pipeline knows about one advertising device.
#[derive(Clone, Debug)]
pub struct DeviceView {
    address: Address,
    address_kind: AddressKind,
    connectable: Option<bool>,
    zone: Option<Zone>,
    pub(crate) best_radio: RadioIndex,
    /// Fingerprints of the last two distinct payloads merged, newest first.
    recent_payloads: [PayloadFingerprint; 2],
    /// The last merge changed nothing, so both recent payloads are already in `merged`.
    settled: bool,
    /// When the newest payload merged was heard, in nanoseconds since `first_seen`: a copy
    /// heard before it (a radio that lags behind the others) is older content and must not
    /// roll the merged view back.
    content_heard_ns: u64,
    pub(crate) merged: MergedAdvert,
    pub(crate) sightings: Box<[RadioSighting]>,
    stats: RssiStats,
    pub(crate) interval: IntervalLearner,
    first_seen: Instant,
    pub(crate) last_seen: Instant,
}

impl DeviceView {
    /// A device about to be heard for the first time through `radio`.
    pub(crate) fn new(advert: &Signal, radio: RadioIndex) -> Self {
        Self {
            address: advert.address,
            address_kind: advert.address_kind,
            connectable: advert.connectable,
            zone: None,
            best_radio: radio,
            recent_payloads: [PayloadFingerprint::default(); 2],
            settled: false,
            content_heard_ns: 0,
            merged: MergedAdvert::default(),
            sightings: Box::default(),
            stats: RssiStats::default(),
            interval: IntervalLearner::default(),
            first_seen: advert.seen_at,
            last_seen: advert.seen_at,
        }
    }

    /// Records one advert's signal and time, and which payload the radio sent (not the
    /// payload itself).
    pub(crate) fn hear(
        &mut self,
        advert: &Signal,
        radio: RadioIndex,
        payload: PayloadFingerprint,
        config: &PipelineConfig,
    ) -> Heard {
        let at_ns = self.nanos_since_first(advert.seen_at);
        let mut heard = Heard {
            at_ns,
            ..Heard::default()
        };
        self.last_seen = self.last_seen.max(advert.seen_at);
        self.address_kind = advert.address_kind;
        if advert.connectable.is_some() {
            self.connectable = advert.connectable;
        }
        let reading = is_reading(advert.rssi_dbm).then_some(advert.rssi_dbm);
        let mut fresh = false;
        let position = match self.sightings.iter().position(|s| s.radio == radio) {
            Some(position) => position,
            None => {
                fresh = true;
                exact_list::push(
                    &mut self.sightings,
                    RadioSighting {
                        radio,
                        samples: 0,
                        last_rssi_dbm: None,
                        smoothed_rssi_dbm: None,
                        last_seen_ns: at_ns,
                        last_payload: payload,
                    },
                );
                self.sightings.len() - 1
            }
        };
        let Some(sighting) = self.sightings.get_mut(position) else {
            return heard;
        };
        heard.repeat_from_radio = !fresh && sighting.last_payload == payload;
        sighting.last_payload = payload;
        let gap = Duration::from_nanos(at_ns.saturating_sub(sighting.last_seen_ns));
        sighting.last_seen_ns = sighting.last_seen_ns.max(at_ns);
        if let Some(rssi) = reading {
            sighting.smoothed_rssi_dbm =
                Some(smooth(sighting.smoothed_rssi_dbm, rssi, config.ema_alpha));
            sighting.last_rssi_dbm = Some(rssi);
            sighting.samples = sighting.samples.saturating_add(1);
        }
        let sighting = *sighting;
        if radio == self.best_radio {
            self.interval.record_gap(gap, &config.availability);
        } else if self.challenger_wins(&sighting, config) {
            heard.previous_best = Some(self.best_radio);
            self.best_radio = radio;
            self.interval.restart_window();
        } else {
            return heard;
        }
        if let (Some(rssi), Some(smoothed)) = (reading, sighting.smoothed_rssi_dbm) {
            self.stats.record(rssi);
            let zone = next_zone(&config.proximity, self.zone, smoothed, sighting.samples);
            if let Some(zone) = zone.filter(|zone| Some(*zone) != self.zone) {
                heard.zone_change = Some((self.zone, zone));
                self.zone = Some(zone);
            }
        }
        heard
    }

    /// Whether merging this payload would change nothing: it is the last one merged, or the
    /// one before it while the device is settled. The second case is an advert alternating
    /// with its scan response (ESPHome proxies in active mode send them separately): once a
    /// merge of either changed nothing, the merged view holds both, and merging is idempotent.
    pub(crate) fn is_repeat(&self, payload: PayloadFingerprint) -> bool {
        let [newest, previous] = self.recent_payloads;
        payload == newest || (self.settled && payload == previous)
    }

    /// Whether an advert heard at `at_ns` ([`Heard::at_ns`]) is older than the content
    /// already merged.
    pub(crate) fn is_stale(&self, at_ns: u64) -> bool {
        at_ns < self.content_heard_ns
    }

    /// `at` in the view's nanoseconds (a time before the first counts as the first).
    fn nanos_since_first(&self, at: Instant) -> u64 {
        let nanos = at.saturating_duration_since(self.first_seen).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// The `Instant` of a time in the view's nanoseconds.
    fn instant_of(&self, ns: u64) -> Instant {
        self.first_seen + Duration::from_nanos(ns)
    }

    /// When radio sighting `sighting` last heard the device.
    pub(crate) fn last_seen_by(&self, sighting: &RadioSighting) -> Instant {
        self.instant_of(sighting.last_seen_ns)
    }

    /// Merges a payload heard at `at_ns` ([`Heard::at_ns`]) that is not a repeat; returns
    /// whether the merged view changed.
    pub(crate) fn merge_payload(
        &mut self,
        payload: PayloadFingerprint,
        at_ns: u64,
        data: &crate::model::AdvertData,
    ) -> bool {
        self.content_heard_ns = self.content_heard_ns.max(at_ns);
        let changed = self.merged.merge(data);
        let [newest, _] = self.recent_payloads;
        self.recent_payloads = [payload, newest];
        self.settled = !changed;
        changed
    }

    fn challenger_wins(&self, challenger: &RadioSighting, config: &PipelineConfig) -> bool {
        let Some(best) = self.best_sighting() else {
            return true;
        };
        // Stale: silent for half the timeout. The timeout is never below the smaller of the
        // fallback and minimum timeouts, so a shorter gap skips computing it (most adverts).
        let gap = Duration::from_nanos(challenger.last_seen_ns.saturating_sub(best.last_seen_ns));
        let availability = &config.availability;
        let floor = availability.min_timeout.min(availability.fallback_timeout) / 2;
        if gap > floor && gap > self.interval.timeout(availability) / 2 {
            return true;
        }
        match (challenger.smoothed_rssi_dbm, best.smoothed_rssi_dbm) {
            (Some(challenger_dbm), Some(best_dbm)) => {
                challenger.samples >= config.switch_min_samples
                    && challenger_dbm > best_dbm + config.switch_margin_db
            }
            (Some(_), None) => true,
            _ => false,
        }
    }

    /// Forgets what `radio` heard; if it was the best radio, the strongest remaining one takes
    /// over. Returns the new best radio when it changed.
    pub(crate) fn forget_radio(&mut self, radio: RadioIndex) -> Option<RadioIndex> {
        exact_list::retain(&mut self.sightings, |s| s.radio != radio);
        if radio != self.best_radio {
            return None;
        }
        let strongest = self.sightings.iter().max_by(|a, b| {
            let a = a.smoothed_rssi_dbm.unwrap_or(f32::MIN);
            let b = b.smoothed_rssi_dbm.unwrap_or(f32::MIN);
            a.total_cmp(&b)
        })?;
        self.best_radio = strongest.radio;
        self.interval.restart_window();
        Some(self.best_radio)
    }

    /// Drops other radios' sightings older than `max_age`; the best radio's is kept.
    pub(crate) fn prune_sightings(&mut self, now: Instant, max_age: Duration) {
        let best = self.best_radio;
        let now_ns = self.nanos_since_first(now);
        let max_age_ns = u64::try_from(max_age.as_nanos()).unwrap_or(u64::MAX);
        exact_list::retain(&mut self.sightings, |s| {
            s.radio == best || now_ns.saturating_sub(s.last_seen_ns) <= max_age_ns
        });
    }

    fn best_sighting(&self) -> Option<&RadioSighting> {
        self.sightings.iter().find(|s| s.radio == self.best_radio)
    }

    /// The device's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Public or random, as the latest advert said.
    pub fn address_kind(&self) -> AddressKind {
        self.address_kind
    }

    /// Whether it accepts connections, when a radio said.
    pub fn connectable(&self) -> Option<bool> {
        self.connectable
    }

    /// Everything it advertised, merged.
    pub fn advert(&self) -> &MergedAdvert {
        &self.merged
    }

    /// Its zone relative to the best radio, once enough samples were seen.
    pub fn zone(&self) -> Option<Zone> {
        self.zone
    }

    /// Statistics of the best radio's RSSI readings.
    pub fn rssi_stats(&self) -> &RssiStats {
        &self.stats
    }

    /// The best radio's latest reading.
    pub fn last_rssi_dbm(&self) -> Option<i16> {
        self.best_sighting()?.last_rssi_dbm
    }

    /// The best radio's smoothed RSSI.
    pub fn smoothed_rssi_dbm(&self) -> Option<f32> {
        self.best_sighting()?.smoothed_rssi_dbm
    }

    /// The interval learner (see [`super::AdvertPipeline::learned_interval`]).
    pub fn interval(&self) -> &IntervalLearner {
        &self.interval
    }

    /// When it was first heard.
    pub fn first_seen(&self) -> Instant {
        self.first_seen
    }

    /// When any radio last heard it.
    pub fn last_seen(&self) -> Instant {
        self.last_seen
    }

    /// Heap bytes owned by this view, excluding its own box.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.merged.heap_bytes() + std::mem::size_of_val(&*self.sightings)
    }
}

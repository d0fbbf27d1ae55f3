//! Which radios heard this device, how loud (smoothed), and when.
//!
//! Radio choice scores each radio by the device's smoothed RSSI as that radio hears it, and
//! skips radios that have not heard it within the stale window. Each device actor keeps this
//! small table for itself from the advertisements the Supervisor forwards, so choosing a radio
//! needs no round trip.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::machine::RadioView;
use crate::device::radio_choice::Candidate;
use crate::model::{AddressKind, Advertisement, RadioId};

#[derive(Clone, Copy, Debug)]
struct Sighting {
    smoothed_rssi: f64,
    last_seen: Instant,
}

/// Per-radio sightings of one device.
#[derive(Clone, Debug)]
pub struct Sightings {
    alpha: f64,
    by_radio: BTreeMap<RadioId, Sighting>,
    last_heard: Option<Instant>,
    first_heard: Option<Instant>,
    /// As the device advertised it (None: not heard yet).
    address_kind: Option<AddressKind>,
    /// Whether its adverts say it accepts connections (None: no radio said).
    connectable: Option<bool>,
}

impl Sightings {
    /// Empty, smoothing with `alpha`.
    pub fn new(alpha: f64) -> Self {
        Self {
            alpha,
            by_radio: BTreeMap::new(),
            last_heard: None,
            first_heard: None,
            address_kind: None,
            connectable: None,
        }
    }

    /// Records one advertisement.
    pub fn record(&mut self, advert: &Advertisement) {
        let rssi = f64::from(advert.rssi_dbm);
        let alpha = self.alpha;
        self.by_radio
            .entry(advert.radio.clone())
            .and_modify(|s| {
                s.smoothed_rssi = alpha * rssi + (1.0 - alpha) * s.smoothed_rssi;
                s.last_seen = advert.seen_at;
            })
            .or_insert(Sighting {
                smoothed_rssi: rssi,
                last_seen: advert.seen_at,
            });
        self.last_heard = Some(
            self.last_heard
                .map_or(advert.seen_at, |t| t.max(advert.seen_at)),
        );
        self.first_heard.get_or_insert(advert.seen_at);
        self.address_kind = Some(advert.address_kind);
        if advert.connectable.is_some() {
            self.connectable = advert.connectable;
        }
    }

    /// Seeds what the merged advertisement (heard before the actor existed) says of the device.
    pub fn seed_advertised(&mut self, address_kind: AddressKind, connectable: Option<bool>) {
        self.address_kind.get_or_insert(address_kind);
        if self.connectable.is_none() {
            self.connectable = connectable;
        }
    }

    /// Seeds a radio's sighting from the advertisement pipeline (a device actor starting late).
    pub fn seed(&mut self, radio: &RadioId, smoothed_rssi_dbm: Option<f32>, last_seen: Instant) {
        let Some(rssi) = smoothed_rssi_dbm else {
            return;
        };
        self.by_radio.insert(
            radio.clone(),
            Sighting {
                smoothed_rssi: f64::from(rssi),
                last_seen,
            },
        );
        self.last_heard = Some(self.last_heard.map_or(last_seen, |t| t.max(last_seen)));
        self.first_heard = Some(self.first_heard.map_or(last_seen, |t| t.min(last_seen)));
    }

    /// When the device was first heard (by this actor or, seeded, by the pipeline).
    pub fn first_heard(&self) -> Option<Instant> {
        self.first_heard
    }

    /// When any radio last heard the device.
    pub fn last_heard(&self) -> Option<Instant> {
        self.last_heard
    }

    /// The address kind the device advertised with, once heard.
    pub fn address_kind(&self) -> Option<AddressKind> {
        self.address_kind
    }

    /// Whether its adverts say it accepts connections, when one said.
    pub fn connectable(&self) -> Option<bool> {
        self.connectable
    }

    /// Candidates for radio choice: every known radio that heard the device, with what the
    /// slot ledger says of it now.
    pub(crate) fn candidates(&self, radios: &dyn RadioView) -> Vec<Candidate> {
        self.by_radio
            .iter()
            .filter_map(|(radio, s)| {
                let facts = radios.facts(radio)?;
                Some(Candidate {
                    radio: radio.clone(),
                    smoothed_rssi: s.smoothed_rssi,
                    last_seen: s.last_seen,
                    up: facts.up,
                    free_slots: facts.free_slots,
                    in_flight: facts.in_flight,
                })
            })
            .collect()
    }
}

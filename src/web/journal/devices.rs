//! The devices view and the attempts view, from diagnostics samples and heard-device snapshots.
//!
//! Attempts are counted from each device's own counters (connections, failed attempts), so
//! none is lost between samples however fast it ran; what radios looked like for it is the
//! slot picture of the same sample.

use std::collections::{BTreeMap, VecDeque};

use crate::adverts::availability::{AvailabilityConfig, IntervalLearner};
use crate::classify::next_step;
use crate::device::retry::RetryPolicy;
use crate::device::state::{DeviceState, DeviceStatus};
use crate::model::{Address, RadioId};
use crate::supervisor::diagnostics::Diagnostics;
use crate::supervisor::heard::HeardDevice;
use crate::web::views::{AttemptRow, Considered, DeviceRow};

use super::Versioned;

/// Attempts kept for the attempts view.
pub const KEEP_ATTEMPTS: usize = 2000;

#[derive(Debug, Default)]
pub(super) struct DeviceTrack {
    pub row: Option<Versioned<DeviceRow>>,
    connections: u64,
    failed: u64,
    last_radio: Option<RadioId>,
    pub last_value: Option<String>,
    pub lagged: u64,
    learner: IntervalLearner,
    last_advert: Option<(RadioId, f64)>,
}

#[derive(Debug, Default)]
pub(super) struct DeviceHistory {
    pub tracks: BTreeMap<Address, DeviceTrack>,
    pub names: BTreeMap<Address, String>,
    pub attempts: VecDeque<Versioned<AttemptRow>>,
    next_attempt: usize,
    availability: AvailabilityConfig,
}

impl DeviceHistory {
    pub fn name(&self, address: &Address) -> String {
        self.names
            .get(address)
            .cloned()
            .unwrap_or_else(|| address.to_string())
    }

    /// An advert of `address` heard by `radio`: feeds the interval learner with the gaps on
    /// the device's best radio.
    pub fn advert(&mut self, at_s: f64, address: Address, radio: &RadioId) {
        let availability = self.availability;
        let track = self.tracks.entry(address).or_default();
        let best = track
            .row
            .as_ref()
            .and_then(|r| r.row.best_radio.clone())
            .unwrap_or_else(|| radio.clone());
        if &best != radio {
            return;
        }
        if let Some((last_radio, last_at)) = &track.last_advert {
            if last_radio == radio && at_s > *last_at {
                let gap = std::time::Duration::from_secs_f64(at_s - last_at);
                track.learner.record_gap(gap, &availability);
            }
        }
        track.last_advert = Some((radio.clone(), at_s));
    }

    pub fn observe(
        &mut self,
        at_s: f64,
        diagnostics: &Diagnostics,
        heard: &[HeardDevice],
        seq: &mut u64,
    ) {
        let heard: BTreeMap<Address, &HeardDevice> = heard.iter().map(|h| (h.address, h)).collect();
        let managed: BTreeMap<Address, &DeviceStatus> =
            diagnostics.devices.iter().map(|s| (s.address, s)).collect();
        let mut addresses: Vec<Address> = heard.keys().chain(managed.keys()).copied().collect();
        addresses.sort();
        addresses.dedup();
        for address in addresses {
            let status = managed.get(&address).copied();
            let heard = heard.get(&address).copied();
            if let Some(name) = heard.and_then(|h| h.name.clone()) {
                self.names.entry(address).or_insert(name);
            }
            if let Some(status) = status {
                self.count_attempts(at_s, status, heard, diagnostics, seq);
            }
            let row = self.row(at_s, address, status, heard);
            let track = self.tracks.entry(address).or_default();
            if track.row.as_ref().map(|r| &r.row) != Some(&row) {
                *seq += 1;
                track.row = Some(Versioned { seq: *seq, row });
            }
        }
    }

    fn row(
        &self,
        at_s: f64,
        address: Address,
        status: Option<&DeviceStatus>,
        heard: Option<&HeardDevice>,
    ) -> DeviceRow {
        let track = self.tracks.get(&address);
        let round = |dbm: Option<f32>| dbm.map(|v| v.round() as i32);
        let interval = track.and_then(|t| t.learner.learned(&self.availability));
        let gone_at_s = track.and_then(|t| t.last_advert.as_ref()).map(|(_, last)| {
            let timeout = track.map_or(self.availability.fallback_timeout, |t| {
                t.learner.timeout(&self.availability)
            });
            last + timeout.as_secs_f64()
        });
        let (state, radio, backoff_until_s) = match status.map(|s| &s.state) {
            None => ("heard", None, None),
            Some(state) => (
                state.label(),
                state_radio(state),
                match state {
                    DeviceState::Backoff { remaining, .. } => Some(at_s + remaining.as_secs_f64()),
                    _ => None,
                },
            ),
        };
        DeviceRow {
            address,
            name: self.name(&address),
            managed: status.is_some(),
            state,
            radio,
            rssi: heard.map_or_else(Vec::new, |h| {
                h.radios
                    .iter()
                    .map(|(radio, dbm)| (radio.clone(), round(*dbm)))
                    .collect()
            }),
            best_radio: heard.and_then(|h| h.best_radio.clone()),
            best_rssi: heard.and_then(|h| round(h.smoothed_rssi_dbm)),
            zone: heard.and_then(|h| h.zone),
            interval_s: interval.map(|d| d.as_secs_f64()),
            gone_at_s,
            subscribers: status.map_or(0, |s| s.subscribers),
            lagged: track.map_or(0, |t| t.lagged),
            last_value: track.and_then(|t| t.last_value.clone()),
            backoff_until_s,
            connections: status.map_or(0, |s| s.connections),
        }
    }

    /// New attempts from the growth of the device's counters since the last sample.
    fn count_attempts(
        &mut self,
        at_s: f64,
        status: &DeviceStatus,
        heard: Option<&HeardDevice>,
        diagnostics: &Diagnostics,
        seq: &mut u64,
    ) {
        let name = self.name(&status.address);
        let track = self.tracks.entry(status.address).or_default();
        if let Some(radio) = state_radio(&status.state) {
            track.last_radio = Some(radio);
        }
        let ok = status.connections.saturating_sub(track.connections);
        let failed = status.failed_attempts.saturating_sub(track.failed);
        track.connections = status.connections;
        track.failed = status.failed_attempts;
        let radio = track.last_radio.clone();
        let attempt = match &status.state {
            DeviceState::Connecting { attempt, .. } => *attempt,
            _ => 0,
        };
        let failure = status.last_error.as_ref();
        let next_retry_s = match &status.state {
            DeviceState::Backoff { remaining, .. } => Some(at_s + remaining.as_secs_f64()),
            _ => None,
        };
        let considered = consider(diagnostics, heard, radio.as_ref());
        let outcomes = std::iter::repeat_n(true, ok as usize)
            .chain(std::iter::repeat_n(false, failed as usize));
        for connected in outcomes {
            let (class, explanation) = match (connected, failure) {
                (true, _) => (
                    "ok",
                    "connected; keeps the link and resubscribes".to_string(),
                ),
                (false, Some((kind, _))) => (
                    kind.as_str(),
                    format!(
                        "{kind}: bluefleet {} (backoff from {:.2} s, doubling, ±50% jitter)",
                        next_step(*kind),
                        RetryPolicy::default().base(*kind).as_secs_f64()
                    ),
                ),
                (false, None) => ("generic", next_step(crate::ErrorKind::Generic).to_string()),
            };
            *seq += 1;
            let row = AttemptRow {
                id: self.next_attempt,
                at_s,
                device: status.address,
                name: name.clone(),
                radio: radio.clone(),
                attempt,
                outcome: if connected { "connected" } else { "failed" },
                class,
                error: (!connected)
                    .then(|| failure.map(|(_, text)| text.clone()))
                    .flatten(),
                explanation,
                next_retry_s: (!connected).then_some(next_retry_s).flatten(),
                considered: considered.clone(),
            };
            self.next_attempt += 1;
            self.attempts.push_back(Versioned { seq: *seq, row });
            if self.attempts.len() > KEEP_ATTEMPTS {
                self.attempts.pop_front();
            }
        }
    }
}

fn state_radio(state: &DeviceState) -> Option<RadioId> {
    match state {
        DeviceState::Connected { radio } | DeviceState::Connecting { radio, .. } => {
            Some(radio.clone())
        }
        _ => None,
    }
}

/// Each radio as it stood for this device in the sample: chosen, or why not.
fn consider(
    diagnostics: &Diagnostics,
    heard: Option<&HeardDevice>,
    chosen: Option<&RadioId>,
) -> Vec<Considered> {
    diagnostics
        .radios
        .iter()
        .map(|radio| {
            let rssi = heard.and_then(|h| {
                h.radios
                    .iter()
                    .find(|(r, _)| r == &radio.radio)
                    .map(|(_, dbm)| *dbm)
            });
            let used = radio.held_by.len() + radio.foreign;
            let verdict = if Some(&radio.radio) == chosen {
                "chosen".to_string()
            } else if !radio.up {
                "down".to_string()
            } else if rssi.is_none() {
                "did not hear it".to_string()
            } else if used >= radio.slot_limit {
                format!("no free slot ({used}/{})", radio.slot_limit)
            } else {
                match rssi.flatten() {
                    Some(dbm) => format!("heard it weaker ({dbm:.0} dBm)"),
                    None => "heard it weaker".to_string(),
                }
            };
            Considered {
                radio: radio.radio.clone(),
                verdict,
            }
        })
        .collect()
}

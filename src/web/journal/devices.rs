//! The devices view, from diagnostics samples and heard-device snapshots: state, radio, RSSI
//! per radio, the interval learned from its adverts, decoded readings, backoff.

use std::collections::BTreeMap;

use crate::adverts::availability::{AvailabilityConfig, IntervalLearner};
use crate::device::state::{DeviceState, DeviceStatus};
use crate::model::{Address, RadioId};
use crate::supervisor::diagnostics::Diagnostics;
use crate::supervisor::heard::HeardDevice;
use crate::web::views::DeviceRow;

use super::Versioned;

#[derive(Debug, Default)]
pub(super) struct DeviceTrack {
    pub row: Option<Versioned<DeviceRow>>,
    pub last_value: Option<String>,
    pub lagged: u64,
    learner: IntervalLearner,
    last_advert: Option<(RadioId, f64)>,
}

#[derive(Debug, Default)]
pub(super) struct DeviceHistory {
    pub tracks: BTreeMap<Address, DeviceTrack>,
    pub names: BTreeMap<Address, String>,
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
            readings: heard.and_then(|h| {
                h.readings.as_ref().map(ToString::to_string).or_else(|| {
                    h.decode_error
                        .as_ref()
                        .map(|err| format!("does not decode: {err}"))
                })
            }),
            backoff_until_s,
            connections: status.map_or(0, |s| s.connections),
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

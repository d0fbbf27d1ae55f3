//! Who can reach whom right now: a device's sleep state, its position and its mean RSSI at a
//! radio, judged against the hearing threshold.
//!
//! Owns the reachability questions the connect path, the link task's supervision check and
//! the advert loop all ask, so they agree on when a device is gone. Reads the world's route
//! and sleep windows plus the control handle's overrides (asleep, out of range, moved).

use std::time::Duration;

use super::rf;
use super::state::{Shared, State};

impl State {
    /// Whether the device is awake (not in a sleep window, not put to sleep).
    pub(crate) fn awake(&self, shared: &Shared, device: usize, at: Duration) -> bool {
        let (Some(spec), Some(state)) =
            (shared.world.devices.get(device), self.devices.get(device))
        else {
            return false;
        };
        !state.forced_asleep && !spec.sleeps.iter().any(|w| w.contains(at))
    }

    /// The device's mean RSSI at the radio now (no noise), or `None` if it is out of range
    /// by decree.
    pub(crate) fn mean_rssi(
        &self,
        shared: &Shared,
        device: usize,
        radio: usize,
        at: Duration,
    ) -> Option<f64> {
        let spec = shared.world.devices.get(device)?;
        let state = self.devices.get(device)?;
        if state.out_of_range || spec.out_of_range.iter().any(|w| w.contains(at)) {
            return None;
        }
        let here = state
            .moved_to
            .unwrap_or_else(|| rf::position_at(&spec.route, at));
        let radio_at = shared.world.radios.get(radio)?.position;
        Some(rf::mean_rssi(
            &shared.world.rf,
            spec.tx_power_dbm,
            here.distance_to(radio_at),
        ))
    }

    /// Whether a link or connection between device and radio can exist now.
    pub(crate) fn reachable(
        &self,
        shared: &Shared,
        device: usize,
        radio: usize,
        at: Duration,
    ) -> bool {
        let threshold = f64::from(shared.world.rf.hearing_threshold_dbm);
        self.radios.get(radio).is_some_and(|r| r.up)
            && self.awake(shared, device, at)
            && self
                .mean_rssi(shared, device, radio, at)
                .is_some_and(|rssi| rssi >= threshold)
    }
}

//! The slot timeline's history: leases opened and closed, attempt ticks, and the two alarms.
//!
//! Fed one diagnostics sample at a time. A lease opens when a radio first lists a device among
//! its holders and closes when it no longer does; ticks come from the per-radio gate counters'
//! growth between samples, so their count always equals the counters (nothing is inferred).

use std::collections::BTreeMap;

use crate::adapter::gate::GateStats;
use crate::device::state::{DeviceState, DeviceStatus};
use crate::model::{Address, RadioId};
use crate::supervisor::diagnostics::Diagnostics;
use crate::web::views::{Alarm, Lease, Tick};

use super::Versioned;

/// A slot held this long with no connection (or attempt) of its device behind it is stuck.
pub const STUCK_AFTER_S: f64 = 30.0;

/// History is kept this long.
pub const KEEP_S: f64 = 24.0 * 3600.0;

/// The tick classes, in the gate counters' order after `ok`.
pub const TICK_CLASSES: [&str; 5] = ["ok", "not-found", "out-of-slots", "aborted", "generic"];

#[derive(Debug, Default)]
pub(super) struct SlotHistory {
    pub leases: Vec<Versioned<Lease>>,
    open: BTreeMap<(RadioId, Address), usize>,
    pub ticks: Vec<Versioned<Tick>>,
    pub alarms: Vec<Versioned<Alarm>>,
    open_alarms: BTreeMap<(&'static str, RadioId, Address), usize>,
    /// Since when each held slot has had no connection behind it.
    unbacked_since: BTreeMap<(RadioId, Address), f64>,
    gates: BTreeMap<RadioId, GateStats>,
    next_lease: usize,
    next_alarm: usize,
    leases_total: usize,
}

impl SlotHistory {
    pub fn observe(&mut self, at_s: f64, diagnostics: &Diagnostics, seq: &mut u64) {
        self.track_leases(at_s, diagnostics, seq);
        self.track_ticks(at_s, diagnostics, seq);
        self.track_alarms(at_s, diagnostics, seq);
        self.prune(at_s);
    }

    /// Leases ever opened (pruned ones included).
    pub fn leases_total(&self) -> usize {
        self.leases_total
    }

    fn track_leases(&mut self, at_s: f64, diagnostics: &Diagnostics, seq: &mut u64) {
        let mut held = BTreeMap::new();
        for radio in &diagnostics.radios {
            for device in &radio.held_by {
                held.insert((radio.radio.clone(), *device), ());
            }
        }
        let ended: Vec<_> = self
            .open
            .keys()
            .filter(|key| !held.contains_key(*key))
            .cloned()
            .collect();
        for key in ended {
            if let Some(index) = self.open.remove(&key) {
                *seq += 1;
                let lease = &mut self.leases[index];
                lease.seq = *seq;
                lease.row.end_s = Some(at_s);
            }
        }
        for (radio, device) in held.into_keys() {
            if self.open.contains_key(&(radio.clone(), device)) {
                continue;
            }
            *seq += 1;
            let lease = Lease {
                id: self.next_lease,
                radio: radio.clone(),
                device,
                start_s: at_s,
                end_s: None,
            };
            self.next_lease += 1;
            self.leases_total += 1;
            self.open.insert((radio, device), self.leases.len());
            self.leases.push(Versioned {
                seq: *seq,
                row: lease,
            });
        }
    }

    fn track_ticks(&mut self, at_s: f64, diagnostics: &Diagnostics, seq: &mut u64) {
        for radio in &diagnostics.radios {
            let before = self.gates.get(&radio.radio).cloned().unwrap_or_default();
            let now = &radio.connects;
            let mut grown = [0u64; 5];
            grown[0] = now.successes.saturating_sub(before.successes);
            for (class, count) in now.failures.iter().enumerate() {
                grown[class + 1] = count.saturating_sub(before.failures[class]);
            }
            for (class, count) in grown.into_iter().enumerate() {
                for _ in 0..count {
                    *seq += 1;
                    let tick = Tick {
                        radio: radio.radio.clone(),
                        at_s,
                        class: TICK_CLASSES[class],
                    };
                    self.ticks.push(Versioned {
                        seq: *seq,
                        row: tick,
                    });
                }
            }
            self.gates.insert(radio.radio.clone(), now.clone());
        }
    }

    fn track_alarms(&mut self, at_s: f64, diagnostics: &Diagnostics, seq: &mut u64) {
        let states: BTreeMap<Address, &DeviceStatus> =
            diagnostics.devices.iter().map(|s| (s.address, s)).collect();
        let mut active: Vec<(&'static str, RadioId, Address, f64)> = Vec::new();
        let mut first_radio: BTreeMap<Address, &RadioId> = BTreeMap::new();
        let mut unbacked = BTreeMap::new();
        for radio in &diagnostics.radios {
            for device in &radio.held_by {
                if first_radio.insert(*device, &radio.radio).is_some() {
                    active.push(("double-holder", radio.radio.clone(), *device, at_s));
                }
                let backed = states
                    .get(device)
                    .is_some_and(|status| backs(&status.state, &radio.radio));
                if !backed {
                    let key = (radio.radio.clone(), *device);
                    let since = self.unbacked_since.get(&key).copied().unwrap_or(at_s);
                    if at_s - since >= STUCK_AFTER_S {
                        active.push(("stuck-slot", radio.radio.clone(), *device, since));
                    }
                    unbacked.insert(key, since);
                }
            }
        }
        self.unbacked_since = unbacked;
        let mut still = BTreeMap::new();
        for (kind, radio, device, since) in active {
            let key = (kind, radio.clone(), device);
            let index = match self.open_alarms.remove(&key) {
                Some(index) => index,
                None => {
                    *seq += 1;
                    let alarm = Alarm {
                        id: self.next_alarm,
                        kind,
                        radio,
                        device,
                        since_s: since,
                        until_s: None,
                    };
                    self.next_alarm += 1;
                    self.alarms.push(Versioned {
                        seq: *seq,
                        row: alarm,
                    });
                    self.alarms.len() - 1
                }
            };
            still.insert(key, index);
        }
        for index in std::mem::replace(&mut self.open_alarms, still).into_values() {
            *seq += 1;
            self.alarms[index].seq = *seq;
            self.alarms[index].row.until_s = Some(at_s);
        }
    }

    /// Drops what ended more than a day ago; open leases and alarms stay.
    fn prune(&mut self, at_s: f64) {
        let horizon = at_s - KEEP_S;
        let old_ticks = self.ticks.partition_point(|t| t.row.at_s < horizon);
        self.ticks.drain(..old_ticks);
        let old = |end: Option<f64>| end.is_some_and(|end| end < horizon);
        if self.leases.first().is_some_and(|l| old(l.row.end_s)) {
            self.leases.retain(|l| !old(l.row.end_s));
            self.open = self
                .leases
                .iter()
                .enumerate()
                .filter(|(_, l)| l.row.end_s.is_none())
                .map(|(index, l)| ((l.row.radio.clone(), l.row.device), index))
                .collect();
        }
        if self.alarms.first().is_some_and(|a| old(a.row.until_s)) {
            self.alarms.retain(|a| !old(a.row.until_s));
            self.open_alarms = self
                .alarms
                .iter()
                .enumerate()
                .filter(|(_, a)| a.row.until_s.is_none())
                .map(|(index, a)| ((a.row.kind, a.row.radio.clone(), a.row.device), index))
                .collect();
        }
    }
}

/// Whether a device's state accounts for a slot it holds on `radio`.
fn backs(state: &DeviceState, radio: &RadioId) -> bool {
    match state {
        DeviceState::Connected { radio: on } | DeviceState::Connecting { radio: on, .. } => {
            on == radio
        }
        _ => false,
    }
}

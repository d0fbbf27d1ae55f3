//! The live page's data model, sans IO: fleet samples and adverts in, view rows and deltas out.
//!
//! A driver (the demo, the hub daemon) feeds the journal a [`Diagnostics`] sample and the heard
//! devices about once a second, plus every advert and value as they arrive. Every row that
//! changes gets the next sequence number, so `update(since)` answers "what changed since the
//! client's last update" — the SSE stream sends only that, however many samples it coalesced.
//! The same journal draws the SVG report, so a test reads exactly what a person sees.

mod adverts;
mod attempts;
mod devices;
mod slots;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::backend::ScanModeReport;
use crate::device::attempt_log::AttemptEvent;
use crate::model::{Address, Advertisement, RadioId};
use crate::supervisor::diagnostics::Diagnostics;
use crate::supervisor::heard::HeardDevice;
use crate::web::views::Losses;
use crate::web::views::{
    AdvertRow, Alarm, AttemptRow, ClientRow, DeviceRow, Header, Holder, Lease, RadioRow,
    RefusalRow, Tick,
};

pub use slots::{KEEP_S, STUCK_AFTER_S, TICK_CLASSES};

/// A radio silent this long while up shows as `quiet`.
pub const QUIET_AFTER_S: f64 = 10.0;

/// A row with the sequence number of its last change.
#[derive(Clone, Debug)]
pub(crate) struct Versioned<T> {
    pub seq: u64,
    pub row: T,
}

/// Everything that changed after a sequence number (everything, after 0).
#[derive(Clone, Debug, Serialize)]
pub struct Update {
    /// The journal's sequence number: pass it back as `since`.
    pub seq: u64,
    /// Fleet-wide figures.
    pub header: Header,
    /// Every radio (a handful of rows, sent whole), when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radios: Option<Vec<RadioRow>>,
    /// Devices whose row changed.
    pub devices: Vec<DeviceRow>,
    /// Leases opened or closed.
    pub leases: Vec<Lease>,
    /// New attempt ticks.
    pub ticks: Vec<Tick>,
    /// Alarms raised or cleared.
    pub alarms: Vec<Alarm>,
    /// New attempts.
    pub attempts: Vec<AttemptRow>,
    /// The newest adverts (at most `adverts::PER_UPDATE`).
    pub adverts: Vec<AdvertRow>,
    /// The proxy's clients now (sent whole: a handful), when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<ClientRow>>,
    /// The proxy's recent refused handshakes, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Vec<RefusalRow>>,
}

/// RSSI per radio of one device at one time, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RssiSample {
    /// When.
    pub at_s: f64,
    /// Rounded smoothed RSSI per radio, dBm.
    pub rssi: Vec<(RadioId, Option<i32>)>,
    /// Its zone then.
    pub zone: Option<crate::adverts::Zone>,
}

/// The live page's whole model.
#[derive(Debug, Default)]
pub struct Journal {
    seq: u64,
    now_s: f64,
    finished: bool,
    commands: bool,
    devices_heard: usize,
    adverts_ingested: u64,
    losses: Losses,
    radios: Vec<RadioRow>,
    /// When the radios rows last changed.
    radios_seq: u64,
    slots: slots::SlotHistory,
    devices: devices::DeviceHistory,
    attempts: attempts::AttemptLog,
    adverts: adverts::AdvertMonitor,
    history: BTreeMap<Address, Vec<RssiSample>>,
    /// Whether a proxy is served (then radios count the clients they serve).
    proxying: bool,
    clients: Vec<ClientRow>,
    refused: Vec<RefusalRow>,
    /// When the clients or refusals last changed.
    clients_seq: u64,
}

impl Journal {
    /// An empty journal; `names` labels devices the radios have not named.
    pub fn new(names: impl IntoIterator<Item = (Address, String)>) -> Self {
        let mut journal = Self::default();
        journal.devices.names = names.into_iter().collect();
        journal
    }

    /// Keeps RSSI and zone history of these devices (for the report).
    pub fn follow_history(&mut self, devices: impl IntoIterator<Item = Address>) {
        for device in devices {
            self.history.entry(device).or_default();
        }
    }

    /// Says whether the page may offer commands.
    pub fn set_commands(&mut self, allowed: bool) {
        self.commands = allowed;
        self.seq += 1;
    }

    /// Marks the run finished: the page keeps showing the last state.
    pub fn finish(&mut self) {
        self.finished = true;
        self.seq += 1;
    }

    /// One sample of the fleet at `at_s` seconds since start.
    pub fn observe(&mut self, at_s: f64, diagnostics: &Diagnostics, heard: &[HeardDevice]) {
        self.now_s = at_s;
        self.devices_heard = diagnostics.devices_heard;
        self.adverts_ingested = diagnostics.adverts_ingested;
        self.losses = Losses {
            adverts_dropped: diagnostics.radios.iter().map(|r| r.adverts_dropped).sum(),
            notifications_dropped: diagnostics.notifications_dropped,
            device_adverts_dropped: diagnostics.device_adverts_dropped,
            watcher_adverts_lost: diagnostics.watchers.lost,
            feed_lost: diagnostics.feed_lost,
        };
        self.slots.observe(at_s, diagnostics, &mut self.seq);
        self.devices
            .observe(at_s, diagnostics, heard, &mut self.seq);
        self.adverts.sample_rates(at_s);
        let radios: Vec<RadioRow> = diagnostics
            .radios
            .iter()
            .map(|radio| {
                let age = self.adverts.last_age(&radio.radio, at_s);
                let recovering = radio.recovery.as_ref().filter(|r| r.steps_this_episode > 0);
                let state = match (radio.up, age) {
                    (false, _) => "down",
                    _ if recovering.is_some() => "recovering",
                    (true, Some(age)) if age <= QUIET_AFTER_S => "scanning",
                    (true, None) if at_s <= QUIET_AFTER_S => "scanning",
                    (true, _) => "quiet",
                };
                RadioRow {
                    radio: radio.radio.clone(),
                    kind: radio.kind,
                    state,
                    slots_used: radio.held_by.len(),
                    slots_foreign: radio.foreign,
                    slot_limit: radio.slot_limit,
                    holders: radio
                        .held_by
                        .iter()
                        .map(|address| Holder {
                            address: *address,
                            name: self.devices.name(address),
                        })
                        .collect(),
                    connect_queue: radio.connects.in_flight,
                    adverts_per_s: self.adverts.rate(&radio.radio),
                    last_advert_age_s: age,
                    attempts: radio.connects.attempts,
                    clients_served: self.served(&radio.radio),
                    recovery: radio
                        .recovery
                        .as_ref()
                        .map(|r| recovery_words(r, recovering.is_some())),
                    scan_mode: radio.scan_mode.clone(),
                    scan_mode_words: radio.scan_mode.as_ref().map(ScanModeReport::in_words),
                    adverts_dropped: radio.adverts_dropped,
                }
            })
            .collect();
        self.record_history(at_s, heard);
        self.seq += 1;
        if radios != self.radios {
            self.radios = radios;
            self.radios_seq = self.seq;
        }
    }

    /// The proxy's clients and refusals now; a driver serving `bluefleet proxy` calls this
    /// with every sample. A change gets a sequence number; the same list again does not.
    pub fn clients(&mut self, clients: Vec<ClientRow>, refused: Vec<RefusalRow>) {
        self.proxying = true;
        if clients == self.clients && refused == self.refused {
            return;
        }
        self.clients = clients;
        self.refused = refused;
        let served: Vec<Option<usize>> =
            self.radios.iter().map(|r| self.served(&r.radio)).collect();
        for (row, served) in self.radios.iter_mut().zip(served) {
            row.clients_served = served;
        }
        self.seq += 1;
        self.clients_seq = self.seq;
        self.radios_seq = self.seq;
    }

    /// One of the fleet's attempt events.
    pub fn attempt(&mut self, event: &AttemptEvent) {
        let names = &self.devices;
        self.attempts
            .event(event, |address| names.name(address), &mut self.seq);
    }

    /// Clients served through `radio`: every client in aggregate mode, its own proxy's in
    /// per-radio mode.
    fn served(&self, radio: &RadioId) -> Option<usize> {
        self.proxying.then(|| {
            self.clients
                .iter()
                .filter(|c| c.radio.as_ref().is_none_or(|r| r == radio))
                .count()
        })
    }

    /// The proxy's clients view.
    pub fn client_rows(&self) -> &[ClientRow] {
        &self.clients
    }

    /// The proxy's recent refusals.
    pub fn refusals(&self) -> &[RefusalRow] {
        &self.refused
    }

    /// One advert, heard `at_s` seconds since start.
    pub fn advert(&mut self, at_s: f64, advert: &Advertisement) {
        self.devices.advert(at_s, advert.address, &advert.radio);
        self.seq += 1;
        self.adverts.push(self.seq, at_s, advert);
    }

    /// A device's latest value, as text.
    pub fn value(&mut self, device: Address, text: String) {
        self.devices.tracks.entry(device).or_default().last_value = Some(text);
    }

    /// Values a device's subscriber missed.
    pub fn lagged(&mut self, device: Address, missed: u64) {
        self.devices.tracks.entry(device).or_default().lagged += missed;
    }

    /// The sequence number of the last change.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Seconds since start at the last sample.
    pub fn now_s(&self) -> f64 {
        self.now_s
    }

    /// The header figures.
    pub fn header(&self) -> Header {
        Header {
            now_s: self.now_s,
            devices_heard: self.devices_heard,
            adverts_ingested: self.adverts_ingested,
            finished: self.finished,
            commands: self.commands,
            attempt_events_missed: self.attempts.missed,
            losses: self.losses.clone(),
        }
    }

    /// The radios view.
    pub fn radios(&self) -> &[RadioRow] {
        &self.radios
    }

    /// Whether a radio of that name is in the view.
    pub fn has_radio(&self, name: &str) -> bool {
        self.radios.iter().any(|r| r.radio.as_str() == name)
    }

    /// Whether a device of that address is in the view.
    pub fn has_device(&self, address: &Address) -> bool {
        self.devices.tracks.contains_key(address)
    }

    /// The devices view, by address.
    pub fn devices(&self) -> Vec<DeviceRow> {
        self.devices
            .tracks
            .values()
            .filter_map(|t| t.row.as_ref().map(|r| r.row.clone()))
            .collect()
    }

    /// Leases that overlap the last `window_s` seconds.
    pub fn leases(&self, window_s: f64) -> Vec<Lease> {
        let from = self.now_s - window_s;
        self.slots
            .leases
            .iter()
            .filter(|l| l.row.end_s.is_none_or(|end| end >= from))
            .map(|l| l.row.clone())
            .collect()
    }

    /// Ticks of the last `window_s` seconds.
    pub fn ticks(&self, window_s: f64) -> Vec<Tick> {
        let from = self.now_s - window_s;
        let first = self.slots.ticks.partition_point(|t| t.row.at_s < from);
        self.slots.ticks[first..]
            .iter()
            .map(|t| t.row.clone())
            .collect()
    }

    /// Alarms that overlap the last `window_s` seconds.
    pub fn alarms(&self, window_s: f64) -> Vec<Alarm> {
        let from = self.now_s - window_s;
        self.slots
            .alarms
            .iter()
            .filter(|a| a.row.until_s.is_none_or(|until| until >= from))
            .map(|a| a.row.clone())
            .collect()
    }

    /// Leases ever opened (including those older than a day).
    pub fn leases_total(&self) -> usize {
        self.slots.leases_total()
    }

    /// The attempts view, oldest first.
    pub fn attempts(&self) -> Vec<AttemptRow> {
        self.attempts.rows.iter().map(|a| a.row.clone()).collect()
    }

    /// The advert monitor, oldest first, those whose address or name contains `filter`
    /// (case-insensitive).
    pub fn adverts(&self, filter: &str) -> Vec<AdvertRow> {
        self.adverts
            .matching(filter, |address| self.devices.name(address))
    }

    /// The followed devices' RSSI history.
    pub fn history(&self) -> &BTreeMap<Address, Vec<RssiSample>> {
        &self.history
    }

    /// A device's name (its address when it has none).
    pub fn name(&self, address: &Address) -> String {
        self.devices.name(address)
    }

    /// What changed after `since`; pass back the returned `seq` next time.
    pub fn update(&self, since: u64) -> Update {
        let newer = |seq: u64| seq > since;
        let first_tick = self.slots.ticks.partition_point(|t| t.seq <= since);
        Update {
            seq: self.seq,
            header: self.header(),
            radios: (self.radios_seq > since).then(|| self.radios.clone()),
            devices: self
                .devices
                .tracks
                .values()
                .filter_map(|t| t.row.as_ref())
                .filter(|r| newer(r.seq))
                .map(|r| r.row.clone())
                .collect(),
            leases: changed(&self.slots.leases, since),
            ticks: self.slots.ticks[first_tick..]
                .iter()
                .map(|t| t.row.clone())
                .collect(),
            alarms: changed(&self.slots.alarms, since),
            attempts: self
                .attempts
                .rows
                .iter()
                .filter(|a| newer(a.seq))
                .map(|a| a.row.clone())
                .collect(),
            adverts: self.adverts.newer_than(since),
            clients: (self.clients_seq > since).then(|| self.clients.clone()),
            refused: (self.clients_seq > since).then(|| self.refused.clone()),
        }
    }

    fn record_history(&mut self, at_s: f64, heard: &[HeardDevice]) {
        if self.history.is_empty() {
            return;
        }
        for device in heard {
            let Some(series) = self.history.get_mut(&device.address) else {
                continue;
            };
            let sample = RssiSample {
                at_s,
                rssi: device
                    .radios
                    .iter()
                    .map(|(radio, dbm)| (radio.clone(), dbm.map(|v| v.round() as i32)))
                    .collect(),
                zone: device.zone,
            };
            let same = series
                .last()
                .is_some_and(|last| last.rssi == sample.rssi && last.zone == sample.zone);
            if !same {
                series.push(sample);
            }
        }
    }
}

/// What the radio watchdog did, in words: the step it is on, or how often it helped.
fn recovery_words(report: &crate::watchdog::RecoveryReport, recovering: bool) -> String {
    let ladder: Vec<String> = report.ladder.iter().map(ToString::to_string).collect();
    if recovering {
        let step = report.steps_this_episode.min(ladder.len().max(1));
        format!(
            "step {step} of {} ({})",
            ladder.len(),
            ladder.get(step - 1).map_or("?", String::as_str)
        )
    } else {
        format!(
            "{} steps, {} recoveries (ladder: {})",
            report.steps_taken,
            report.recoveries,
            ladder.join(" → ")
        )
    }
}

fn changed<T: Clone>(rows: &[Versioned<T>], since: u64) -> Vec<T> {
    rows.iter()
        .filter(|r| r.seq > since)
        .map(|r| r.row.clone())
        .collect()
}

#[cfg(test)]
mod tests;

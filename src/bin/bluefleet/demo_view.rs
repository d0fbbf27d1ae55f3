//! What the demo shows: the live frame (radios, devices, recent events) and the summary.
//!
//! Kept apart from the demo's driver so the driver reads as "what happens" and this file as
//! "what it looks like". On a terminal each frame redraws in place, with colour; piped, the
//! demo prints only event lines and the summary, so logs stay readable.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

use bluefleet::fleet::Diagnostics;
use bluefleet::fleet::{DeviceState, DeviceStatus, WaitReason};
use bluefleet::sim::Simulation;
use bluefleet::{Address, Fleet};
use serde::Serialize;
use tokio::time::Instant;
use uuid::Uuid;

const EVENT_LINES: usize = 10;

#[derive(Debug, Default)]
struct DeviceRow {
    name: String,
    keep_connected: bool,
    last_value: String,
    notifications: u64,
    previous_state: Option<&'static str>,
}

/// Everything the demo accumulates while it runs.
#[derive(Debug)]
pub struct DemoState {
    world: String,
    seed: u64,
    started: Instant,
    tty: bool,
    quiet: bool,
    devices: BTreeMap<Address, DeviceRow>,
    events: VecDeque<String>,
    notifications: u64,
    polls_ok: u64,
    polls_failed: u64,
    slot_seconds: u64,
    peak_slots: usize,
}

impl DemoState {
    pub fn new(simulation: &Simulation, world: &Path, seed: u64, quiet: bool) -> Self {
        let devices = simulation
            .world()
            .devices
            .iter()
            .map(|spec| {
                let row = DeviceRow {
                    name: spec
                        .name
                        .clone()
                        .unwrap_or_else(|| spec.address.to_string()),
                    keep_connected: spec.keep_connected,
                    last_value: "—".into(),
                    ..DeviceRow::default()
                };
                (spec.address, row)
            })
            .collect();
        Self {
            world: world.display().to_string(),
            seed,
            started: Instant::now(),
            tty: crate::terminal::stdout_is_rich() && !quiet,
            quiet,
            devices,
            events: VecDeque::new(),
            notifications: 0,
            polls_ok: 0,
            polls_failed: 0,
            slot_seconds: 0,
            peak_slots: 0,
        }
    }

    fn clock(&self) -> String {
        let secs = self.started.elapsed().as_secs();
        format!("{:02}:{:02}", secs / 60, secs % 60)
    }

    fn name(&self, address: &Address) -> String {
        self.devices
            .get(address)
            .map_or_else(|| address.to_string(), |d| d.name.clone())
    }

    /// Records a line in the event log (and prints it when not drawing frames).
    pub fn event(&mut self, text: String) {
        let line = format!("{}  {text}", self.clock());
        if !self.tty && !self.quiet {
            println!("{line}");
        }
        self.events.push_back(line);
        while self.events.len() > EVENT_LINES {
            self.events.pop_front();
        }
    }

    pub fn device_event(&mut self, address: Address, text: String) {
        let name = self.name(&address);
        self.event(format!("{name}: {text}"));
    }

    pub fn notification(&mut self, address: Address, characteristic: Uuid, value: &[u8]) {
        self.notifications += 1;
        if let Some(row) = self.devices.get_mut(&address) {
            row.notifications += 1;
            row.last_value = describe(characteristic, value);
        }
    }

    pub fn status_changed(&mut self, status: &DeviceStatus) {
        let label = status.state.label();
        let previous = self
            .devices
            .get_mut(&status.address)
            .and_then(|row| row.previous_state.replace(label));
        if previous == Some(label) {
            return;
        }
        let text = match &status.state {
            DeviceState::Connected { radio } => format!("connected via {radio}"),
            DeviceState::Backoff {
                remaining,
                after: Some(kind),
            } => {
                let why = status
                    .last_error
                    .as_ref()
                    .map_or(String::new(), |(_, text)| format!(": {text}"));
                format!("{kind}{why} → retry in {:.1}s", remaining.as_secs_f64())
            }
            DeviceState::Backoff {
                remaining,
                after: None,
            } => {
                format!("reconnecting in {:.1}s", remaining.as_secs_f64())
            }
            DeviceState::Waiting {
                reason: WaitReason::Slot,
            } => "waiting for a free slot".into(),
            _ => return,
        };
        self.device_event(status.address, text);
    }

    pub fn polled(
        &mut self,
        address: Address,
        characteristic: Uuid,
        outcome: bluefleet::Result<bytes::Bytes>,
    ) {
        match outcome {
            Ok(value) => {
                self.polls_ok += 1;
                if let Some(row) = self.devices.get_mut(&address) {
                    row.last_value = describe(characteristic, &value);
                }
            }
            Err(err) => {
                self.polls_failed += 1;
                self.device_event(address, format!("on-demand read failed: {err}"));
            }
        }
    }

    /// Called once per virtual second.
    pub fn sample(&mut self, fleet: &Fleet) {
        let held: usize = fleet.slot_usage().iter().map(|u| u.held_by.len()).sum();
        self.slot_seconds += held as u64;
        self.peak_slots = self.peak_slots.max(held);
    }

    pub fn draw(&self, diagnostics: &Diagnostics, second: u64, total: u64, speed: f64) {
        if !self.tty {
            return;
        }
        let mut out = String::from("\x1b[H\x1b[2J");
        let pace = if speed > 0.0 {
            format!("×{speed}")
        } else {
            "max speed".into()
        };
        let _ = writeln!(
            out,
            "\x1b[1mbluefleet demo\x1b[0m  {}  seed {}  t={}/{}  ({pace})\n",
            self.world,
            self.seed,
            mmss(second),
            mmss(total)
        );
        let _ = writeln!(
            out,
            "\x1b[1m{:<16} {:<6} {:<14} {:>8} {:>6}  failures nf/oos/ab/gen\x1b[0m",
            "RADIO", "KIND", "SLOTS", "ATTEMPTS", "OK"
        );
        for radio in &diagnostics.radios {
            let used = radio.held_by.len() + radio.foreign;
            let bar: String = (0..radio.slot_limit)
                .map(|i| if i < used { '█' } else { '░' })
                .collect();
            let kind = if radio.kind == bluefleet::backend::RadioKind::EsphomeProxy {
                "proxy"
            } else {
                "local"
            };
            let up = if radio.up { "" } else { " \x1b[31mDOWN\x1b[0m" };
            let f = radio.connects.failures;
            let _ = writeln!(
                out,
                "{:<16} {:<6} {bar:<8}{used}/{:<4} {:>8} {:>6}  {}/{}/{}/{}{up}",
                radio.radio.as_str(),
                kind,
                radio.slot_limit,
                radio.connects.attempts,
                radio.connects.successes,
                f[0],
                f[1],
                f[2],
                f[3]
            );
        }
        let _ = writeln!(
            out,
            "\n\x1b[1m{:<22} {:<18} {:<15} {:>7}  LAST VALUE\x1b[0m",
            "DEVICE", "STATE", "VIA", "NOTIFS"
        );
        for status in &diagnostics.devices {
            let Some(row) = self.devices.get(&status.address) else {
                continue;
            };
            if !row.keep_connected && !status.state.is_connected() && row.last_value == "—" {
                continue;
            }
            let (colour, via) = match &status.state {
                DeviceState::Connected { radio } => ("\x1b[32m", radio.to_string()),
                DeviceState::Connecting { radio, .. } => ("\x1b[33m", radio.to_string()),
                DeviceState::Backoff { .. } => ("\x1b[31m", String::new()),
                _ => ("\x1b[2m", String::new()),
            };
            let _ = writeln!(
                out,
                "{:<22} {colour}{:<18}\x1b[0m {:<15} {:>7}  {}",
                truncate(&row.name, 22),
                status.state.label(),
                via,
                row.notifications,
                row.last_value
            );
        }
        let _ = writeln!(out, "\n\x1b[1mEVENTS\x1b[0m");
        for line in &self.events {
            let _ = writeln!(out, "  {line}");
        }
        print!("{out}");
    }

    pub fn summary(&self, diagnostics: &Diagnostics, simulation: &Simulation) -> Summary {
        let connections: u64 = diagnostics.devices.iter().map(|d| d.connections).sum();
        let ever: u64 = diagnostics
            .devices
            .iter()
            .filter(|d| d.connections > 0)
            .count() as u64;
        let mut attempts = Attempts::default();
        for radio in &diagnostics.radios {
            attempts.total += radio.connects.attempts;
            attempts.succeeded += radio.connects.successes;
            attempts.not_found += radio.connects.failures[0];
            attempts.out_of_slots += radio.connects.failures[1];
            attempts.aborted += radio.connects.failures[2];
            attempts.generic += radio.connects.failures[3];
        }
        let stats = simulation.stats();
        Summary {
            world: self.world.clone(),
            seed: self.seed,
            virtual_seconds: self.started.elapsed().as_secs(),
            connections,
            reconnects: connections.saturating_sub(ever),
            notifications_delivered: self.notifications,
            on_demand_reads: self.polls_ok,
            on_demand_failures: self.polls_failed,
            slot_seconds: self.slot_seconds,
            peak_slots_in_use: self.peak_slots,
            attempts,
            concurrent_attempts_on_one_radio: stats
                .radios
                .iter()
                .map(|r| r.concurrent_rejections)
                .sum(),
            keep_connected_now_connected: diagnostics
                .devices
                .iter()
                .filter(|d| d.keep_connected && d.state.is_connected())
                .count(),
            keep_connected: diagnostics
                .devices
                .iter()
                .filter(|d| d.keep_connected)
                .count(),
        }
    }
}

/// Connection attempts by outcome.
#[derive(Debug, Default, Serialize)]
pub struct Attempts {
    total: u64,
    succeeded: u64,
    not_found: u64,
    out_of_slots: u64,
    aborted: u64,
    generic: u64,
}

/// The end-of-run figures.
#[derive(Debug, Serialize)]
pub struct Summary {
    world: String,
    seed: u64,
    virtual_seconds: u64,
    connections: u64,
    reconnects: u64,
    notifications_delivered: u64,
    on_demand_reads: u64,
    on_demand_failures: u64,
    slot_seconds: u64,
    peak_slots_in_use: usize,
    attempts: Attempts,
    concurrent_attempts_on_one_radio: u64,
    keep_connected: usize,
    keep_connected_now_connected: usize,
}

impl Summary {
    pub fn render(&self) -> String {
        let a = &self.attempts;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\nSummary: {} seed {}, {} of virtual time",
            self.world,
            self.seed,
            mmss(self.virtual_seconds)
        );
        let _ = writeln!(
            out,
            "  keep-connected devices connected at the end  {}/{}",
            self.keep_connected_now_connected, self.keep_connected
        );
        let _ = writeln!(
            out,
            "  connections                                  {} ({} reconnects)",
            self.connections, self.reconnects
        );
        let _ = writeln!(
            out,
            "  notifications delivered                      {}",
            self.notifications_delivered
        );
        let _ = writeln!(
            out,
            "  on-demand reads                              {} ok, {} failed",
            self.on_demand_reads, self.on_demand_failures
        );
        let _ = writeln!(
            out,
            "  slot-seconds used                            {} (peak {} slots at once)",
            self.slot_seconds, self.peak_slots_in_use
        );
        let _ = writeln!(
            out,
            "  connection attempts                          {} ({} succeeded)",
            a.total, a.succeeded
        );
        let _ = writeln!(
            out,
            "    failed: not-found {}, out-of-slots {}, aborted {}, generic {}",
            a.not_found, a.out_of_slots, a.aborted, a.generic
        );
        let _ = writeln!(
            out,
            "  concurrent attempts refused by a radio       {}",
            self.concurrent_attempts_on_one_radio
        );
        out
    }
}

fn mmss(seconds: u64) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

/// A value as a person reads it, by characteristic.
fn describe(characteristic: Uuid, value: &[u8]) -> String {
    let short = bluefleet::model::uuid::short_form(&characteristic);
    match (short, value) {
        (Some(0x2A6E), [a, b, ..]) => {
            format!("{:.2} °C", f64::from(i16::from_le_bytes([*a, *b])) / 100.0)
        }
        (Some(0x2A6F), [a, b, ..]) => {
            format!("{:.2} %", f64::from(u16::from_le_bytes([*a, *b])) / 100.0)
        }
        (Some(0x2A37), [_, bpm, ..]) => format!("{bpm} bpm"),
        (Some(0x2A19), [pct, ..]) => format!("{pct} % battery"),
        _ => value.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

//! Sampling the fleet for the bridge once a second: each managed device's state (with the
//! readings its adverts and GATT values carry), each radio's slots and the hub's totals, as
//! the snapshots the core publishes.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::time::Instant;

use super::Shell;
use crate::model::Address;
use crate::mqtt::discovery::ValueSpec;
use crate::mqtt::snapshot::{DeviceSnapshot, ErrorSnapshot, HubSnapshot, RadioSnapshot};
use crate::Device;

impl Shell {
    /// GATT readings plus the readings decoded from the device's adverts (by their names).
    fn readings_of(
        &mut self,
        address: &Address,
        heard: Option<&crate::supervisor::heard::HeardDevice>,
    ) -> BTreeMap<String, Value> {
        use crate::decode::reading::Value as Decoded;
        let mut readings = self.readings.get(address).cloned().unwrap_or_default();
        let Some(decoded) = heard.and_then(|h| h.readings.as_ref()) else {
            return readings;
        };
        for (key, reading) in decoded.named_readings() {
            let value = match &reading.value {
                Decoded::Number(n) => json!(n),
                Decoded::Bool(b) => json!(b),
                Decoded::Text(t) => json!(t),
            };
            if self
                .announced
                .entry(*address)
                .or_default()
                .insert(key.clone())
            {
                self.new_readings
                    .push((*address, ValueSpec::for_reading(&key, reading)));
            }
            readings.insert(key, value);
        }
        readings
    }

    pub(super) fn sample(&mut self) -> (Vec<DeviceSnapshot>, Vec<RadioSnapshot>, HubSnapshot) {
        let now = Instant::now();
        let unix_now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let period = now.duration_since(self.sampled_at).as_secs_f64().max(1e-3);
        self.sampled_at = now;
        let round = |rssi: Option<f32>| rssi.map(|r| r.round() as i16);
        let handles: Vec<(Address, Device)> =
            self.handles.iter().map(|(a, d)| (*a, d.clone())).collect();
        let devices: Vec<DeviceSnapshot> = handles
            .iter()
            .map(|(address, device)| {
                let status = device.status();
                let heard = self.fleet.heard_device(address);
                let readings = self.readings_of(address, heard.as_ref());
                let radio = match &status.state {
                    crate::device::state::DeviceState::Connected { radio }
                    | crate::device::state::DeviceState::Connecting { radio, .. } => {
                        Some(radio.clone())
                    }
                    _ => None,
                };
                DeviceSnapshot {
                    address: *address,
                    name: self
                        .names
                        .get(address)
                        .cloned()
                        .flatten()
                        .or_else(|| heard.as_ref().and_then(|h| h.name.clone())),
                    connection: status.state.label().to_string(),
                    radio,
                    keep_connected: status.keep_connected,
                    rssi: heard
                        .iter()
                        .flat_map(|h| h.radios.iter())
                        .map(|(r, rssi)| (r.to_string(), round(*rssi)))
                        .collect(),
                    best_radio: heard.as_ref().and_then(|h| h.best_radio.clone()),
                    best_rssi: heard.as_ref().and_then(|h| round(h.smoothed_rssi_dbm)),
                    zone: heard
                        .as_ref()
                        .and_then(|h| h.zone)
                        .and_then(|z| serde_json::to_value(z).ok())
                        .and_then(|v| v.as_str().map(str::to_string)),
                    last_seen: self
                        .last_seen
                        .get(address)
                        .map(|seen| unix_now.saturating_sub(now.duration_since(*seen).as_secs())),
                    last_error: status
                        .last_error
                        .as_ref()
                        .map(|(kind, text)| ErrorSnapshot {
                            kind: kind.as_str().into(),
                            message: text.clone(),
                        }),
                    readings,
                }
            })
            .collect();
        let usage = self.fleet.slot_usage();
        let radios: Vec<RadioSnapshot> = usage
            .iter()
            .map(|u| RadioSnapshot {
                radio: u.radio.clone(),
                state: if u.up { "up" } else { "down" },
                slots_used: u.held_by.len(),
                slots_limit: u.limit,
                slots_foreign: u.foreign,
                holders: u.held_by.clone(),
                adverts_per_s: (self.advert_counts.remove(&u.radio).unwrap_or(0) as f64 / period
                    * 10.0)
                    .round()
                    / 10.0,
            })
            .collect();
        let hub = HubSnapshot {
            devices: devices.len(),
            connected: devices
                .iter()
                .filter(|d| d.connection == "connected")
                .count(),
            heard: self.fleet.heard().len(),
            slots_free: usage.iter().filter(|u| u.up).map(|u| u.free).sum(),
            radios: usage.len(),
        };
        (devices, radios, hub)
    }
}

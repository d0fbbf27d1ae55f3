//! What the bridge publishes about devices, radios and the hub, as plain data the IO shell
//! samples from the fleet, and the JSON payloads made from it.
//!
//! Kept apart from the fleet's own types so the sans-IO core can be tested with hand-made
//! snapshots, and so the published schema changes only when this file does.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::{Address, RadioId};

/// One managed device, as sampled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeviceSnapshot {
    /// The device.
    pub address: Address,
    /// Configured or advertised name.
    pub name: Option<String>,
    /// Connection state label (`connected`, `waiting-slot`, …).
    pub connection: String,
    /// The radio it is connected (or connecting) through.
    pub radio: Option<RadioId>,
    /// Whether the hub keeps it connected.
    pub keep_connected: bool,
    /// Smoothed RSSI per radio that hears it, dBm (rounded).
    pub rssi: BTreeMap<String, Option<i16>>,
    /// The radio that hears it best.
    pub best_radio: Option<RadioId>,
    /// Smoothed RSSI on the best radio, dBm.
    pub best_rssi: Option<i16>,
    /// Proximity zone.
    pub zone: Option<String>,
    /// Last advertisement, Unix seconds.
    pub last_seen: Option<u64>,
    /// The last failure: class and text.
    pub last_error: Option<ErrorSnapshot>,
    /// Readings by key (GATT values by characteristic, decoded advert values by name).
    pub readings: BTreeMap<String, Value>,
}

/// A failure, for JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorSnapshot {
    /// `not-found`, `out-of-slots`, `aborted`, `generic`.
    pub kind: String,
    /// The backend's text.
    pub message: String,
}

/// One radio, as sampled.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RadioSnapshot {
    /// Its name.
    pub radio: RadioId,
    /// `up` or `down`.
    pub state: &'static str,
    /// Slots we hold there.
    pub slots_used: usize,
    /// Its slot limit.
    pub slots_limit: usize,
    /// Slots other clients hold there.
    pub slots_foreign: usize,
    /// Devices holding our slots.
    pub holders: Vec<Address>,
    /// Advertisements per second over the last sampling period.
    pub adverts_per_s: f64,
}

/// The hub as a whole.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HubSnapshot {
    /// Managed devices.
    pub devices: usize,
    /// Of which connected.
    pub connected: usize,
    /// Devices heard (managed or not).
    pub heard: usize,
    /// Free slots over every radio that is up.
    pub slots_free: usize,
    /// Radios.
    pub radios: usize,
}

/// JSON bytes of anything serialisable (our own types cannot fail to serialise).
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

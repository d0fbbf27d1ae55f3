//! The TOML form of a world: raw structs that mirror the file one to one.
//!
//! Unknown fields are refused (`deny_unknown_fields`), so a typo is an error and not a silently
//! ignored setting. Text values (addresses, UUIDs, durations, hex bytes, profile names) stay
//! text here; `parse.rs` and `parse_device.rs` turn them into the typed specs, naming the field
//! on every error. `docs/sim-world.md` documents every field.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::DurationText;
use super::gatt::GeneratorKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorld {
    #[serde(default)]
    pub(super) rf: RawRf,
    #[serde(default)]
    pub(super) radios: Vec<RawRadio>,
    #[serde(default)]
    pub(super) devices: Vec<RawDevice>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRf {
    pub(super) path_loss_exponent: Option<f64>,
    pub(super) rssi_at_1m_dbm: Option<i16>,
    pub(super) noise_sigma_db: Option<f64>,
    pub(super) hearing_threshold_dbm: Option<i16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRadio {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) slot_limit: Option<i64>,
    pub(super) position: Option<[f64; 2]>,
    pub(super) connect_latency: Option<RawLatency>,
    pub(super) connect_timeout: Option<DurationText>,
    #[serde(default)]
    pub(super) faults: RawFaults,
    pub(super) serialises_attempts: Option<bool>,
    pub(super) advert_batch: Option<RawBatch>,
    #[serde(default)]
    pub(super) outages: Vec<RawWindow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLatency {
    pub(super) min: Option<DurationText>,
    pub(super) max: Option<DurationText>,
    pub(super) mean: Option<DurationText>,
    pub(super) jitter: Option<DurationText>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFaults {
    #[serde(default)]
    pub(super) not_found: f64,
    #[serde(default)]
    pub(super) out_of_slots: f64,
    #[serde(default)]
    pub(super) aborted: f64,
    #[serde(default)]
    pub(super) generic: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBatch {
    pub(super) max_adverts: Option<usize>,
    pub(super) every: Option<DurationText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) from: DurationText,
    pub(super) until: DurationText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub(super) address: String,
    pub(super) name: Option<String>,
    pub(super) profile: Option<String>,
    pub(super) position: Option<[f64; 2]>,
    pub(super) path: Option<RawPath>,
    pub(super) advert_interval: Option<DurationText>,
    pub(super) tx_power_dbm: Option<i16>,
    pub(super) connectable: Option<bool>,
    pub(super) address_kind: Option<crate::model::AddressKind>,
    pub(super) advert: Option<RawAdvert>,
    pub(super) ibeacon: Option<RawIbeacon>,
    pub(super) eddystone_uid: Option<RawEddystoneUid>,
    pub(super) eddystone_url: Option<String>,
    pub(super) advert_format: Option<String>,
    #[serde(default)]
    pub(super) readings: BTreeMap<String, f64>,
    pub(super) services: Option<Vec<RawService>>,
    #[serde(default)]
    pub(super) sleeps: Vec<RawWindow>,
    #[serde(default)]
    pub(super) out_of_range: Vec<RawWindow>,
    pub(super) link_drop_every: Option<DurationText>,
    #[serde(default)]
    pub(super) link_drops_at: Vec<DurationText>,
    pub(super) connection_interval: Option<DurationText>,
    pub(super) supervision_timeout: Option<DurationText>,
    pub(super) discovery_requests: Option<u32>,
    pub(super) mtu: Option<u16>,
    #[serde(default)]
    pub(super) keep_connected: bool,
    #[serde(default)]
    pub(super) subscribe: Vec<String>,
    #[serde(default)]
    pub(super) services_changes: Vec<RawServicesChange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServicesChange {
    pub(super) at: DurationText,
    pub(super) profile: Option<String>,
    pub(super) services: Option<Vec<RawService>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPath {
    pub(super) waypoints: Vec<RawWaypoint>,
    #[serde(default)]
    pub(super) repeat: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWaypoint {
    pub(super) at: DurationText,
    pub(super) position: [f64; 2],
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdvert {
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) service_uuids: Vec<String>,
    #[serde(default)]
    pub(super) manufacturer_data: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) service_data: BTreeMap<String, String>,
    pub(super) flags: Option<u8>,
    pub(super) tx_power_dbm: Option<i8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIbeacon {
    pub(super) uuid: String,
    pub(super) major: u16,
    pub(super) minor: u16,
    #[serde(default = "default_measured_power")]
    pub(super) measured_power_dbm: i8,
}

pub(super) fn default_measured_power() -> i8 {
    -59
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEddystoneUid {
    pub(super) namespace: String,
    pub(super) instance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) uuid: String,
    #[serde(default)]
    pub(super) characteristics: Vec<RawCharacteristic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCharacteristic {
    pub(super) uuid: String,
    pub(super) properties: Vec<String>,
    pub(super) value: Option<String>,
    #[serde(default)]
    pub(super) descriptors: Vec<RawDescriptor>,
    pub(super) generator: Option<RawGenerator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDescriptor {
    pub(super) uuid: String,
    pub(super) value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGenerator {
    pub(super) kind: GeneratorKind,
    pub(super) every: DurationText,
}

//! The TOML form of a world and its translation into [`World`].
//!
//! The raw structs mirror the file one to one (unknown fields are refused, so a typo is an
//! error and not a silently ignored setting); `parse` then turns text values (addresses,
//! UUIDs, durations, hex bytes, profile names) into the typed specs, naming the field on every
//! error, and finally runs the shared validation. `docs/sim-world.md` documents every field.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::duration::DurationText;
use super::gatt::{
    Generator, GeneratorKind, SimCharacteristic, SimDescriptor, SimGatt, SimService,
};
use super::payload::{eddystone_uid, eddystone_url, ibeacon, APPLE_COMPANY_ID, EDDYSTONE_SERVICE};
use super::specs::*;
use super::{World, WorldError};
use crate::model::{parse_uuid, uuid_from_u16, Address, CharProps};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorld {
    #[serde(default)]
    rf: RawRf,
    #[serde(default)]
    radios: Vec<RawRadio>,
    #[serde(default)]
    devices: Vec<RawDevice>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRf {
    path_loss_exponent: Option<f64>,
    rssi_at_1m_dbm: Option<i16>,
    noise_sigma_db: Option<f64>,
    hearing_threshold_dbm: Option<i16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRadio {
    name: String,
    kind: String,
    slot_limit: Option<i64>,
    position: Option<[f64; 2]>,
    connect_latency: Option<RawLatency>,
    connect_timeout: Option<DurationText>,
    #[serde(default)]
    faults: RawFaults,
    serialises_attempts: Option<bool>,
    advert_batch: Option<RawBatch>,
    #[serde(default)]
    outages: Vec<RawWindow>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLatency {
    min: Option<DurationText>,
    max: Option<DurationText>,
    mean: Option<DurationText>,
    jitter: Option<DurationText>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFaults {
    #[serde(default)]
    not_found: f64,
    #[serde(default)]
    out_of_slots: f64,
    #[serde(default)]
    aborted: f64,
    #[serde(default)]
    generic: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBatch {
    max_adverts: Option<usize>,
    every: Option<DurationText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    from: DurationText,
    until: DurationText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    address: String,
    name: Option<String>,
    profile: Option<String>,
    position: Option<[f64; 2]>,
    path: Option<RawPath>,
    advert_interval: Option<DurationText>,
    tx_power_dbm: Option<i16>,
    connectable: Option<bool>,
    advert: Option<RawAdvert>,
    ibeacon: Option<RawIbeacon>,
    eddystone_uid: Option<RawEddystoneUid>,
    eddystone_url: Option<String>,
    services: Option<Vec<RawService>>,
    #[serde(default)]
    sleeps: Vec<RawWindow>,
    link_drop_every: Option<DurationText>,
    #[serde(default)]
    link_drops_at: Vec<DurationText>,
    connection_interval: Option<DurationText>,
    supervision_timeout: Option<DurationText>,
    discovery_requests: Option<u32>,
    mtu: Option<u16>,
    #[serde(default)]
    keep_connected: bool,
    #[serde(default)]
    subscribe: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPath {
    waypoints: Vec<RawWaypoint>,
    #[serde(default)]
    repeat: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaypoint {
    at: DurationText,
    position: [f64; 2],
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAdvert {
    name: Option<String>,
    #[serde(default)]
    service_uuids: Vec<String>,
    #[serde(default)]
    manufacturer_data: BTreeMap<String, String>,
    #[serde(default)]
    service_data: BTreeMap<String, String>,
    flags: Option<u8>,
    tx_power_dbm: Option<i8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIbeacon {
    uuid: String,
    major: u16,
    minor: u16,
    #[serde(default = "default_measured_power")]
    measured_power_dbm: i8,
}

fn default_measured_power() -> i8 {
    -59
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEddystoneUid {
    namespace: String,
    instance: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    uuid: String,
    #[serde(default)]
    characteristics: Vec<RawCharacteristic>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCharacteristic {
    uuid: String,
    properties: Vec<String>,
    value: Option<String>,
    #[serde(default)]
    descriptors: Vec<RawDescriptor>,
    generator: Option<RawGenerator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescriptor {
    uuid: String,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerator {
    kind: GeneratorKind,
    every: DurationText,
}

type Field<T> = Result<T, WorldError>;

/// Parses and validates TOML text.
pub(super) fn parse(text: &str) -> Result<World, WorldError> {
    let raw: RawWorld = toml::from_str(text).map_err(|e| WorldError::Toml(e.to_string()))?;
    let defaults = RfModel::default();
    let rf = RfModel {
        path_loss_exponent: raw
            .rf
            .path_loss_exponent
            .unwrap_or(defaults.path_loss_exponent),
        rssi_at_1m_dbm: raw.rf.rssi_at_1m_dbm.unwrap_or(defaults.rssi_at_1m_dbm),
        noise_sigma_db: raw.rf.noise_sigma_db.unwrap_or(defaults.noise_sigma_db),
        hearing_threshold_dbm: raw
            .rf
            .hearing_threshold_dbm
            .unwrap_or(defaults.hearing_threshold_dbm),
    };
    let radios = raw
        .radios
        .into_iter()
        .enumerate()
        .map(|(i, r)| radio(&format!("radios[{i}]"), r))
        .collect::<Field<Vec<_>>>()?;
    let devices = raw
        .devices
        .into_iter()
        .enumerate()
        .map(|(i, d)| device(&format!("devices[{i}]"), d))
        .collect::<Field<Vec<_>>>()?;
    let world = World {
        rf,
        radios,
        devices,
    };
    world.validate()?;
    Ok(world)
}

fn duration(at: String, value: &DurationText) -> Field<std::time::Duration> {
    value
        .resolve()
        .map_err(|problem| WorldError::invalid(at, problem))
}

fn position(value: [f64; 2]) -> Position {
    Position::new(value[0], value[1])
}

fn windows(at: &str, raw: &[RawWindow]) -> Field<Vec<Window>> {
    raw.iter()
        .enumerate()
        .map(|(i, w)| {
            Ok(Window {
                from: duration(format!("{at}[{i}].from"), &w.from)?,
                until: duration(format!("{at}[{i}].until"), &w.until)?,
            })
        })
        .collect()
}

fn radio(at: &str, raw: RawRadio) -> Field<RadioSpec> {
    let mut spec = match raw.kind.as_str() {
        "local-controller" => RadioSpec::local_controller(raw.name),
        "esphome-proxy" => RadioSpec::esphome_proxy(raw.name),
        other => {
            return Err(WorldError::invalid(
                format!("{at}.kind"),
                format!("unknown radio kind '{other}': use local-controller or esphome-proxy"),
            ))
        }
    };
    if let Some(limit) = raw.slot_limit {
        spec.slot_limit = usize::try_from(limit).map_err(|_| {
            WorldError::invalid(
                format!("{at}.slot_limit"),
                format!("{limit} is not a slot count"),
            )
        })?;
    }
    if let Some(p) = raw.position {
        spec.position = position(p);
    }
    if let Some(latency) = raw.connect_latency {
        spec.connect_latency = latency_range(&format!("{at}.connect_latency"), &latency)?;
    }
    if let Some(timeout) = &raw.connect_timeout {
        spec.connect_timeout = duration(format!("{at}.connect_timeout"), timeout)?;
    }
    let f = raw.faults;
    spec.faults = FaultRates {
        not_found: f.not_found,
        out_of_slots: f.out_of_slots,
        aborted: f.aborted,
        generic: f.generic,
    };
    if let Some(serialises) = raw.serialises_attempts {
        spec.serialises_attempts = serialises;
    }
    if let Some(batch) = raw.advert_batch {
        let base = spec.advert_batch.unwrap_or(AdvertBatching {
            max_adverts: 16,
            every: std::time::Duration::from_millis(100),
        });
        spec.advert_batch = Some(AdvertBatching {
            max_adverts: batch.max_adverts.unwrap_or(base.max_adverts),
            every: match &batch.every {
                Some(every) => duration(format!("{at}.advert_batch.every"), every)?,
                None => base.every,
            },
        });
    }
    spec.outages = windows(&format!("{at}.outages"), &raw.outages)?;
    Ok(spec)
}

fn latency_range(at: &str, raw: &RawLatency) -> Field<LatencyRange> {
    let get = |name: &str, value: &Option<DurationText>| -> Field<Option<std::time::Duration>> {
        value
            .as_ref()
            .map(|v| duration(format!("{at}.{name}"), v))
            .transpose()
    };
    match (
        get("min", &raw.min)?,
        get("max", &raw.max)?,
        get("mean", &raw.mean)?,
    ) {
        (Some(min), Some(max), None) => Ok(LatencyRange { min, max }),
        (None, None, Some(mean)) => {
            let jitter = get("jitter", &raw.jitter)?.unwrap_or_default();
            Ok(LatencyRange {
                min: mean.saturating_sub(jitter),
                max: mean + jitter,
            })
        }
        _ => Err(WorldError::invalid(
            at,
            "give either min and max, or mean (and jitter)",
        )),
    }
}

fn address(at: String, text: &str) -> Field<Address> {
    Address::parse(text).map_err(|e| WorldError::invalid(at, e.to_string()))
}

fn uuid(at: String, text: &str) -> Field<uuid::Uuid> {
    parse_uuid(text).map_err(|e| WorldError::invalid(at, e.to_string()))
}

/// Hex bytes: `"0a0b"`, `"0a 0b"`, `"0a:0b"` or with a `0x` prefix.
fn hex(at: String, text: &str) -> Field<Vec<u8>> {
    let digits: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !matches!(c, ' ' | ':' | '-'))
        .collect();
    let bad = || {
        WorldError::invalid(
            at.clone(),
            format!("'{text}' is not hex bytes (e.g. \"0a0b\")"),
        )
    };
    if digits.len() % 2 != 0 {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}

fn device(at: &str, raw: RawDevice) -> Field<DeviceSpec> {
    let mut spec = DeviceSpec::new(address(format!("{at}.address"), &raw.address)?);
    let beacon =
        raw.ibeacon.is_some() || raw.eddystone_uid.is_some() || raw.eddystone_url.is_some();
    spec.connectable = !beacon;
    match raw.profile.as_deref() {
        None | Some("plain") => {}
        Some("beacon") => spec.connectable = false,
        Some(name) => {
            let (gatt, service) = match name {
                "env-sensor" => (SimGatt::env_sensor(), Some(0x181A)),
                "heart-rate" => (SimGatt::heart_rate(), Some(0x180D)),
                "counter" => (SimGatt::counter(), None),
                other => {
                    return Err(WorldError::invalid(
                        format!("{at}.profile"),
                        format!("unknown profile '{other}': use env-sensor, heart-rate, counter, beacon or plain"),
                    ))
                }
            };
            spec.gatt = gatt;
            spec.advert.flags = Some(0x06);
            spec.advert.service_uuids.extend(service.map(uuid_from_u16));
        }
    }
    if let Some(name) = raw.name {
        if !beacon {
            spec.advert.local_name = Some(name.clone());
        }
        spec.name = Some(name);
    }
    if let Some(p) = raw.position {
        spec.route = Route::Fixed(position(p));
    }
    if let Some(path) = raw.path {
        let waypoints = path
            .waypoints
            .iter()
            .enumerate()
            .map(|(i, w)| {
                Ok(Waypoint {
                    at: duration(format!("{at}.path.waypoints[{i}].at"), &w.at)?,
                    position: position(w.position),
                })
            })
            .collect::<Field<Vec<_>>>()?;
        spec.route = Route::Path {
            waypoints,
            repeat: path.repeat,
        };
    }
    if let Some(v) = &raw.advert_interval {
        spec.advert_interval = duration(format!("{at}.advert_interval"), v)?;
    }
    spec.tx_power_dbm = raw.tx_power_dbm.unwrap_or(spec.tx_power_dbm);
    spec.connectable = raw.connectable.unwrap_or(spec.connectable);
    if let Some(advert) = raw.advert {
        advert_fields(&format!("{at}.advert"), advert, &mut spec)?;
    }
    beacons(
        at,
        raw.ibeacon,
        raw.eddystone_uid,
        raw.eddystone_url,
        &mut spec,
    )?;
    if let Some(services) = raw.services {
        spec.gatt = gatt(&format!("{at}.services"), services)?;
    }
    spec.sleeps = windows(&format!("{at}.sleeps"), &raw.sleeps)?;
    if let Some(v) = &raw.link_drop_every {
        spec.link_drop_every = Some(duration(format!("{at}.link_drop_every"), v)?);
    }
    spec.link_drops_at = raw
        .link_drops_at
        .iter()
        .enumerate()
        .map(|(i, v)| duration(format!("{at}.link_drops_at[{i}]"), v))
        .collect::<Field<_>>()?;
    if let Some(v) = &raw.connection_interval {
        spec.connection_interval = duration(format!("{at}.connection_interval"), v)?;
    }
    if let Some(v) = &raw.supervision_timeout {
        spec.supervision_timeout = duration(format!("{at}.supervision_timeout"), v)?;
    }
    spec.discovery_requests = raw.discovery_requests.unwrap_or(spec.discovery_requests);
    spec.mtu = raw.mtu.unwrap_or(spec.mtu);
    spec.keep_connected = raw.keep_connected;
    spec.subscribe = raw
        .subscribe
        .iter()
        .enumerate()
        .map(|(i, text)| uuid(format!("{at}.subscribe[{i}]"), text))
        .collect::<Field<_>>()?;
    Ok(spec)
}

fn advert_fields(at: &str, raw: RawAdvert, spec: &mut DeviceSpec) -> Field<()> {
    let advert = &mut spec.advert;
    if raw.name.is_some() {
        advert.local_name = raw.name;
    }
    advert.flags = raw.flags.or(advert.flags);
    advert.tx_power_dbm = raw.tx_power_dbm.or(advert.tx_power_dbm);
    for (i, text) in raw.service_uuids.iter().enumerate() {
        let id = uuid(format!("{at}.service_uuids[{i}]"), text)?;
        if !advert.service_uuids.contains(&id) {
            advert.service_uuids.push(id);
        }
    }
    for (key, value) in &raw.manufacturer_data {
        let field = format!("{at}.manufacturer_data.\"{key}\"");
        let digits = key.trim_start_matches("0x");
        let company = u16::from_str_radix(digits, 16).map_err(|_| {
            WorldError::invalid(
                field.clone(),
                "the key must be a 16-bit company id in hex (\"0x004c\")",
            )
        })?;
        advert.manufacturer_data.insert(company, hex(field, value)?);
    }
    for (key, value) in &raw.service_data {
        let field = format!("{at}.service_data.\"{key}\"");
        advert
            .service_data
            .insert(uuid(field.clone(), key)?, hex(field, value)?);
    }
    Ok(())
}

fn beacons(
    at: &str,
    ibeacon_raw: Option<RawIbeacon>,
    uid: Option<RawEddystoneUid>,
    url: Option<String>,
    spec: &mut DeviceSpec,
) -> Field<()> {
    let advert = &mut spec.advert;
    if let Some(b) = ibeacon_raw {
        let proximity = uuid(format!("{at}.ibeacon.uuid"), &b.uuid)?;
        advert.flags = advert.flags.or(Some(0x06));
        advert.manufacturer_data.insert(
            APPLE_COMPANY_ID,
            ibeacon(proximity, b.major, b.minor, b.measured_power_dbm),
        );
    }
    let tx = i8::try_from(spec.tx_power_dbm - 41).unwrap_or(-41);
    let frame = match (uid, url) {
        (Some(_), Some(_)) => {
            return Err(WorldError::invalid(
                format!("{at}.eddystone_url"),
                "give eddystone_uid or eddystone_url, not both",
            ))
        }
        (Some(uid), None) => {
            let namespace = hex(format!("{at}.eddystone_uid.namespace"), &uid.namespace)?;
            let instance = hex(format!("{at}.eddystone_uid.instance"), &uid.instance)?;
            let namespace: [u8; 10] = namespace.try_into().map_err(|_| {
                WorldError::invalid(
                    format!("{at}.eddystone_uid.namespace"),
                    "must be 10 bytes (20 hex digits)",
                )
            })?;
            let instance: [u8; 6] = instance.try_into().map_err(|_| {
                WorldError::invalid(
                    format!("{at}.eddystone_uid.instance"),
                    "must be 6 bytes (12 hex digits)",
                )
            })?;
            Some(eddystone_uid(namespace, instance, tx))
        }
        (None, Some(url)) => Some(
            eddystone_url(&url, tx)
                .map_err(|p| WorldError::invalid(format!("{at}.eddystone_url"), p))?,
        ),
        (None, None) => None,
    };
    if let Some(frame) = frame {
        let service = uuid_from_u16(EDDYSTONE_SERVICE);
        advert.flags = advert.flags.or(Some(0x06));
        if !advert.service_uuids.contains(&service) {
            advert.service_uuids.push(service);
        }
        advert.service_data.insert(service, frame);
    }
    Ok(())
}

fn gatt(at: &str, raw: Vec<RawService>) -> Field<SimGatt> {
    let mut services = Vec::new();
    for (si, s) in raw.into_iter().enumerate() {
        let sat = format!("{at}[{si}]");
        let mut characteristics = Vec::new();
        for (ci, c) in s.characteristics.into_iter().enumerate() {
            let cat = format!("{sat}.characteristics[{ci}]");
            let mut properties = CharProps::default();
            for name in &c.properties {
                properties = properties
                    | CharProps::from_name(name).ok_or_else(|| {
                        WorldError::invalid(
                            format!("{cat}.properties"),
                            format!("unknown property '{name}'"),
                        )
                    })?;
            }
            let descriptors = c
                .descriptors
                .iter()
                .enumerate()
                .map(|(di, d)| {
                    let dat = format!("{cat}.descriptors[{di}]");
                    Ok(SimDescriptor {
                        uuid: uuid(format!("{dat}.uuid"), &d.uuid)?,
                        value: d
                            .value
                            .as_deref()
                            .map(|v| hex(format!("{dat}.value"), v))
                            .transpose()?
                            .unwrap_or_default(),
                    })
                })
                .collect::<Field<Vec<_>>>()?;
            let generator = c
                .generator
                .as_ref()
                .map(|g| {
                    Ok::<_, WorldError>(Generator {
                        kind: g.kind,
                        every: duration(format!("{cat}.generator.every"), &g.every)?,
                    })
                })
                .transpose()?;
            characteristics.push(SimCharacteristic {
                uuid: uuid(format!("{cat}.uuid"), &c.uuid)?,
                properties,
                value: c
                    .value
                    .as_deref()
                    .map(|v| hex(format!("{cat}.value"), v))
                    .transpose()?
                    .unwrap_or_default(),
                descriptors,
                generator,
            });
        }
        services.push(SimService {
            uuid: uuid(format!("{sat}.uuid"), &s.uuid)?,
            characteristics,
        });
    }
    Ok(SimGatt { services })
}

//! From the raw TOML structs to a validated [`World`]: the top level, radios, and the
//! value parsers (durations, addresses, UUIDs, hex) every part shares.
//!
//! Each conversion carries the path of the field it reads (`radios[1].connect_latency.min`)
//! into its error, then the whole world goes through the shared validation.

use super::duration::DurationText;
use super::schema::{RawLatency, RawRadio, RawWindow, RawWorld};
use super::specs::{
    AdvertBatching, FaultRates, LatencyRange, Position, RadioSpec, RfModel, Window,
};
use super::{World, WorldError};
use crate::model::{parse_uuid, Address};

pub(super) type Field<T> = Result<T, WorldError>;

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
        .map(|(i, d)| super::parse_device::device(&format!("devices[{i}]"), d))
        .collect::<Field<Vec<_>>>()?;
    let world = World {
        rf,
        radios,
        devices,
    };
    world.validate()?;
    Ok(world)
}

pub(super) fn duration(at: String, value: &DurationText) -> Field<std::time::Duration> {
    value
        .resolve()
        .map_err(|problem| WorldError::invalid(at, problem))
}

pub(super) fn position(value: [f64; 2]) -> Position {
    Position::new(value[0], value[1])
}

pub(super) fn windows(at: &str, raw: &[RawWindow]) -> Field<Vec<Window>> {
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

pub(super) fn address(at: String, text: &str) -> Field<Address> {
    Address::parse(text).map_err(|e| WorldError::invalid(at, e.to_string()))
}

pub(super) fn uuid(at: String, text: &str) -> Field<uuid::Uuid> {
    parse_uuid(text).map_err(|e| WorldError::invalid(at, e.to_string()))
}

/// Hex bytes: `"0a0b"`, `"0a 0b"`, `"0a:0b"` or with a `0x` prefix.
pub(super) fn hex(at: String, text: &str) -> Field<Vec<u8>> {
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
    if !digits.len().is_multiple_of(2) {
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

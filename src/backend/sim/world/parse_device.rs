//! From a raw `[[devices]]` table to a [`DeviceSpec`]: profile, advert, beacon frames, GATT.
//!
//! A device starts from its profile's GATT table and advert, then explicit fields override:
//! `advert` adds to the profile's advert, beacon frames go into manufacturer or service data,
//! and `services` replaces the profile's table. Beacons are not connectable unless they say so.

use super::gatt::{Generator, SimCharacteristic, SimDescriptor, SimGatt, SimService};
use super::parse::{address, duration, hex, position, uuid, windows, Field};
use super::payload::{eddystone_uid, eddystone_url, ibeacon, APPLE_COMPANY_ID, EDDYSTONE_SERVICE};
use super::schema::{
    RawAdvert, RawDevice, RawEddystoneUid, RawIbeacon, RawService, RawServicesChange,
};
use super::specs::{DeviceSpec, Route, ServicesChange, Waypoint};
use super::WorldError;
use crate::model::{uuid_from_u16, CharProps};

pub(super) fn device(at: &str, raw: RawDevice) -> Field<DeviceSpec> {
    let mut spec = DeviceSpec::new(address(format!("{at}.address"), &raw.address)?);
    let beacon =
        raw.ibeacon.is_some() || raw.eddystone_uid.is_some() || raw.eddystone_url.is_some();
    spec.connectable = !beacon;
    match raw.profile.as_deref() {
        None | Some("plain") => {}
        Some("beacon") => spec.connectable = false,
        Some(name) => {
            let (gatt, service) = profile(&format!("{at}.profile"), name)?;
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
    spec.address_kind = raw.address_kind.unwrap_or(spec.address_kind);
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
    super::sensor_formats::apply(at, raw.advert_format.as_deref(), &raw.readings, &mut spec)?;
    if raw.advert_format.is_some() && raw.connectable.is_none() {
        spec.connectable = false;
    }
    if let Some(services) = raw.services {
        spec.gatt = gatt(&format!("{at}.services"), services)?;
    }
    spec.services_changes = raw
        .services_changes
        .into_iter()
        .enumerate()
        .map(|(i, change)| services_change(&format!("{at}.services_changes[{i}]"), change))
        .collect::<Field<_>>()?;
    spec.sleeps = windows(&format!("{at}.sleeps"), &raw.sleeps)?;
    spec.out_of_range = windows(&format!("{at}.out_of_range"), &raw.out_of_range)?;
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

/// A profile's GATT table and the service UUID its advert names.
fn profile(at: &str, name: &str) -> Field<(SimGatt, Option<u16>)> {
    match name {
        "env-sensor" => Ok((SimGatt::env_sensor(), Some(0x181A))),
        "heart-rate" => Ok((SimGatt::heart_rate(), Some(0x180D))),
        "counter" => Ok((SimGatt::counter(), None)),
        other => Err(WorldError::invalid(
            at,
            format!(
                "unknown profile '{other}': use env-sensor, heart-rate, counter, beacon or plain"
            ),
        )),
    }
}

/// One `[[devices.services_changes]]`: when, and the new table (a profile's, or `services`).
fn services_change(at: &str, raw: RawServicesChange) -> Field<ServicesChange> {
    let when = duration(format!("{at}.at"), &raw.at)?;
    let gatt = match (raw.profile.as_deref(), raw.services) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(WorldError::invalid(
                at,
                "give the new table as exactly one of `profile` or `services`",
            ))
        }
        (Some("plain"), None) => SimGatt::default(),
        (Some(name), None) => profile(&format!("{at}.profile"), name)?.0,
        (None, Some(services)) => gatt(&format!("{at}.services"), services)?,
    };
    Ok(ServicesChange { at: when, gatt })
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

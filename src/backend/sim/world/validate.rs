//! The rules a runnable world meets, each failure naming its field.
//!
//! Run by the builder, the TOML parser and [`super::World::validate`]. Anything the
//! simulation would otherwise have to guard against at run time (zero slots, a negative
//! probability, an empty path, a subscription to a characteristic that cannot notify) is
//! refused here, once.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{DeviceSpec, LatencyDraw, RadioSpec, Route, SimGatt, Window, World, WorldError};
use crate::model::CharProps;

type Checked = Result<(), WorldError>;

/// The longest duration a world may name (ten years): far beyond any run, and far enough from
/// `Instant`'s range that adding one to the clock can never overflow.
pub(super) const LONGEST: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Metres a position may be from the origin: a house, a campus, not the solar system.
const FARTHEST_M: f64 = 1.0e6;

fn bounded(field: String, value: Duration) -> Checked {
    if value > LONGEST {
        return fail(field, format!("{value:?} is longer than ten years"));
    }
    Ok(())
}

fn place(field: String, p: &super::Position) -> Checked {
    if !(p.x.is_finite() && p.y.is_finite()) {
        return fail(field, "coordinates must be finite numbers");
    }
    if p.x.abs() > FARTHEST_M || p.y.abs() > FARTHEST_M {
        return fail(field, "coordinates must be within 1000 km of the origin");
    }
    Ok(())
}

fn fail(field: String, problem: impl Into<String>) -> Checked {
    Err(WorldError::invalid(field, problem))
}

pub(super) fn world(world: &World) -> Checked {
    let rf = &world.rf;
    if !(rf.path_loss_exponent.is_finite() && rf.path_loss_exponent > 0.0) {
        return fail("rf.path_loss_exponent".into(), "must be a positive number");
    }
    if !(rf.noise_sigma_db.is_finite() && rf.noise_sigma_db >= 0.0) {
        return fail("rf.noise_sigma_db".into(), "must be zero or more");
    }
    if world.radios.is_empty() {
        return fail("radios".into(), "a world needs at least one radio");
    }
    let mut names = BTreeSet::new();
    for (index, r) in world.radios.iter().enumerate() {
        radio(&format!("radios[{index}]"), r)?;
        if !names.insert(r.name.as_str()) {
            return fail(
                format!("radios[{index}].name"),
                format!("'{}' is used twice", r.name),
            );
        }
    }
    let mut addresses = BTreeSet::new();
    for (index, d) in world.devices.iter().enumerate() {
        device(&format!("devices[{index}]"), d)?;
        if !addresses.insert(d.address) {
            return fail(
                format!("devices[{index}].address"),
                format!("{} is used twice", d.address),
            );
        }
    }
    Ok(())
}

fn radio(at: &str, r: &RadioSpec) -> Checked {
    if r.name.trim().is_empty() {
        return fail(format!("{at}.name"), "must not be empty");
    }
    if r.slot_limit == 0 {
        return fail(
            format!("{at}.slot_limit"),
            "must be at least 1 (zero slots can never connect)",
        );
    }
    place(format!("{at}.position"), &r.position)?;
    bounded(format!("{at}.connect_latency.max"), r.connect_latency.max)?;
    bounded(format!("{at}.connect_timeout"), r.connect_timeout)?;
    if let Some(batch) = r.advert_batch {
        bounded(format!("{at}.advert_batch.every"), batch.every)?;
    }
    if r.connect_latency.min > r.connect_latency.max {
        return fail(format!("{at}.connect_latency"), "min is larger than max");
    }
    if r.connect_timeout.is_zero() {
        return fail(format!("{at}.connect_timeout"), "must be longer than zero");
    }
    if let LatencyDraw::PerDeviceConnection { jitter_percent } = r.latency_draw {
        if jitter_percent > 100 {
            return fail(
                format!("{at}.latency_draw.jitter_percent"),
                format!("{jitter_percent} is above 100 (the whole range)"),
            );
        }
    }
    let f = r.faults;
    for (name, p) in [
        ("not_found", f.not_found),
        ("out_of_slots", f.out_of_slots),
        ("aborted", f.aborted),
        ("generic", f.generic),
    ] {
        if !(0.0..=1.0).contains(&p) {
            return fail(
                format!("{at}.faults.{name}"),
                format!("{p} is not a probability (0 to 1)"),
            );
        }
    }
    if f.not_found + f.out_of_slots + f.aborted + f.generic > 1.0 {
        return fail(
            format!("{at}.faults"),
            "the probabilities add up to more than 1",
        );
    }
    if let Some(batch) = r.advert_batch {
        if batch.max_adverts == 0 || batch.every.is_zero() {
            return fail(
                format!("{at}.advert_batch"),
                "max_adverts and every must be above zero",
            );
        }
    }
    windows(&format!("{at}.outages"), &r.outages)
}

fn device(at: &str, d: &DeviceSpec) -> Checked {
    for (name, value) in [
        ("advert_interval", Some(d.advert_interval)),
        ("connection_interval", Some(d.connection_interval)),
        ("supervision_timeout", Some(d.supervision_timeout)),
        ("link_drop_every", d.link_drop_every),
    ] {
        if let Some(value) = value {
            bounded(format!("{at}.{name}"), value)?;
        }
    }
    match &d.route {
        Route::Fixed(p) => place(format!("{at}.position"), p)?,
        Route::Path { waypoints, .. } => {
            for (i, w) in waypoints.iter().enumerate() {
                place(format!("{at}.path.waypoints[{i}].position"), &w.position)?;
                bounded(format!("{at}.path.waypoints[{i}].at"), w.at)?;
            }
        }
    }
    generators(at, &d.gatt)?;
    for (i, change) in d.services_changes.iter().enumerate() {
        let at = format!("{at}.services_changes[{i}]");
        bounded(format!("{at}.at"), change.at)?;
        generators(&at, &change.gatt)?;
    }
    if d.advert_interval < Duration::from_millis(20) {
        return fail(
            format!("{at}.advert_interval"),
            "must be at least 20ms (the spec minimum)",
        );
    }
    if d.connection_interval < Duration::from_micros(7500)
        || d.connection_interval > Duration::from_secs(4)
    {
        return fail(
            format!("{at}.connection_interval"),
            "must be between 7.5ms and 4s",
        );
    }
    if d.supervision_timeout.is_zero() {
        return fail(
            format!("{at}.supervision_timeout"),
            "must be longer than zero",
        );
    }
    if !(23..=517).contains(&d.mtu) {
        return fail(
            format!("{at}.mtu"),
            format!("{} is outside 23..=517", d.mtu),
        );
    }
    if d.link_drop_every.is_some_and(|every| every.is_zero()) {
        return fail(format!("{at}.link_drop_every"), "must be longer than zero");
    }
    if let Route::Path { waypoints, .. } = &d.route {
        if waypoints.is_empty() {
            return fail(
                format!("{at}.path.waypoints"),
                "a path needs at least one waypoint",
            );
        }
        if waypoints.windows(2).any(|pair| pair[0].at >= pair[1].at) {
            return fail(
                format!("{at}.path.waypoints"),
                "waypoint times must increase",
            );
        }
    }
    windows(&format!("{at}.sleeps"), &d.sleeps)?;
    windows(&format!("{at}.out_of_range"), &d.out_of_range)?;
    if d.keep_connected && !d.connectable {
        return fail(
            format!("{at}.keep_connected"),
            "the device is not connectable",
        );
    }
    let table = d.gatt.layout(d.mtu).table;
    for (index, uuid) in d.subscribe.iter().enumerate() {
        let Some(c) = table.find_characteristic(None, uuid) else {
            return fail(
                format!("{at}.subscribe[{index}]"),
                format!("the device has no characteristic {uuid}"),
            );
        };
        if !(c.properties.contains(CharProps::NOTIFY) || c.properties.contains(CharProps::INDICATE))
        {
            return fail(
                format!("{at}.subscribe[{index}]"),
                format!("characteristic {uuid} cannot notify"),
            );
        }
    }
    Ok(())
}

/// Every notification generator of a table runs at a sane, non-zero period.
fn generators(at: &str, gatt: &SimGatt) -> Checked {
    for (si, service) in gatt.services.iter().enumerate() {
        for (ci, c) in service.characteristics.iter().enumerate() {
            if let Some(g) = c.generator {
                let field = format!("{at}.services[{si}].characteristics[{ci}].generator.every");
                bounded(field.clone(), g.every)?;
                if g.every.is_zero() {
                    return fail(field, "must be longer than zero");
                }
            }
        }
    }
    Ok(())
}

fn windows(at: &str, list: &[Window]) -> Checked {
    for (index, w) in list.iter().enumerate() {
        bounded(format!("{at}[{index}].until"), w.until)?;
        if w.from >= w.until {
            return fail(format!("{at}[{index}]"), "'from' must be before 'until'");
        }
    }
    Ok(())
}

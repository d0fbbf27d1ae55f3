//! Devices that advertise sensor readings: `advert_format` + `readings` in a world file
//! become the real payload bytes of that format, so the hub's decoders (src/decode) read the
//! simulated sensor exactly as they read a real one.
//!
//! ```toml
//! [[devices]]
//! address = "A4:C1:38:11:22:33"
//! name = "ATC_112233"
//! advert_format = "bthome"            # or "pvvx", "atc1441"
//! readings = { temperature = 21.4, humidity = 48.0, battery = 87 }
//! ```
//!
//! Layouts are those of the decoders: BTHome v2 objects (bthome.io/format), pvvx's 15-byte
//! custom frame, ATC1441's 13-byte frame, all as service data. Such devices only advertise
//! unless `connectable = true`.

use std::collections::BTreeMap;

use super::parse::Field;
use super::specs::DeviceSpec;
use super::WorldError;
use crate::model::uuid_from_u16;

/// The readings each format can carry, in the order the format writes them.
const BTHOME: &[&str] = &[
    "battery",
    "temperature",
    "humidity",
    "pressure",
    "illuminance",
    "voltage",
    "moisture",
];
const THERMOMETER: &[&str] = &["temperature", "humidity", "battery", "voltage"];

/// Sets the device's service data from its format and readings.
pub(super) fn apply(
    at: &str,
    format: Option<&str>,
    readings: &BTreeMap<String, f64>,
    spec: &mut DeviceSpec,
) -> Field<()> {
    let Some(format) = format else {
        if let Some(name) = readings.keys().next() {
            return Err(WorldError::invalid(
                format!("{at}.readings.{name}"),
                "readings need an advert_format (bthome, pvvx or atc1441)",
            ));
        }
        return Ok(());
    };
    let allowed = match format {
        "bthome" => BTHOME,
        "pvvx" | "atc1441" => THERMOMETER,
        other => {
            return Err(WorldError::invalid(
                format!("{at}.advert_format"),
                format!("unknown format '{other}': use bthome, pvvx or atc1441"),
            ))
        }
    };
    for (name, value) in readings {
        if !allowed.contains(&name.as_str()) {
            return Err(WorldError::invalid(
                format!("{at}.readings.{name}"),
                format!(
                    "{format} does not carry '{name}': use {}",
                    allowed.join(", ")
                ),
            ));
        }
        if !value.is_finite() {
            return Err(WorldError::invalid(
                format!("{at}.readings.{name}"),
                "must be a number",
            ));
        }
    }
    let get = |name: &str| readings.get(name).copied();
    let field = |name: &str| format!("{at}.readings.{name}");
    let mac = spec.address.bytes();
    let (uuid, payload) = match format {
        "bthome" => (0xFCD2, bthome(&get, &field)?),
        "pvvx" => (0x181A, pvvx(mac, &get, &field)?),
        _ => (0x181A, atc1441(mac, &get, &field)?),
    };
    spec.advert
        .service_data
        .insert(uuid_from_u16(uuid), payload);
    Ok(())
}

/// A reading scaled to an integer that must fit `min..=max`.
fn scaled(value: f64, factor: f64, min: i64, max: i64, at: String) -> Field<i64> {
    let raw = (value * factor).round();
    if raw < min as f64 || raw > max as f64 {
        return Err(WorldError::invalid(
            at,
            format!(
                "{value} does not fit the format ({} to {})",
                min as f64 / factor,
                max as f64 / factor
            ),
        ));
    }
    Ok(raw as i64)
}

type Get<'a> = dyn Fn(&str) -> Option<f64> + 'a;
type Name<'a> = dyn Fn(&str) -> String + 'a;

fn bthome(get: &Get<'_>, field: &Name<'_>) -> Field<Vec<u8>> {
    // Object id, size, scale, signed — the spec's ids in ascending order.
    const OBJECTS: &[(&str, u8, usize, f64, bool)] = &[
        ("battery", 0x01, 1, 1.0, false),
        ("temperature", 0x02, 2, 100.0, true),
        ("humidity", 0x03, 2, 100.0, false),
        ("pressure", 0x04, 3, 100.0, false),
        ("illuminance", 0x05, 3, 100.0, false),
        ("voltage", 0x0C, 2, 1000.0, false),
        ("moisture", 0x14, 2, 100.0, false),
    ];
    let mut payload = vec![0x40];
    for &(name, id, size, factor, signed) in OBJECTS {
        let Some(value) = get(name) else { continue };
        let bits = 8 * size as u32;
        let (min, max) = if signed {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        };
        let raw = scaled(value, factor, min, max, field(name))?;
        payload.push(id);
        payload.extend(raw.to_le_bytes().iter().take(size));
    }
    Ok(payload)
}

fn thermometer(get: &Get<'_>, field: &Name<'_>, t: f64, h: f64) -> Field<[i64; 4]> {
    let temperature = scaled(
        get("temperature").unwrap_or(0.0),
        t,
        -32768,
        32767,
        field("temperature"),
    )?;
    let humidity_max = if h > 1.0 { 65535 } else { 255 };
    let humidity = scaled(
        get("humidity").unwrap_or(0.0),
        h,
        0,
        humidity_max,
        field("humidity"),
    )?;
    let battery = scaled(
        get("battery").unwrap_or(100.0),
        1.0,
        0,
        100,
        field("battery"),
    )?;
    let millivolts = scaled(
        get("voltage").unwrap_or(3.0),
        1000.0,
        0,
        65535,
        field("voltage"),
    )?;
    Ok([temperature, humidity, battery, millivolts])
}

fn pvvx(mac: [u8; 6], get: &Get<'_>, field: &Name<'_>) -> Field<Vec<u8>> {
    let [t, h, battery, mv] = thermometer(get, field, 100.0, 100.0)?;
    let mut frame: Vec<u8> = mac.iter().rev().copied().collect();
    frame.extend((t as i16).to_le_bytes());
    frame.extend((h as u16).to_le_bytes());
    frame.extend((mv as u16).to_le_bytes());
    frame.extend([battery as u8, 0, 0]);
    Ok(frame)
}

fn atc1441(mac: [u8; 6], get: &Get<'_>, field: &Name<'_>) -> Field<Vec<u8>> {
    let [t, h, battery, mv] = thermometer(get, field, 10.0, 1.0)?;
    let mut frame = mac.to_vec();
    frame.extend((t as i16).to_be_bytes());
    frame.extend([h as u8, battery as u8]);
    frame.extend((mv as u16).to_be_bytes());
    frame.push(0);
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use crate::backend::sim::World;
    use crate::decode::{Keyring, Kind, Registry, Value};

    fn world(device: &str) -> Result<World, super::WorldError> {
        World::from_toml_str(&format!(
            "[[radios]]\nname = \"hci0\"\nkind = \"local-controller\"\n\n[[devices]]\n{device}"
        ))
    }

    #[test]
    fn generated_payloads_decode_to_the_readings_the_world_gives() {
        for (format, expected_format) in [
            ("bthome", "bthome"),
            ("pvvx", "pvvx"),
            ("atc1441", "atc1441"),
        ] {
            let world = world(&format!(
                "address = \"A4:C1:38:11:22:33\"\nadvert_format = \"{format}\"\n\
                 readings = {{ temperature = -4.5, humidity = 48.0, battery = 87 }}"
            ))
            .unwrap();
            let device = &world.devices[0];
            assert!(!device.connectable);
            let decoded = Registry::standard()
                .decode(device.address, &device.advert, &mut Keyring::new())
                .unwrap()
                .unwrap();
            assert_eq!(decoded.format, expected_format);
            assert_eq!(
                decoded.get(Kind::Temperature).unwrap().value,
                Value::Number(-4.5)
            );
            assert_eq!(
                decoded.get(Kind::Humidity).unwrap().value,
                Value::Number(48.0)
            );
            assert_eq!(
                decoded.get(Kind::Battery).unwrap().value,
                Value::Number(87.0)
            );
        }
    }

    #[test]
    fn bad_formats_and_readings_name_their_field() {
        for (device, needle) in [
            ("advert_format = \"zigbee\"", "devices[0].advert_format"),
            (
                "advert_format = \"pvvx\"\nreadings = { pressure = 1.0 }",
                "readings.pressure",
            ),
            ("readings = { temperature = 1.0 }", "need an advert_format"),
            (
                "advert_format = \"bthome\"\nreadings = { battery = 300 }",
                "does not fit",
            ),
        ] {
            let err = world(&format!("address = \"A4:C1:38:11:22:33\"\n{device}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{device}: {err}");
        }
    }
}

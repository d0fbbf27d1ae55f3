//! MiBeacon objects: type id → readings, for the common sensor objects.
//!
//! Facts from the reference decoder Bluetooth-Devices/xiaomi-ble (`parser.py`, the `objXXXX`
//! functions): sizes, scales and the meaning of state bytes. Objects of a known type with the
//! wrong size, and object types not listed here, add no reading (the reference does the
//! same), so a new object type does not hide the others.

use crate::decode::bytes::Reader;
use crate::decode::{Decoded, Kind, Problem, Unit};

/// Product ids whose 0x1006 humidity is shown in whole percent by the reference decoder.
const WHOLE_PERCENT_HUMIDITY: &[u16] = &[0x055B, 0x0387];

/// Reads every object of a (decrypted) payload.
pub fn read(payload: &[u8], product_id: u16, decoded: &mut Decoded) -> Result<(), Problem> {
    let mut reader = Reader::new(payload);
    while reader.remaining() >= 3 {
        let kind = reader.u16_le()?;
        let len = usize::from(reader.u8()?);
        let value = reader.take(len)?;
        apply(kind, value, product_id, decoded)?;
    }
    Ok(())
}

fn apply(object: u16, value: &[u8], product_id: u16, d: &mut Decoded) -> Result<(), Problem> {
    let mut r = Reader::new(value);
    let len = value.len();
    match (object, len) {
        (0x0003, _) => d.push(Kind::Motion, true, Unit::None),
        (0x000F, 3) => {
            let level = r.uint_le(3)?;
            d.push(Kind::Motion, true, Unit::None);
            match product_id {
                // CGPR1 sends lux; MJYD02YL and RTCGQ02LM send a light flag.
                0x0A83 => d.push(Kind::Illuminance, level as f64, Unit::Lux),
                0x07F6 | 0x0A8D => d.push(Kind::Light, level >= 100, Unit::None),
                _ => {}
            }
        }
        (0x1001, 3) => {
            let [_button, _value, press] = r.array::<3>()?;
            let event = match press {
                0 => "press",
                1 => "double_press",
                2 => "long_press",
                _ => return Ok(()),
            };
            d.push(Kind::Button, event, Unit::None);
        }
        (0x1004, 2) => d.push(
            Kind::Temperature,
            f64::from(r.i16_le()?) / 10.0,
            Unit::Celsius,
        ),
        (0x1005, 2) => {
            let [power, temperature] = r.array::<2>()?;
            d.push(Kind::PowerOn, power != 0, Unit::None);
            d.push(Kind::Temperature, f64::from(temperature), Unit::Celsius);
        }
        (0x1006, 2) => {
            let tenths = r.u16_le()?;
            let humidity = if WHOLE_PERCENT_HUMIDITY.contains(&product_id) {
                f64::from(tenths / 10)
            } else {
                f64::from(tenths) / 10.0
            };
            d.push(Kind::Humidity, humidity, Unit::Percent);
        }
        (0x1007, 3) => {
            let lux = r.uint_le(3)? as f64;
            match product_id {
                0x07F6 | 0x098B => d.push(Kind::Light, lux == 100.0, Unit::None),
                _ => d.push(Kind::Illuminance, lux, Unit::Lux),
            }
        }
        (0x1008, 1..) => d.push(Kind::Moisture, f64::from(r.u8()?), Unit::Percent),
        (0x1009, 2) => d.push(
            Kind::Conductivity,
            f64::from(r.u16_le()?),
            Unit::MicrosiemensPerCm,
        ),
        (0x100A, 1..) | (0x4803, 1..) | (0x4C03, 1..) => {
            d.push(Kind::Battery, f64::from(r.u8()?), Unit::Percent);
        }
        (0x100D, 4) => {
            d.push(
                Kind::Temperature,
                f64::from(r.i16_le()?) / 10.0,
                Unit::Celsius,
            );
            d.push(Kind::Humidity, f64::from(r.u16_le()?) / 10.0, Unit::Percent);
        }
        (0x1017, 4) => d.push(Kind::Motion, r.u32_le()? <= 30, Unit::None),
        (0x4818, 2) => d.push(Kind::Motion, r.u16_le()? <= 30, Unit::None),
        (0x1018, 1..) => d.push(Kind::Light, r.u8()? != 0, Unit::None),
        (0x1019, 1..) => match r.u8()? {
            0 => d.push(Kind::Opening, true, Unit::None),
            1 => {
                d.push(Kind::Opening, false, Unit::None);
                d.push(Kind::LeftOpen, false, Unit::None);
            }
            2 => {
                d.push(Kind::Opening, true, Unit::None);
                d.push(Kind::LeftOpen, true, Unit::None);
            }
            _ => {}
        },
        (0x4804, 1..) | (0x4A12, 1..) => match r.u8()? {
            1 => d.push(Kind::Opening, true, Unit::None),
            2 => d.push(Kind::Opening, false, Unit::None),
            _ => {}
        },
        (0x4806, 1) => d.push(Kind::MoistureDetected, r.u8()? > 0, Unit::None),
        (0x4A08, 4) => {
            let lux = f64::from(r.f32_le()?);
            d.push(Kind::Motion, true, Unit::None);
            d.push(Kind::Illuminance, lux, Unit::Lux);
        }
        (0x4A13, 1..) if value.first() == Some(&1) => d.push(Kind::Button, "press", Unit::None),
        (0x4C01, 4) => {
            let celsius = (f64::from(r.f32_le()?) * 100.0).round() / 100.0;
            d.push(Kind::Temperature, celsius, Unit::Celsius);
        }
        (0x4801, 4) => {
            let celsius = (f64::from(r.f32_le()?) * 10.0).round() / 10.0;
            d.push(Kind::Temperature, celsius, Unit::Celsius);
        }
        (0x4802, 1) | (0x4C02, 1) => d.push(Kind::Humidity, f64::from(r.u8()?), Unit::Percent),
        (0x4C08, 4) => {
            let humidity = (f64::from(r.f32_le()?) * 100.0).round() / 100.0;
            d.push(Kind::Humidity, humidity, Unit::Percent);
        }
        _ => {}
    }
    Ok(())
}

//! The BTHome object table: for each object id, what it measures, its size and its scale.
//!
//! Facts from the BTHome specification (bthome.io/format) as its reference decoder
//! (Bluetooth-Devices/bthome-ble, `const.py`) lists them. BTHome v1 shares the measurement ids
//! 0x00–0x14 but carries each object's length and type in a control byte of its own.

use crate::decode::{Kind, Unit};

/// How an object's bytes become a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An integer times `num / den`.
    Number {
        /// Two's complement.
        signed: bool,
        /// Scale numerator.
        num: u32,
        /// Scale denominator.
        den: u32,
    },
    /// One byte, 0 or 1.
    Binary,
    /// One byte: a button event.
    Button,
    /// Two bytes: a dimmer event and its steps.
    Dimmer,
    /// A length byte, then UTF-8.
    Text,
    /// A length byte, then bytes.
    Raw,
    /// Four bytes: seconds since the Unix epoch.
    Timestamp,
}

/// One object id's meaning.
#[derive(Clone, Copy, Debug)]
pub struct Object {
    /// What it measures.
    pub kind: Kind,
    /// Its unit.
    pub unit: Unit,
    /// Its size in bytes (for Text and Raw: 0, the size is in the frame).
    pub len: usize,
    /// How to read it.
    pub form: Form,
}

const fn number(kind: Kind, unit: Unit, len: usize, signed: bool, den: u32) -> Object {
    scaled(kind, unit, len, signed, 1, den)
}

const fn scaled(kind: Kind, unit: Unit, len: usize, signed: bool, num: u32, den: u32) -> Object {
    Object {
        kind,
        unit,
        len,
        form: Form::Number { signed, num, den },
    }
}

const fn binary(kind: Kind) -> Object {
    Object {
        kind,
        unit: Unit::None,
        len: 1,
        form: Form::Binary,
    }
}

const fn special(kind: Kind, unit: Unit, len: usize, form: Form) -> Object {
    Object {
        kind,
        unit,
        len,
        form,
    }
}

/// The object with this id, if the spec defines it.
pub fn lookup(id: u8) -> Option<Object> {
    use Kind as K;
    use Unit as U;
    Some(match id {
        0x00 => number(K::PacketId, U::None, 1, false, 1),
        0x01 => number(K::Battery, U::Percent, 1, false, 1),
        0x02 => number(K::Temperature, U::Celsius, 2, true, 100),
        0x03 => number(K::Humidity, U::Percent, 2, false, 100),
        0x04 => number(K::Pressure, U::HectoPascal, 3, false, 100),
        0x05 => number(K::Illuminance, U::Lux, 3, false, 100),
        0x06 => number(K::Weight, U::Kilogram, 2, false, 100),
        0x07 => number(K::Weight, U::Pound, 2, false, 100),
        0x08 => number(K::DewPoint, U::Celsius, 2, true, 100),
        0x09 => number(K::Count, U::None, 1, false, 1),
        0x0A => number(K::Energy, U::KilowattHour, 3, false, 1000),
        0x0B => number(K::Power, U::Watt, 3, false, 100),
        0x0C => number(K::Voltage, U::Volt, 2, false, 1000),
        0x0D => number(K::Pm25, U::MicrogramPerCubicMetre, 2, false, 1),
        0x0E => number(K::Pm10, U::MicrogramPerCubicMetre, 2, false, 1),
        0x0F => binary(K::Binary),
        0x10 => binary(K::PowerOn),
        0x11 => binary(K::Opening),
        0x12 => number(K::Co2, U::Ppm, 2, false, 1),
        0x13 => number(K::Tvoc, U::MicrogramPerCubicMetre, 2, false, 1),
        0x14 => number(K::Moisture, U::Percent, 2, false, 100),
        0x15 => binary(K::BatteryLow),
        0x16 => binary(K::BatteryCharging),
        0x17 => binary(K::CarbonMonoxide),
        0x18 => binary(K::Cold),
        0x19 => binary(K::Connectivity),
        0x1A => binary(K::Door),
        0x1B => binary(K::GarageDoor),
        0x1C => binary(K::GasDetected),
        0x1D => binary(K::Heat),
        0x1E => binary(K::Light),
        0x1F => binary(K::Lock),
        0x20 => binary(K::MoistureDetected),
        0x21 => binary(K::Motion),
        0x22 => binary(K::Moving),
        0x23 => binary(K::Occupancy),
        0x24 => binary(K::Plug),
        0x25 => binary(K::Presence),
        0x26 => binary(K::ProblemReported),
        0x27 => binary(K::Running),
        0x28 => binary(K::Safety),
        0x29 => binary(K::Smoke),
        0x2A => binary(K::Sound),
        0x2B => binary(K::Tamper),
        0x2C => binary(K::Vibration),
        0x2D => binary(K::Window),
        0x2E => number(K::Humidity, U::Percent, 1, false, 1),
        0x2F => number(K::Moisture, U::Percent, 1, false, 1),
        0x3A => special(K::Button, U::None, 1, Form::Button),
        0x3C => special(K::Dimmer, U::Steps, 2, Form::Dimmer),
        0x3D => number(K::Count, U::None, 2, false, 1),
        0x3E => number(K::Count, U::None, 4, false, 1),
        0x3F => number(K::Rotation, U::Degree, 2, true, 10),
        0x40 => number(K::Distance, U::Millimetre, 2, false, 1),
        0x41 => number(K::Distance, U::Metre, 2, false, 10),
        0x42 => number(K::Duration, U::Second, 3, false, 1000),
        0x43 => number(K::Current, U::Ampere, 2, false, 1000),
        0x44 => number(K::Speed, U::MetrePerSecond, 2, false, 100),
        0x45 => number(K::Temperature, U::Celsius, 2, true, 10),
        0x46 => number(K::UvIndex, U::None, 1, false, 10),
        0x47 => number(K::Volume, U::Litre, 2, false, 10),
        0x48 => number(K::Volume, U::Millilitre, 2, false, 1),
        0x49 => number(K::VolumeFlowRate, U::CubicMetrePerHour, 2, false, 1000),
        0x4A => number(K::Voltage, U::Volt, 2, false, 10),
        0x4B => number(K::Gas, U::CubicMetre, 3, false, 1000),
        0x4C => number(K::Gas, U::CubicMetre, 4, false, 1000),
        0x4D => number(K::Energy, U::KilowattHour, 4, false, 1000),
        0x4E => number(K::Volume, U::Litre, 4, false, 1000),
        0x4F => number(K::Water, U::Litre, 4, false, 1000),
        0x50 => special(K::Timestamp, U::Second, 4, Form::Timestamp),
        0x51 => number(K::Acceleration, U::MetrePerSecondSquared, 2, false, 1000),
        0x52 => number(K::Gyroscope, U::DegreePerSecond, 2, false, 1000),
        0x53 => special(K::Text, U::None, 0, Form::Text),
        0x54 => special(K::Raw, U::None, 0, Form::Raw),
        0x55 => number(K::VolumeStorage, U::Litre, 4, false, 1000),
        0x56 => number(K::Conductivity, U::MicrosiemensPerCm, 2, false, 1),
        0x57 => number(K::Temperature, U::Celsius, 1, true, 1),
        0x58 => scaled(K::Temperature, U::Celsius, 1, true, 35, 100),
        0x59 => number(K::Count, U::None, 1, true, 1),
        0x5A => number(K::Count, U::None, 2, true, 1),
        0x5B => number(K::Count, U::None, 4, true, 1),
        0x5C => number(K::Power, U::Watt, 4, true, 100),
        0x5D => number(K::Current, U::Ampere, 2, true, 1000),
        0x5E => number(K::Direction, U::Degree, 2, false, 100),
        0x5F => number(K::Precipitation, U::Millimetre, 2, false, 10),
        0x60 => number(K::Channel, U::None, 1, false, 1),
        0x61 => number(K::RotationalSpeed, U::Rpm, 2, false, 1),
        0x62 => number(K::Speed, U::MetrePerSecond, 4, true, 1_000_000),
        0x63 => number(
            K::Acceleration,
            U::MetrePerSecondSquared,
            4,
            true,
            1_000_000,
        ),
        0x64 => number(K::LightLevel, U::None, 1, false, 1),
        _ => return None,
    })
}

/// BTHome button event names by event byte.
pub fn button_event(byte: u8) -> Option<&'static str> {
    Some(match byte {
        0x00 => "none",
        0x01 => "press",
        0x02 => "double_press",
        0x03 => "triple_press",
        0x04 => "long_press",
        0x05 => "long_double_press",
        0x06 => "long_triple_press",
        0x80 => "hold_press",
        _ => return None,
    })
}

/// Scales a raw integer: `raw * num / den`, dividing last so decimal scales print cleanly.
pub fn scale(raw: i64, num: u32, den: u32) -> f64 {
    (raw as f64 * f64::from(num)) / f64::from(den)
}

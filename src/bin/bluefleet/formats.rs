//! Known characteristic and descriptor formats, decoded for people: what `explore --read`
//! prints next to the raw hex.
//!
//! The values of the Bluetooth SIG characteristics a sensor hub meets most (Battery Level,
//! Temperature, Humidity, Pressure, Heart Rate Measurement) and the descriptors that describe
//! a value (Characteristic Presentation Format 0x2904, User Description 0x2901, Client
//! Characteristic Configuration 0x2902). Layouts from the SIG's GATT Specification Supplement
//! and Core Spec Vol 3 Part G §3.3.3; unit UUIDs from Assigned Numbers §3.5.

use bluefleet::config::{Decode, Reading, ValueFormat};
use bluefleet::model::uuid_from_u16;
use uuid::Uuid;

/// A Characteristic Presentation Format descriptor (0x2904), parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Presentation {
    /// The format code (0x04 uint8, 0x06 uint16, 0x0E sint16, …).
    pub format: u8,
    /// The value is `raw × 10^exponent`.
    pub exponent: i8,
    /// The unit's 16-bit UUID (0x272F °C …).
    pub unit: u16,
}

impl Presentation {
    /// Parses the 7-byte descriptor value.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let [format, exponent, unit_lo, unit_hi, ..] = *value else {
            return None;
        };
        (value.len() == 7).then_some(Self {
            format,
            exponent: i8::from_le_bytes([exponent]),
            unit: u16::from_le_bytes([unit_lo, unit_hi]),
        })
    }

    /// `sint16, ×10^-2, °C`.
    pub fn describe(&self) -> String {
        let unit = unit_symbol(self.unit)
            .map_or_else(|| format!("unit 0x{:04x}", self.unit), str::to_string);
        format!(
            "{}, ×10^{}, {unit}",
            format_name(self.format),
            self.exponent
        )
    }

    /// The value this descriptor describes, scaled, with its unit.
    pub fn apply(&self, value: &[u8]) -> Option<String> {
        let decode = Decode::from_format_code(self.format).filter(|d| d.is_numeric())?;
        let format = ValueFormat {
            exponent: self.exponent,
            ..ValueFormat::plain(decode, 1.0)
        };
        let Reading::Number(scaled) = format.apply(value) else {
            return None;
        };
        let unit = unit_symbol(self.unit).unwrap_or("");
        // Integers have as many decimals as the exponent gives; floats carry their own.
        let text = match usize::try_from(-i32::from(self.exponent)) {
            Ok(decimals) if !matches!(decode, Decode::Float32 | Decode::Sfloat | Decode::Float) => {
                format!("{scaled:.decimals$} {unit}")
            }
            _ => format!("{} {unit}", Reading::Number(scaled)),
        };
        Some(text.trim_end().to_string())
    }
}

/// The format's name as hub.toml writes it (`sint16`), `boolean`, or `format` when unknown.
fn format_name(format: u8) -> String {
    match format {
        0x01 => "boolean".into(),
        code => Decode::from_format_code(code).map_or_else(|| "format".into(), |d| d.to_string()),
    }
}

fn unit_symbol(unit: u16) -> Option<&'static str> {
    Some(match unit {
        0x2700 => "",
        0x272F => "°C",
        0x27AD => "%",
        0x2724 => "Pa",
        0x2728 => "V",
        0x27A7 => "bpm",
        0x2731 => "lx",
        0x2703 => "s",
        _ => return None,
    })
}

/// A characteristic's value in words, when its UUID has a known layout.
pub fn characteristic_value(uuid: &Uuid, value: &[u8]) -> Option<String> {
    let short = |n: u16| *uuid == uuid_from_u16(n);
    if short(0x2A19) {
        let [level] = *value else { return None };
        return Some(format!("{level} %"));
    }
    if short(0x2A6E) {
        let [a, b] = *value else { return None };
        return Some(format!(
            "{:.2} °C",
            f64::from(i16::from_le_bytes([a, b])) / 100.0
        ));
    }
    if short(0x2A1F) {
        let [a, b] = *value else { return None };
        return Some(format!(
            "{:.1} °C",
            f64::from(i16::from_le_bytes([a, b])) / 10.0
        ));
    }
    if short(0x2A6F) {
        let [a, b] = *value else { return None };
        return Some(format!(
            "{:.2} %",
            f64::from(u16::from_le_bytes([a, b])) / 100.0
        ));
    }
    if short(0x2A6D) {
        let [a, b, c, d] = *value else { return None };
        return Some(format!(
            "{:.1} Pa",
            f64::from(u32::from_le_bytes([a, b, c, d])) / 10.0
        ));
    }
    if short(0x2A37) {
        return heart_rate(value);
    }
    None
}

/// Heart Rate Measurement: flags bit 0 says whether the rate is uint8 or uint16.
fn heart_rate(value: &[u8]) -> Option<String> {
    let (flags, rest) = value.split_first()?;
    let bpm = if flags & 1 == 0 {
        u16::from(*rest.first()?)
    } else {
        let [a, b, ..] = *rest else { return None };
        u16::from_le_bytes([a, b])
    };
    Some(format!("{bpm} bpm"))
}

/// A descriptor's value in words, when its UUID has a known layout.
pub fn descriptor_value(uuid: &Uuid, value: &[u8]) -> Option<String> {
    if *uuid == uuid_from_u16(0x2904) {
        return Presentation::parse(value).map(|p| p.describe());
    }
    if *uuid == uuid_from_u16(0x2901) {
        return std::str::from_utf8(value).ok().map(|t| format!("\"{t}\""));
    }
    if *uuid == uuid_from_u16(0x2902) {
        let [bits, _] = *value else { return None };
        return Some(
            match bits & 0b11 {
                0 => "notifications and indications off",
                1 => "notifications on",
                2 => "indications on",
                _ => "notifications and indications on",
            }
            .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sig_characteristics_decode_with_their_units() {
        let value = |n, bytes: &[u8]| characteristic_value(&uuid_from_u16(n), bytes);
        assert_eq!(value(0x2A19, &[87]).as_deref(), Some("87 %"));
        assert_eq!(
            value(0x2A6E, &0x0834i16.to_le_bytes()).as_deref(),
            Some("21.00 °C")
        );
        assert_eq!(
            value(0x2A6E, &(-512i16).to_le_bytes()).as_deref(),
            Some("-5.12 °C")
        );
        assert_eq!(
            value(0x2A6F, &4550u16.to_le_bytes()).as_deref(),
            Some("45.50 %")
        );
        assert_eq!(value(0x2A37, &[0x00, 72]).as_deref(), Some("72 bpm"));
        assert_eq!(
            value(0x2A37, &[0x01, 0x2C, 0x01]).as_deref(),
            Some("300 bpm")
        );
        assert_eq!(value(0x2A6E, &[1]), None, "wrong length is not guessed at");
        assert_eq!(value(0x2A00, b"name"), None);
    }

    #[test]
    fn presentation_format_describes_and_scales_the_value() {
        // SFLOAT (0x16), exponent 0, °C: 36.4 as mantissa 364 × 10^-1.
        let medical = Presentation::parse(&[0x16, 0x00, 0x2F, 0x27, 0x01, 0x00, 0x00]).unwrap();
        assert_eq!(medical.describe(), "sfloat, ×10^0, °C");
        assert_eq!(
            medical.apply(&0xF16Cu16.to_le_bytes()).as_deref(),
            Some("36.4 °C")
        );
        // sint16, exponent -2, °C (0x272F), namespace 1, description 0.
        let descriptor = [0x0E, 0xFE, 0x2F, 0x27, 0x01, 0x00, 0x00];
        let format = Presentation::parse(&descriptor).unwrap();
        assert_eq!(format.describe(), "sint16, ×10^-2, °C");
        assert_eq!(
            format.apply(&2134i16.to_le_bytes()).as_deref(),
            Some("21.34 °C")
        );
        assert_eq!(
            descriptor_value(&uuid_from_u16(0x2904), &descriptor).as_deref(),
            Some("sint16, ×10^-2, °C")
        );
        assert_eq!(Presentation::parse(&[0x0E]), None);
        assert_eq!(
            descriptor_value(&uuid_from_u16(0x2902), &[1, 0]).as_deref(),
            Some("notifications on")
        );
    }
}

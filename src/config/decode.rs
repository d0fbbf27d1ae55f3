//! How `bluefleet run` turns a notification's bytes into a reading: raw hex, little-endian
//! integers with a scale, or UTF-8 text.
//!
//! A value that does not fit its decoder (too short) is shown as hex with a note, never a panic:
//! a sensor firmware update should not kill the hub's log.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A decoder for one subscribed characteristic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decode {
    /// Hex bytes.
    #[default]
    Hex,
    /// Signed 16-bit little-endian.
    Int16le,
    /// Unsigned 16-bit little-endian.
    Uint16le,
    /// Unsigned 8-bit.
    Uint8,
    /// UTF-8 text (invalid sequences replaced).
    Utf8,
}

/// A decoded reading.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reading {
    /// A number (after scaling).
    Number(f64),
    /// Text or hex.
    Text(String),
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{}", (n * 1000.0).round() / 1000.0),
            Self::Text(t) => f.write_str(t),
        }
    }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Decode {
    /// Decodes `bytes`, multiplying numbers by `scale`.
    pub fn apply(self, bytes: &[u8], scale: f64) -> Reading {
        let number = |n: f64| Reading::Number(n * scale);
        match (self, bytes) {
            (Self::Int16le, [a, b, ..]) => number(f64::from(i16::from_le_bytes([*a, *b]))),
            (Self::Uint16le, [a, b, ..]) => number(f64::from(u16::from_le_bytes([*a, *b]))),
            (Self::Uint8, [a, ..]) => number(f64::from(*a)),
            (Self::Utf8, _) => Reading::Text(String::from_utf8_lossy(bytes).into_owned()),
            (Self::Hex, _) => Reading::Text(hex(bytes)),
            (_, short) => Reading::Text(format!("{} (too short for {self:?})", hex(short))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_env_sensor_values() {
        // 23.45 °C as int16 in 0.01 °C; 45.67 % as uint16 in 0.01 %.
        assert_eq!(
            Decode::Int16le.apply(&2345i16.to_le_bytes(), 0.01),
            Reading::Number(23.45)
        );
        assert_eq!(
            Decode::Int16le.apply(&(-512i16).to_le_bytes(), 0.01),
            Reading::Number(-5.12)
        );
        assert_eq!(
            Decode::Uint16le.apply(&4567u16.to_le_bytes(), 0.01),
            Reading::Number(45.67)
        );
        assert_eq!(Decode::Uint8.apply(&[87], 1.0), Reading::Number(87.0));
        assert_eq!(
            Decode::Utf8.apply(b"v1.2", 1.0),
            Reading::Text("v1.2".into())
        );
        assert_eq!(
            Decode::Hex.apply(&[0xde, 0xad], 1.0),
            Reading::Text("dead".into())
        );
    }

    #[test]
    fn short_values_fall_back_to_hex() {
        let reading = Decode::Int16le.apply(&[7], 1.0);
        assert_eq!(reading.to_string(), "07 (too short for Int16le)");
    }
}

//! How a characteristic's bytes become a reading: which bytes (an offset), in which of the
//! Bluetooth SIG's GATT formats, and how the number is scaled.
//!
//! The formats are the ones a Characteristic Presentation Format descriptor names (Assigned
//! Numbers §2.4.1): little-endian integers of 8 to 32 bits, IEEE-754 float32, the IEEE 11073
//! medical floats SFLOAT and FLOAT, UTF-8 text; plus raw hex. A number is
//! `raw × scale × 10^exponent`, the exponent being the descriptor's (GATT Specification
//! Supplement §2.2). A value that does not fit its decoder (too short at its offset) is shown as
//! hex with a note, never a panic: a sensor firmware update should not kill the hub's log.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::medfloat;

/// A GATT format (or raw hex) for one characteristic's value. Hub files and commands name it
/// as [`Decode::name`] gives it (`sint16`, `sfloat`…), from one table of names and spellings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decode {
    /// Hex bytes.
    #[default]
    Hex,
    /// UTF-8 text (invalid sequences replaced).
    Utf8,
    /// Unsigned 8-bit.
    Uint8,
    /// Unsigned 16-bit little-endian (also spelt `uint16le`).
    Uint16,
    /// Unsigned 24-bit little-endian.
    Uint24,
    /// Unsigned 32-bit little-endian.
    Uint32,
    /// Signed 8-bit.
    Sint8,
    /// Signed 16-bit little-endian (also spelt `int16le`).
    Sint16,
    /// Signed 24-bit little-endian.
    Sint24,
    /// Signed 32-bit little-endian.
    Sint32,
    /// IEEE-754 single precision, little-endian.
    Float32,
    /// IEEE 11073 16-bit SFLOAT (`medfloat16`): 4-bit exponent, 12-bit mantissa.
    Sfloat,
    /// IEEE 11073 32-bit FLOAT (`medfloat32`): 8-bit exponent, 24-bit mantissa.
    Float,
}

/// Every format, in declaration order: its name, then the other spellings a hub file or a
/// command may use. Parsing, printing and the "known formats" of an error all read this one
/// table, so a new format cannot be missing from one of them.
const FORMAT_NAMES: [(Decode, &str, &[&str]); 13] = [
    (Decode::Hex, "hex", &[]),
    (Decode::Utf8, "utf8", &[]),
    (Decode::Uint8, "uint8", &[]),
    (Decode::Uint16, "uint16", &["uint16le"]),
    (Decode::Uint24, "uint24", &[]),
    (Decode::Uint32, "uint32", &[]),
    (Decode::Sint8, "sint8", &[]),
    (Decode::Sint16, "sint16", &["int16le"]),
    (Decode::Sint24, "sint24", &[]),
    (Decode::Sint32, "sint32", &[]),
    (Decode::Float32, "float32", &[]),
    (Decode::Sfloat, "sfloat", &["medfloat16"]),
    (Decode::Float, "float", &["medfloat32"]),
];

/// A format name that is not one of the known formats.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a format; known: {known}", known = known_formats())]
pub struct UnknownFormat(pub String);

fn known_formats() -> String {
    let names: Vec<&str> = FORMAT_NAMES.iter().map(|(_, name, _)| *name).collect();
    names.join(", ")
}

impl std::str::FromStr for Decode {
    type Err = UnknownFormat;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FORMAT_NAMES
            .iter()
            .find(|(_, name, aliases)| *name == text || aliases.contains(&text))
            .map(|(decode, ..)| *decode)
            .ok_or_else(|| UnknownFormat(text.to_string()))
    }
}

impl Serialize for Decode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Decode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
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

impl fmt::Display for Decode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Decode {
    /// Its name in hub files and commands.
    pub fn name(self) -> &'static str {
        FORMAT_NAMES[self as usize].1
    }

    /// The decoder of a Presentation Format descriptor's format code (Assigned Numbers
    /// §2.4.1), for the codes this crate reads.
    pub fn from_format_code(code: u8) -> Option<Self> {
        Some(match code {
            0x01 | 0x04 => Self::Uint8,
            0x06 => Self::Uint16,
            0x07 => Self::Uint24,
            0x08 => Self::Uint32,
            0x0C => Self::Sint8,
            0x0E => Self::Sint16,
            0x0F => Self::Sint24,
            0x10 => Self::Sint32,
            0x14 => Self::Float32,
            0x16 => Self::Sfloat,
            0x17 => Self::Float,
            0x19 => Self::Utf8,
            _ => return None,
        })
    }

    /// Whether it gives numbers (not text).
    pub fn is_numeric(self) -> bool {
        !matches!(self, Self::Hex | Self::Utf8)
    }

    /// How many bytes a number of this format takes (`None` for text and hex: all of them).
    fn width(self) -> Option<usize> {
        match self {
            Self::Hex | Self::Utf8 => None,
            Self::Uint8 | Self::Sint8 => Some(1),
            Self::Uint16 | Self::Sint16 | Self::Sfloat => Some(2),
            Self::Uint24 | Self::Sint24 => Some(3),
            Self::Uint32 | Self::Sint32 | Self::Float32 | Self::Float => Some(4),
        }
    }

    /// The number in exactly `width()` bytes.
    fn number(self, bytes: &[u8]) -> f64 {
        let mut wide = [0u8; 4];
        for (to, from) in wide.iter_mut().zip(bytes) {
            *to = *from;
        }
        let unsigned = u32::from_le_bytes(wide);
        // Sign-extends an n-bit two's complement number.
        let signed = |bits: u32| f64::from((unsigned << (32 - bits)) as i32 >> (32 - bits));
        match self {
            Self::Uint8 | Self::Uint16 | Self::Uint24 | Self::Uint32 => f64::from(unsigned),
            Self::Sint8 => signed(8),
            Self::Sint16 => signed(16),
            Self::Sint24 => signed(24),
            Self::Sint32 => signed(32),
            Self::Float32 => f64::from(f32::from_bits(unsigned)),
            Self::Sfloat => medfloat::sfloat(unsigned as u16),
            Self::Float => medfloat::float(unsigned),
            Self::Hex | Self::Utf8 => f64::NAN,
        }
    }
}

/// Which bytes of a value, in which format, scaled how: one subscription's decoder. As JSON or
/// TOML every field may be left out: hex, from byte 0, times 1, times 10^0.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(default)]
pub struct ValueFormat {
    /// The format.
    pub decode: Decode,
    /// Where the value starts in the characteristic's bytes.
    pub offset: usize,
    /// Multiplier for numbers.
    pub scale: f64,
    /// Power of ten for numbers, as a Presentation Format descriptor gives it.
    pub exponent: i8,
}

impl Default for ValueFormat {
    fn default() -> Self {
        Self::plain(Decode::Hex, 1.0)
    }
}

impl ValueFormat {
    /// `decode` from the first byte, times `scale`.
    pub fn plain(decode: Decode, scale: f64) -> Self {
        Self {
            decode,
            offset: 0,
            scale,
            exponent: 0,
        }
    }

    /// Decodes `bytes`.
    pub fn apply(&self, bytes: &[u8]) -> Reading {
        let Some(value) = bytes.get(self.offset..) else {
            return self.too_short(bytes);
        };
        let Some(width) = self.decode.width() else {
            return match self.decode {
                Decode::Utf8 => Reading::Text(String::from_utf8_lossy(value).into_owned()),
                _ => Reading::Text(hex(value)),
            };
        };
        match value.get(..width) {
            Some(number) => Reading::Number(medfloat::times_ten_to(
                self.decode.number(number) * self.scale,
                i32::from(self.exponent),
            )),
            None => self.too_short(bytes),
        }
    }

    fn too_short(&self, bytes: &[u8]) -> Reading {
        let at = match self.offset {
            0 => String::new(),
            offset => format!(" at byte {offset}"),
        };
        Reading::Text(format!(
            "{} (too short for {}{at})",
            hex(bytes),
            self.decode
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(decode: Decode, bytes: &[u8]) -> f64 {
        match ValueFormat::plain(decode, 1.0).apply(bytes) {
            Reading::Number(n) => n,
            other => panic!("{decode}: {other:?}"),
        }
    }

    #[test]
    fn decodes_the_env_sensor_values() {
        // 23.45 °C as sint16 in 0.01 °C; 45.67 % as uint16 in 0.01 %.
        let env = |decode, bytes: &[u8]| ValueFormat::plain(decode, 0.01).apply(bytes);
        assert_eq!(
            env(Decode::Sint16, &2345i16.to_le_bytes()),
            Reading::Number(23.45)
        );
        assert_eq!(
            env(Decode::Sint16, &(-512i16).to_le_bytes()),
            Reading::Number(-5.12)
        );
        assert_eq!(
            env(Decode::Uint16, &4567u16.to_le_bytes()),
            Reading::Number(45.67)
        );
        assert_eq!(number(Decode::Uint8, &[87]), 87.0);
        assert_eq!(
            ValueFormat::plain(Decode::Utf8, 1.0).apply(b"v1.2"),
            Reading::Text("v1.2".into())
        );
        assert_eq!(
            ValueFormat::plain(Decode::Hex, 1.0).apply(&[0xde, 0xad]),
            Reading::Text("dead".into())
        );
    }

    #[test]
    fn every_integer_width_and_sign() {
        assert_eq!(number(Decode::Uint24, &[0x01, 0x02, 0x03]), 197_121.0);
        assert_eq!(number(Decode::Sint24, &[0xFF, 0xFF, 0xFF]), -1.0);
        assert_eq!(number(Decode::Sint24, &[0x00, 0x00, 0x80]), -8_388_608.0);
        assert_eq!(
            number(Decode::Uint32, &u32::MAX.to_le_bytes()),
            4_294_967_295.0
        );
        assert_eq!(
            number(Decode::Sint32, &i32::MIN.to_le_bytes()),
            -2_147_483_648.0
        );
        assert_eq!(number(Decode::Sint8, &[0x80]), -128.0);
        assert_eq!(number(Decode::Float32, &21.5f32.to_le_bytes()), 21.5);
    }

    #[test]
    fn offset_and_exponent_pick_and_scale_the_value() {
        // A Heart Rate Measurement with a uint16 rate: flags 0x01, then 0x012C = 300 bpm.
        let rate = ValueFormat {
            offset: 1,
            ..ValueFormat::plain(Decode::Uint16, 1.0)
        };
        assert_eq!(rate.apply(&[0x01, 0x2C, 0x01]), Reading::Number(300.0));
        // A Presentation Format's sint16 with exponent -2: 2134 → 21.34.
        let celsius = ValueFormat {
            exponent: -2,
            ..ValueFormat::plain(Decode::Sint16, 1.0)
        };
        assert_eq!(celsius.apply(&2134i16.to_le_bytes()).to_string(), "21.34");
        let tail = ValueFormat {
            offset: 2,
            ..ValueFormat::plain(Decode::Utf8, 1.0)
        };
        assert_eq!(tail.apply(b"\x00\x01ok"), Reading::Text("ok".into()));
    }

    #[test]
    fn short_values_fall_back_to_hex_naming_the_format() {
        let reading = ValueFormat::plain(Decode::Sint16, 1.0).apply(&[7]);
        assert_eq!(reading.to_string(), "07 (too short for sint16)");
        let past = ValueFormat {
            offset: 3,
            ..ValueFormat::plain(Decode::Uint8, 1.0)
        };
        assert_eq!(
            past.apply(&[1, 2]).to_string(),
            "0102 (too short for uint8 at byte 3)"
        );
        let hex_past = ValueFormat {
            offset: 9,
            ..ValueFormat::plain(Decode::Hex, 1.0)
        };
        assert!(hex_past.apply(&[1]).to_string().contains("too short"));
    }

    #[test]
    fn one_name_table_serves_parsing_printing_and_errors() {
        for (index, (decode, name, aliases)) in FORMAT_NAMES.iter().enumerate() {
            assert_eq!(
                *decode as usize, index,
                "{name} is out of declaration order"
            );
            assert_eq!(decode.to_string(), *name);
            assert_eq!(name.parse::<Decode>(), Ok(*decode));
            for alias in *aliases {
                assert_eq!(alias.parse::<Decode>(), Ok(*decode));
            }
            let json = serde_json::to_value(decode).unwrap();
            assert_eq!(serde_json::from_value::<Decode>(json).unwrap(), *decode);
        }
        let unknown = "uint9".parse::<Decode>().unwrap_err().to_string();
        assert!(unknown.starts_with("'uint9' is not a format; known: hex, utf8,"));
        assert!(unknown.ends_with("sfloat, float"), "{unknown}");
    }

    #[test]
    fn a_value_format_reads_with_defaults_for_what_is_left_out() {
        let read = |json: &str| serde_json::from_str::<ValueFormat>(json);
        assert_eq!(read("{}").unwrap(), ValueFormat::default());
        let rate = read(r#"{"decode": "uint16le", "offset": 1, "exponent": -1}"#).unwrap();
        assert_eq!(rate.apply(&[0x01, 0x2C, 0x01]), Reading::Number(30.0));
        assert!(read(r#"{"offset": -1}"#).is_err());
        assert!(read(r#"{"exponent": 300}"#).is_err());
    }

    #[test]
    fn names_read_from_hub_files_and_presentation_codes() {
        let parse = |name: &str| toml::Value::String(name.into()).try_into::<Decode>();
        assert_eq!(parse("int16le").unwrap(), Decode::Sint16);
        assert_eq!(parse("uint16le").unwrap(), Decode::Uint16);
        assert_eq!(parse("medfloat16").unwrap(), Decode::Sfloat);
        assert_eq!(parse("float").unwrap(), Decode::Float);
        assert!(parse("f32").is_err());
        assert_eq!(Decode::from_format_code(0x0E), Some(Decode::Sint16));
        assert_eq!(Decode::from_format_code(0x16), Some(Decode::Sfloat));
        assert_eq!(Decode::from_format_code(0x1B), None, "struct is not read");
    }
}

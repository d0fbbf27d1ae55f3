//! Commands arriving on `<base>/<hub>/commands/<verb>`: parsed from JSON into a [`Command`],
//! or refused with a [`CommandError`] that names the field.
//!
//! Anything can arrive on a topic (a typo, binary junk, a hostile client), so parsing never
//! panics and every refusal says which field was wrong and why; the bridge answers it like any
//! other command.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::backend::WriteMode;
use crate::config::ValueFormat;
use crate::model::{parse_uuid, Address};

/// The verbs, as the topic's last level.
pub const VERBS: [&str; 6] = [
    "read",
    "write",
    "subscribe",
    "keep-connected",
    "explain",
    "release",
];

/// One parsed command.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Read a characteristic now.
    Read {
        /// The device.
        address: Address,
        /// Its characteristic.
        characteristic: Uuid,
        /// How to decode the answer: `decode`, `offset`, `scale` and `exponent`, as in hub.toml.
        format: ValueFormat,
    },
    /// Write a characteristic.
    Write {
        /// The device.
        address: Address,
        /// Its characteristic.
        characteristic: Uuid,
        /// The bytes.
        value: Vec<u8>,
        /// With or without response.
        mode: WriteMode,
    },
    /// Start (or stop) publishing a characteristic's notifications.
    Subscribe {
        /// The device.
        address: Address,
        /// Its characteristic.
        characteristic: Uuid,
        /// On or off.
        on: bool,
        /// How to decode values: `decode`, `offset`, `scale` and `exponent`, as in hub.toml.
        format: ValueFormat,
    },
    /// Keep the device connected, or stop.
    KeepConnected {
        /// The device.
        address: Address,
        /// On or off.
        on: bool,
    },
    /// Say where the device stands and why.
    Explain {
        /// The device.
        address: Address,
    },
    /// Stop managing the device: disconnect it and remove its discovery and state.
    Release {
        /// The device.
        address: Address,
    },
}

impl Command {
    /// The device it is about.
    pub fn address(&self) -> Address {
        match self {
            Self::Read { address, .. }
            | Self::Write { address, .. }
            | Self::Subscribe { address, .. }
            | Self::KeepConnected { address, .. }
            | Self::Explain { address }
            | Self::Release { address } => *address,
        }
    }
}

/// Why a command was refused: the field and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CommandError {
    /// The field (`address`, `value`, …; `payload` for the whole message, `verb` for the topic).
    pub field: String,
    /// What was wrong.
    pub message: String,
}

fn refuse(field: &str, message: impl Into<String>) -> CommandError {
    CommandError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// Parses the JSON payload of a command with the given verb.
pub fn parse(verb: &str, payload: &[u8]) -> Result<Command, CommandError> {
    if !VERBS.contains(&verb) {
        return Err(refuse(
            "verb",
            format!("unknown command '{verb}'; known: {}", VERBS.join(", ")),
        ));
    }
    let object = object(payload)?;
    let address = address(&object)?;
    let command = match verb {
        "read" => Command::Read {
            address,
            characteristic: characteristic(&object)?,
            format: format(&object)?,
        },
        "write" => {
            let characteristic = characteristic(&object)?;
            Command::Write {
                address,
                characteristic,
                value: value(&object)?,
                mode: mode(&object)?,
            }
        }
        "subscribe" => Command::Subscribe {
            address,
            characteristic: characteristic(&object)?,
            on: flag(&object, "on", true)?,
            format: format(&object)?,
        },
        "keep-connected" => Command::KeepConnected {
            address,
            on: flag(&object, "on", true)?,
        },
        "explain" => Command::Explain { address },
        _ => Command::Release { address },
    };
    Ok(command)
}

/// The payload as a JSON object.
pub fn object(payload: &[u8]) -> Result<Map<String, Value>, CommandError> {
    let text = std::str::from_utf8(payload).map_err(|_| refuse("payload", "not UTF-8 text"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(refuse("payload", "must be a JSON object")),
        Err(e) => Err(refuse("payload", format!("not JSON: {e}"))),
    }
}

fn text<'v>(object: &'v Map<String, Value>, field: &str) -> Result<Option<&'v str>, CommandError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(refuse(field, format!("must be a string, not {other}"))),
    }
}

fn required<'v>(object: &'v Map<String, Value>, field: &str) -> Result<&'v str, CommandError> {
    text(object, field)?.ok_or_else(|| refuse(field, "is missing"))
}

fn address(object: &Map<String, Value>) -> Result<Address, CommandError> {
    required(object, "address")?
        .parse()
        .map_err(|e: crate::model::ParseAddressError| refuse("address", e.to_string()))
}

fn characteristic(object: &Map<String, Value>) -> Result<Uuid, CommandError> {
    parse_uuid(required(object, "characteristic")?)
        .map_err(|e| refuse("characteristic", e.to_string()))
}

/// The fields of a [`ValueFormat`], read by its own deserializer (the one hub.toml uses), so a
/// command decodes exactly what a hub file can say.
fn format(object: &Map<String, Value>) -> Result<ValueFormat, CommandError> {
    let fields: Map<String, Value> = ["decode", "offset", "scale", "exponent"]
        .into_iter()
        .filter_map(|field| match object.get(field) {
            None | Some(Value::Null) => None,
            Some(value) => Some((field.to_string(), value.clone())),
        })
        .collect();
    let format: ValueFormat = serde_path_to_error::deserialize(Value::Object(fields))
        .map_err(|e| refuse(&e.path().to_string(), e.into_inner().to_string()))?;
    if !format.scale.is_finite() {
        return Err(refuse("scale", "must be a finite number"));
    }
    Ok(format)
}

fn flag(object: &Map<String, Value>, field: &str, default: bool) -> Result<bool, CommandError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "on" => Ok(true),
        Some(Value::String(s)) if s == "off" => Ok(false),
        Some(other) => Err(refuse(
            field,
            format!("must be true/false or \"on\"/\"off\", not {other}"),
        )),
    }
}

fn mode(object: &Map<String, Value>) -> Result<WriteMode, CommandError> {
    match text(object, "mode")? {
        None | Some("with-response") => Ok(WriteMode::WithResponse),
        Some("without-response") => Ok(WriteMode::WithoutResponse),
        Some(other) => Err(refuse(
            "mode",
            format!("'{other}' is not with-response or without-response"),
        )),
    }
}

/// Integer encodings a write can use: `u8`, `i16le`, `u32be`, …
fn int_layout(format: &str) -> Option<(usize, bool, bool)> {
    let (signed, rest) = match format.as_bytes().first() {
        Some(b'u') => (false, &format[1..]),
        Some(b'i') => (true, &format[1..]),
        _ => return None,
    };
    let (bits, big_endian) = if let Some(bits) = rest.strip_suffix("le") {
        (bits, false)
    } else if let Some(bits) = rest.strip_suffix("be") {
        (bits, true)
    } else if rest == "8" {
        (rest, false)
    } else {
        return None;
    };
    let width = match bits {
        "8" => 1,
        "16" => 2,
        "32" => 4,
        "64" => 8,
        _ => return None,
    };
    Some((width, signed, big_endian))
}

fn value(object: &Map<String, Value>) -> Result<Vec<u8>, CommandError> {
    let format = text(object, "format")?.unwrap_or("hex");
    let raw = object
        .get("value")
        .ok_or_else(|| refuse("value", "is missing"))?;
    match format {
        "hex" => {
            let hex = raw
                .as_str()
                .ok_or_else(|| refuse("value", "must be a hex string for format hex"))?;
            let digits: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
            let digits = digits.strip_prefix("0x").unwrap_or(&digits);
            if !digits.len().is_multiple_of(2) || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(refuse(
                    "value",
                    format!("'{hex}' is not an even number of hex digits"),
                ));
            }
            Ok((0..digits.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
                .collect())
        }
        "utf8" => raw
            .as_str()
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| refuse("value", "must be a string for format utf8")),
        other => {
            let (width, signed, big_endian) = int_layout(other).ok_or_else(|| {
                refuse(
                    "format",
                    format!("'{other}' is not hex, utf8 or an integer like u8, i16le, u32be"),
                )
            })?;
            let number = match raw {
                Value::Number(n) => n.as_i64().map(i128::from).or(n.as_u64().map(i128::from)),
                Value::String(s) => s.trim().parse::<i128>().ok(),
                _ => None,
            }
            .ok_or_else(|| refuse("value", format!("{raw} is not an integer")))?;
            let bits = 8 * width as u32;
            let (min, max) = if signed {
                (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
            } else {
                (0, (1i128 << bits) - 1)
            };
            if number < min || number > max {
                return Err(refuse(
                    "value",
                    format!("{number} does not fit {other} ({min}..={max})"),
                ));
            }
            let little = number.to_le_bytes();
            let mut bytes = little[..width].to_vec();
            if big_endian {
                bytes.reverse();
            }
            Ok(bytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Decode;

    const ADDR: &str = "A4:C1:38:00:00:01";

    fn write(extra: &str) -> Result<Command, CommandError> {
        let payload = format!(
            r#"{{"address":"{ADDR}","characteristic":"6e400003-b5a3-f393-e0a9-e50e24dcca9e"{extra}}}"#
        );
        parse("write", payload.as_bytes())
    }

    fn written(extra: &str) -> Vec<u8> {
        match write(extra).unwrap() {
            Command::Write { value, .. } => value,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn write_formats() {
        assert_eq!(written(r#","value":"0A ff""#), vec![0x0a, 0xff]);
        assert_eq!(written(r#","value":"hi","format":"utf8""#), b"hi".to_vec());
        assert_eq!(written(r#","value":258,"format":"u16le""#), vec![2, 1]);
        assert_eq!(written(r#","value":258,"format":"u16be""#), vec![1, 2]);
        assert_eq!(written(r#","value":-2,"format":"i8""#), vec![0xfe]);
        assert_eq!(
            written(r#","value":"-2","format":"i32le""#),
            vec![0xfe, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn refusals_name_the_field() {
        let cases = [
            (write(r#","value":256,"format":"u8""#), "value"),
            (write(r#","value":-1,"format":"u16le""#), "value"),
            (write(r#","value":1,"format":"float""#), "format"),
            (write(r#","value":"abc""#), "value"),
            (write(r#","value":1.5,"format":"u8""#), "value"),
            (write(""), "value"),
            (write(r#","value":"00","mode":"sometimes""#), "mode"),
            (
                parse("read", br#"{"address":"nope","characteristic":"2a6e"}"#),
                "address",
            ),
            (
                parse("read", br#"{"address":"A4:C1:38:00:00:01"}"#),
                "characteristic",
            ),
            (
                parse(
                    "read",
                    br#"{"address":"A4:C1:38:00:00:01","characteristic":"zz"}"#,
                ),
                "characteristic",
            ),
            (
                parse(
                    "read",
                    br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","decode":"f32"}"#,
                ),
                "decode",
            ),
            (
                parse(
                    "read",
                    br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","offset":-1}"#,
                ),
                "offset",
            ),
            (
                parse(
                    "subscribe",
                    br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","exponent":"-2"}"#,
                ),
                "exponent",
            ),
            (
                parse(
                    "read",
                    br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","scale":"x"}"#,
                ),
                "scale",
            ),
            (
                parse(
                    "keep-connected",
                    br#"{"address":"A4:C1:38:00:00:01","on":"maybe"}"#,
                ),
                "on",
            ),
            (parse("read", b"[1,2]"), "payload"),
            (parse("read", b"{not json"), "payload"),
            (parse("read", &[0xff, 0xfe]), "payload"),
            (parse("reboot", b"{}"), "verb"),
            (parse("explain", br#"{"address":7}"#), "address"),
        ];
        for (result, field) in cases {
            let err = result.unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }

    #[test]
    fn good_commands() {
        let address: Address = ADDR.parse().unwrap();
        assert_eq!(
            parse(
                "keep-connected",
                br#"{"address":"a4:c1:38:00:00:01","on":"off"}"#
            )
            .unwrap(),
            Command::KeepConnected { address, on: false }
        );
        let read = parse(
            "read",
            br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a6e","decode":"int16le","scale":0.01}"#,
        )
        .unwrap();
        assert_eq!(
            read,
            Command::Read {
                address,
                characteristic: crate::model::uuid_from_u16(0x2a6e),
                format: ValueFormat::plain(Decode::Sint16, 0.01),
            }
        );
        assert_eq!(read.address(), address);
        let heart_rate = parse(
            "subscribe",
            br#"{"address":"A4:C1:38:00:00:01","characteristic":"2a37","decode":"uint8","offset":1,"exponent":-1}"#,
        )
        .unwrap();
        let Command::Subscribe { format, on, .. } = heart_rate else {
            panic!("{heart_rate:?}")
        };
        assert!(on);
        assert_eq!(
            (format.decode, format.offset, format.exponent),
            (Decode::Uint8, 1, -1)
        );
        assert_eq!(format.scale, 1.0);
    }
}

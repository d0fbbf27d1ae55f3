//! Bluetooth device addresses.
//!
//! Owns [`Address`], the six-byte identity every other layer keys its maps by, and
//! [`AddressKind`], which says whether the address is the device's public one or a random one
//! (ESPHome's v3 connect and BlueZ's `AddressType` both need to know).
//!
//! Addresses arrive as text from configuration, the command line, D-Bus object paths and
//! proxies, so parsing accepts upper or lower case with `:` or `-` separators and rejects
//! anything else with a [`ParseAddressError`] that says what was wrong. Display is always
//! upper case with colons, the form BlueZ and ESPHome print.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 48-bit Bluetooth device address, most significant byte first (as written).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address([u8; 6]);

/// Whether an address is the device's fixed public address or a random one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AddressKind {
    /// An IEEE-assigned public address.
    #[default]
    Public,
    /// A random (static or private) address.
    Random,
}

/// Why a piece of text is not a Bluetooth address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseAddressError {
    /// The text does not have six groups of two hex digits.
    #[error("'{text}' is not a Bluetooth address: expected six hex pairs like A4:CF:12:34:56:78")]
    WrongShape {
        /// The text that was given.
        text: String,
    },
    /// One group holds something other than two hex digits.
    #[error("'{text}' is not a Bluetooth address: '{group}' is not a hex byte")]
    InvalidDigit {
        /// The text that was given.
        text: String,
        /// The offending group.
        group: String,
    },
}

impl Address {
    /// Builds an address from its six bytes, most significant first.
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// The six bytes, most significant first.
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// Parses `A4:CF:12:34:56:78`, `a4-cf-12-34-56-78` and mixed case.
    pub fn parse(text: &str) -> Result<Self, ParseAddressError> {
        let trimmed = text.trim();
        let separator = if trimmed.contains('-') { '-' } else { ':' };
        let groups: Vec<&str> = trimmed.split(separator).collect();
        if groups.len() != 6 {
            return Err(ParseAddressError::WrongShape {
                text: text.to_string(),
            });
        }
        let mut bytes = [0u8; 6];
        for (slot, group) in bytes.iter_mut().zip(&groups) {
            if group.len() != 2 || !group.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ParseAddressError::InvalidDigit {
                    text: text.to_string(),
                    group: (*group).to_string(),
                });
            }
            *slot = u8::from_str_radix(group, 16).map_err(|_| ParseAddressError::InvalidDigit {
                text: text.to_string(),
                group: (*group).to_string(),
            })?;
        }
        Ok(Self(bytes))
    }

    /// Builds an address from a little-endian 48-bit integer (ESPHome sends addresses as u64).
    pub fn from_u64(value: u64) -> Self {
        let le = value.to_le_bytes();
        Self([le[5], le[4], le[3], le[2], le[1], le[0]])
    }

    /// The address as a 48-bit integer (ESPHome's wire form).
    pub fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_le_bytes([b[5], b[4], b[3], b[2], b[1], b[0], 0, 0])
    }

    /// The BlueZ object-path form: `dev_A4_CF_12_34_56_78`.
    pub fn to_dbus_suffix(&self) -> String {
        format!("dev_{}", self.to_string().replace(':', "_"))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = ParseAddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_displays_upper_case() {
        let a = Address::parse("a4:cf:12:34:56:7f").unwrap();
        assert_eq!(a.to_string(), "A4:CF:12:34:56:7F");
        assert_eq!(Address::parse("A4-CF-12-34-56-7F").unwrap(), a);
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert!(matches!(
            Address::parse("A4:CF:12:34:56"),
            Err(ParseAddressError::WrongShape { .. })
        ));
        let err = Address::parse("A4:CF:12:34:56:ZZ").unwrap_err();
        assert!(err.to_string().contains("'ZZ' is not a hex byte"), "{err}");
        assert!(Address::parse("A4:CF:12:34:56:777").is_err());
        assert!(Address::parse("").is_err());
        assert!(Address::parse("+4:CF:12:34:56:77").is_err());
    }

    #[test]
    fn u64_round_trip_matches_esphome_order() {
        let a = Address::parse("A4:CF:12:34:56:78").unwrap();
        assert_eq!(a.to_u64(), 0xA4CF_1234_5678);
        assert_eq!(Address::from_u64(0xA4CF_1234_5678), a);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let a = Address::parse("A4:CF:12:34:56:78").unwrap();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"A4:CF:12:34:56:78\"");
        assert_eq!(serde_json::from_str::<Address>(&json).unwrap(), a);
        assert!(serde_json::from_str::<Address>("\"nope\"").is_err());
    }

    #[test]
    fn dbus_suffix() {
        let a = Address::parse("A4:CF:12:34:56:78").unwrap();
        assert_eq!(a.to_dbus_suffix(), "dev_A4_CF_12_34_56_78");
    }
}

//! Bluetooth UUIDs: the short 16- and 32-bit forms and the 128-bit base they expand into.
//!
//! Adverts carry 16-, 32- and 128-bit UUIDs; users type `180d`, `0x180D` or the full form; and
//! every map in bluefleet keys by the full 128-bit [`Uuid`]. This module is the one place that
//! converts between them, so a short UUID from one radio and a long one from another compare
//! equal.

use uuid::Uuid;

/// The Bluetooth base UUID `00000000-0000-1000-8000-00805f9b34fb`; short forms fill its first
/// 32 bits.
pub const BLUETOOTH_BASE_UUID: Uuid = Uuid::from_u128(0x0000_0000_0000_1000_8000_0080_5f9b_34fb);

/// Why a piece of text is not a UUID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a UUID: expected 4 or 8 hex digits (180d, 0x180D) or the 128-bit form")]
pub struct ParseUuidError {
    /// The text that was given.
    pub text: String,
}

/// Expands a 16-bit SIG UUID (`0x180D`) to 128 bits.
pub const fn uuid_from_u16(short: u16) -> Uuid {
    uuid_from_u32(short as u32)
}

/// Expands a 32-bit SIG UUID to 128 bits.
pub const fn uuid_from_u32(short: u32) -> Uuid {
    Uuid::from_u128(BLUETOOTH_BASE_UUID.as_u128() | ((short as u128) << 96))
}

/// The 32-bit short form of a UUID built on the Bluetooth base, if it is one.
pub fn short_form(uuid: &Uuid) -> Option<u32> {
    let value = uuid.as_u128();
    let low_mask = (1u128 << 96) - 1;
    (value & low_mask == BLUETOOTH_BASE_UUID.as_u128()).then_some((value >> 96) as u32)
}

/// Parses `180d`, `0x180D`, `0000180d` or the full 128-bit form (any case, with or without
/// hyphens).
pub fn parse_uuid(text: &str) -> Result<Uuid, ParseUuidError> {
    let err = || ParseUuidError {
        text: text.to_string(),
    };
    let trimmed = text.trim();
    let hex = trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
        .unwrap_or(trimmed);
    let is_hex = !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit());
    match hex.len() {
        4 | 8 if is_hex => u32::from_str_radix(hex, 16)
            .map(uuid_from_u32)
            .map_err(|_| err()),
        _ if hex.len() == trimmed.len() => Uuid::parse_str(trimmed).map_err(|_| err()),
        _ => Err(err()),
    }
}

/// The shortest conventional text for a UUID: `0x180d` for base UUIDs, else the full form.
pub fn display_uuid(uuid: &Uuid) -> String {
    match short_form(uuid) {
        Some(short) if short <= 0xFFFF => format!("0x{short:04x}"),
        Some(short) => format!("0x{short:08x}"),
        None => uuid.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_expand_to_the_base() {
        assert_eq!(
            uuid_from_u16(0x180D).to_string(),
            "0000180d-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(
            uuid_from_u32(0x1234_5678).to_string(),
            "12345678-0000-1000-8000-00805f9b34fb"
        );
        assert_eq!(short_form(&uuid_from_u16(0x2A37)), Some(0x2A37));
        assert_eq!(short_form(&Uuid::from_u128(7)), None);
    }

    #[test]
    fn parses_every_written_form() {
        let hr = uuid_from_u16(0x180D);
        for text in ["180d", "180D", "0x180D", "0X180d", "0000180d", " 180d "] {
            assert_eq!(parse_uuid(text).unwrap(), hr, "{text}");
        }
        assert_eq!(
            parse_uuid("0000180D-0000-1000-8000-00805F9B34FB").unwrap(),
            hr
        );
        assert_eq!(parse_uuid("0000180d00001000800000805f9b34fb").unwrap(), hr);
    }

    #[test]
    fn rejects_malformed_text() {
        for text in [
            "",
            "18",
            "180g",
            "0x",
            "0x180D-",
            "12345",
            "not-a-uuid",
            "0x0000180d00001000",
        ] {
            let err = parse_uuid(text).unwrap_err();
            assert!(err.to_string().contains("is not a UUID"), "{text}: {err}");
        }
    }

    #[test]
    fn displays_short_when_it_can() {
        assert_eq!(display_uuid(&uuid_from_u16(0x180F)), "0x180f");
        let custom = parse_uuid("6e400001-b5a3-f393-e0a9-e50e24dcca9e").unwrap();
        assert_eq!(
            display_uuid(&custom),
            "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
        );
    }
}

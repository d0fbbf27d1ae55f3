//! ATT error codes (Core spec Vol 3, Part F, 3.4.1.1, and the common profile codes of CSS
//! Part B, 1.2), with their names.
//!
//! A GATT request the device refuses comes back as one of these codes; users see the name
//! ("Read Not Permitted") and the number, whatever backend carried it.

use std::fmt;

/// An ATT error response code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct AttError(pub u8);

impl AttError {
    /// The code's name, or a range description for application and reserved codes.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "Invalid Handle",
            0x02 => "Read Not Permitted",
            0x03 => "Write Not Permitted",
            0x04 => "Invalid PDU",
            0x05 => "Insufficient Authentication",
            0x06 => "Request Not Supported",
            0x07 => "Invalid Offset",
            0x08 => "Insufficient Authorization",
            0x09 => "Prepare Queue Full",
            0x0A => "Attribute Not Found",
            0x0B => "Attribute Not Long",
            0x0C => "Encryption Key Size Too Short",
            0x0D => "Invalid Attribute Value Length",
            0x0E => "Unlikely Error",
            0x0F => "Insufficient Encryption",
            0x10 => "Unsupported Group Type",
            0x11 => "Insufficient Resources",
            0x12 => "Database Out Of Sync",
            0x13 => "Value Not Allowed",
            0x80..=0x9F => "Application Error",
            0xFC => "Write Request Rejected",
            0xFD => "Client Characteristic Configuration Descriptor Improperly Configured",
            0xFE => "Procedure Already in Progress",
            0xFF => "Out of Range",
            _ => "Reserved",
        }
    }
}

impl fmt::Display for AttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02x})", self.name(), self.0)
    }
}

impl fmt::Debug for AttError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttError({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ranges() {
        assert_eq!(AttError(0x02).to_string(), "Read Not Permitted (0x02)");
        assert_eq!(AttError(0x85).name(), "Application Error");
        assert_eq!(AttError(0x50).name(), "Reserved");
        assert_eq!(AttError(0xFF).name(), "Out of Range");
    }
}

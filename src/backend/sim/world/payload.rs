//! Beacon payloads a simulated device can advertise: iBeacon and Eddystone (UID, URL).
//!
//! Owns the byte layouts only; the result goes into a device's [`crate::model::AdvertData`]
//! (manufacturer data for iBeacon, service data 0xFEAA for Eddystone), which the simulation
//! sends as raw AD bytes, so the hub's beacon decoders see exactly what real beacons send.
//!
//! Layouts: iBeacon is Apple company id 0x004C with `02 15`, a 16-byte UUID, big-endian major
//! and minor, and the measured power at 1 m. Eddystone frames start with a frame type (0x00
//! UID, 0x10 URL) and the calibrated tx power at 0 m; URLs use the scheme prefixes and
//! expansion codes of the Eddystone-URL specification.

use uuid::Uuid;

/// Apple's company identifier, which carries iBeacon frames.
pub const APPLE_COMPANY_ID: u16 = 0x004C;

/// The 16-bit service UUID Eddystone frames are sent under.
pub const EDDYSTONE_SERVICE: u16 = 0xFEAA;

/// iBeacon manufacturer data (without the company id, which is the map key).
pub fn ibeacon(proximity_uuid: Uuid, major: u16, minor: u16, measured_power_dbm: i8) -> Vec<u8> {
    let mut out = vec![0x02, 0x15];
    out.extend_from_slice(proximity_uuid.as_bytes());
    out.extend_from_slice(&major.to_be_bytes());
    out.extend_from_slice(&minor.to_be_bytes());
    out.extend_from_slice(&measured_power_dbm.to_le_bytes());
    out
}

/// An Eddystone-UID frame (service data for 0xFEAA).
pub fn eddystone_uid(namespace: [u8; 10], instance: [u8; 6], tx_power_at_0m_dbm: i8) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend_from_slice(&tx_power_at_0m_dbm.to_le_bytes());
    out.extend_from_slice(&namespace);
    out.extend_from_slice(&instance);
    out.extend_from_slice(&[0, 0]);
    out
}

const SCHEMES: [&str; 4] = ["http://www.", "https://www.", "http://", "https://"];
const EXPANSIONS: [&str; 14] = [
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/", ".com", ".org", ".edu", ".net",
    ".info", ".biz", ".gov",
];

/// An Eddystone-URL frame (service data for 0xFEAA); the error says why the URL cannot be
/// encoded (unknown scheme, longer than 17 encoded bytes).
pub fn eddystone_url(url: &str, tx_power_at_0m_dbm: i8) -> Result<Vec<u8>, String> {
    let (scheme, rest) = SCHEMES
        .iter()
        .enumerate()
        .find_map(|(code, prefix)| url.strip_prefix(prefix).map(|rest| (code as u8, rest)))
        .ok_or_else(|| {
            format!("'{url}' must start with http://, https://, http://www. or https://www.")
        })?;
    let mut encoded = Vec::new();
    let mut remaining = rest;
    while let Some(first) = remaining.chars().next() {
        let expansion = EXPANSIONS
            .iter()
            .enumerate()
            .find(|(_, text)| remaining.starts_with(*text));
        if let Some((code, text)) = expansion {
            encoded.push(code as u8);
            remaining = &remaining[text.len()..];
        } else {
            let mut buf = [0u8; 4];
            encoded.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
            remaining = &remaining[first.len_utf8()..];
        }
    }
    if encoded.len() > 17 {
        return Err(format!(
            "'{url}' encodes to {} bytes; Eddystone-URL allows 17",
            encoded.len()
        ));
    }
    let mut out = vec![0x10];
    out.extend_from_slice(&tx_power_at_0m_dbm.to_le_bytes());
    out.push(scheme);
    out.extend_from_slice(&encoded);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibeacon_has_the_apple_layout() {
        let uuid = Uuid::from_u128(0xE2C5_6DB5_DFFB_48D2_B060_D0F5_A710_96E0);
        let data = ibeacon(uuid, 1, 2, -59);
        assert_eq!(data.len(), 23);
        assert_eq!(&data[..2], &[0x02, 0x15]);
        assert_eq!(&data[18..22], &[0, 1, 0, 2]);
        assert_eq!(data[22], (-59i8) as u8);
    }

    #[test]
    fn eddystone_url_uses_scheme_and_expansion_codes() {
        let frame = eddystone_url("https://www.example.com/", -20).unwrap();
        assert_eq!(frame[0], 0x10);
        assert_eq!(frame[2], 0x01);
        assert_eq!(&frame[3..], b"example\x00");
        assert!(eddystone_url("ftp://x", 0).is_err());
        assert!(eddystone_url("https://a-very-long-host-name-indeed.example", 0).is_err());
        assert_eq!(eddystone_uid([1; 10], [2; 6], -20).len(), 20);
    }
}

//! Google Eddystone frames, read from service data under the 16-bit UUID 0xFEAA.
//!
//! Owns [`EddystoneFrame`] and its decoder for the three open frame types:
//! - UID (0x00): tx power at 0 m, 10-byte namespace, 6-byte instance, 2 reserved bytes (which
//!   many beacons omit, so 18 and 20 bytes are both accepted);
//! - URL (0x10): tx power, a scheme byte (`http://www.`, `https://www.`, `http://`,
//!   `https://`), then up to 17 bytes where 0x00–0x0D stand for `.com/`, `.org/`, … `.gov`;
//! - TLM (0x20, version 0x00): battery mV, temperature in signed 8.8 fixed point (0x8000 = not
//!   measured), advert count, and uptime in tenths of a second, all big-endian.
//!
//! Hostile bytes give a [`BeaconError`], never a panic (indexing is denied here). Encrypted TLM
//! (version 0x01) and EID frames are reported as unsupported rather than guessed at.
#![deny(clippy::indexing_slicing)]

use std::time::Duration;

use super::BeaconError;

/// The Eddystone service UUID, 16-bit form.
pub const EDDYSTONE_SERVICE_UUID16: u16 = 0xFEAA;

const UID: u8 = 0x00;
const URL: u8 = 0x10;
const TLM: u8 = 0x20;
/// Longest encoded URL body a frame may carry.
const MAX_URL_BODY: usize = 17;

const SCHEMES: [&str; 4] = ["http://www.", "https://www.", "http://", "https://"];
const EXPANSIONS: [&str; 14] = [
    ".com/", ".org/", ".edu/", ".net/", ".info/", ".biz/", ".gov/", ".com", ".org", ".edu", ".net",
    ".info", ".biz", ".gov",
];

/// One decoded Eddystone frame.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum EddystoneFrame {
    /// A stable identity.
    Uid(EddystoneUid),
    /// A web address.
    Url(EddystoneUrl),
    /// Telemetry.
    Tlm(EddystoneTlm),
}

/// Eddystone-UID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EddystoneUid {
    /// Calibrated power at 0 m, dBm (subtract 41 dB for the usual 1 m figure).
    pub tx_power_at_0m_dbm: i8,
    /// The 10-byte namespace.
    pub namespace: [u8; 10],
    /// The 6-byte instance.
    pub instance: [u8; 6],
}

/// Eddystone-URL, expanded.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EddystoneUrl {
    /// Calibrated power at 0 m, dBm.
    pub tx_power_at_0m_dbm: i8,
    /// The full URL with scheme and expansions applied.
    pub url: String,
}

/// Eddystone-TLM (unencrypted).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EddystoneTlm {
    /// Battery voltage in millivolts; `None` when the beacon sends 0 (not measured).
    pub battery_mv: Option<u16>,
    /// Beacon temperature in °C; `None` for 0x8000 (not measured).
    pub temperature_c: Option<f32>,
    /// Adverts sent since power-on.
    pub advert_count: u32,
    /// Time since power-on (0.1 s resolution).
    pub uptime: Duration,
}

impl EddystoneFrame {
    /// Decodes the service data under 0xFEAA (the bytes after the UUID).
    pub fn decode(service_data: &[u8]) -> Result<Self, BeaconError> {
        match service_data.first() {
            Some(&UID) => decode_uid(service_data).map(Self::Uid),
            Some(&URL) => decode_url(service_data).map(Self::Url),
            Some(&TLM) => decode_tlm(service_data).map(Self::Tlm),
            Some(&frame_type) => Err(BeaconError::UnsupportedFrame { frame_type }),
            None => Err(BeaconError::WrongLength {
                frame: "Eddystone",
                expected: 1,
                found: 0,
            }),
        }
    }
}

fn decode_uid(data: &[u8]) -> Result<EddystoneUid, BeaconError> {
    let body = match data.len() {
        18 => data,
        20 => data.get(..18).unwrap_or_default(),
        found => {
            return Err(BeaconError::WrongLength {
                frame: "Eddystone-UID",
                expected: 20,
                found,
            })
        }
    };
    let frame: &[u8; 18] = body.try_into().map_err(|_| BeaconError::WrongLength {
        frame: "Eddystone-UID",
        expected: 20,
        found: data.len(),
    })?;
    let [_, power, rest @ ..] = *frame;
    let [n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, i0, i1, i2, i3, i4, i5] = rest;
    Ok(EddystoneUid {
        tx_power_at_0m_dbm: i8::from_be_bytes([power]),
        namespace: [n0, n1, n2, n3, n4, n5, n6, n7, n8, n9],
        instance: [i0, i1, i2, i3, i4, i5],
    })
}

fn decode_url(data: &[u8]) -> Result<EddystoneUrl, BeaconError> {
    let [_, power, scheme, body @ ..] = data else {
        return Err(BeaconError::WrongLength {
            frame: "Eddystone-URL",
            expected: 3,
            found: data.len(),
        });
    };
    if body.len() > MAX_URL_BODY {
        return Err(BeaconError::WrongLength {
            frame: "Eddystone-URL",
            expected: 3 + MAX_URL_BODY,
            found: data.len(),
        });
    }
    let prefix = SCHEMES
        .get(usize::from(*scheme))
        .ok_or(BeaconError::InvalidUrlScheme { code: *scheme })?;
    let mut url = String::with_capacity(prefix.len() + body.len() + 8);
    url.push_str(prefix);
    for (offset, &byte) in body.iter().enumerate() {
        match byte {
            0x21..=0x7E => url.push(char::from(byte)),
            _ => {
                let expansion = EXPANSIONS
                    .get(usize::from(byte))
                    .ok_or(BeaconError::InvalidUrlByte { offset, byte })?;
                url.push_str(expansion);
            }
        }
    }
    Ok(EddystoneUrl {
        tx_power_at_0m_dbm: i8::from_be_bytes([*power]),
        url,
    })
}

fn decode_tlm(data: &[u8]) -> Result<EddystoneTlm, BeaconError> {
    let frame: &[u8; 14] = data.try_into().map_err(|_| BeaconError::WrongLength {
        frame: "Eddystone-TLM",
        expected: 14,
        found: data.len(),
    })?;
    let [_, version, v0, v1, t0, t1, c0, c1, c2, c3, s0, s1, s2, s3] = *frame;
    if version != 0 {
        return Err(BeaconError::UnsupportedTlmVersion { version });
    }
    let battery = u16::from_be_bytes([v0, v1]);
    let temperature = i16::from_be_bytes([t0, t1]);
    let tenths = u32::from_be_bytes([s0, s1, s2, s3]);
    Ok(EddystoneTlm {
        battery_mv: (battery != 0).then_some(battery),
        temperature_c: (temperature != i16::MIN).then(|| f32::from(temperature) / 256.0),
        advert_count: u32::from_be_bytes([c0, c1, c2, c3]),
        uptime: Duration::from_millis(u64::from(tenths) * 100),
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)] // tests index known-good fixtures
mod tests {
    use super::*;
    use crate::adverts::beacon::tests::hex;
    use crate::model::{uuid_from_u16, AdvertData};

    fn service_data(frame: &str) -> Vec<u8> {
        let data = AdvertData::parse(&hex(frame)).unwrap();
        data.service_data[&uuid_from_u16(EDDYSTONE_SERVICE_UUID16)].clone()
    }

    #[test]
    fn a_real_uid_frame_decodes_namespace_and_instance() {
        let payload = service_data("0303AAFE 1716AAFE 00E7 EDD1EBEAC04E5DEFA017 0BDB87539B67 0000");
        let EddystoneFrame::Uid(uid) = EddystoneFrame::decode(&payload).unwrap() else {
            panic!("not a UID frame");
        };
        assert_eq!(uid.tx_power_at_0m_dbm, -25);
        assert_eq!(uid.namespace, hex("EDD1EBEAC04E5DEFA017")[..]);
        assert_eq!(uid.instance, hex("0BDB87539B67")[..]);
        // The two reserved bytes are optional.
        assert_eq!(
            EddystoneFrame::decode(&payload[..18]).unwrap(),
            EddystoneFrame::Uid(uid)
        );
    }

    #[test]
    fn url_frames_expand_scheme_and_codes() {
        let payload = service_data("0303AAFE 1016AAFE10EC03676F6F2E676C2F78797A");
        let EddystoneFrame::Url(url) = EddystoneFrame::decode(&payload).unwrap() else {
            panic!("not a URL frame");
        };
        assert_eq!(url.url, "https://goo.gl/xyz");
        assert_eq!(url.tx_power_at_0m_dbm, -20);
        // http://www. + "example" + ".com/" + "shop" + ".info"
        let mut frame = vec![0x10, 0xEB, 0x00];
        frame.extend_from_slice(b"example\x00shop\x0b");
        let EddystoneFrame::Url(url) = EddystoneFrame::decode(&frame).unwrap() else {
            panic!("not a URL frame");
        };
        assert_eq!(url.url, "http://www.example.com/shop.info");
    }

    #[test]
    fn a_real_tlm_frame_decodes_battery_temperature_count_and_uptime() {
        let payload = service_data("1116AAFE 2000 0BB8 1880 000004D2 00000E10");
        let EddystoneFrame::Tlm(tlm) = EddystoneFrame::decode(&payload).unwrap() else {
            panic!("not a TLM frame");
        };
        assert_eq!(tlm.battery_mv, Some(3000));
        assert_eq!(tlm.temperature_c, Some(24.5));
        assert_eq!(tlm.advert_count, 1234);
        assert_eq!(tlm.uptime, Duration::from_secs(360));
        let negative = EddystoneFrame::decode(&hex("2000 0000 FF80 00000000 00000000")).unwrap();
        let EddystoneFrame::Tlm(tlm) = negative else {
            panic!("not a TLM frame");
        };
        assert_eq!(tlm.temperature_c, Some(-0.5));
        assert_eq!(tlm.battery_mv, None);
        let unmeasured = EddystoneFrame::decode(&hex("2000 0000 8000 00000000 00000000"));
        assert!(matches!(
            unmeasured,
            Ok(EddystoneFrame::Tlm(EddystoneTlm {
                temperature_c: None,
                ..
            }))
        ));
    }

    #[test]
    fn malformed_frames_are_named_errors() {
        assert!(matches!(
            EddystoneFrame::decode(&hex("00E7 EDD1")),
            Err(BeaconError::WrongLength {
                frame: "Eddystone-UID",
                found: 4,
                ..
            })
        ));
        assert_eq!(
            EddystoneFrame::decode(&hex("10EC07")),
            Err(BeaconError::InvalidUrlScheme { code: 7 })
        );
        assert_eq!(
            EddystoneFrame::decode(&hex("10EC03 41 20")),
            Err(BeaconError::InvalidUrlByte {
                offset: 1,
                byte: 0x20
            })
        );
        let mut oversized = vec![0x10, 0xEC, 0x03];
        oversized.extend_from_slice(&[b'a'; 18]);
        assert!(matches!(
            EddystoneFrame::decode(&oversized),
            Err(BeaconError::WrongLength {
                frame: "Eddystone-URL",
                ..
            })
        ));
        assert_eq!(
            EddystoneFrame::decode(&hex("2001 000000000000000000000000")),
            Err(BeaconError::UnsupportedTlmVersion { version: 1 })
        );
        assert_eq!(
            EddystoneFrame::decode(&hex("30")),
            Err(BeaconError::UnsupportedFrame { frame_type: 0x30 })
        );
        assert!(EddystoneFrame::decode(&[]).is_err());
    }
}

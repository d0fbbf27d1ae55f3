//! ATC1441 and pvvx custom firmware for Xiaomi/Qingping thermometers: service data 0x181A.
//!
//! Facts from pvvx's ATC_MiThermometer README ("Custom format" / "atc1441 format"):
//! - ATC1441, 13 bytes: MAC (6, most significant first), temperature (i16 BE, 0.1 °C),
//!   humidity (u8, %), battery (u8, %), battery (u16 BE, mV), frame counter (u8);
//! - pvvx custom, 15 bytes: MAC (6, reversed), temperature (i16 LE, 0.01 °C), humidity (u16
//!   LE, 0.01 %), battery (u16 LE, mV), battery (u8, %), frame counter (u8), flags (u8).
//!
//! The firmware's newer default is BTHome (see [`super::bthome`]); the encrypted custom
//! layouts (8 and 11 bytes) are reported as unsupported rather than guessed at.

use super::bytes::Reader;
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// The Environmental Sensing UUID both layouts use.
pub const UUID16: u16 = 0x181A;

/// The ATC1441 / pvvx decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Atc;

impl Decoder for Atc {
    fn name(&self) -> &'static str {
        "atc"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::ServiceData(UUID16)]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let Some(frame) = advert.service_data16(UUID16) else {
            return Ok(None);
        };
        let mut r = Reader::new(frame);
        match frame.len() {
            13 => {
                let mac = r.array::<6>()?;
                check_mac(mac, advert)?;
                let mut d = Decoded::new("atc1441", "Xiaomi/Qingping thermometer (ATC1441)");
                let tenths = r.i16_be()?;
                d.push(Kind::Temperature, f64::from(tenths) / 10.0, Unit::Celsius);
                d.push(Kind::Humidity, f64::from(r.u8()?), Unit::Percent);
                d.push(Kind::Battery, f64::from(r.u8()?), Unit::Percent);
                d.push(Kind::Voltage, f64::from(r.u16_be()?) / 1000.0, Unit::Volt);
                d.push(Kind::PacketId, f64::from(r.u8()?), Unit::None);
                Ok(Some(d))
            }
            15 => {
                let mut mac = r.array::<6>()?;
                mac.reverse();
                check_mac(mac, advert)?;
                let mut d = Decoded::new("pvvx", "Xiaomi/Qingping thermometer (pvvx)");
                let centi = r.i16_le()?;
                d.push(Kind::Temperature, f64::from(centi) / 100.0, Unit::Celsius);
                d.push(
                    Kind::Humidity,
                    f64::from(r.u16_le()?) / 100.0,
                    Unit::Percent,
                );
                let millivolts = r.u16_le()?;
                d.push(Kind::Battery, f64::from(r.u8()?), Unit::Percent);
                d.push(Kind::Voltage, f64::from(millivolts) / 1000.0, Unit::Volt);
                d.push(Kind::PacketId, f64::from(r.u8()?), Unit::None);
                Ok(Some(d))
            }
            8 | 11 => Err(Problem::Unsupported(
                "encrypted pvvx custom format (switch the firmware to BTHome)".into(),
            )),
            other => Err(Problem::Invalid(format!(
                "{other} bytes under 0x181A; ATC1441 frames are 13 and pvvx frames 15"
            ))),
        }
    }
}

/// Both layouts carry the sender's MAC; a mismatch is a frame relayed or forged.
fn check_mac(mac: [u8; 6], advert: &AdvertIn<'_>) -> Result<(), Problem> {
    if mac == advert.address.bytes() {
        return Ok(());
    }
    Err(Problem::Invalid(format!(
        "frame carries MAC {} but was sent by {}",
        crate::model::Address::new(mac),
        advert.address
    )))
}

#[cfg(test)]
mod tests {
    //! Vectors from Theengs Decoder's test suite (`tests/BLE/test_ble.cpp`,
    //! `test_uuid_name_svcdata`: "LYWSD03MMC_ATC", "LYWSD03MMC_PVVX", "Qingping … PVVX").
    use crate::decode::tests::{addr, assert_reading, decode_plain, service};
    use crate::decode::{Keyring, Kind, Registry, Unit};

    #[test]
    fn atc1441_frames_decode_to_the_published_values() {
        let d = decode_plain(
            "A4:C1:38:D5:D4:98",
            &service(0x181A, "a4c138d5d49801453e510b7b62", "ATC_800021"),
        );
        assert_eq!(d.format, "atc1441");
        assert_reading(&d, Kind::Temperature, 32.5, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 62.0, Unit::Percent);
        assert_reading(&d, Kind::Battery, 81.0, Unit::Percent);
        assert_reading(&d, Kind::Voltage, 2.939, Unit::Volt);
        let cold = decode_plain(
            "A4:C1:38:D5:D4:98",
            &service(0x181A, "a4c138d5d498ffd33e510b7b62", ""),
        );
        assert_reading(&cold, Kind::Temperature, -4.5, Unit::Celsius);
    }

    #[test]
    fn pvvx_frames_decode_to_the_published_values() {
        let d = decode_plain(
            "A4:C1:38:CF:01:56",
            &service(0x181A, "5601cf38c1a44008bd13470c64cc0f", "ATC_800021"),
        );
        assert_eq!(d.format, "pvvx");
        assert_reading(&d, Kind::Temperature, 21.12, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 50.53, Unit::Percent);
        assert_reading(&d, Kind::Battery, 100.0, Unit::Percent);
        assert_reading(&d, Kind::Voltage, 3.143, Unit::Volt);
        let cold = decode_plain(
            "A4:C1:38:CF:01:56",
            &service(0x181A, "5601cf38c1a462fdbd13470c64cc0f", "MHO_SAL"),
        );
        assert_reading(&cold, Kind::Temperature, -6.7, Unit::Celsius);
        let cgg1 = decode_plain(
            "58:2D:34:12:33:DC",
            &service(0x181A, "dc3312342d582f09aa173d0b4b7c05", "CGG_1233DC"),
        );
        assert_reading(&cgg1, Kind::Temperature, 23.51, Unit::Celsius);
        assert_reading(&cgg1, Kind::Humidity, 60.58, Unit::Percent);
        assert_reading(&cgg1, Kind::Battery, 75.0, Unit::Percent);
        assert_reading(&cgg1, Kind::Voltage, 2.877, Unit::Volt);
    }

    #[test]
    fn other_lengths_and_foreign_macs_are_errors() {
        let registry = Registry::standard();
        let mut keyring = Keyring::new();
        let mut fail = |sender: &str, payload: &str| {
            registry
                .decode(addr(sender), &service(0x181A, payload, ""), &mut keyring)
                .unwrap()
                .unwrap_err()
                .to_string()
        };
        assert!(fail("A4:C1:38:D5:D4:98", "a4c138d5d498").contains("6 bytes under 0x181A"));
        assert!(fail("A4:C1:38:D5:D4:99", "a4c138d5d49801453e510b7b62")
            .contains("carries MAC A4:C1:38:D5:D4:98 but was sent by A4:C1:38:D5:D4:99"));
        assert!(fail("A4:C1:38:D5:D4:98", "23ef56583dd42050fe8e4d").contains("encrypted pvvx"));
    }
}

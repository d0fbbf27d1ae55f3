//! RuuviTag: manufacturer data of Ruuvi Innovations (company 0x0499), data formats 5 and 3.
//!
//! Facts from ruuvi/ruuvi-sensor-protocols (`dataformat_05.md`, `dataformat_03.md`):
//! - RAWv2 (5), 24 bytes, big-endian: temperature i16 × 0.005 °C, humidity u16 × 0.0025 %,
//!   pressure u16 + 50000 Pa, acceleration x/y/z i16 mG, power u16 (battery = top 11 bits +
//!   1600 mV, tx power = low 5 bits × 2 − 40 dBm), movement counter u8, sequence u16, MAC.
//!   The all-ones (or 0x8000 for signed) value of a field means "not available" and gives no
//!   reading;
//! - RAWv1 (3), 14 bytes: humidity u8 × 0.5 %, temperature as sign-and-magnitude integer
//!   byte plus hundredths byte, pressure u16 + 50000 Pa, acceleration x/y/z i16 mG, battery
//!   u16 mV.

use super::bytes::Reader;
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// Ruuvi Innovations' company id.
pub const COMPANY: u16 = 0x0499;

/// The Ruuvi decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ruuvi;

impl Decoder for Ruuvi {
    fn name(&self) -> &'static str {
        "ruuvi"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::Manufacturer(COMPANY)]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let Some(data) = advert.manufacturer(COMPANY) else {
            return Ok(None);
        };
        let mut r = Reader::new(data);
        match r.u8()? {
            5 => raw_v2(&mut r).map(Some),
            3 => raw_v1(&mut r).map(Some),
            other => Err(Problem::Unsupported(format!("Ruuvi data format {other}"))),
        }
    }
}

fn raw_v2(r: &mut Reader<'_>) -> Result<Decoded, Problem> {
    let mut d = Decoded::new("ruuvi", "RuuviTag (RAWv2)");
    let temperature = r.i16_be()?;
    let humidity = r.u16_be()?;
    let pressure = r.u16_be()?;
    let axes = [r.i16_be()?, r.i16_be()?, r.i16_be()?];
    let power = r.u16_be()?;
    let movement = r.u8()?;
    let sequence = r.u16_be()?;
    r.take(6)?;
    if temperature != i16::MIN {
        d.push(
            Kind::Temperature,
            f64::from(temperature) * 0.005,
            Unit::Celsius,
        );
    }
    if humidity != u16::MAX {
        d.push(Kind::Humidity, f64::from(humidity) * 0.0025, Unit::Percent);
    }
    if pressure != u16::MAX {
        let pascal = f64::from(pressure) + 50_000.0;
        d.push(Kind::Pressure, pascal / 100.0, Unit::HectoPascal);
    }
    push_axes(&mut d, axes);
    let millivolts = power >> 5;
    if millivolts != 0x7FF {
        d.push(
            Kind::Voltage,
            f64::from(millivolts + 1600) / 1000.0,
            Unit::Volt,
        );
    }
    let tx = power & 0x1F;
    if tx != 0x1F {
        d.push(Kind::TxPower, f64::from(tx) * 2.0 - 40.0, Unit::Dbm);
    }
    if movement != u8::MAX {
        d.push(Kind::Count, f64::from(movement), Unit::None);
    }
    if sequence != u16::MAX {
        d.push(Kind::PacketId, f64::from(sequence), Unit::None);
    }
    Ok(d)
}

fn raw_v1(r: &mut Reader<'_>) -> Result<Decoded, Problem> {
    let mut d = Decoded::new("ruuvi", "RuuviTag (RAWv1)");
    let humidity = r.u8()?;
    let [whole, hundredths] = r.array::<2>()?;
    let pressure = r.u16_be()?;
    let axes = [r.i16_be()?, r.i16_be()?, r.i16_be()?];
    let millivolts = r.u16_be()?;
    d.push(Kind::Humidity, f64::from(humidity) / 2.0, Unit::Percent);
    let magnitude = f64::from(whole & 0x7F) + f64::from(hundredths) / 100.0;
    let celsius = if whole & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    };
    d.push(Kind::Temperature, celsius, Unit::Celsius);
    let pascal = f64::from(pressure) + 50_000.0;
    d.push(Kind::Pressure, pascal / 100.0, Unit::HectoPascal);
    push_axes(&mut d, axes);
    d.push(Kind::Voltage, f64::from(millivolts) / 1000.0, Unit::Volt);
    Ok(d)
}

fn push_axes(d: &mut Decoded, axes: [i16; 3]) {
    let kinds = [
        Kind::AccelerationX,
        Kind::AccelerationY,
        Kind::AccelerationZ,
    ];
    for (kind, milli_g) in kinds.into_iter().zip(axes) {
        if milli_g != i16::MIN {
            d.push(kind, f64::from(milli_g) / 1000.0, Unit::StandardGravity);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The test vectors of ruuvi-sensor-protocols (`dataformat_05.md`, `dataformat_03.md`,
    //! "Test vectors": valid, maximum, minimum and invalid cases).
    use crate::decode::tests::{addr, assert_reading, decode_plain, manufacturer};
    use crate::decode::{Keyring, Kind, Registry, Unit};

    const TAG: &str = "CB:B8:33:4C:88:4F";

    #[test]
    fn raw_v2_valid_maximum_minimum_and_invalid_cases() {
        let valid = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F";
        let d = decode_plain(TAG, &manufacturer(0x0499, valid, ""));
        assert_eq!(d.model, "RuuviTag (RAWv2)");
        assert_reading(&d, Kind::Temperature, 24.3, Unit::Celsius);
        assert_reading(&d, Kind::Pressure, 1000.44, Unit::HectoPascal);
        assert_reading(&d, Kind::Humidity, 53.49, Unit::Percent);
        assert_reading(&d, Kind::AccelerationX, 0.004, Unit::StandardGravity);
        assert_reading(&d, Kind::AccelerationY, -0.004, Unit::StandardGravity);
        assert_reading(&d, Kind::AccelerationZ, 1.036, Unit::StandardGravity);
        assert_reading(&d, Kind::TxPower, 4.0, Unit::Dbm);
        assert_reading(&d, Kind::Voltage, 2.977, Unit::Volt);
        assert_reading(&d, Kind::Count, 66.0, Unit::None);
        assert_reading(&d, Kind::PacketId, 205.0, Unit::None);
        let max = "057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F";
        let d = decode_plain(TAG, &manufacturer(0x0499, max, ""));
        assert_reading(&d, Kind::Temperature, 163.835, Unit::Celsius);
        assert_reading(&d, Kind::Pressure, 1155.34, Unit::HectoPascal);
        assert_reading(&d, Kind::Humidity, 163.835, Unit::Percent);
        assert_reading(&d, Kind::AccelerationZ, 32.767, Unit::StandardGravity);
        assert_reading(&d, Kind::TxPower, 20.0, Unit::Dbm);
        assert_reading(&d, Kind::Voltage, 3.646, Unit::Volt);
        assert_reading(&d, Kind::Count, 254.0, Unit::None);
        assert_reading(&d, Kind::PacketId, 65534.0, Unit::None);
        let min = "058001000000008001800180010000000000CBB8334C884F";
        let d = decode_plain(TAG, &manufacturer(0x0499, min, ""));
        assert_reading(&d, Kind::Temperature, -163.835, Unit::Celsius);
        assert_reading(&d, Kind::Pressure, 500.0, Unit::HectoPascal);
        assert_reading(&d, Kind::AccelerationX, -32.767, Unit::StandardGravity);
        assert_reading(&d, Kind::TxPower, -40.0, Unit::Dbm);
        assert_reading(&d, Kind::Voltage, 1.6, Unit::Volt);
        let invalid = "058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF";
        let d = decode_plain(TAG, &manufacturer(0x0499, invalid, ""));
        assert!(
            d.readings.is_empty(),
            "not-available fields give no reading: {d}"
        );
    }

    #[test]
    fn raw_v1_valid_maximum_and_minimum_cases() {
        let d = decode_plain(
            TAG,
            &manufacturer(0x0499, "03291A1ECE1EFC18F94202CA0B53", ""),
        );
        assert_eq!(d.model, "RuuviTag (RAWv1)");
        assert_reading(&d, Kind::Temperature, 26.3, Unit::Celsius);
        assert_reading(&d, Kind::Pressure, 1027.66, Unit::HectoPascal);
        assert_reading(&d, Kind::Humidity, 20.5, Unit::Percent);
        assert_reading(&d, Kind::AccelerationX, -1.0, Unit::StandardGravity);
        assert_reading(&d, Kind::AccelerationY, -1.726, Unit::StandardGravity);
        assert_reading(&d, Kind::AccelerationZ, 0.714, Unit::StandardGravity);
        assert_reading(&d, Kind::Voltage, 2.899, Unit::Volt);
        let max = decode_plain(
            TAG,
            &manufacturer(0x0499, "03FF7F63FFFF7FFF7FFF7FFFFFFF", ""),
        );
        assert_reading(&max, Kind::Temperature, 127.99, Unit::Celsius);
        assert_reading(&max, Kind::Humidity, 127.5, Unit::Percent);
        assert_reading(&max, Kind::Pressure, 1155.35, Unit::HectoPascal);
        assert_reading(&max, Kind::Voltage, 65.535, Unit::Volt);
        let min = decode_plain(
            TAG,
            &manufacturer(0x0499, "0300FF6300008001800180010000", ""),
        );
        assert_reading(&min, Kind::Temperature, -127.99, Unit::Celsius);
        assert_reading(&min, Kind::Pressure, 500.0, Unit::HectoPascal);
    }

    #[test]
    fn short_frames_and_other_formats_are_errors() {
        let registry = Registry::standard();
        for (payload, needle) in [
            ("0512FC5394", "truncated"),
            ("03291A", "truncated"),
            ("08", "format 8"),
            ("", "truncated"),
        ] {
            let err = registry
                .decode(
                    addr(TAG),
                    &manufacturer(0x0499, payload, ""),
                    &mut Keyring::new(),
                )
                .unwrap()
                .unwrap_err();
            assert!(err.to_string().contains(needle), "{payload}: {err}");
        }
    }
}

//! Govee thermo-hygrometers: manufacturer data, told apart by company id, length and name.
//!
//! Facts from the reference decoder Bluetooth-Devices/govee-ble (`parser.py`):
//! - H5072/H5075 (company 0xEC88, 6 bytes) and H5101/H5102/H5104/H5174/H5177/GV5179 (company
//!   0x0001, 6 bytes, known by name): a 24-bit big-endian number whose bit 23 is the sign;
//!   temperature = ⌊n / 1000⌋ / 10 °C, humidity = (n mod 1000) / 10 %; then a battery byte whose
//!   bit 7 flags a sensor error;
//! - H5074 (company 0xEC88, 7 bytes) and H5179 (company 0x8801, 9 bytes): i16 LE centi-°C,
//!   u16 LE centi-%, battery u8.
//!
//! Adverts merged by some stacks carry Govee's 25-byte `INTELLI_ROCKS` iBeacon glued to the
//! end; it is cut off first. Readings outside −40…100 °C or flagged by the error bit are a
//! decode error (the sensor says its value is bad), never a number.

use super::bytes::Reader;
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// Company id of the H5072/H5074/H5075 layouts.
pub const COMPANY_EC88: u16 = 0xEC88;
/// Company id of the H510x/H5177 layout.
pub const COMPANY_0001: u16 = 0x0001;
/// Company id of the H5179 layout.
pub const COMPANY_8801: u16 = 0x8801;

const MODELS: &[&str] = &[
    "H5072", "H5075", "H5074", "H5100", "H5101", "H5102", "H5103", "H5104", "H5105", "H5108",
    "H5110", "H5174", "H5177", "H5179", "GV5179",
];

/// The Govee decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Govee;

impl Decoder for Govee {
    fn name(&self) -> &'static str {
        "govee"
    }

    fn claims(&self) -> &'static [Claim] {
        &[
            Claim::Manufacturer(COMPANY_EC88),
            Claim::Manufacturer(COMPANY_0001),
            Claim::Manufacturer(COMPANY_8801),
        ]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let name = advert.name();
        let named = MODELS.iter().find(|model| name.contains(*model)).copied();
        let found = |company| advert.manufacturer(company).map(strip_ibeacon);
        if let Some(data) = found(COMPANY_EC88) {
            return match data.len() {
                6 => packed(data.get(1..5), named.unwrap_or("H5072/H5075")).map(Some),
                7 => little_endian(data.get(1..6), named.unwrap_or("H5074")).map(Some),
                _ => Ok(None),
            };
        }
        if let Some(data) = found(COMPANY_8801) {
            return match data.len() {
                9 => little_endian(data.get(4..9), named.unwrap_or("H5179")).map(Some),
                _ => Ok(None),
            };
        }
        match (found(COMPANY_0001), named) {
            (Some(data), Some(model)) if data.len() == 6 => packed(data.get(2..6), model).map(Some),
            _ => Ok(None),
        }
    }
}

/// Cuts the 25-byte `INTELLI_ROCKS` iBeacon some stacks glue onto the Govee data.
fn strip_ibeacon(data: &[u8]) -> &[u8] {
    if data.len() > 25 && data.windows(13).any(|w| w == b"INTELLI_ROCKS") {
        data.get(..data.len() - 25).unwrap_or(data)
    } else {
        data
    }
}

/// The 24-bit packed temperature/humidity and the battery byte.
fn packed(bytes: Option<&[u8]>, model: &'static str) -> Result<Decoded, Problem> {
    let mut r = Reader::new(bytes.unwrap_or_default());
    let [a, b, c] = r.array::<3>()?;
    let battery = r.u8()?;
    let number = u32::from_be_bytes([0, a, b, c]);
    let magnitude = number & 0x7F_FFFF;
    let mut celsius = f64::from(magnitude / 1000) / 10.0;
    if number & 0x80_0000 != 0 {
        celsius = -celsius;
    }
    let humidity = f64::from(magnitude % 1000) / 10.0;
    if battery & 0x80 != 0 {
        return Err(Problem::Invalid(
            "the sensor flags its reading as faulty".into(),
        ));
    }
    readings(model, celsius, humidity, battery & 0x7F)
}

/// Little-endian centi-degrees, centi-percent, battery.
fn little_endian(bytes: Option<&[u8]>, model: &'static str) -> Result<Decoded, Problem> {
    let mut r = Reader::new(bytes.unwrap_or_default());
    let celsius = f64::from(r.i16_le()?) / 100.0;
    let humidity = f64::from(r.u16_le()?) / 100.0;
    readings(model, celsius, humidity, r.u8()?)
}

fn readings(
    model: &'static str,
    celsius: f64,
    humidity: f64,
    battery: u8,
) -> Result<Decoded, Problem> {
    if !(-40.0..=100.0).contains(&celsius) {
        return Err(Problem::Invalid(format!(
            "temperature {celsius} °C is outside the sensor's −40…100 °C"
        )));
    }
    let mut d = Decoded::new("govee", model);
    d.push(Kind::Temperature, celsius, Unit::Celsius);
    d.push(Kind::Humidity, humidity, Unit::Percent);
    d.push(Kind::Battery, f64::from(battery), Unit::Percent);
    Ok(d)
}

#[cfg(test)]
mod tests {
    //! Vectors from govee-ble's `tests/test_parser.py` (named per case) and Theengs
    //! Decoder's `tests/BLE/test_ble.cpp` (`test_mfgdata`, whose hex starts with the company id).
    use crate::decode::tests::{addr, assert_reading, decode_plain, manufacturer};
    use crate::decode::{Keyring, Kind, Registry, Unit};

    fn check(company: u16, payload: &str, name: &str, model: &str, t: f64, h: f64, b: f64) {
        let d = decode_plain("A4:C1:38:DD:DB:F8", &manufacturer(company, payload, name));
        assert_eq!((d.format, d.model.as_ref()), ("govee", model), "{payload}");
        assert_reading(&d, Kind::Temperature, t, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, h, Unit::Percent);
        assert_reading(&d, Kind::Battery, b, Unit::Percent);
    }

    #[test]
    fn every_listed_model_decodes_to_the_published_values() {
        // govee-ble GVH5075_SERVICE_INFO (with the glued iBeacon): 21.3 °C, 44.2 %, 100 %.
        let glued = "000341c26400 4c000215 494e54454c4c495f524f434b535f4857 5075f2ff0c";
        check(0xEC88, glued, "GVH5075_2762", "H5075", 21.3, 44.2, 100.0);
        // govee-ble GVH5072_SERVICE_INFO: 21.6 °C, 49.8 %, 100 %.
        check(
            0xEC88,
            "00034db26400",
            "GVH5072_ABCD",
            "H5072",
            21.6,
            49.8,
            100.0,
        );
        // Theengs "H5075" 88ec000418ee6400: 26.8 °C, 52.6 %, 100 %; unnamed → generic model.
        check(0xEC88, "000418ee6400", "", "H5072/H5075", 26.8, 52.6, 100.0);
        // govee-ble GVH5074_SERVICE_INFO: 25.34 °C, 47.96 %, 100 %.
        check(
            0xEC88,
            "00e609bc126402",
            "Govee_H5074_5FF4",
            "H5074",
            25.34,
            47.96,
            100.0,
        );
        // Theengs "H5074" 88ec00a0facc176402: −13.76 °C, 60.92 %.
        check(
            0xEC88,
            "00a0facc176402",
            "Govee_H5074_1234",
            "H5074",
            -13.76,
            60.92,
            100.0,
        );
        // govee-ble GVH5177_SERVICE_INFO: 21.0 °C, 47.0 %, 100 %.
        let h5177 = "0101033626644c000215494e54454c4c495f524f434b535f48575177f2ffc2";
        check(0x0001, h5177, "GVH5177_2EC8", "H5177", 21.0, 47.0, 100.0);
        // Theengs "H5102" 0100010103590e64: 21.9 °C, 40.6 %, 100 %.
        check(
            0x0001,
            "010103590e64",
            "GVH5102_1234",
            "H5102",
            21.9,
            40.6,
            100.0,
        );
        // Theengs "H5174" 01000101811a6764: −7.2 °C, 29.5 %.
        check(
            0x0001,
            "0101811a6764",
            "GVH5174_1234",
            "H5174",
            -7.2,
            29.5,
            100.0,
        );
        // govee-ble GVH5179_SERVICE_INFO: 25.7 °C, 17.0 %, 100 %.
        check(
            0x8801,
            "ec0001010a0aa40664",
            "Govee_H5179_3CD5",
            "H5179",
            25.7,
            17.0,
            100.0,
        );
        // Theengs "H5179" 0188ec000101ee07581641: 20.3 °C, 57.2 %, 65 %.
        check(0x8801, "ec000101ee07581641", "", "H5179", 20.3, 57.2, 65.0);
    }

    #[test]
    fn faulty_readings_are_errors_and_strangers_are_left_alone() {
        let registry = Registry::standard();
        let mut keyring = Keyring::new();
        let sender = addr("A4:C1:38:DD:DB:F8");
        // govee-ble GVH5075_SERVICE_INFO_NEGATIVE_VALUES: out of range → error, not −393 °C.
        let data = manufacturer(0xEC88, "00bc00043e27", "GVH5075_2762");
        let err = registry
            .decode(sender, &data, &mut keyring)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("outside"), "{err}");
        let flagged = manufacturer(0xEC88, "000418eee400", "GVH5075_2762");
        let err = registry
            .decode(sender, &flagged, &mut keyring)
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("faulty"), "{err}");
        // Company 0x0001 without a Govee name, or an unknown length: not Govee.
        let stranger = manufacturer(0x0001, "010103590e64", "Nokia thing");
        assert!(registry.decode(sender, &stranger, &mut keyring).is_none());
        let odd = manufacturer(0xEC88, "0001", "");
        assert!(registry.decode(sender, &odd, &mut keyring).is_none());
    }
}

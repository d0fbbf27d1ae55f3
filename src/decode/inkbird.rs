//! Inkbird IBS-TH1 (`sps`) and IBS-TH2/P01B (`tps`): known by name, read from a 9-byte
//! manufacturer record whose "company id" is really the first two data bytes.
//!
//! Facts from the reference decoder Bluetooth-Devices/inkbird-ble (`parser.py`): the nine
//! bytes are temperature (i16 LE, 0.01 °C), humidity (u16 LE, 0.01 %), a probe flag, two
//! bytes, battery (u8, %), a model byte. IBS-TH always reports humidity; IBS-TH2 only when
//! non-zero (models without a humidity sensor send 0, the P01B pool probe 0xFFFF). A humidity
//! above 100 % or a battery above 100 % marks a corrupt record and is an error.

use super::bytes::Reader;
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// The Inkbird decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct Inkbird;

impl Decoder for Inkbird {
    fn name(&self) -> &'static str {
        "inkbird"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::NamePrefix("sps"), Claim::NamePrefix("tps")]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let (always_humidity, model) = match advert.name() {
            "sps" => (true, "IBS-TH1"),
            "tps" => (false, "IBS-TH2/P01B"),
            _ => return Ok(None),
        };
        let mut records = advert
            .data
            .manufacturer_data
            .iter()
            .filter(|(_, bytes)| bytes.len() == 7);
        let (Some((company, rest)), None) = (records.next(), records.next()) else {
            return Err(Problem::Invalid(
                "an Inkbird advert carries exactly one 9-byte manufacturer record".into(),
            ));
        };
        let mut record = company.to_le_bytes().to_vec();
        record.extend_from_slice(rest);
        let mut r = Reader::new(&record);
        let centi = r.i16_le()?;
        let humidity_raw = r.u16_le()?;
        r.take(3)?;
        let battery = r.u8()?;
        let humidity = f64::from(humidity_raw) / 100.0;
        let reports_humidity = always_humidity || (humidity_raw != 0 && humidity_raw != u16::MAX);
        if reports_humidity && humidity > 100.0 {
            return Err(Problem::Invalid(format!(
                "humidity {humidity} % is impossible"
            )));
        }
        if battery > 100 {
            return Err(Problem::Invalid(format!(
                "battery {battery} % is impossible"
            )));
        }
        let mut d = Decoded::new("inkbird", model);
        d.push(Kind::Temperature, f64::from(centi) / 100.0, Unit::Celsius);
        if reports_humidity {
            d.push(Kind::Humidity, humidity, Unit::Percent);
        }
        d.push(Kind::Battery, f64::from(battery), Unit::Percent);
        Ok(Some(d))
    }
}

#[cfg(test)]
mod tests {
    //! Vectors from Theengs Decoder's `tests/BLE/test_ble.cpp` (`test_mfgdata`: "Inkbird
    //! TH1", "Inkbird TH2", "Inkbird P01B"; the hex's first two bytes are the company id).
    use crate::decode::tests::{addr, assert_reading, decode_plain, manufacturer};
    use crate::decode::{Keyring, Kind, Registry, Unit};

    fn inkbird(record: &str, name: &str) -> crate::model::AdvertData {
        let company = u16::from_str_radix(&record[2..4], 16).unwrap() << 8
            | u16::from_str_radix(&record[0..2], 16).unwrap();
        manufacturer(company, &record[4..], name)
    }

    const PROBE: &str = "49:42:08:00:12:34";

    #[test]
    fn th1_th2_and_p01b_records_decode_to_the_published_values() {
        let d = decode_plain(PROBE, &inkbird("660a03150010805908", "sps"));
        assert_eq!((d.format, d.model.as_ref()), ("inkbird", "IBS-TH1"));
        assert_reading(&d, Kind::Temperature, 26.62, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 53.79, Unit::Percent);
        assert_reading(&d, Kind::Battery, 89.0, Unit::Percent);
        let d = decode_plain(PROBE, &inkbird("f009fe1301ca893008", "sps"));
        assert_reading(&d, Kind::Temperature, 25.44, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 51.18, Unit::Percent);
        assert_reading(&d, Kind::Battery, 48.0, Unit::Percent);
        let d = decode_plain(PROBE, &inkbird("660a19200010805908", "tps"));
        assert_reading(&d, Kind::Humidity, 82.17, Unit::Percent);
        let d = decode_plain(PROBE, &inkbird("76fb00000010805908", "tps"));
        assert_reading(&d, Kind::Temperature, -11.62, Unit::Celsius);
        assert!(d.get(Kind::Humidity).is_none());
        let d = decode_plain(PROBE, &inkbird("840affff00a6066008", "tps"));
        assert_reading(&d, Kind::Temperature, 26.92, Unit::Celsius);
        assert_reading(&d, Kind::Battery, 96.0, Unit::Percent);
        assert!(d.get(Kind::Humidity).is_none());
    }

    #[test]
    fn corrupt_records_and_other_names_are_handled() {
        let registry = Registry::standard();
        let err = registry
            .decode(
                addr(PROBE),
                &inkbird("660affff0010805908", "sps"),
                &mut Keyring::new(),
            )
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("655.35 % is impossible"), "{err}");
        let err = registry
            .decode(
                addr(PROBE),
                &inkbird("660a0315001080ff08", "sps"),
                &mut Keyring::new(),
            )
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("battery 255"), "{err}");
        assert!(registry
            .decode(
                addr(PROBE),
                &inkbird("660a03150010805908", "spsx"),
                &mut Keyring::new()
            )
            .is_none());
        let err = registry
            .decode(
                addr(PROBE),
                &manufacturer(0x1234, "00", "tps"),
                &mut Keyring::new(),
            )
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("exactly one 9-byte"), "{err}");
    }
}

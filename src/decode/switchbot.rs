//! SwitchBot sensors: service data under 0xFD3D (or the older 0x0D00) and manufacturer data
//! of Woan Technology (company 0x0969).
//!
//! The first service-data byte names the device (low 7 bits): `T` Meter, `i` Meter Plus,
//! `w` Outdoor Meter, `d` Contact Sensor, `s` Motion Sensor (facts from pySwitchbot's
//! `adv_parsers`, checked against Theengs Decoder's test vectors). Temperatures are a tenths
//! nibble and a whole-degree byte whose bit 7 is set for positive values; humidity and
//! battery are 7-bit percentages. Meter Plus and Outdoor Meter put the temperature in the
//! manufacturer data after the MAC instead; a manufacturer-only Meter is known by its name.
//! Other SwitchBot devices (bots, curtains, locks) are not sensors and are left to others.

use super::bytes::Reader;
use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};

/// SwitchBot's service UUID.
pub const UUID16: u16 = 0xFD3D;
/// The service UUID of older firmware.
pub const LEGACY_UUID16: u16 = 0x0D00;
/// Woan Technology's company id.
pub const COMPANY: u16 = 0x0969;

/// The SwitchBot decoder.
#[derive(Clone, Copy, Debug, Default)]
pub struct SwitchBot;

impl Decoder for SwitchBot {
    fn name(&self) -> &'static str {
        "switchbot"
    }

    fn claims(&self) -> &'static [Claim] {
        &[
            Claim::ServiceData(UUID16),
            Claim::ServiceData(LEGACY_UUID16),
            Claim::Manufacturer(COMPANY),
        ]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let service = advert
            .service_data16(UUID16)
            .or_else(|| advert.service_data16(LEGACY_UUID16));
        let maker = advert.manufacturer(COMPANY);
        let Some(service) = service else {
            // Manufacturer data alone: only a meter, named as one, is read.
            let name = advert.name();
            return match maker {
                Some(data) if name.starts_with("WoIOSensorTH") => {
                    meter_from_maker(data, "SwitchBot Outdoor Meter", None).map(Some)
                }
                Some(data) if name.starts_with("WoSensorTH") => {
                    meter_from_maker(data, "SwitchBot Meter Plus", None).map(Some)
                }
                _ => Ok(None),
            };
        };
        let mut r = Reader::new(service);
        let model = r.u8()? & 0x7F;
        match model {
            b'T' | b'i' => {
                let name = if model == b'T' {
                    "SwitchBot Meter"
                } else {
                    "SwitchBot Meter Plus"
                };
                r.u8()?;
                let battery = r.u8()? & 0x7F;
                if r.remaining() >= 3 {
                    let [tenths, whole, humidity] = r.array::<3>()?;
                    let mut d = Decoded::new("switchbot", name);
                    push_climate(&mut d, tenths, whole, humidity);
                    d.push(Kind::Battery, f64::from(battery), Unit::Percent);
                    Ok(Some(d))
                } else if let Some(data) = maker {
                    meter_from_maker(data, name, Some(battery)).map(Some)
                } else {
                    Err(Problem::Truncated {
                        offset: r.offset(),
                        needed: 3 - r.remaining(),
                    })
                }
            }
            b'w' => {
                r.u8()?;
                let battery = r.u8()? & 0x7F;
                let data = maker.ok_or_else(|| {
                    Problem::Invalid("Outdoor Meter advert without its manufacturer data".into())
                })?;
                meter_from_maker(data, "SwitchBot Outdoor Meter", Some(battery)).map(Some)
            }
            b'd' => {
                let flags = r.u8()?;
                let battery = r.u8()? & 0x7F;
                let state = r.u8()?;
                let mut d = Decoded::new("switchbot", "SwitchBot Contact Sensor");
                let door = (state >> 1) & 0x03;
                d.push(Kind::Door, door != 0, Unit::None);
                d.push(Kind::LeftOpen, door == 2, Unit::None);
                d.push(Kind::Motion, flags & 0x40 != 0, Unit::None);
                d.push(Kind::Light, state & 0x01 != 0, Unit::None);
                d.push(Kind::Battery, f64::from(battery), Unit::Percent);
                Ok(Some(d))
            }
            b's' => {
                let flags = r.u8()?;
                let battery = r.u8()? & 0x7F;
                r.take(2)?;
                let light = r.u8()? & 0x03;
                let mut d = Decoded::new("switchbot", "SwitchBot Motion Sensor");
                d.push(Kind::Motion, flags & 0x40 != 0, Unit::None);
                d.push(Kind::Light, light == 2, Unit::None);
                d.push(Kind::Battery, f64::from(battery), Unit::Percent);
                Ok(Some(d))
            }
            _ => Ok(None),
        }
    }
}

/// Temperature and humidity from the manufacturer data: MAC (6), two bytes, then the
/// tenths nibble, the whole degrees and the humidity.
fn meter_from_maker(
    data: &[u8],
    model: &'static str,
    battery: Option<u8>,
) -> Result<Decoded, Problem> {
    let mut r = Reader::new(data);
    r.take(8)?;
    let [tenths, whole, humidity] = r.array::<3>()?;
    let mut d = Decoded::new("switchbot", model);
    push_climate(&mut d, tenths, whole, humidity);
    if let Some(battery) = battery {
        d.push(Kind::Battery, f64::from(battery), Unit::Percent);
    }
    Ok(d)
}

fn push_climate(d: &mut Decoded, tenths: u8, whole: u8, humidity: u8) {
    let magnitude = f64::from(whole & 0x7F) + f64::from(tenths & 0x0F) / 10.0;
    let celsius = if whole & 0x80 != 0 {
        magnitude
    } else {
        -magnitude
    };
    d.push(Kind::Temperature, celsius, Unit::Celsius);
    d.push(Kind::Humidity, f64::from(humidity & 0x7F), Unit::Percent);
}

#[cfg(test)]
mod tests {
    //! Vectors from Theengs Decoder's `tests/BLE/test_ble.cpp` (`test_uuid`,
    //! `test_name_uuid_mfgsvcdata`, `test_mfgdata`: "Switchbot_Meter_Plus", "Switchbot_Meter",
    //! "SwitchBot Outdoor Meter", "Switchbot_Contact", "Switchbot_MotionSensor").
    use crate::decode::tests::{
        assert_reading, assert_state, decode_plain, hex, manufacturer, service,
    };
    use crate::decode::{Kind, Unit};
    use crate::model::uuid_from_u16;

    const BOT: &str = "AA:BB:CC:DD:EE:FF";

    #[test]
    fn meters_from_service_data_and_manufacturer_data() {
        let d = decode_plain(BOT, &service(0xFD3D, "6900ba18993b", ""));
        assert_eq!(d.model, "SwitchBot Meter Plus");
        assert_reading(&d, Kind::Temperature, 25.8, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 59.0, Unit::Percent);
        assert_reading(&d, Kind::Battery, 58.0, Unit::Percent);
        let d = decode_plain(BOT, &service(0xFD3D, "6900ba031938", ""));
        assert_reading(&d, Kind::Temperature, -25.3, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 56.0, Unit::Percent);
        let d = decode_plain(BOT, &service(0x0D00, "540054459938", ""));
        assert_eq!(d.model, "SwitchBot Meter");
        assert_reading(&d, Kind::Temperature, 25.5, Unit::Celsius);
        assert_reading(&d, Kind::Battery, 84.0, Unit::Percent);
        // "SwitchBot Meter ManData": 6909aabbccddeeff4a0109962f → 22.9 °C, 47 %.
        let d = decode_plain(
            BOT,
            &manufacturer(0x0969, "aabbccddeeff4a0109962f", "WoSensorTHP"),
        );
        assert_reading(&d, Kind::Temperature, 22.9, Unit::Celsius);
        assert_reading(&d, Kind::Humidity, 47.0, Unit::Percent);
        assert!(d.get(Kind::Battery).is_none());
    }

    #[test]
    fn outdoor_meter_combines_service_and_manufacturer_data() {
        for (maker, svc, t, h, b) in [
            ("aabbccddeeff8b0305993200", "770064", 25.5, 50.0, 100.0),
            ("aabbccddeeff940b039a5000", "7700e4", 26.3, 80.0, 100.0),
            ("aabbccddeeffe30f090f2a00", "770041", -15.9, 42.0, 65.0),
        ] {
            let mut data = service(0xFD3D, svc, "Outdoor Meter");
            data.manufacturer_data.insert(0x0969, hex(maker));
            let d = decode_plain(BOT, &data);
            assert_eq!(d.model, "SwitchBot Outdoor Meter");
            assert_reading(&d, Kind::Temperature, t, Unit::Celsius);
            assert_reading(&d, Kind::Humidity, h, Unit::Percent);
            assert_reading(&d, Kind::Battery, b, Unit::Percent);
        }
        let mut lonely = crate::model::AdvertData::default();
        lonely
            .service_data
            .insert(uuid_from_u16(0xFD3D), hex("770041"));
        let err = crate::decode::Registry::standard()
            .decode(
                crate::decode::tests::addr(BOT),
                &lonely,
                &mut crate::decode::Keyring::new(),
            )
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string().contains("without its manufacturer data"),
            "{err}"
        );
    }

    #[test]
    fn contact_and_motion_sensors() {
        // (payload, open, left open, motion, light, battery)
        for (payload, open, left, motion, light, battery) in [
            ("64c05c010000000000", false, false, true, true, 92.0),
            ("6480d7020000000000", true, false, false, false, 87.0),
            ("6440c1050000000000", true, true, true, true, 65.0),
            ("640064440359ffff42", true, true, false, false, 100.0),
        ] {
            let d = decode_plain(BOT, &service(0x0D00, payload, ""));
            assert_eq!(d.model, "SwitchBot Contact Sensor");
            assert_state(&d, Kind::Door, open);
            assert_state(&d, Kind::LeftOpen, left);
            assert_state(&d, Kind::Motion, motion);
            assert_state(&d, Kind::Light, light);
            assert_reading(&d, Kind::Battery, battery, Unit::Percent);
        }
        for (payload, motion, light, battery) in [
            ("73b037000045", false, false, 55.0),
            ("7340d50000f2", true, true, 85.0),
            ("73006402f002", false, true, 100.0),
        ] {
            let d = decode_plain(BOT, &service(0xFD3D, payload, ""));
            assert_eq!(d.model, "SwitchBot Motion Sensor");
            assert_state(&d, Kind::Motion, motion);
            assert_state(&d, Kind::Light, light);
            assert_reading(&d, Kind::Battery, battery, Unit::Percent);
        }
    }
}

//! iBeacon and Eddystone under the [`Decoder`] trait, so `bluefleet decode`, the readings on
//! heard devices and MQTT see beacons like any other format.
//!
//! The frame parsers stay in [`crate::adverts::beacon`] (the beacon registry and proximity
//! estimates use their typed frames); these adapters turn a frame into readings: an iBeacon's
//! identity and calibrated power, an Eddystone UID/URL, and Eddystone-TLM telemetry.

use crate::adverts::beacon::eddystone::EDDYSTONE_SERVICE_UUID16;
use crate::adverts::beacon::ibeacon::APPLE_COMPANY_ID;
use crate::adverts::beacon::{BeaconError, EddystoneFrame, IBeacon};

use super::{AdvertIn, Claim, Decoded, Decoder, DeviceSecrets, Kind, Problem, Unit};
use crate::config::decode::hex;

/// The iBeacon decoder (Apple manufacturer data of type 0x02).
#[derive(Clone, Copy, Debug, Default)]
pub struct IBeaconDecoder;

/// The Eddystone decoder (service data under 0xFEAA).
#[derive(Clone, Copy, Debug, Default)]
pub struct EddystoneDecoder;

fn problem(err: BeaconError) -> Problem {
    match err {
        BeaconError::UnsupportedFrame { .. } | BeaconError::UnsupportedTlmVersion { .. } => {
            Problem::Unsupported(err.to_string())
        }
        other => Problem::Invalid(other.to_string()),
    }
}

impl Decoder for IBeaconDecoder {
    fn name(&self) -> &'static str {
        "ibeacon"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::Manufacturer(APPLE_COMPANY_ID)]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let Some(data) = advert.manufacturer(APPLE_COMPANY_ID) else {
            return Ok(None);
        };
        if !IBeacon::is_announced(data) {
            return Ok(None);
        }
        let beacon = IBeacon::decode(data).map_err(problem)?;
        let mut d = Decoded::new("ibeacon", "iBeacon");
        let identity = format!("{} {} {}", beacon.uuid, beacon.major, beacon.minor);
        d.push(Kind::BeaconId, identity, Unit::None);
        d.push(
            Kind::TxPower,
            f64::from(beacon.measured_power_dbm),
            Unit::Dbm,
        );
        Ok(Some(d))
    }
}

impl Decoder for EddystoneDecoder {
    fn name(&self) -> &'static str {
        "eddystone"
    }

    fn claims(&self) -> &'static [Claim] {
        &[Claim::ServiceData(EDDYSTONE_SERVICE_UUID16)]
    }

    fn decode(
        &self,
        advert: &AdvertIn<'_>,
        _secrets: &mut DeviceSecrets,
    ) -> Result<Option<Decoded>, Problem> {
        let Some(data) = advert.service_data16(EDDYSTONE_SERVICE_UUID16) else {
            return Ok(None);
        };
        let mut d = Decoded::new("eddystone", "Eddystone");
        match EddystoneFrame::decode(data).map_err(problem)? {
            EddystoneFrame::Uid(uid) => {
                let identity = format!("{} {}", hex(&uid.namespace), hex(&uid.instance));
                d.push(Kind::BeaconId, identity, Unit::None);
                d.push(
                    Kind::TxPower,
                    f64::from(uid.tx_power_at_0m_dbm) - 41.0,
                    Unit::Dbm,
                );
            }
            EddystoneFrame::Url(url) => d.push(Kind::Url, url.url, Unit::None),
            EddystoneFrame::Tlm(tlm) => {
                if let Some(millivolts) = tlm.battery_mv {
                    d.push(Kind::Voltage, f64::from(millivolts) / 1000.0, Unit::Volt);
                }
                if let Some(celsius) = tlm.temperature_c {
                    d.push(Kind::Temperature, f64::from(celsius), Unit::Celsius);
                }
                d.push(Kind::Count, f64::from(tlm.advert_count), Unit::None);
                d.push(Kind::Duration, tlm.uptime.as_secs_f64(), Unit::Second);
            }
        }
        Ok(Some(d))
    }
}

#[cfg(test)]
mod tests {
    //! The frames of the beacon tests in `src/adverts/beacon` (Apple's AirLocate sample UUID,
    //! Eddystone spec-shaped UID and TLM frames).
    use crate::decode::tests::{addr, assert_reading, decode_plain, manufacturer, service};
    use crate::decode::{Keyring, Kind, Registry, Unit, Value};

    #[test]
    fn ibeacon_and_eddystone_frames_become_readings() {
        let frame = "0215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5";
        let d = decode_plain("C0:00:00:00:00:01", &manufacturer(0x004C, frame, ""));
        assert_eq!(
            d.get(Kind::BeaconId).unwrap().value,
            Value::from("e2c56db5-dffb-48d2-b060-d0f5a71096e0 1 2")
        );
        assert_reading(&d, Kind::TxPower, -59.0, Unit::Dbm);
        let tlm = "2000 0BB8 1880 000004D2 00000E10";
        let d = decode_plain("C0:00:00:00:00:02", &service(0xFEAA, tlm, ""));
        assert_reading(&d, Kind::Voltage, 3.0, Unit::Volt);
        assert_reading(&d, Kind::Temperature, 24.5, Unit::Celsius);
        assert_reading(&d, Kind::Count, 1234.0, Unit::None);
        assert_reading(&d, Kind::Duration, 360.0, Unit::Second);
        let uid = "00E7 EDD1EBEAC04E5DEFA017 0BDB87539B67 0000";
        let d = decode_plain("C0:00:00:00:00:03", &service(0xFEAA, uid, ""));
        assert_reading(&d, Kind::TxPower, -66.0, Unit::Dbm);
    }

    #[test]
    fn other_apple_frames_are_not_claimed_and_broken_beacons_are_errors() {
        let registry = Registry::standard();
        let watch = manufacturer(0x004C, "10050b182068dd", "");
        assert!(registry
            .decode(addr("C0:00:00:00:00:04"), &watch, &mut Keyring::new())
            .is_none());
        let short = manufacturer(0x004C, "0215AA", "");
        let err = registry
            .decode(addr("C0:00:00:00:00:05"), &short, &mut Keyring::new())
            .unwrap()
            .unwrap_err();
        assert!(
            err.to_string().contains("iBeacon frame must be 23 bytes"),
            "{err}"
        );
        let eid = service(0xFEAA, "30", "");
        let err = registry
            .decode(addr("C0:00:00:00:00:06"), &eid, &mut Keyring::new())
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("not supported"), "{err}");
    }
}

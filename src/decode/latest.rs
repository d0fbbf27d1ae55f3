//! [`SensorReadings`]: the latest decoded readings of every heard device, fed by the advert
//! pipeline on changed payloads only.
//!
//! The pipeline recognises a repeated payload before anything else (fingerprint), so a sensor
//! repeating itself costs nothing here; [`SensorReadings::observe`] runs the registry once per
//! *new* payload and keeps the result. [`SensorReadings::decode_count`] counts those runs (a
//! test holds the pipeline to one decode per change). A failed decode keeps the device's
//! previous readings, records the error, and logs it once per distinct problem (an encrypted
//! sensor changes payload every advert, so logging every failure would flood the log).

use std::collections::HashMap;

use crate::model::{Address, AdvertData};

use super::{Bindkey, DecodeError, Decoded, Keyring, Registry};

/// Latest readings and decode errors by device, with the registry and keyring that made them.
#[derive(Debug, Default)]
pub struct SensorReadings {
    registry: Registry,
    keyring: Keyring,
    latest: HashMap<Address, Decoded>,
    /// Boxed: the map's buckets (about 1.6 per entry at its load) then take 16 bytes each, not
    /// the 64 of an error with its key; measured per advertising sensor (`bench memory`).
    errors: HashMap<Address, Box<DecodeError>>,
    decodes: u64,
    failures: u64,
}

impl SensorReadings {
    /// Gives a device's bindkey (its replay counter starts over).
    pub fn set_bindkey(&mut self, address: Address, key: Bindkey) {
        self.keyring.set_bindkey(address, key);
        self.errors.remove(&address);
    }

    /// Decodes a changed payload. `name` is the device's name from earlier adverts or scan
    /// responses, used when this advert carries none (Inkbird and Govee are told by name).
    pub fn observe(&mut self, address: Address, data: &AdvertData, name: Option<&str>) {
        let named;
        let data = match (&data.local_name, name) {
            (None, Some(name)) => {
                named = AdvertData {
                    local_name: Some(name.to_owned()),
                    ..data.clone()
                };
                &named
            }
            _ => data,
        };
        let Some(result) = self.registry.decode(address, data, &mut self.keyring) else {
            return;
        };
        self.decodes += 1;
        match result {
            Ok(decoded) => {
                self.errors.remove(&address);
                self.latest.insert(address, decoded);
            }
            Err(err) => {
                self.failures += 1;
                let repeated = self
                    .errors
                    .get(&address)
                    .is_some_and(|last| last.problem == err.problem);
                if !repeated {
                    tracing::warn!(%err, "advert not decoded");
                }
                self.errors.insert(address, Box::new(err));
            }
        }
    }

    /// The latest readings of a device.
    pub fn get(&self, address: &Address) -> Option<&Decoded> {
        self.latest.get(address)
    }

    /// The last decode error of a device, until a frame decodes again.
    pub fn error(&self, address: &Address) -> Option<&DecodeError> {
        self.errors.get(address).map(|err| &**err)
    }

    /// Drops a device that disappeared (its bindkey and replay counter stay).
    pub fn forget(&mut self, address: &Address) {
        self.latest.remove(address);
        self.errors.remove(address);
    }

    /// How many payloads were run through the decoders.
    pub fn decode_count(&self) -> u64 {
        self.decodes
    }

    /// How many of them failed.
    pub fn failure_count(&self) -> u64 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use tokio::time::Instant;

    use crate::adverts::{AdvertPipeline, PipelineConfig};
    use crate::decode::tests::hex;
    use crate::decode::Kind;
    use crate::model::{Advertisement, RadioId};

    use super::*;

    fn advert(address: Address, raw: &str) -> Advertisement {
        Advertisement::from_raw(
            address,
            RadioId::new("hci0"),
            -60,
            Instant::now(),
            Bytes::from(hex(raw)),
        )
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_pipeline_decodes_each_changed_payload_once() {
        let mut pipeline = AdvertPipeline::new(PipelineConfig::default());
        let sensor = Address::new([0xA4, 0xC1, 0x38, 0x8D, 0x18, 0xB2]);
        let mut events = Vec::new();
        // bthome-ble test_bthome_temperature_humidity, repeated ten times, then a new value.
        let first = advert(sensor, "0A16D2FC4002CA0903BF13");
        for _ in 0..10 {
            pipeline.ingest(std::slice::from_ref(&first), &mut events);
        }
        assert_eq!(pipeline.readings().decode_count(), 1);
        let reading = pipeline.readings().get(&sensor).unwrap();
        assert_eq!(reading.get(Kind::Temperature).unwrap().value, 25.06.into());
        let second = advert(sensor, "0A16D2FC4002CF0903BF13");
        pipeline.ingest(&[second.clone(), second], &mut events);
        assert_eq!(pipeline.readings().decode_count(), 2);
        let reading = pipeline.readings().get(&sensor).unwrap();
        assert_eq!(reading.get(Kind::Temperature).unwrap().value, 25.11.into());
        // A plain advert nobody claims is not a decode.
        let plain = advert(Address::new([1; 6]), "05FF34120102");
        pipeline.ingest(&[plain], &mut events);
        assert_eq!(pipeline.readings().decode_count(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrong_key_is_an_error_naming_the_device_and_keeps_no_value() {
        let mut readings = SensorReadings::default();
        let shelly = Address::parse("54:48:E6:8F:80:A5").unwrap();
        readings.set_bindkey(shelly, Bindkey([0x11; 16]));
        // bthome-ble test_bindkey_correct's frame, with another key.
        let sealed = AdvertData::parse(&hex("1216D2FC41a47266c95f730011223378237214")).unwrap();
        readings.observe(shelly, &sealed, None);
        assert!(readings.get(&shelly).is_none());
        let err = readings.error(&shelly).unwrap().to_string();
        assert!(
            err.contains("54:48:E6:8F:80:A5") && err.contains("wrong bindkey"),
            "{err}"
        );
        readings.set_bindkey(shelly, "231d39c1d7cc1ab1aee224cd096db932".parse().unwrap());
        readings.observe(shelly, &sealed, None);
        assert!(readings.error(&shelly).is_none());
        assert!(readings.get(&shelly).is_some());
        assert_eq!((readings.decode_count(), readings.failure_count()), (2, 1));
    }
}

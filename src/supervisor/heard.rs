//! [`HeardDevice`]: a snapshot of one device as the advertisement pipeline knows it, for
//! handles and the command line (`scan`, `proximity`, `beacons`).
//!
//! Built from the pipeline's [`DeviceView`] under its lock and returned by value, so a caller
//! can keep it, print it or serialise it without holding anything of the fleet's.

use serde::Serialize;

use crate::adverts::beacon::BeaconState;
use crate::adverts::{AdvertPipeline, DeviceView, Zone};
use crate::decode::Decoded;
use crate::model::{Address, AdvertData, RadioId};

/// RSSI statistics of one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RssiSummary {
    /// Samples.
    pub samples: u32,
    /// Lowest, dBm.
    pub min_dbm: Option<i16>,
    /// Highest, dBm.
    pub max_dbm: Option<i16>,
    /// Mean, dBm.
    pub mean_dbm: Option<f64>,
    /// Sample standard deviation, dB.
    pub std_dev_db: Option<f64>,
}

/// One heard device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeardDevice {
    /// Its address.
    pub address: Address,
    /// Its name, if it sent one.
    pub name: Option<String>,
    /// Smoothed RSSI from its best radio, dBm.
    pub smoothed_rssi_dbm: Option<f32>,
    /// The radio that hears it best.
    pub best_radio: Option<RadioId>,
    /// Every radio that heard it, with that radio's smoothed RSSI.
    pub radios: Vec<(RadioId, Option<f32>)>,
    /// Proximity zone, once enough samples arrived.
    pub zone: Option<Zone>,
    /// Log-distance estimate, metres.
    pub distance_m: Option<f64>,
    /// RSSI statistics.
    pub rssi: RssiSummary,
    /// The merged advertisement fields.
    #[serde(skip)]
    pub data: AdvertData,
    /// Beacon frames decoded from it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beacon: Option<BeaconState>,
    /// Sensor readings decoded from its latest changed payload (src/decode), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Decoded>,
    /// Why its latest payload could not be decoded (wrong key, replay), until one decodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
}

impl HeardDevice {
    /// Snapshot of `view` from `pipeline`.
    pub fn from_view(pipeline: &AdvertPipeline, view: &DeviceView) -> Self {
        let address = view.address();
        let stats = view.rssi_stats();
        let radios: Vec<_> = pipeline
            .radios_heard(&address)
            .map(|heard| (heard.radio.clone(), heard.smoothed_rssi_dbm))
            .collect();
        Self {
            address,
            name: view.advert().local_name().map(str::to_string),
            smoothed_rssi_dbm: view.smoothed_rssi_dbm(),
            best_radio: pipeline.best_radio(&address).cloned(),
            radios,
            zone: view.zone(),
            distance_m: pipeline.distance_m(&address),
            rssi: RssiSummary {
                samples: stats.count(),
                min_dbm: stats.min_dbm(),
                max_dbm: stats.max_dbm(),
                mean_dbm: stats.mean_dbm(),
                std_dev_db: stats.std_dev_db(),
            },
            data: view.advert().to_advert_data(),
            beacon: pipeline.beacons().get(&address).cloned(),
            readings: pipeline.readings().get(&address).cloned(),
            decode_error: pipeline.readings().error(&address).map(|e| e.to_string()),
        }
    }
}

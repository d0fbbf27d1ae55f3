//! Where a device is relative to the radio that hears it best: zones and a distance estimate.
//!
//! Owns [`Zone`], [`ProximityConfig`], [`next_zone`] (zone changes with hysteresis, only after a
//! minimum number of samples) and [`estimate_distance_m`] (log-distance path loss,
//! `d = 10^((txPower − rssi)/(10·n))`, design §8).
//!
//! Why hysteresis: a smoothed RSSI that hovers at −70 dBm would otherwise flip near/far on every
//! advert and flood subscribers with zone changes. A device leaves its zone only when the
//! smoothed value is past the boundary by `hysteresis_db`.
//!
//! The pipeline feeds these from the device's best radio; a zone is a statement about that
//! radio's surroundings. Distances from RSSI are rough (walls, bodies, antenna patterns): treat
//! them as "about", never as metres on a tape.

/// A coarse proximity class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    /// Stronger than the immediate threshold (default −55 dBm).
    Immediate,
    /// Between the two thresholds.
    Near,
    /// Weaker than the near threshold (default −70 dBm).
    Far,
}

/// Zone thresholds and the path-loss model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProximityConfig {
    /// A smoothed RSSI above this is `Immediate` (default −55 dBm).
    pub immediate_above_dbm: i16,
    /// A smoothed RSSI at or above this (and not immediate) is `Near`; below is `Far`
    /// (default −70 dBm).
    pub near_from_dbm: i16,
    /// Samples needed before any zone is assigned (default 3).
    pub min_samples: u16,
    /// How far past a boundary the smoothed RSSI must go to change zone (default 2 dB).
    pub hysteresis_db: f32,
    /// Expected RSSI at 1 m when the advert does not say (default −59 dBm).
    pub tx_power_at_1m_dbm: i16,
    /// Path-loss exponent n: 2 in free space, 2.5–4 indoors (default 2.5).
    pub path_loss_exponent: f32,
}

impl Default for ProximityConfig {
    fn default() -> Self {
        Self {
            immediate_above_dbm: -55,
            near_from_dbm: -70,
            min_samples: 3,
            hysteresis_db: 2.0,
            tx_power_at_1m_dbm: -59,
            path_loss_exponent: 2.5,
        }
    }
}

/// The zone a smoothed RSSI falls in, without hysteresis.
pub fn zone_of(config: &ProximityConfig, smoothed_dbm: f32) -> Zone {
    if smoothed_dbm > f32::from(config.immediate_above_dbm) {
        Zone::Immediate
    } else if smoothed_dbm >= f32::from(config.near_from_dbm) {
        Zone::Near
    } else {
        Zone::Far
    }
}

/// The zone after one more sample: `None` until `min_samples`, then the plain zone for the first
/// assignment, then a change only once the value is `hysteresis_db` past the current zone's edge.
pub fn next_zone(
    config: &ProximityConfig,
    current: Option<Zone>,
    smoothed_dbm: f32,
    samples: u16,
) -> Option<Zone> {
    if samples < config.min_samples {
        return current;
    }
    let Some(current) = current else {
        return Some(zone_of(config, smoothed_dbm));
    };
    let h = config.hysteresis_db;
    let immediate = f32::from(config.immediate_above_dbm);
    let near = f32::from(config.near_from_dbm);
    let stays = match current {
        Zone::Immediate => smoothed_dbm > immediate - h,
        Zone::Near => smoothed_dbm >= near - h && smoothed_dbm <= immediate + h,
        Zone::Far => smoothed_dbm < near + h,
    };
    Some(if stays {
        current
    } else {
        zone_of(config, smoothed_dbm)
    })
}

/// Log-distance estimate in metres; `tx_power_at_1m_dbm` is the advert's own calibration
/// (an iBeacon's measured power) when it has one, else the configured default.
pub fn estimate_distance_m(
    config: &ProximityConfig,
    tx_power_at_1m_dbm: Option<i16>,
    smoothed_dbm: f32,
) -> f64 {
    let tx = f64::from(tx_power_at_1m_dbm.unwrap_or(config.tx_power_at_1m_dbm));
    let exponent = f64::from(config.path_loss_exponent.max(0.1));
    10f64.powf((tx - f64::from(smoothed_dbm)) / (10.0 * exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_is_near_at_about_2_25_metres() {
        let config = ProximityConfig::default();
        let smoothed = -67.7906;
        assert_eq!(next_zone(&config, None, smoothed, 5), Some(Zone::Near));
        let distance = estimate_distance_m(&config, None, smoothed);
        assert!((distance - 2.247).abs() < 0.005, "{distance}");
    }

    #[test]
    fn no_zone_before_the_minimum_sample_count() {
        let config = ProximityConfig::default();
        assert_eq!(next_zone(&config, None, -40.0, 2), None);
        assert_eq!(next_zone(&config, None, -40.0, 3), Some(Zone::Immediate));
    }

    #[test]
    fn thresholds_split_the_three_zones() {
        let config = ProximityConfig::default();
        assert_eq!(zone_of(&config, -54.9), Zone::Immediate);
        assert_eq!(zone_of(&config, -55.0), Zone::Near);
        assert_eq!(zone_of(&config, -70.0), Zone::Near);
        assert_eq!(zone_of(&config, -70.1), Zone::Far);
    }

    #[test]
    fn hovering_at_a_boundary_does_not_flip_the_zone() {
        let config = ProximityConfig::default();
        let mut zone = next_zone(&config, None, -69.0, 3);
        for smoothed in [-70.5, -69.5, -71.9, -68.0, -71.0] {
            zone = next_zone(&config, zone, smoothed, 10);
            assert_eq!(zone, Some(Zone::Near), "at {smoothed}");
        }
        zone = next_zone(&config, zone, -72.1, 10);
        assert_eq!(zone, Some(Zone::Far));
        zone = next_zone(&config, zone, -68.5, 10);
        assert_eq!(zone, Some(Zone::Far));
        zone = next_zone(&config, zone, -67.9, 10);
        assert_eq!(zone, Some(Zone::Near));
    }

    #[test]
    fn measured_power_from_the_advert_overrides_the_default() {
        let config = ProximityConfig {
            path_loss_exponent: 2.0,
            ..ProximityConfig::default()
        };
        assert!((estimate_distance_m(&config, Some(-65), -65.0) - 1.0).abs() < 1e-9);
        assert!((estimate_distance_m(&config, None, -79.0) - 10.0).abs() < 1e-9);
    }
}

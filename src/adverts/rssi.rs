//! Signal strength arithmetic: EMA smoothing and running statistics.
//!
//! Owns [`smooth`] (the exponential moving average `s = α·x + (1−α)·s`, design §8) and
//! [`RssiStats`] (count, min, max, mean and standard deviation without keeping the samples:
//! Welford's update). Both are a few floating-point operations so the pipeline can run them on
//! every advert, changed or not.
//!
//! The EMA is seeded with the first sample (not with zero, which would drag the first few values
//! towards 0 dBm). With α = 0.3 the samples −68, −72, −65, −70, −66 give −69.2, −67.94,
//! −68.558 and finally −67.79 dBm, the worked example of issue 5.
//!
//! Gotcha: radios report "no reading" as 0 (ESPHome, BlueZ) or 127 (HCI); [`is_reading`] keeps
//! those out of the averages, as habluetooth does since its issue 586.

/// The EMA weight of a new sample when nothing else is configured.
pub const DEFAULT_ALPHA: f32 = 0.3;

/// Whether an RSSI value is a real measurement (−127…+20 dBm, and not the 0 placeholder).
pub fn is_reading(rssi_dbm: i16) -> bool {
    rssi_dbm != 0 && (-127..=20).contains(&rssi_dbm)
}

/// One EMA step: `previous` is `None` for the first sample, which seeds the average.
pub fn smooth(previous: Option<f32>, sample_dbm: i16, alpha: f32) -> f32 {
    let sample = f32::from(sample_dbm);
    match previous {
        None => sample,
        Some(previous) => alpha * sample + (1.0 - alpha) * previous,
    }
}

/// Running statistics of a stream of RSSI samples, in constant space.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RssiStats {
    count: u32,
    min_dbm: i16,
    max_dbm: i16,
    mean: f64,
    /// Sum of squared deviations from the running mean (Welford's M2).
    squared_deviations: f64,
}

impl RssiStats {
    /// Adds one sample.
    pub fn record(&mut self, rssi_dbm: i16) {
        if self.count == 0 {
            self.min_dbm = rssi_dbm;
            self.max_dbm = rssi_dbm;
        } else {
            self.min_dbm = self.min_dbm.min(rssi_dbm);
            self.max_dbm = self.max_dbm.max(rssi_dbm);
        }
        self.count = self.count.saturating_add(1);
        let sample = f64::from(rssi_dbm);
        let delta = sample - self.mean;
        self.mean += delta / f64::from(self.count);
        self.squared_deviations += delta * (sample - self.mean);
    }

    /// Samples recorded.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The weakest sample.
    pub fn min_dbm(&self) -> Option<i16> {
        (self.count > 0).then_some(self.min_dbm)
    }

    /// The strongest sample.
    pub fn max_dbm(&self) -> Option<i16> {
        (self.count > 0).then_some(self.max_dbm)
    }

    /// The arithmetic mean.
    pub fn mean_dbm(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// The sample standard deviation (divides by n − 1); needs two samples.
    pub fn std_dev_db(&self) -> Option<f64> {
        (self.count > 1).then(|| (self.squared_deviations / f64::from(self.count - 1)).sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKED_EXAMPLE: [i16; 5] = [-68, -72, -65, -70, -66];

    #[test]
    fn worked_example_smooths_to_minus_67_8() {
        let mut smoothed = None;
        let mut trace = Vec::new();
        for sample in WORKED_EXAMPLE {
            let next = smooth(smoothed, sample, DEFAULT_ALPHA);
            trace.push(next);
            smoothed = Some(next);
        }
        let expected = [-68.0, -69.2, -67.94, -68.558, -67.7906];
        for (got, want) in trace.iter().zip(expected) {
            assert!((got - want).abs() < 1e-3, "{trace:?}");
        }
    }

    #[test]
    fn statistics_match_the_worked_example() {
        let mut stats = RssiStats::default();
        assert_eq!(stats.mean_dbm(), None);
        for sample in WORKED_EXAMPLE {
            stats.record(sample);
        }
        assert_eq!(stats.count(), 5);
        assert_eq!(stats.min_dbm(), Some(-72));
        assert_eq!(stats.max_dbm(), Some(-65));
        assert!((stats.mean_dbm().unwrap() + 68.2).abs() < 1e-9);
        // Squared deviations sum to 32.8; 32.8 / 4 = 8.2.
        assert!((stats.std_dev_db().unwrap() - 8.2f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn one_sample_has_no_spread() {
        let mut stats = RssiStats::default();
        stats.record(-40);
        assert_eq!(stats.std_dev_db(), None);
        assert_eq!(stats.min_dbm(), Some(-40));
    }

    #[test]
    fn placeholders_are_not_readings() {
        assert!(!is_reading(0));
        assert!(!is_reading(127));
        assert!(!is_reading(-128));
        assert!(is_reading(-127));
        assert!(is_reading(-59));
    }
}

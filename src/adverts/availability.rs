//! When a silent device counts as gone: its learned advertising interval and the timeout from it.
//!
//! Owns [`AvailabilityConfig`] and [`IntervalLearner`]. A device's interval is learned from the
//! gaps between adverts heard by its best radio (two radios hearing the same advert would
//! otherwise look like a gap of zero); the learned value is the largest gap in a window of
//! gaps (habluetooth takes the largest of 16), so one missed advert makes the estimate
//! generous rather than tight. The timeout is `interval × factor + slack`, clamped to
//! `[min_timeout, max_timeout]`; until enough gaps are seen, `fallback_timeout` applies.
//! So a beacon that advertises every 10 s is given 35 s, not the 3 s a 1 s sensor would need.
//!
//! The pipeline records gaps in [`super::AdvertPipeline::ingest`] and compares timeouts in
//! [`super::AdvertPipeline::tick`]. The state is 12 bytes per device: intervals are kept in
//! whole milliseconds, which is finer than any radio's timestamps.

use std::time::Duration;

/// Timeout rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvailabilityConfig {
    /// Timeout while the interval is still unknown (default 120 s).
    pub fallback_timeout: Duration,
    /// No timeout is shorter (default 15 s: a proxy pauses scanning while it connects).
    pub min_timeout: Duration,
    /// No timeout is longer (default 900 s, the longest habluetooth waits).
    pub max_timeout: Duration,
    /// Missed intervals tolerated before the slack (default 3).
    pub interval_factor: u32,
    /// Added to `interval × factor` (default 5 s).
    pub slack: Duration,
    /// Gaps needed before the interval counts as learned (default 3).
    pub gaps_to_learn: u8,
    /// Gaps per learning window; a completed window's largest gap becomes the learned
    /// interval and a new window starts, so a device that slows down is followed (default 16).
    pub window_gaps: u8,
}

impl Default for AvailabilityConfig {
    fn default() -> Self {
        Self {
            fallback_timeout: Duration::from_secs(120),
            min_timeout: Duration::from_secs(15),
            max_timeout: Duration::from_secs(900),
            interval_factor: 3,
            slack: Duration::from_secs(5),
            gaps_to_learn: 3,
            window_gaps: 16,
        }
    }
}

/// Learns one device's advertising interval from the gaps between its adverts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntervalLearner {
    /// Largest gap of the last completed window, ms (0: no window completed yet).
    completed_max_ms: u32,
    /// Largest gap of the window being collected, ms.
    window_max_ms: u32,
    /// Gaps collected in the current window.
    window_len: u8,
}

impl IntervalLearner {
    /// Records the gap between two adverts from the same radio. Zero gaps (an advert and its
    /// scan response in one batch) carry no information and are skipped.
    pub fn record_gap(&mut self, gap: Duration, config: &AvailabilityConfig) {
        let gap_ms = u32::try_from(gap.as_millis()).unwrap_or(u32::MAX);
        if gap_ms == 0 {
            return;
        }
        self.window_max_ms = self.window_max_ms.max(gap_ms);
        self.window_len = self.window_len.saturating_add(1);
        if self.window_len >= config.window_gaps.max(1) {
            self.completed_max_ms = self.window_max_ms;
            self.window_max_ms = 0;
            self.window_len = 0;
        }
    }

    /// Forgets partial timings (the best radio changed, so the next gap would mix radios).
    pub fn restart_window(&mut self) {
        self.window_max_ms = 0;
        self.window_len = 0;
    }

    /// The learned interval, once enough gaps were seen; the larger of the completed window
    /// and the current one, so a device that slowed down is not timed out early.
    pub fn learned(&self, config: &AvailabilityConfig) -> Option<Duration> {
        let window_counts = self.window_len >= config.gaps_to_learn;
        if self.completed_max_ms == 0 && !window_counts {
            return None;
        }
        let current = if window_counts { self.window_max_ms } else { 0 };
        Some(Duration::from_millis(u64::from(
            self.completed_max_ms.max(current),
        )))
    }

    /// How long the device may stay silent before it counts as gone.
    pub fn timeout(&self, config: &AvailabilityConfig) -> Duration {
        match self.learned(config) {
            None => config.fallback_timeout,
            Some(interval) => interval
                .saturating_mul(config.interval_factor)
                .saturating_add(config.slack)
                .clamp(
                    config.min_timeout,
                    config.max_timeout.max(config.min_timeout),
                ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learned_from(gaps: &[u64]) -> IntervalLearner {
        let config = AvailabilityConfig::default();
        let mut learner = IntervalLearner::default();
        for &gap in gaps {
            learner.record_gap(Duration::from_millis(gap), &config);
        }
        learner
    }

    #[test]
    fn unknown_interval_uses_the_fallback() {
        let config = AvailabilityConfig::default();
        let learner = learned_from(&[10_000, 10_000]);
        assert_eq!(learner.learned(&config), None);
        assert_eq!(learner.timeout(&config), Duration::from_secs(120));
    }

    #[test]
    fn a_ten_second_beacon_gets_thirty_five_seconds() {
        let config = AvailabilityConfig::default();
        let learner = learned_from(&[10_000, 9_990, 10_020]);
        assert_eq!(
            learner.learned(&config),
            Some(Duration::from_millis(10_020))
        );
        assert_eq!(learner.timeout(&config), Duration::from_millis(35_060));
    }

    #[test]
    fn fast_advertisers_get_the_floor_and_slow_ones_the_cap() {
        let config = AvailabilityConfig::default();
        assert_eq!(
            learned_from(&[100; 5]).timeout(&config),
            Duration::from_secs(15)
        );
        assert_eq!(
            learned_from(&[600_000; 5]).timeout(&config),
            Duration::from_secs(900)
        );
    }

    #[test]
    fn zero_gaps_are_ignored_and_a_missed_advert_widens_the_estimate() {
        let config = AvailabilityConfig::default();
        let learner = learned_from(&[0, 1_000, 0, 2_000, 1_000]);
        assert_eq!(learner.learned(&config), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_completed_window_is_kept_and_a_slower_window_overrides_it() {
        let config = AvailabilityConfig::default();
        let mut learner = learned_from(&[1_000; 16]);
        assert_eq!(learner.learned(&config), Some(Duration::from_secs(1)));
        learner.restart_window();
        assert_eq!(learner.learned(&config), Some(Duration::from_secs(1)));
        for _ in 0..3 {
            learner.record_gap(Duration::from_secs(5), &config);
        }
        assert_eq!(learner.learned(&config), Some(Duration::from_secs(5)));
    }
}

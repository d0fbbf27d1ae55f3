//! The fleet-wide tunables every actor reads: [`FleetConfig`].
//!
//! Plain data with defaults, set once by `FleetBuilder` and then only read (through
//! [`super::Shared::config`]). It lives beside `Shared`, not in any actor's module, so the
//! adapter, device and Supervisor actors all read it without depending on one another.

use std::time::Duration;

use crate::adverts::PipelineConfig;
use crate::device::radio_choice::ChoicePolicy;
use crate::device::retry::RetryPolicy;

/// Fleet-wide tunables.
#[derive(Clone, Debug)]
pub(crate) struct FleetConfig {
    /// Retry timing.
    pub(crate) retry: RetryPolicy,
    /// Radio choice.
    pub(crate) choice: ChoicePolicy,
    /// How long one connect call may take.
    pub(crate) connect_timeout: Duration,
    /// How long service discovery after a connect may take (apart from the connect: a large
    /// GATT table over a slow link can take longer than any sensible connect timeout).
    pub(crate) discovery_timeout: Duration,
    /// Default deadline of a handle call (read, write, connect, subscribe).
    pub(crate) operation_timeout: Duration,
    /// An on-demand connection with nothing to do is closed after this long.
    pub(crate) idle_disconnect: Duration,
    /// Queue length of each subscriber.
    pub(crate) subscription_capacity: usize,
    /// Seeds every device's jitter (each device mixes in its address).
    pub(crate) seed: u64,
    /// EMA factor for per-radio RSSI smoothing in radio choice.
    pub(crate) rssi_alpha: f64,
    /// The advertisement pipeline's tunables (smoothing, zones, availability).
    pub(crate) pipeline: PipelineConfig,
    /// With a value, every radio gets a watchdog that recovers it after this long without an
    /// advert while up (`crate::watchdog`); off by default.
    pub(crate) radio_watchdog: Option<Duration>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            choice: ChoicePolicy::default(),
            connect_timeout: Duration::from_secs(20),
            discovery_timeout: Duration::from_secs(90),
            operation_timeout: Duration::from_secs(30),
            idle_disconnect: Duration::from_secs(30),
            subscription_capacity: 64,
            seed: 0,
            rssi_alpha: 0.3,
            pipeline: PipelineConfig::default(),
            radio_watchdog: None,
        }
    }
}

//! [`FleetBuilder`]: radios, cache directory, policies and seed, checked before anything starts.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::runtime::start_supervisor;
use super::Fleet;
use crate::backend::Radio;
use crate::cache::ServiceCache;
use crate::decode::Bindkey;
use crate::device::radio_choice::ChoicePolicy;
use crate::device::retry::RetryPolicy;
use crate::model::Address;
use crate::shared::{FleetConfig, Shared};
use crate::supervisor::messages::AddRadio;
use crate::supervisor::Supervisor;

/// Builds a [`Fleet`].
#[derive(Debug, Default)]
pub struct FleetBuilder {
    radios: Vec<Arc<dyn Radio>>,
    cache_dir: Option<PathBuf>,
    config: FleetConfig,
    bindkeys: Vec<(Address, Bindkey)>,
}

impl FleetBuilder {
    /// Adds a radio.
    pub fn radio(mut self, radio: Arc<dyn Radio>) -> Self {
        self.radios.push(radio);
        self
    }

    /// Adds several radios.
    pub fn radios(mut self, radios: impl IntoIterator<Item = Arc<dyn Radio>>) -> Self {
        self.radios.extend(radios);
        self
    }

    /// Persists the service cache under this directory.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Retry timing.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Radio choice tunables.
    pub fn choice_policy(mut self, policy: ChoicePolicy) -> Self {
        self.config.choice = policy;
        self
    }

    /// How long one connect call may take (default 20 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long service discovery after a connect may take (default 90 s).
    pub fn discovery_timeout(mut self, timeout: Duration) -> Self {
        self.config.discovery_timeout = timeout;
        self
    }

    /// Default deadline of handle calls (default 30 s; `Device::with_timeout` overrides).
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.config.operation_timeout = timeout;
        self
    }

    /// How long an on-demand connection stays up with nothing to do (default 30 s).
    pub fn idle_disconnect(mut self, after: Duration) -> Self {
        self.config.idle_disconnect = after;
        self
    }

    /// Queue length per subscriber (default 64).
    pub fn subscription_capacity(mut self, capacity: usize) -> Self {
        self.config.subscription_capacity = capacity;
        self
    }

    /// Watches every radio: one that is up but delivers no advert for `quiet_after` is
    /// recovered step by step (restart discovery, power-cycle, reconnect; each radio's
    /// [`RecoveryReport`](crate::fleet::RecoveryReport) in the diagnostics says what was done).
    /// Off unless set; `bluefleet run` sets 90 s.
    pub fn radio_watchdog(mut self, quiet_after: Duration) -> Self {
        self.config.radio_watchdog = Some(quiet_after);
        self
    }

    /// Seed for retry jitter (reproducible runs).
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Gives the bindkey of an encrypted sensor (BTHome, Xiaomi MiBeacon v4/v5), so its
    /// adverts decode into readings (see [`crate::decode`]).
    pub fn bindkey(mut self, address: Address, key: Bindkey) -> Self {
        self.bindkeys.push((address, key));
        self
    }

    /// Checks the configuration and starts the actors.
    pub fn build(self) -> crate::Result<Fleet> {
        self.config.retry.validate()?;
        if self.config.subscription_capacity == 0 {
            return Err(crate::Error::config(
                "subscription_capacity",
                "must be at least 1",
            ));
        }
        if self.config.connect_timeout.is_zero()
            || self.config.operation_timeout.is_zero()
            || self.config.discovery_timeout.is_zero()
        {
            return Err(crate::Error::config("timeouts", "must be above zero"));
        }
        if self.config.radio_watchdog.is_some_and(|d| d.is_zero()) {
            return Err(crate::Error::config("radio_watchdog", "must be above zero"));
        }
        let mut names = BTreeSet::new();
        for radio in &self.radios {
            if !names.insert(radio.id()) {
                return Err(crate::Error::config(
                    format!("radio '{}'", radio.id()),
                    "two radios have this name",
                ));
            }
        }
        let cache = match &self.cache_dir {
            Some(dir) => ServiceCache::persistent(dir)?,
            None => ServiceCache::in_memory(),
        };
        let shared = Shared::new(self.config, cache);
        for (address, key) in self.bindkeys {
            shared.pipeline().readings_mut().set_bindkey(address, key);
        }
        let for_actor = Arc::clone(&shared);
        let (supervisor, own_system) = start_supervisor(move || Supervisor::new(for_actor))?;
        for radio in self.radios {
            supervisor.do_send(AddRadio(radio));
        }
        Ok(Fleet {
            supervisor,
            shared,
            _own_system: own_system,
        })
    }
}

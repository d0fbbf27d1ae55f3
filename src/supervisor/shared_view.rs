//! State that handles and actors read without a message round trip.
//!
//! Owns [`Shared`]: the radio registry, the slot ledger, the service cache, the latest
//! advertisement and connection state of every device, and the broadcast of advertisements.
//! Writers are few and fixed (the Supervisor writes adverts; each device actor writes its own
//! state; adapter actors write their radio's slots), so the `DashMap`s are read-mostly and a
//! `Fleet` handle can answer "what is device X doing" from any thread at once.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{broadcast, watch};

use crate::adapter::gate::ConnectGate;
use crate::adapter::slots::SlotLedger;
use crate::backend::{Radio, RadioInfo};
use crate::cache::ServiceCache;
use crate::device::retry::RetryPolicy;
use crate::device::state::DeviceStatus;
use crate::model::{Address, Advertisement, RadioId};
use crate::supervisor::radio_choice::ChoicePolicy;

/// One registered radio.
#[derive(Debug)]
pub struct RadioEntry {
    /// Its name.
    pub id: RadioId,
    /// The backend.
    pub radio: Arc<dyn Radio>,
    /// Kind and slot facts at registration.
    pub info: RadioInfo,
    /// One attempt at a time, and the counters.
    pub gate: Arc<ConnectGate>,
}

/// Fleet-wide tunables.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    /// Retry timing.
    pub retry: RetryPolicy,
    /// Radio choice.
    pub choice: ChoicePolicy,
    /// How long one connect call may take.
    pub connect_timeout: Duration,
    /// Default deadline of a handle call (read, write, connect, subscribe).
    pub operation_timeout: Duration,
    /// An on-demand connection with nothing to do is closed after this long.
    pub idle_disconnect: Duration,
    /// Queue length of each subscriber.
    pub subscription_capacity: usize,
    /// Seeds every device's jitter (each device mixes in its address).
    pub seed: u64,
    /// EMA factor for per-radio RSSI smoothing in radio choice.
    pub rssi_alpha: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            choice: ChoicePolicy::default(),
            connect_timeout: Duration::from_secs(20),
            operation_timeout: Duration::from_secs(30),
            idle_disconnect: Duration::from_secs(30),
            subscription_capacity: 64,
            seed: 0,
            rssi_alpha: 0.3,
        }
    }
}

/// What handles and actors share.
#[derive(Debug)]
pub struct Shared {
    /// Registered radios.
    pub radios: DashMap<RadioId, Arc<RadioEntry>>,
    /// Every slot, fleet-wide.
    pub ledger: SlotLedger,
    /// Cached GATT tables.
    pub cache: ServiceCache,
    /// Latest advertisement per device (any radio).
    pub latest_adverts: DashMap<Address, Advertisement>,
    /// Every managed device's state, as a watch so handles can await changes.
    pub device_states: DashMap<Address, watch::Receiver<DeviceStatus>>,
    /// Every advertisement, for `Fleet::adverts`.
    pub advert_feed: broadcast::Sender<Advertisement>,
    /// Tunables.
    pub config: FleetConfig,
}

impl Shared {
    /// A fresh view.
    pub fn new(config: FleetConfig, cache: ServiceCache) -> Arc<Self> {
        let (advert_feed, _) = broadcast::channel(4096);
        Arc::new(Self {
            radios: DashMap::new(),
            ledger: SlotLedger::new(),
            cache,
            latest_adverts: DashMap::new(),
            device_states: DashMap::new(),
            advert_feed,
            config,
        })
    }

    /// A radio by name.
    pub fn radio(&self, id: &RadioId) -> Option<Arc<RadioEntry>> {
        self.radios.get(id).map(|e| Arc::clone(e.value()))
    }

    /// Every radio, sorted by name.
    pub fn radio_list(&self) -> Vec<Arc<RadioEntry>> {
        let mut list: Vec<_> = self.radios.iter().map(|e| Arc::clone(e.value())).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }
}

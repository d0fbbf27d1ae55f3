//! State that handles and actors read without a message round trip.
//!
//! Owns [`Shared`]: the radio registry, the slot ledger, the service cache, the advertisement
//! pipeline, the connection state of every device, and the broadcasts of adverts and changes.
//! Writers are few and fixed (the Supervisor writes adverts; each device actor writes its own
//! state; adapter actors write their radio's slots), so the `DashMap`s are read-mostly and a
//! `Fleet` handle can answer "what is device X doing" from any thread at once.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{broadcast, watch};

use crate::adapter::gate::ConnectGate;
use crate::adapter::slots::SlotLedger;
use crate::adverts::watch::Watchers;
use crate::adverts::{AdvertEvent, AdvertPipeline, PipelineConfig};
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
    /// Adverts the radio's bounded event channel dropped because ingestion fell behind.
    pub adverts_dropped: AtomicU64,
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
    /// How long service discovery after a connect may take (apart from the connect: a large
    /// GATT table over a slow link can take longer than any sensible connect timeout).
    pub discovery_timeout: Duration,
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
    /// The advertisement pipeline's tunables (smoothing, zones, availability).
    pub pipeline: PipelineConfig,
    /// With a value, every radio gets a watchdog that recovers it after this long without an
    /// advert while up (`crate::watchdog`); off by default.
    pub radio_watchdog: Option<Duration>,
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

/// What handles and actors share.
#[derive(Debug)]
pub struct Shared {
    /// Registered radios.
    pub radios: DashMap<RadioId, Arc<RadioEntry>>,
    /// Every slot, fleet-wide.
    pub ledger: SlotLedger,
    /// Cached GATT tables.
    pub cache: ServiceCache,
    /// Every device heard: merged adverts, per-radio RSSI, availability, proximity, beacons.
    /// Written only by the Supervisor; a `std` mutex held for one batch or one lookup.
    pub pipeline: Mutex<AdvertPipeline>,
    /// Every managed device's state, as a watch so handles can await changes. The sender lives
    /// here (shared with the device actor), so a restarted actor keeps publishing into the same
    /// channel and `Device::status_changes()` streams outlive the actor.
    pub device_states: DashMap<Address, Arc<watch::Sender<DeviceStatus>>>,
    /// Advert watchers (`Fleet::watch`). Locked after `pipeline`, never before it.
    pub watchers: Mutex<Watchers>,
    /// Every advertisement, shared, for `Fleet::adverts` (sent only while someone listens).
    pub advert_feed: broadcast::Sender<Arc<Advertisement>>,
    /// Items the feeds' consumers lost by falling behind (counted as they learn it).
    pub feed_lost: AtomicU64,
    /// Notifications links' bounded event channels dropped because a device actor fell
    /// behind (each announced to the subscribers as `Lagged`).
    pub notifications_dropped: AtomicU64,
    /// Adverts a full device-actor mailbox refused (the Supervisor never queues unbounded).
    pub device_adverts_dropped: AtomicU64,
    /// What changed in the pipeline (appeared, zone changed, disappeared...).
    pub advert_events: broadcast::Sender<AdvertEvent>,
    /// Connection attempts step by step (sent only while someone listens).
    pub attempt_events: broadcast::Sender<crate::device::attempt_log::AttemptEvent>,
    /// When the fleet started (attempt events are stamped relative to it).
    pub started: tokio::time::Instant,
    /// Tunables.
    pub config: FleetConfig,
}

/// Attempt events a listener may fall behind by before it is told it missed some.
pub const ATTEMPT_EVENTS_CAPACITY: usize = 1024;

impl Shared {
    /// A fresh view.
    pub fn new(config: FleetConfig, cache: ServiceCache) -> Arc<Self> {
        let (advert_feed, _) = broadcast::channel(4096);
        let (advert_events, _) = broadcast::channel(4096);
        let (attempt_events, _) = broadcast::channel(ATTEMPT_EVENTS_CAPACITY);
        Arc::new(Self {
            radios: DashMap::new(),
            ledger: SlotLedger::new(),
            cache,
            pipeline: Mutex::new(AdvertPipeline::new(config.pipeline)),
            device_states: DashMap::new(),
            watchers: Mutex::new(Watchers::default()),
            advert_feed,
            feed_lost: AtomicU64::new(0),
            notifications_dropped: AtomicU64::new(0),
            device_adverts_dropped: AtomicU64::new(0),
            advert_events,
            attempt_events,
            started: tokio::time::Instant::now(),
            config,
        })
    }

    /// A radio by name.
    pub fn radio(&self, id: &RadioId) -> Option<Arc<RadioEntry>> {
        self.radios.get(id).map(|e| Arc::clone(e.value()))
    }

    /// The pipeline, locked.
    pub fn pipeline(&self) -> MutexGuard<'_, AdvertPipeline> {
        self.pipeline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The advert watchers, locked (take the pipeline's lock first when both are needed).
    pub fn watchers(&self) -> MutexGuard<'_, Watchers> {
        self.watchers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every radio, sorted by name.
    pub fn radio_list(&self) -> Vec<Arc<RadioEntry>> {
        let mut list: Vec<_> = self.radios.iter().map(|e| Arc::clone(e.value())).collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }
}

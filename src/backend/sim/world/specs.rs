//! The parts of a [`super::World`]: radios, devices, positions, time windows, the RF model.
//!
//! Plain data with public fields and documented defaults, so tests tweak one field of a
//! constructor's result instead of learning a large builder. Defaults follow the facts in
//! `research/performance-anchors.md` §1: 5 slots on a local controller, 3 on a proxy, adverts
//! batched by 16 every 100 ms on proxies, Linux's 30 ms connection interval and 420 ms
//! supervision timeout, 25 discovery requests.

use std::time::Duration;

use uuid::Uuid;

use super::gatt::SimGatt;
use crate::backend::RadioKind;
use crate::model::{Address, AddressKind, AdvertData};

/// A point on the floor plan, in metres.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Position {
    /// Metres east.
    pub x: f64,
    /// Metres north.
    pub y: f64,
}

impl Position {
    /// A position.
    pub const fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }

    /// Straight-line distance in metres.
    pub fn distance_to(self, other: Position) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// A change of a device's GATT table at a moment of the run (new firmware): from `at` on the
/// device serves `gatt`, and every link open then gets a Service Changed indication.
#[derive(Clone, Debug, PartialEq)]
pub struct ServicesChange {
    /// When, from simulation start.
    pub at: Duration,
    /// The table from then on.
    pub gatt: super::SimGatt,
}

/// A span of virtual time since the simulation started: `[from, until)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Start, from simulation start.
    pub from: Duration,
    /// End (exclusive).
    pub until: Duration,
}

impl Window {
    /// Whether `at` falls inside.
    pub fn contains(&self, at: Duration) -> bool {
        self.from <= at && at < self.until
    }
}

/// How the received signal strength falls with distance (log-distance model).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RfModel {
    /// Path-loss exponent `n` (2 in free space, 2–3 indoors). Default 2.2.
    pub path_loss_exponent: f64,
    /// RSSI at 1 m from a 0 dBm transmitter. Default −59 dBm.
    pub rssi_at_1m_dbm: i16,
    /// Standard deviation of the per-advert noise in dB. Default 4.
    pub noise_sigma_db: f64,
    /// Radios hear nothing weaker than this. Default −100 dBm.
    pub hearing_threshold_dbm: i16,
}

impl Default for RfModel {
    fn default() -> Self {
        Self {
            path_loss_exponent: 2.2,
            rssi_at_1m_dbm: -59,
            noise_sigma_db: 4.0,
            hearing_threshold_dbm: -100,
        }
    }
}

/// Uniform range a connection takes to establish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencyRange {
    /// Fastest.
    pub min: Duration,
    /// Slowest.
    pub max: Duration,
}

/// Where a radio's connect latency comes from, within its [`LatencyRange`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LatencyDraw {
    /// Each attempt the radio accepts draws from the radio's own stream, in the order the
    /// attempts reach it: which device gets which latency depends on that order.
    #[default]
    PerAttempt,
    /// A device's n-th connection takes the same share of the range on every attempt until it
    /// connects, on every radio drawing this way: the share is drawn from (seed, device, n)
    /// alone, so no order of attempts changes it ([`super::World::drawn_connect_latency`]
    /// tells it without running the world). Real connect times follow the device (its
    /// advertising interval, where it stands) more than the order a radio is asked in, and
    /// they last: a device that was slow to connect yesterday is slow today. So the share is
    /// the device's own (drawn from (seed, device)) moved by a fresh offset per connection,
    /// and only the offset is new each time.
    PerDeviceConnection {
        /// The width of the fresh offset, in percent of the range: each connection's share
        /// is the device's own plus an offset uniform within ±`jitter_percent`/2 %, reflected
        /// at the range's ends (so every connection's share is still uniform over the range).
        /// 0: every connection of a device takes the same time; at most 100.
        jitter_percent: u8,
    },
}

/// Probability, per connection attempt, that it fails with each class (drawn in this order
/// from the radio's own random stream; the rest succeed).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultRates {
    /// The radio does not find the device (timeout).
    pub not_found: f64,
    /// The radio says it has no slot although it has (a proxy cancelling at once).
    pub out_of_slots: f64,
    /// Transient abort (`le-connection-abort-by-local`, `ESP_GATT_CONN_FAIL_ESTABLISH`).
    pub aborted: f64,
    /// Anything else (`NoReply`, `ESP_GATT_CONN_LMP_TIMEOUT`).
    pub generic: f64,
}

/// How a proxy bundles adverts before sending them to the hub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdvertBatching {
    /// A batch is sent when it holds this many adverts. ESPHome: 16.
    pub max_adverts: usize,
    /// A partial batch is sent this often. ESPHome: 100 ms.
    pub every: Duration,
}

/// One simulated radio.
#[derive(Clone, Debug, PartialEq)]
pub struct RadioSpec {
    /// Its name (`hci0`, `proxy-kitchen`); unique in the world.
    pub name: String,
    /// Controller or proxy: decides defaults and the error vocabulary.
    pub kind: RadioKind,
    /// Connections it can hold at once. Default 5 (controller) / 3 (proxy).
    pub slot_limit: usize,
    /// Where it stands.
    pub position: Position,
    /// How long a successful connect takes. Default 200 ms–1 s (controller), 150–600 ms (proxy).
    pub connect_latency: LatencyRange,
    /// Where each connect's latency comes from. Default [`LatencyDraw::PerAttempt`].
    pub latency_draw: LatencyDraw,
    /// How long the radio itself tries to reach a device that does not answer before it
    /// reports failure. Default 20 s (the kernel's LE connection timeout, ESPHome's
    /// `connection_timeout`).
    pub connect_timeout: Duration,
    /// Injected failure rates per attempt. Default none.
    pub faults: FaultRates,
    /// Whether a second concurrent attempt is refused as busy. Real radios do. Default true.
    pub serialises_attempts: bool,
    /// Advert batching; `None` delivers each advert at once. Default: proxies batch 16/100 ms.
    pub advert_batch: Option<AdvertBatching>,
    /// When the radio is down (unplugged, proxy offline).
    pub outages: Vec<Window>,
}

impl RadioSpec {
    /// A local controller (BlueZ-like) with its defaults.
    pub fn local_controller(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: RadioKind::LocalController,
            slot_limit: 5,
            position: Position::default(),
            connect_latency: LatencyRange {
                min: Duration::from_millis(200),
                max: Duration::from_millis(1000),
            },
            latency_draw: LatencyDraw::PerAttempt,
            connect_timeout: Duration::from_secs(20),
            faults: FaultRates::default(),
            serialises_attempts: true,
            advert_batch: None,
            outages: Vec::new(),
        }
    }

    /// An ESPHome Bluetooth proxy with its defaults.
    pub fn esphome_proxy(name: impl Into<String>) -> Self {
        Self {
            kind: RadioKind::EsphomeProxy,
            slot_limit: 3,
            connect_latency: LatencyRange {
                min: Duration::from_millis(150),
                max: Duration::from_millis(600),
            },
            advert_batch: Some(AdvertBatching {
                max_adverts: 16,
                every: Duration::from_millis(100),
            }),
            ..Self::local_controller(name)
        }
    }

    /// Places the radio.
    pub fn at(mut self, x: f64, y: f64) -> Self {
        self.position = Position::new(x, y);
        self
    }

    /// Sets the slot limit.
    pub fn slots(mut self, limit: usize) -> Self {
        self.slot_limit = limit;
        self
    }
}

/// A point on a device's path: where it is at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Waypoint {
    /// Time since simulation start.
    pub at: Duration,
    /// Where.
    pub position: Position,
}

/// Where a device is over time.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// It stays put.
    Fixed(Position),
    /// It moves in straight lines between waypoints (sorted by time), staying at the last one,
    /// or starting over when `repeat` is set.
    Path {
        /// The points, first at time zero or later.
        waypoints: Vec<Waypoint>,
        /// Start over after the last waypoint.
        repeat: bool,
    },
}

/// One simulated device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSpec {
    /// Its address; unique in the world.
    pub address: Address,
    /// A name for people (also the advert's local name unless `advert` says otherwise).
    pub name: Option<String>,
    /// Where it is.
    pub route: Route,
    /// What it advertises (sent as raw AD bytes from [`AdvertData::to_bytes`]).
    pub advert: AdvertData,
    /// Advertising interval; each advert also waits a random 0–10 ms `advDelay`. Default 1 s.
    pub advert_interval: Duration,
    /// Radiated power in dBm. Default 0.
    pub tx_power_dbm: i16,
    /// Whether it accepts connections. Default true for GATT devices, false for beacons.
    pub connectable: bool,
    /// Whether it advertises a public or a random address. A connect naming the other kind
    /// pages an address nobody answers, so it fails as the device being unreachable.
    pub address_kind: AddressKind,
    /// Its GATT server.
    pub gatt: SimGatt,
    /// When it sleeps: no adverts, no connections, links lost.
    pub sleeps: Vec<Window>,
    /// When no radio can hear it or reach it (it keeps advertising, e.g. carried outside).
    pub out_of_range: Vec<Window>,
    /// Mean time between spontaneous link losses (exponential); `None`: never.
    pub link_drop_every: Option<Duration>,
    /// Times (since start) at which its link, if any, is lost.
    pub link_drops_at: Vec<Duration>,
    /// Connection interval: the cost of one ATT round trip. Default 30 ms.
    pub connection_interval: Duration,
    /// Supervision timeout: how long a silent link takes to be declared lost. Default 420 ms.
    pub supervision_timeout: Duration,
    /// ATT requests a full service discovery takes. Default 25.
    pub discovery_requests: u32,
    /// ATT MTU it negotiates. Default 247.
    pub mtu: u16,
    /// Plain data for the demo: keep this device connected.
    pub keep_connected: bool,
    /// Plain data for the demo: characteristics to subscribe to once connected.
    pub subscribe: Vec<Uuid>,
    /// Changes of the GATT table during the run, in time order.
    pub services_changes: Vec<ServicesChange>,
}

impl DeviceSpec {
    /// A connectable device with no GATT services and an empty advert.
    pub fn new(address: Address) -> Self {
        Self {
            address,
            name: None,
            route: Route::Fixed(Position::default()),
            advert: AdvertData::default(),
            advert_interval: Duration::from_secs(1),
            tx_power_dbm: 0,
            connectable: true,
            address_kind: AddressKind::Public,
            gatt: SimGatt::default(),
            sleeps: Vec::new(),
            out_of_range: Vec::new(),
            link_drop_every: None,
            link_drops_at: Vec::new(),
            connection_interval: Duration::from_millis(30),
            supervision_timeout: Duration::from_millis(420),
            discovery_requests: 25,
            mtu: 247,
            keep_connected: false,
            subscribe: Vec::new(),
            services_changes: Vec::new(),
        }
    }

    /// Places the device.
    pub fn at(mut self, x: f64, y: f64) -> Self {
        self.route = Route::Fixed(Position::new(x, y));
        self
    }

    /// Names the device and puts the name in its advert.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.advert.local_name = Some(name.clone());
        self.name = Some(name);
        self
    }
}

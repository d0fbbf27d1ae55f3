//! Slot-scheduling workloads on the simulated radio, in virtual time: connection makespan
//! against its lower bound and against a per-device retry baseline, the restart storm, the
//! cached reconnect, and collisions (concurrent attempts on one radio) in each.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{ConnectRequest, Radio};
use bluefleet::classify::classify;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::model::uuid_from_u16;
use bluefleet::sim::world::{FaultRates, LatencyDraw, LatencyRange, RfModel, SimGatt};
use bluefleet::sim::{DeviceSpec, RadioSpec, Simulation, World};
use bluefleet::{Address, AddressKind, ErrorKind, Fleet};
use tokio::time::Instant;

use super::bound;

fn address(n: usize) -> Address {
    Address::new([0xB0, 0, 0, 0, (n >> 8) as u8, n as u8])
}

fn mean(latency: &LatencyRange) -> Duration {
    (latency.min + latency.max) / 2
}

/// How far a device's connect time strays from one connection to the next, in percent of a
/// radio's latency range: an assumption (no measurement of real sensors behind it), that most
/// of a connect time is the device's own (its advertising interval, where it stands).
const CONNECT_JITTER_PERCENT: u8 = 30;

/// Four radios on a line, 10 m apart (3 proxies × 3 slots, 1 local × 5); each device sits 5 m
/// from two neighbours and only those two hear it (the next radio is 15 m away, 5 dB under the
/// hearing threshold with 1 dB of noise). Connect latencies are drawn per device connection,
/// so each seed's draws are known before the run ([`bound::drawn`]).
pub(super) fn line_radios(faults: bool) -> Vec<RadioSpec> {
    let mut radios = vec![
        RadioSpec::esphome_proxy("p1").at(0.0, 0.0),
        RadioSpec::local_controller("hci0").at(10.0, 0.0),
        RadioSpec::esphome_proxy("p2").at(20.0, 0.0),
        RadioSpec::esphome_proxy("p3").at(30.0, 0.0),
    ];
    for radio in &mut radios {
        radio.latency_draw = LatencyDraw::PerDeviceConnection {
            jitter_percent: CONNECT_JITTER_PERCENT,
        };
        radio.faults = if faults {
            FaultRates {
                aborted: 0.05,
                out_of_slots: 0.05,
                ..FaultRates::default()
            }
        } else {
            FaultRates::default()
        };
    }
    radios
}

fn sensor(n: usize, x: f64, y: f64) -> DeviceSpec {
    let mut spec = DeviceSpec::new(address(n)).at(x, y);
    spec.gatt = SimGatt::env_sensor();
    spec
}

fn world_of(radios: Vec<RadioSpec>, devices: Vec<DeviceSpec>) -> World {
    let rf = RfModel {
        hearing_threshold_dbm: -80,
        noise_sigma_db: 1.0,
        ..RfModel::default()
    };
    let builder = radios
        .into_iter()
        .fold(World::builder().rf(rf), |b, r| b.radio(r));
    devices
        .into_iter()
        .fold(builder, |b, d| b.device(d))
        .build()
        .expect("the bench world is valid")
}

/// The makespan bench's world: `devices` sensors on [`line_radios`].
pub(super) fn line_world(devices: usize, faults: bool) -> World {
    line_world_of(line_radios(faults), devices)
}

/// `devices` sensors in the three gaps of `radios` (as [`line_radios`] places them), in turn.
pub(super) fn line_world_of(radios: Vec<RadioSpec>, devices: usize) -> World {
    let sensors = (0..devices)
        .map(|n| sensor(n, 5.0 + 10.0 * (n % 3) as f64, 0.0))
        .collect();
    world_of(radios, sensors)
}

/// A simulation of `world` and a fleet over its radios (inside a virtual-time System).
fn start(world: World, seed: u64) -> (Simulation, Fleet) {
    let simulation = Simulation::start(world, seed);
    let fleet = Fleet::builder()
        .radios(simulation.radios())
        .seed(seed)
        .build()
        .expect("fleet");
    (simulation, fleet)
}

/// One batch's makespan.
pub struct Makespan {
    /// In seconds of virtual time.
    pub seconds: f64,
    /// Over that seed's own lower bound for the batch ([`bound::drawn`]).
    pub ratio: f64,
}

impl Makespan {
    fn of(elapsed: Duration, world: &World, seed: u64, batch: &bound::Batch) -> Self {
        Self {
            seconds: elapsed.as_secs_f64(),
            ratio: elapsed.as_secs_f64() / bound::drawn(world, seed, batch).as_secs_f64(),
        }
    }
}

/// What the hub remembers between the two batches of [`bluefleet_makespan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Everything: the connect times the ledger learned and the service cache.
    Kept,
    /// The service cache only: every device is released after the first batch (so the ledger
    /// forgets its connect time) and managed anew for the second.
    CacheOnly,
}

/// One seed's run of bluefleet: 60 sessions asked for at once, and the same 60 again 10 s
/// after the first batch ended (a proxy rebooted, every device reconnects), when the hub has
/// each device's services cached and, with [`Memory::Kept`], its last connect time.
pub struct Batches {
    /// The first batch: every device new to the hub.
    pub first: Makespan,
    /// The first batch over the bound at mean connect latencies ([`bound::expected`]; not a
    /// per-seed bound).
    pub first_over_expected: f64,
    /// The second batch, over its own bound.
    pub again: Makespan,
    /// Which connection of each device the second batch made.
    pub again_batch: bound::Batch,
    /// Concurrent attempts on one radio in the whole run.
    pub collisions: u64,
}

pub fn bluefleet_makespan(seed: u64, faults: bool, memory: Memory) -> Batches {
    let world = line_world(60, faults);
    let bounded = world.clone();
    block_on_virtual_time(async move {
        let (simulation, fleet) = start(world, seed);
        tokio::time::sleep(Duration::from_secs(5)).await; // the hub has been listening
        let first = batch(&fleet).await;
        if memory == Memory::CacheOnly {
            for n in 0..60 {
                let device = fleet.device(address(n)).await.expect("managed");
                device.release().await.expect("a managed device releases");
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        // Which connection each device makes next: the bound of the second batch draws those.
        let connections = simulation
            .stats()
            .devices
            .iter()
            .map(|d| d.connects)
            .collect();
        let again = batch(&fleet).await;
        fleet.shutdown().await.ok();
        let stats = simulation.stats();
        let collisions = stats
            .radios
            .iter()
            .map(|r| r.concurrent_rejections + (r.max_concurrent_attempts.saturating_sub(1) as u64))
            .sum();
        let again_batch = bound::Batch::Again { connections };
        Batches {
            first: Makespan::of(first, &bounded, seed, &bound::Batch::First),
            first_over_expected: first.as_secs_f64() / bound::expected(&bounded).as_secs_f64(),
            again: Makespan::of(again, &bounded, seed, &again_batch),
            again_batch,
            collisions,
        }
    })
}

/// Every device's session at once; how long until the last one ended.
async fn batch(fleet: &Fleet) -> Duration {
    let started = Instant::now();
    futures::future::join_all((0..60).map(|n| session(fleet, address(n)))).await;
    started.elapsed()
}

/// Connect, read, disconnect; an on-demand session retried until it succeeds.
async fn session(fleet: &Fleet, address: Address) {
    let device = fleet.device(address).await.expect("managed");
    for _ in 0..20 {
        if device.read(uuid_from_u16(0x2A6E)).await.is_ok() {
            break;
        }
    }
    device.disconnect().await.ok();
}

/// The baseline's makespan of one seed's batch, and its refused concurrent attempts.
pub fn baseline_makespan(seed: u64, faults: bool) -> (Makespan, u64) {
    let world = line_world(60, faults);
    let bounded = world.clone();
    block_on_virtual_time(async move {
        let simulation = Simulation::start(world, seed);
        let radios = simulation.radios();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let started = Instant::now();
        let sessions = (0..60).map(|n| {
            // The two radios that hear it, nearest first (they are equally near: index order).
            let gap = n % 3;
            let pair = [Arc::clone(&radios[gap]), Arc::clone(&radios[gap + 1])];
            baseline_session(pair, address(n))
        });
        futures::future::join_all(sessions).await;
        let elapsed = started.elapsed();
        let stats = simulation.stats();
        let collisions = stats.radios.iter().map(|r| r.concurrent_rejections).sum();
        (
            Makespan::of(elapsed, &bounded, seed, &bound::Batch::First),
            collisions,
        )
    })
}

/// bleak-retry-connector's strategy: up to 4 attempts with a fixed sleep per class (4 s after
/// out-of-slots, 0.25 s otherwise), no coordination between devices; a failed run is retried.
/// It alternates between the two radios that hear the device, as Home Assistant moves to the
/// next connection path.
async fn baseline_session(radios: [Arc<dyn Radio>; 2], address: Address) {
    let mut attempt = 0usize;
    loop {
        let radio = &radios[attempt % 2];
        attempt += 1;
        let request = ConnectRequest {
            address,
            address_kind: AddressKind::Public,
            cached_services: None,
            timeout: Duration::from_secs(20),
        };
        match radio.connect(request).await {
            Ok(connection) => {
                if let Ok(table) = connection.link.services().await {
                    if let Some(c) = table.find_characteristic(None, &uuid_from_u16(0x2A6E)) {
                        let _ = connection.link.read(c.handle).await;
                    }
                }
                let _ = connection.link.disconnect().await;
                return;
            }
            Err(failure) => {
                let sleep = match classify(&failure).kind {
                    ErrorKind::OutOfSlots => Duration::from_secs(4),
                    _ => Duration::from_millis(250),
                };
                tokio::time::sleep(sleep).await;
            }
        }
    }
}

/// One restart storm.
pub struct Storm {
    /// Time until all are back over a true lower bound: radios serialise attempts, so the
    /// busiest radio needs at least its slot count times its fastest connect.
    pub over_bound: f64,
    /// The same time over the busiest radio's slot count times its *mean* connect: what
    /// serial reconnection takes in expectation (a run can beat it; not a bound).
    pub over_expected: f64,
    pub collisions: u64,
}

/// Restart storm: every keep-connected device (one per slot) loses its link at once; the time
/// until all are back, over the per-radio serialisation bound and expectation.
pub fn restart_storm(seed: u64) -> Storm {
    let radios = line_radios(false);
    let mut devices = Vec::new();
    let mut bound = Duration::ZERO;
    let mut expected = Duration::ZERO;
    for radio in &radios {
        for slot in 0..radio.slot_limit {
            devices.push(sensor(
                100 + devices.len(),
                radio.position.x + 0.3 * slot as f64,
                0.5,
            ));
        }
        bound = bound.max(radio.connect_latency.min * radio.slot_limit as u32);
        expected = expected.max(mean(&radio.connect_latency) * radio.slot_limit as u32);
    }
    let world = world_of(radios, devices);
    let addresses: Vec<Address> = world.devices.iter().map(|d| d.address).collect();
    block_on_virtual_time(async move {
        let (simulation, fleet) = start(world, seed);
        let mut handles = Vec::new();
        for a in &addresses {
            let device = fleet.device(*a).await.expect("device");
            device.keep_connected(true).await.expect("keep");
            handles.push(device);
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        let control = simulation.control();
        let started = Instant::now();
        for a in &addresses {
            control.drop_link(*a).ok();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        while !handles.iter().all(|d| d.status().state.is_connected()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed();
        let stats = simulation.stats();
        let collisions = stats.radios.iter().map(|r| r.concurrent_rejections).sum();
        fleet.shutdown().await.ok();
        Storm {
            over_bound: elapsed.as_secs_f64() / bound.as_secs_f64(),
            over_expected: elapsed.as_secs_f64() / expected.as_secs_f64(),
            collisions,
        }
    })
}

/// One cached reconnect.
pub struct CachedReconnect {
    /// Discovery round trips the cached connect made (0 on a hit).
    pub requests: u64,
    /// How much longer than the proxy's 180 ms link opening the cached connect took: a
    /// discovery round trip would add 30 ms or more.
    pub beyond_link_ms: f64,
}

/// Cached reconnect of the reference device through a proxy that opens a link in 180 ms (as in
/// the ESPHome logs): discovery requests on the hit, and time beyond opening the link. The
/// times follow from the simulator's settings, so they check behaviour, not speed.
pub fn cached_reconnect(seed: u64) -> CachedReconnect {
    let link_open = Duration::from_millis(180);
    let mut proxy = RadioSpec::esphome_proxy("p1");
    proxy.connect_latency = LatencyRange {
        min: link_open,
        max: link_open,
    };
    let world = world_of(vec![proxy], vec![sensor(1, 1.0, 0.0)]);
    block_on_virtual_time(async move {
        let (simulation, fleet) = start(world, seed);
        let device = fleet.device(address(1)).await.expect("device");
        tokio::time::sleep(Duration::from_secs(3)).await;
        device.connect().await.expect("uncached connect");
        device.disconnect().await.expect("disconnect");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = simulation
            .stats()
            .device(address(1))
            .map_or(0, |d| d.discovery_round_trips);
        let started = Instant::now();
        device.connect().await.expect("cached connect");
        let cached = started.elapsed();
        let after = simulation
            .stats()
            .device(address(1))
            .map_or(0, |d| d.discovery_round_trips);
        fleet.shutdown().await.ok();
        CachedReconnect {
            requests: after - before,
            beyond_link_ms: cached.saturating_sub(link_open).as_secs_f64() * 1e3,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No schedule beats its seed's bound: bluefleet's batches (first and again, with and
    /// without what it learned, with and without faults), and the baseline's (a schedule made
    /// quite differently). The second batch makes each device's second connection.
    #[test]
    fn no_run_beats_its_seeds_lower_bound() {
        for seed in 1..=6 {
            for (faults, memory) in [
                (false, Memory::Kept),
                (true, Memory::Kept),
                (false, Memory::CacheOnly),
            ] {
                let run = bluefleet_makespan(seed, faults, memory);
                let (first, again) = (run.first.ratio, run.again.ratio);
                let at = format!("seed {seed}, faults {faults}, {memory:?}");
                assert!(first >= 1.0 && again >= 1.0, "{at}: {first}, {again}");
                assert_eq!(
                    run.again_batch,
                    bound::Batch::Again {
                        connections: vec![1; 60]
                    },
                    "{at}"
                );
            }
            let baseline = baseline_makespan(seed, false).0.ratio;
            assert!(baseline >= 1.0, "seed {seed}, baseline: {baseline}");
        }
    }
}

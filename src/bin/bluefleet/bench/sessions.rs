//! Slot-scheduling workloads on the simulated radio, in virtual time: connection makespan
//! against its lower bound and against a per-device retry baseline, the restart storm, the
//! cached reconnect, and collisions (concurrent attempts on one radio) in each.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{ConnectRequest, Radio};
use bluefleet::classify::classify;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::model::uuid_from_u16;
use bluefleet::sim::world::{FaultRates, LatencyRange, RfModel, SimGatt};
use bluefleet::sim::{DeviceSpec, RadioSpec, Simulation, World};
use bluefleet::{Address, AddressKind, ErrorKind, Fleet};
use tokio::time::Instant;

/// Discovery of the reference device: 25 requests at a 30 ms connection interval, plus a read.
const SESSION: Duration = Duration::from_millis(25 * 30 + 30);

fn address(n: usize) -> Address {
    Address::new([0xB0, 0, 0, 0, (n >> 8) as u8, n as u8])
}

fn mean(latency: &LatencyRange) -> Duration {
    (latency.min + latency.max) / 2
}

/// Four radios on a line, 10 m apart (3 proxies × 3 slots, 1 local × 5); each device sits 5 m
/// from two neighbours and only those two hear it (the next radio is 15 m away, 5 dB under the
/// hearing threshold with 1 dB of noise).
fn line_radios(faults: bool) -> Vec<RadioSpec> {
    let mut radios = vec![
        RadioSpec::esphome_proxy("p1").at(0.0, 0.0),
        RadioSpec::local_controller("hci0").at(10.0, 0.0),
        RadioSpec::esphome_proxy("p2").at(20.0, 0.0),
        RadioSpec::esphome_proxy("p3").at(30.0, 0.0),
    ];
    for radio in &mut radios {
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

fn line_world(devices: usize, faults: bool) -> World {
    let sensors = (0..devices)
        .map(|n| sensor(n, 5.0 + 10.0 * (n % 3) as f64, 0.0))
        .collect();
    world_of(line_radios(faults), sensors)
}

/// Which radios hear device `n` of [`line_world`]: the two either side of its gap.
fn line_hearing(devices: usize) -> Vec<Vec<usize>> {
    (0..devices).map(|n| vec![n % 3, n % 3 + 1]).collect()
}

/// A lower bound on the makespan, in expectation (at each radio's *mean* connect latency).
///
/// Radio r with k_r slots and mean connect time c_r that serves n_r sessions (a connect, then
/// `SESSION` on the link) needs T ≥ n_r·c_r + SESSION, because it runs one connect at a time and
/// the last session follows the last connect, and T ≥ n_r·(c_r + SESSION)/k_r, because every
/// session holds one of its slots from its connect on. So within T it serves at most
/// cap_r(T) = min((T − SESSION)/c_r, k_r·T/(c_r + SESSION)) sessions, and T is possible only if
/// every set of devices fits on the radios that hear them: Σ n over the set ≤ Σ cap_r over those
/// radios (Hall's condition, which is also sufficient for a fractional assignment). The bound
/// is the least such T (bisection). It leaves out everything a schedule could in principle
/// avoid (queueing, failed attempts, the hop from one step to the next), so no run beats it in
/// expectation; `hearing[n]` lists the radios (indices into `world.radios`) that hear device n.
fn lower_bound(world: &World, hearing: &[Vec<usize>]) -> Duration {
    let session = SESSION.as_secs_f64();
    let radios: Vec<(f64, f64)> = world
        .radios
        .iter()
        .map(|r| (mean(&r.connect_latency).as_secs_f64(), r.slot_limit as f64))
        .collect();
    let capacity = |r: usize, t: f64| {
        let (connect, slots) = radios[r];
        ((t - session) / connect)
            .min(slots * t / (connect + session))
            .max(0.0)
    };
    // Devices grouped by the radios that hear them (few groups: every subset is checked).
    let mut groups: Vec<(Vec<usize>, f64)> = Vec::new();
    for heard_by in hearing {
        match groups.iter_mut().find(|(set, _)| set == heard_by) {
            Some((_, count)) => *count += 1.0,
            None => groups.push((heard_by.clone(), 1.0)),
        }
    }
    let feasible = |t: f64| {
        (1u32..1 << groups.len()).all(|subset| {
            let chosen = groups
                .iter()
                .enumerate()
                .filter(|(g, _)| subset & (1 << g) != 0);
            let demand: f64 = chosen.clone().map(|(_, (_, count))| count).sum();
            let reach: std::collections::BTreeSet<usize> = chosen
                .flat_map(|(_, (set, _))| set.iter().copied())
                .collect();
            demand <= reach.iter().map(|r| capacity(*r, t)).sum::<f64>()
        })
    };
    let (mut low, mut high) = (0.0, session + hearing.len() as f64 * 10.0);
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if feasible(mid) {
            high = mid;
        } else {
            low = mid;
        }
    }
    Duration::from_secs_f64(high)
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

/// Makespan and collisions of one seed, for bluefleet or the baseline.
pub struct Makespan {
    pub ratio: f64,
    pub collisions: u64,
}

pub fn bluefleet_makespan(seed: u64, faults: bool) -> Makespan {
    let world = line_world(60, faults);
    let bound = lower_bound(&world, &line_hearing(60));
    block_on_virtual_time(async move {
        let (simulation, fleet) = start(world, seed);
        tokio::time::sleep(Duration::from_secs(5)).await; // the hub has been listening
        let started = Instant::now();
        let sessions = (0..60).map(|n| session(&fleet, address(n)));
        futures::future::join_all(sessions).await;
        let elapsed = started.elapsed();
        fleet.shutdown().await.ok();
        let stats = simulation.stats();
        let collisions = stats
            .radios
            .iter()
            .map(|r| r.concurrent_rejections + (r.max_concurrent_attempts.saturating_sub(1) as u64))
            .sum();
        Makespan {
            ratio: elapsed.as_secs_f64() / bound.as_secs_f64(),
            collisions,
        }
    })
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

pub fn baseline_makespan(seed: u64, faults: bool) -> Makespan {
    let world = line_world(60, faults);
    let bound = lower_bound(&world, &line_hearing(60));
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
        Makespan {
            ratio: elapsed.as_secs_f64() / bound.as_secs_f64(),
            collisions,
        }
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

    fn radio(name: &str, slots: usize, connect_ms: u64) -> RadioSpec {
        let mut spec = RadioSpec::esphome_proxy(name).slots(slots);
        spec.connect_latency = LatencyRange {
            min: Duration::from_millis(connect_ms),
            max: Duration::from_millis(connect_ms),
        };
        spec
    }

    fn close(a: Duration, b: Duration) -> bool {
        a.abs_diff(b) < Duration::from_millis(1)
    }

    #[test]
    fn one_radio_with_one_slot_runs_the_sessions_back_to_back() {
        let world = world_of(vec![radio("p1", 1, 400)], vec![sensor(0, 0.0, 0.0)]);
        let bound = lower_bound(&world, &[vec![0], vec![0], vec![0]]);
        assert!(
            close(bound, (Duration::from_millis(400) + SESSION) * 3),
            "{bound:?}"
        );
    }

    #[test]
    fn many_slots_leave_the_serial_connects_as_the_bound() {
        let world = world_of(vec![radio("p1", 10, 400)], vec![sensor(0, 0.0, 0.0)]);
        let bound = lower_bound(&world, &[vec![0], vec![0], vec![0]]);
        assert!(
            close(bound, Duration::from_millis(1200) + SESSION),
            "{bound:?}"
        );
    }

    #[test]
    fn devices_only_one_radio_hears_cannot_use_the_others() {
        let radios = vec![radio("p1", 1, 400), radio("p2", 1, 400)];
        let world = world_of(radios, vec![sensor(0, 0.0, 0.0)]);
        // Four devices, all heard by p1 only: p2 does not help.
        let alone = lower_bound(&world, &[vec![0], vec![0], vec![0], vec![0]]);
        assert!(
            close(alone, (Duration::from_millis(400) + SESSION) * 4),
            "{alone:?}"
        );
        // Heard by both: the work splits.
        let shared = lower_bound(&world, &[vec![0, 1], vec![0, 1], vec![0, 1], vec![0, 1]]);
        assert!(
            close(shared, (Duration::from_millis(400) + SESSION) * 2),
            "{shared:?}"
        );
    }
}

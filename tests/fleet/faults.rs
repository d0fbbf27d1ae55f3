//! The randomized fault schedule: many seeds, each a run of random faults, with the six
//! invariants of design §5 checked after every step. A failure names its seed; rerun one with
//! `BLUEFLEET_FAULT_SEED=<seed> cargo test --test fleet fault_schedule`.
//!
//! CI runs 100 seeds of a short schedule (40 steps) and 4 of the long one (150 steps), spread
//! over a few threads, each seed on its own virtual-time System. The soak,
//! `cargo test --release --test fleet -- --ignored fault_schedule_soak`, runs 10 000 short
//! seeds (`BLUEFLEET_FAULT_SEEDS=N` for another count) and reports every seed that broke.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, DeviceState, SubscriptionEvent, WaitReason};
use bluefleet::sim::world::SimGatt;
use bluefleet::sim::{DeviceSpec, RadioSpec};
use bluefleet::{Device, ErrorKind, Subscription};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::support::*;

const RADIOS: [&str; 4] = ["hci0", "p1", "p2", "p3"];
const DEVICES: u8 = 12;

fn counter_uuid() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x6e40_0002_b5a3_f393_e0a9_e50e_24dc_ca9e)
}

/// A subscriber that keeps up and checks invariant 5: within a connected stretch the counter
/// rises by exactly one each time (nothing lost, nothing reordered).
struct CheckedSubscriber {
    subscription: Subscription,
    last: Option<u32>,
    received: u64,
    /// Notifications since the last `Reconnected` (or since subscribing).
    since_reconnect: u64,
}

impl CheckedSubscriber {
    fn drain(&mut self, seed: u64) {
        while let Ok(event) = self.subscription.try_recv_event() {
            match event {
                SubscriptionEvent::Notification(value) => {
                    let n = u32::from_le_bytes(value[..4].try_into().unwrap());
                    if let Some(last) = self.last {
                        assert_eq!(n, last + 1, "seed {seed}: notification lost or reordered");
                    }
                    self.last = Some(n);
                    self.received += 1;
                    self.since_reconnect += 1;
                }
                SubscriptionEvent::Disconnected { .. }
                | SubscriptionEvent::Waiting
                | SubscriptionEvent::Failed(_) => self.last = None,
                SubscriptionEvent::Reconnected => {
                    self.last = None;
                    self.since_reconnect = 0;
                }
                SubscriptionEvent::Lagged(n) => {
                    panic!("seed {seed}: a subscriber that keeps up lagged by {n}")
                }
            }
        }
    }
}

/// A device that says it waits for a slot holds a ticket in the ledger's FIFO, or a slot just
/// granted to it: otherwise nothing would ever wake it (seed 1001299 lost its ticket and was
/// found only 240 s after the heal).
fn check_waiting_devices_are_queued(fleet: &bluefleet::Fleet, devices: &[Device], seed: u64) {
    let usage = fleet.slot_usage();
    for device in devices {
        let address = device.address();
        if device.status().state
            != (DeviceState::Waiting {
                reason: WaitReason::Slot,
            })
        {
            continue;
        }
        assert!(
            usage
                .iter()
                .any(|u| u.queued.contains(&address) || u.held_by.contains(&address)),
            "seed {seed}: {address} waits for a slot but is queued on no radio: {usage:?}"
        );
    }
}

fn world_for(seed: u64) -> bluefleet::sim::World {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let radios = vec![
        RadioSpec::local_controller("hci0").at(5.0, 5.0).slots(5),
        RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(3),
        RadioSpec::esphome_proxy("p2").at(10.0, 0.0).slots(3),
        RadioSpec::esphome_proxy("p3").at(5.0, 10.0).slots(3),
    ];
    let devices = (1..=DEVICES)
        .map(|n| {
            let mut spec =
                DeviceSpec::new(addr(n)).at(rng.gen_range(0.0..10.0), rng.gen_range(0.0..10.0));
            spec.gatt = SimGatt::counter();
            spec
        })
        .collect();
    world(radios, devices)
}

async fn run_schedule(seed: u64, steps: usize) {
    let (simulation, fleet) = start(world_for(seed), seed);
    let control = simulation.control();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFA17);
    let mut devices: Vec<Device> = Vec::new();
    for n in 1..=DEVICES {
        let device = fleet.device(addr(n)).await.unwrap();
        if n <= 8 {
            device.keep_connected(true).await.unwrap();
        }
        devices.push(device);
    }
    let mut checked = Vec::new();
    for device in devices.iter().take(3) {
        let subscription = match device.subscribe(counter_uuid()).await {
            Ok(subscription) => subscription,
            Err(err) => panic!(
                "seed {seed}: {err}\n{:#?}",
                fleet.diagnostics().await.unwrap()
            ),
        };
        checked.push(CheckedSubscriber {
            subscription,
            last: None,
            received: 0,
            since_reconnect: 0,
        });
    }
    let mut stalled = vec![devices[0].subscribe(counter_uuid()).await.unwrap()];
    let mut down: Vec<&str> = Vec::new();
    for _step in 0..steps {
        match rng.gen_range(0..10) {
            0 | 1 => {
                let kind = [
                    ErrorKind::Aborted,
                    ErrorKind::OutOfSlots,
                    ErrorKind::Generic,
                    ErrorKind::NotFound,
                ][rng.gen_range(0..4)];
                control
                    .fail_next_connects(RADIOS[rng.gen_range(0..4)], rng.gen_range(1..3), kind)
                    .unwrap();
            }
            2 | 3 => {
                control.drop_link(addr(rng.gen_range(1..=DEVICES))).unwrap();
            }
            4 => {
                let radio = RADIOS[rng.gen_range(0..4)];
                if down.contains(&radio) {
                    control.radio_up(radio).unwrap();
                    down.retain(|r| *r != radio);
                } else {
                    control.radio_down(radio).unwrap();
                    down.push(radio);
                }
            }
            5 => {
                fleet
                    .crash_device_actor(addr(rng.gen_range(1..=DEVICES)))
                    .await;
            }
            6 => {
                // A request the caller cancels almost at once.
                let device = devices[rng.gen_range(0..devices.len())]
                    .with_timeout(Duration::from_millis(rng.gen_range(1..800)));
                let _ = device.read(counter_uuid()).await;
            }
            7 => {
                // An on-demand read on a device nobody keeps connected.
                let device = &devices[rng.gen_range(8..devices.len())];
                let _ = device
                    .with_timeout(Duration::from_secs(5))
                    .read(counter_uuid())
                    .await;
            }
            8 => {
                // Subscribers that stall, and ones that vanish.
                if rng.gen_bool(0.5) || stalled.is_empty() {
                    if let Ok(s) = devices[rng.gen_range(0..8)].subscribe(counter_uuid()).await {
                        stalled.push(s);
                    }
                } else {
                    drop(stalled.swap_remove(rng.gen_range(0..stalled.len())));
                }
            }
            _ => {}
        }
        run_for(Duration::from_millis(rng.gen_range(100..3000))).await;
        check_slot_invariants(&simulation, &fleet);
        check_waiting_devices_are_queued(&fleet, &devices, seed);
        for subscriber in &mut checked {
            subscriber.drain(seed);
        }
    }
    // Heal: every radio up, no injected failure left queued: the faults have cleared.
    control.clear_injected_failures();
    for radio in down {
        control.radio_up(radio).unwrap();
    }
    // Invariant 4: every keep-connected device reachable through a healthy radio reconnects
    // within its backoff (capped at 60 s) plus a connect time.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while tokio::time::Instant::now() < deadline {
        if devices
            .iter()
            .take(8)
            .all(|d| d.status().state.is_connected())
        {
            break;
        }
        run_for(Duration::from_secs(1)).await;
        check_slot_invariants(&simulation, &fleet);
        check_waiting_devices_are_queued(&fleet, &devices, seed);
    }
    let states: Vec<_> = devices.iter().take(8).map(|d| d.status().state).collect();
    assert!(
        states.iter().all(|s| s.is_connected()),
        "seed {seed}: not all reconnected: {states:?}"
    );
    // Invariant 5 after the last reconnect: subscriptions were re-enabled without anyone
    // asking. A device that was starved of slots until the heal (every slot held by other
    // keep-connected links, which are never pre-empted) may have reconnected just now, so give
    // the counter (one notification a second) time to speak before judging.
    run_for(Duration::from_secs(3)).await;
    for subscriber in &mut checked {
        subscriber.drain(seed);
        assert!(
            subscriber.since_reconnect > 0,
            "seed {seed}: a subscriber received nothing since its last reconnect \
             ({} in all)",
            subscriber.received
        );
    }
    // Invariant 3: everyone lets go, nothing is held anywhere.
    drop(stalled);
    drop(checked);
    for device in &devices {
        device.disconnect().await.unwrap();
    }
    run_for(Duration::from_secs(5)).await;
    assert!(
        fleet.slot_usage().iter().all(|u| u.held_by.is_empty()),
        "seed {seed}: leaked {:?}",
        fleet.slot_usage()
    );
    assert!(
        simulation
            .stats()
            .radios
            .iter()
            .all(|r| r.slots_in_use == 0),
        "seed {seed}: a radio still holds a slot"
    );
    assert!(
        simulation
            .stats()
            .radios
            .iter()
            .all(|r| r.max_concurrent_attempts <= 1 && r.concurrent_rejections == 0),
        "seed {seed}: concurrent attempts on one radio"
    );
}

/// Runs `seeds` on a few threads (each seed in its own virtual-time System); returns the seeds
/// that broke an invariant, with the panic's words.
fn run_seeds(seeds: Vec<u64>, steps: usize) -> Vec<(u64, String)> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 4);
    let queue = std::sync::Mutex::new(seeds.into_iter());
    let broken = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let Some(seed) = queue.lock().unwrap().next() else {
                    return;
                };
                let run = std::panic::catch_unwind(|| {
                    block_on_virtual_time(run_schedule(seed, steps));
                });
                if let Err(panic) = run {
                    let words = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    broken.lock().unwrap().push((seed, words));
                }
            });
        }
    });
    let mut broken = broken.into_inner().unwrap();
    broken.sort();
    broken
}

fn assert_none_broke(broken: &[(u64, String)]) {
    assert!(
        broken.is_empty(),
        "{} seed(s) broke an invariant:\n{}",
        broken.len(),
        broken
            .iter()
            .map(|(seed, words)| format!("seed {seed}: {words}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Short schedules over 100 seeds, long ones over a few (or one seed from the environment).
#[test]
fn fault_schedule_keeps_every_invariant() {
    if let Ok(seed) = std::env::var("BLUEFLEET_FAULT_SEED") {
        let seed = seed.parse().expect("a number");
        block_on_virtual_time(run_schedule(seed, LONG_STEPS));
        return;
    }
    let mut broken = run_seeds((1..=100).collect(), SHORT_STEPS);
    broken.extend(run_seeds((1001..=1004).collect(), LONG_STEPS));
    assert_none_broke(&broken);
}

/// Seed 1001304 of the soak: three of the four radios go down for most of the run, the
/// keep-connected links on the one left never end, so device 2 waits for a slot until the heal
/// and reconnects only then. The check used to run at that instant and found its subscriber
/// had "received nothing"; it now waits for the counter and asks for a value since the last
/// reconnect (re-enabled without the user doing anything).
#[test]
fn fault_schedule_a_device_starved_until_the_heal_still_gets_its_values() {
    block_on_virtual_time(run_schedule(1_001_304, SHORT_STEPS));
}

/// Seed 1002422 of the soak broke before ddf042e (an attempt dropped mid-discovery left the
/// radio holding a slot the fleet had freed: "hci0 holds 3 slots at the radio but the fleet
/// holds only 2 leases"); it passes since the half-made connection is disconnected on drop.
#[test]
fn fault_schedule_an_attempt_dropped_mid_discovery_leaks_no_radio_slot() {
    block_on_virtual_time(run_schedule(1_002_422, SHORT_STEPS));
}

/// Seed 1001299 of the soak: device 1, queued for p3, heard two adverts at one instant; the
/// first made it back off (its better radio was in backoff), the second queued it again with
/// its old ticket number, and the waiter of the old ticket (cancelled, not yet reaped by actix)
/// dropped the new ticket. It stayed `Waiting { reason: Slot }`, queued on no radio, beside free
/// slots, until the end. The check after each step now catches such a device at once.
#[test]
fn fault_schedule_a_device_that_leaves_and_rejoins_the_queue_at_once_keeps_its_ticket() {
    block_on_virtual_time(run_schedule(1_001_299, SHORT_STEPS));
}

/// Steps of the short schedule CI runs on many seeds, and of the long one.
const SHORT_STEPS: usize = 40;
const LONG_STEPS: usize = 150;

/// The soak: 10 000 seeds (or `BLUEFLEET_FAULT_SEEDS`), from `BLUEFLEET_FAULT_FIRST` (default
/// 1_000_000, away from CI's seeds). Prints how many ran and which broke.
#[test]
#[ignore = "a soak of 10 000 seeds: minutes in release mode"]
fn fault_schedule_soak() {
    let count: u64 =
        std::env::var("BLUEFLEET_FAULT_SEEDS").map_or(10_000, |n| n.parse().expect("a number"));
    let first: u64 =
        std::env::var("BLUEFLEET_FAULT_FIRST").map_or(1_000_000, |n| n.parse().expect("a number"));
    let started = std::time::Instant::now();
    let broken = run_seeds((first..first + count).collect(), SHORT_STEPS);
    println!(
        "fault schedule soak: {count} seeds ran in {:?}, {} broke",
        started.elapsed(),
        broken.len()
    );
    assert_none_broke(&broken);
}

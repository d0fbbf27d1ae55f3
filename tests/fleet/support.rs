//! Test support: worlds built in code, a fleet over a simulation, and invariant checks.

use std::time::Duration;

use bluefleet::sim::world::SimGatt;
use bluefleet::sim::{DeviceSpec, RadioSpec, Simulation, World};
use bluefleet::{Address, Fleet};

pub fn addr(n: u8) -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, n])
}

pub fn temperature() -> uuid::Uuid {
    bluefleet::model::uuid_from_u16(0x2A6E)
}

/// An environment sensor at a position.
pub fn env_sensor(n: u8, x: f64, y: f64) -> DeviceSpec {
    let mut spec = DeviceSpec::new(addr(n))
        .at(x, y)
        .named(format!("sensor-{n}"));
    spec.gatt = SimGatt::env_sensor();
    spec
}

/// A world with the given radios and devices, no random faults.
pub fn world(radios: Vec<RadioSpec>, devices: Vec<DeviceSpec>) -> World {
    let mut builder = World::builder();
    for mut radio in radios {
        radio.faults = Default::default();
        builder = builder.radio(radio);
    }
    for device in devices {
        builder = builder.device(device);
    }
    builder.build().expect("a valid world")
}

/// Starts the simulation and a fleet over its radios (inside a virtual-time System).
pub fn start(world: World, seed: u64) -> (Simulation, Fleet) {
    let simulation = Simulation::start(world, seed);
    let fleet = Fleet::builder()
        .radios(simulation.radios())
        .seed(seed)
        .build()
        .expect("fleet starts");
    (simulation, fleet)
}

/// A fleet over `simulation`'s radios whose service cache persists in `dir`.
pub fn fleet_with_cache_dir(simulation: &Simulation, dir: &std::path::Path) -> Fleet {
    Fleet::builder()
        .radios(simulation.radios())
        .cache_dir(dir)
        .build()
        .expect("fleet starts")
}

/// Connects `fleet`'s device `n` once (asserting it connects).
pub async fn connect_device(fleet: &Fleet, n: u8) {
    let device = fleet.device(addr(n)).await.expect("a managed device");
    device.connect().await.expect("the device connects");
}

/// Lets virtual time pass.
pub async fn run_for(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// Invariants 1 and 2 from the fleet's side, plus agreement with what the radios themselves
/// hold: every held slot is on a radio that counts it, no radio over its limit, no device
/// holding two.
pub fn check_slot_invariants(simulation: &Simulation, fleet: &Fleet) {
    let usage = fleet.slot_usage();
    let mut holders = std::collections::BTreeSet::new();
    for radio in &usage {
        assert!(
            radio.held_by.len() + radio.foreign <= radio.limit,
            "{} over its limit: {radio:?}",
            radio.radio
        );
        for address in &radio.held_by {
            assert!(
                holders.insert(*address),
                "{address} holds slots on two radios"
            );
        }
    }
    let stats = simulation.stats();
    for radio in &usage {
        let sim = stats.radio(radio.radio.as_str()).expect("radio in sim");
        assert_eq!(sim.slot_holders.len(), sim.slots_in_use);
        let mut at_the_radio = std::collections::BTreeSet::new();
        for holder in &sim.slot_holders {
            assert!(
                at_the_radio.insert(*holder),
                "{holder} holds two slots at {}: {:?}",
                radio.radio,
                sim.slot_holders
            );
            assert!(
                radio.held_by.contains(holder),
                "{holder} holds a slot at {} but no lease in the fleet: leaked at the radio \
                 (radio: {:?}, fleet: {:?})",
                radio.radio,
                sim.slot_holders,
                radio.held_by
            );
        }
    }
}

//! Whole-world runs: the ready world files, determinism, and an hour of virtual time. A tiny
//! keep-connected loop stands in for the actor core here.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{ConnectRequest, LinkEvent, Radio};
use bluefleet::model::AddressKind;
use bluefleet::sim::{run_virtual, DeviceSpec, Simulation, TraceEvent, World};
use futures::StreamExt;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

const WORLDS: [&str; 3] = ["flat", "retail_floor", "slot_starved_house"];

fn load(name: &str) -> World {
    World::load(format!(
        "{}/examples/worlds/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// A radio with the lock that keeps its connection attempts one at a time.
type QueuedRadio = (Arc<dyn Radio>, Arc<Mutex<()>>);

/// Keeps one device connected: tries radios in turn (one attempt per radio at a time),
/// subscribes, drains notifications until the link ends, backs off a little, repeats.
async fn keep_connected(device: DeviceSpec, radios: Vec<QueuedRadio>, offset: usize) {
    let mut turn = offset;
    loop {
        let (radio, queue) = &radios[turn % radios.len()];
        turn += 1;
        let request = ConnectRequest {
            address: device.address,
            address_kind: AddressKind::Public,
            cached_services: None,
            timeout: Duration::from_secs(10),
        };
        let attempt = {
            let _one_at_a_time = queue.lock().await;
            radio.connect(request).await
        };
        let Ok(mut connection) = attempt else {
            tokio::time::sleep(Duration::from_millis(500 + 250 * (offset as u64 % 4))).await;
            continue;
        };
        let Ok(table) = connection.link.services().await else {
            continue;
        };
        for uuid in &device.subscribe {
            if let Some(c) = table.find_characteristic(None, uuid) {
                let _ = connection.link.set_notify(c.handle, true).await;
            }
        }
        while let Some(event) = connection.events.next().await {
            if matches!(event, LinkEvent::Disconnected { .. }) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs `world` for `virtual_time` with every keep-connected device managed and every radio's
/// events drained; returns the simulation for inspection.
async fn run_world(
    world: World,
    seed: u64,
    virtual_time: Duration,
    traced: bool,
) -> (Simulation, Vec<TraceEvent>) {
    let sim = if traced {
        Simulation::start_traced(world, seed)
    } else {
        Simulation::start(world, seed)
    };
    let mut tasks = JoinSet::new();
    let radios: Vec<_> = sim
        .radios()
        .into_iter()
        .map(|r| (r, Arc::new(Mutex::new(()))))
        .collect();
    for (radio, _) in &radios {
        let mut events = radio.events();
        tasks.spawn(async move { while events.next().await.is_some() {} });
    }
    for (offset, device) in sim.world().keep_connected().cloned().enumerate() {
        tasks.spawn(keep_connected(device, radios.clone(), offset));
    }
    tokio::time::sleep(virtual_time).await;
    tasks.abort_all();
    let trace = sim.trace();
    (sim, trace)
}

#[test]
fn every_ready_world_file_loads() {
    for name in WORLDS {
        let world = load(name);
        assert!(world.radios.len() >= 3, "{name}");
        assert!(world.keep_connected().count() >= 4, "{name}");
    }
    let flat = load("flat");
    assert_eq!(
        flat.radios.iter().map(|r| r.slot_limit).collect::<Vec<_>>(),
        vec![5, 3, 3]
    );
    assert!(flat
        .devices
        .iter()
        .any(|d| d.advert.manufacturer_data.contains_key(&0x004C)));
    let house = load("slot_starved_house");
    let slots: usize = house.radios.iter().map(|r| r.slot_limit).sum();
    assert!(house.keep_connected().count() > slots);
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_does_not() {
    let run = |seed| {
        run_virtual(async move {
            run_world(load("flat"), seed, Duration::from_secs(120), true)
                .await
                .1
        })
        .unwrap()
    };
    let first = run(11);
    assert!(first.len() > 1000, "{}", first.len());
    assert!(first
        .iter()
        .any(|e| matches!(e.what, bluefleet::sim::Traced::Notified { .. })));
    assert_eq!(first, run(11));
    assert_ne!(first, run(12));
}

#[test]
fn an_hour_of_a_busy_flat_runs_in_virtual_time() {
    let wall = std::time::Instant::now();
    let stats = run_virtual(async {
        let (sim, _) = run_world(load("flat"), 5, Duration::from_secs(3600), false).await;
        sim.stats()
    })
    .unwrap();
    eprintln!(
        "one virtual hour of flat.toml took {:?} of wall time",
        wall.elapsed()
    );
    let notifications: u64 = stats.devices.iter().map(|d| d.notifications_sent).sum();
    let heard: u64 = stats.radios.iter().map(|r| r.adverts_heard).sum();
    // Six climate sensors with two characteristics every 2 s and a strap every second, most
    // of the hour: well over half of the 25 200 possible.
    assert!(notifications > 12_000, "{notifications}");
    assert!(heard > 100_000, "{heard}");
    for radio in &stats.radios {
        assert_eq!(radio.concurrent_rejections, 0, "{}", radio.name);
        assert!(radio.max_concurrent_attempts <= 1);
        assert!(radio.successes > 0, "{}", radio.name);
    }
    let bedroom = stats.radio("proxy-bedroom").unwrap();
    assert!(bedroom.max_slots_in_use <= 3);
}

#[test]
fn a_slot_starved_house_never_exceeds_any_radio_limit() {
    let stats = run_virtual(async {
        let (sim, _) = run_world(
            load("slot_starved_house"),
            9,
            Duration::from_secs(600),
            false,
        )
        .await;
        sim.stats()
    })
    .unwrap();
    let limits = [3, 3, 3];
    for (radio, limit) in stats.radios.iter().zip(limits) {
        assert_eq!(radio.max_slots_in_use, limit, "{}", radio.name);
        assert!(radio.failures.out_of_slots > 0, "{}", radio.name);
    }
}

//! Adverts: proxy batching, and signal strength following a moving device.

use std::time::Duration;

use bluefleet::backend::*;
use bluefleet::sim::world::*;
use bluefleet::sim::*;
use futures::StreamExt;
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn proxies_batch_adverts_and_controllers_do_not() {
    let mut builder = World::builder()
        .radio(RadioSpec::esphome_proxy("p"))
        .radio(RadioSpec::local_controller("hci0"));
    for n in 1..=40 {
        let beacon = DeviceSpec {
            advert_interval: Duration::from_millis(100),
            connectable: false,
            ..DeviceSpec::new(addr(n)).at(2.0, 0.0)
        };
        builder = builder.device(beacon);
    }
    let sim = Simulation::start(builder.build().unwrap(), 3);
    let radios = sim.radios();
    let (mut proxy, mut local) = (radios[0].events(), radios[1].events());
    let (mut batches, mut singles) = (Vec::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        tokio::select! {
            Some(event) = proxy.next() => if let RadioEvent::Adverts(batch) = event {
                batches.push(batch.len());
            },
            Some(event) = local.next() => if let RadioEvent::Adverts(batch) = event {
                assert_eq!(batch.len(), 1);
                singles += 1;
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    assert!(batches.iter().all(|&n| n <= 16));
    assert!(batches.contains(&16), "{batches:?}");
    assert!(singles > 500, "{singles}");
}

#[tokio::test(start_paused = true)]
async fn a_device_walking_away_stops_being_heard() {
    use bluefleet::sim::world::{Route, Waypoint};
    use bluefleet::sim::Position;
    let walk = Route::Path {
        waypoints: vec![
            Waypoint {
                at: Duration::ZERO,
                position: Position::new(1.0, 0.0),
            },
            Waypoint {
                at: Duration::from_secs(600),
                position: Position::new(500.0, 0.0),
            },
        ],
        repeat: false,
    };
    let walker = DeviceSpec {
        route: walk,
        ..DeviceSpec::new(addr(1))
    };
    let world = World::builder()
        .radio(RadioSpec::local_controller("hci0"))
        .device(walker)
        .build()
        .unwrap();
    let sim = Simulation::start(world, 1);
    let mut events = sim.radios()[0].events();
    let mut heard_at = Vec::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(700);
    loop {
        tokio::select! {
            Some(event) = events.next() => if let RadioEvent::Adverts(adverts) = event {
                heard_at.extend(adverts.iter().map(|a| (a.seen_at - start, a.rssi_dbm)));
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let last = heard_at.last().map(|(at, _)| *at).unwrap();
    assert!(last < Duration::from_secs(300), "still heard at {last:?}");
    assert!(heard_at.len() > 50, "{}", heard_at.len());
    assert!(heard_at.first().unwrap().1 > heard_at.last().unwrap().1 + 20);
    sim.control()
        .move_device(addr(1), Position::new(2.0, 0.0))
        .unwrap();
    let mut heard_again = false;
    while let Some(event) = events.next().await {
        if matches!(event, RadioEvent::Adverts(_)) {
            heard_again = true;
            break;
        }
    }
    assert!(heard_again);
}

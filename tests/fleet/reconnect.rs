//! Link drops, radios going down, crashes: subscriptions survive, caches skip discovery, and
//! nothing leaks.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::RadioSpec;
use bluefleet::Subscription;

use crate::support::*;

/// One local adapter and one environment sensor two metres away.
fn one_sensor_world() -> bluefleet::sim::World {
    world(
        vec![RadioSpec::local_controller("hci0").at(0.0, 0.0)],
        vec![env_sensor(1, 2.0, 0.0)],
    )
}

async fn next_notification(subscription: &mut Subscription) -> Vec<SubscriptionEvent> {
    let mut seen = Vec::new();
    loop {
        let event = subscription.recv().await.expect("subscription open");
        let done = matches!(event, SubscriptionEvent::Notification(_));
        seen.push(event);
        if done {
            return seen;
        }
    }
}

#[test]
fn subscriptions_survive_reconnects_and_mark_the_gap() {
    block_on_virtual_time(async {
        let world = one_sensor_world();
        let (simulation, fleet) = start(world, 9);
        let device = fleet.device(addr(1)).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        next_notification(&mut subscription).await;
        for _ in 0..3 {
            simulation.control().drop_link(addr(1)).unwrap();
            let events = next_notification(&mut subscription).await;
            assert!(
                matches!(events.first(), Some(SubscriptionEvent::Disconnected { .. })),
                "{events:?}"
            );
            assert!(
                events.contains(&SubscriptionEvent::Reconnected),
                "{events:?}"
            );
        }
        assert_eq!(device.status().connections, 4);
        check_slot_invariants(&simulation, &fleet);
    });
}

#[test]
fn a_reconnect_after_a_cache_hit_performs_no_discovery() {
    block_on_virtual_time(async {
        let world = one_sensor_world();
        let (simulation, fleet) = start(world, 2);
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        device.connect().await.unwrap();
        let first = simulation.stats().device(addr(1)).unwrap().clone();
        assert_eq!(first.discoveries, 1);
        assert!(first.discovery_round_trips > 0);
        simulation.control().drop_link(addr(1)).unwrap();
        run_for(Duration::from_secs(5)).await;
        assert!(device.status().state.is_connected());
        let second = simulation.stats().device(addr(1)).unwrap().clone();
        assert_eq!(second.connects, 2);
        assert_eq!(
            second.discovery_round_trips, first.discovery_round_trips,
            "the reconnect rediscovered"
        );
        assert_eq!(second.cache_hits, 1);
    });
}

#[test]
fn a_persisted_cache_survives_a_fleet_restart() {
    let dir = tempfile::tempdir().unwrap();
    block_on_virtual_time(async {
        let world = one_sensor_world();
        let simulation = bluefleet::sim::Simulation::start(world, 1);
        let fleet = fleet_with_cache_dir(&simulation, dir.path());
        connect_device(&fleet, 1).await;
        fleet.shutdown().await.unwrap();
        run_for(Duration::from_secs(1)).await;
        let again = fleet_with_cache_dir(&simulation, dir.path());
        let before = simulation
            .stats()
            .device(addr(1))
            .unwrap()
            .discovery_round_trips;
        connect_device(&again, 1).await;
        let after = simulation.stats().device(addr(1)).unwrap().clone();
        assert_eq!(
            after.discovery_round_trips, before,
            "the restarted fleet rediscovered"
        );
        assert_eq!(after.cache_hits, 1);
    });
}

#[test]
fn a_stalled_subscriber_does_not_block_others() {
    block_on_virtual_time(async {
        let world = one_sensor_world();
        let simulation = bluefleet::sim::Simulation::start(world, 3);
        let fleet = bluefleet::Fleet::builder()
            .radios(simulation.radios())
            .subscription_capacity(2)
            .build()
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        let mut stalled = device.subscribe(temperature()).await.unwrap();
        let mut live = device.subscribe(temperature()).await.unwrap();
        let mut received = 0;
        while received < 10 {
            if let SubscriptionEvent::Notification(_) = live.recv().await.unwrap() {
                received += 1;
            }
        }
        let mut stalled_events = Vec::new();
        while let Ok(event) = tokio::time::timeout(Duration::from_millis(1), stalled.recv()).await {
            stalled_events.push(event.unwrap());
        }
        let values = stalled_events
            .iter()
            .filter(|e| matches!(e, SubscriptionEvent::Notification(_)))
            .count();
        assert_eq!(values, 2, "{stalled_events:?}");
        // The next value it gets is announced by how many it missed.
        let next = stalled.recv().await.unwrap();
        assert!(
            matches!(next, SubscriptionEvent::Lagged(n) if n >= 7),
            "{next:?}"
        );
        assert!(matches!(
            stalled.recv().await.unwrap(),
            SubscriptionEvent::Notification(_)
        ));
        drop(simulation);
    });
}

#[test]
fn dropping_the_last_subscription_releases_an_on_demand_connection() {
    block_on_virtual_time(async {
        let world = one_sensor_world();
        let (simulation, fleet) = start(world, 6);
        let device = fleet.device(addr(1)).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        next_notification(&mut subscription).await;
        assert!(device.status().state.is_connected());
        drop(subscription);
        run_for(Duration::from_secs(60)).await;
        assert_eq!(device.status().state.label(), "idle");
        assert!(simulation
            .stats()
            .radios
            .iter()
            .all(|r| r.slots_in_use == 0));
    });
}

#[test]
fn a_crashed_device_actor_releases_its_slot_and_comes_back_with_its_subscriptions() {
    block_on_virtual_time(async {
        let world = world(
            vec![RadioSpec::local_controller("hci0").at(0.0, 0.0).slots(1)],
            vec![env_sensor(1, 2.0, 0.0)],
        );
        let (simulation, fleet) = start(world, 12);
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        next_notification(&mut subscription).await;
        assert!(fleet.crash_device_actor(addr(1)).await);
        run_for(Duration::from_secs(10)).await;
        assert!(
            device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
        check_slot_invariants(&simulation, &fleet);
        let events = next_notification(&mut subscription).await;
        assert!(
            events.contains(&SubscriptionEvent::Reconnected) || events.len() == 1,
            "{events:?}"
        );
        // The handle still works: it finds the restarted actor.
        assert_eq!(device.read(temperature()).await.unwrap().len(), 2);
    });
}

#[test]
fn a_radio_going_down_ends_its_links_and_devices_come_back_when_it_returns() {
    block_on_virtual_time(async {
        let world = world(
            vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)],
            vec![env_sensor(1, 2.0, 0.0), env_sensor(2, 1.0, 1.0)],
        );
        let (simulation, fleet) = start(world, 14);
        let control = simulation.control();
        let a = fleet.device(addr(1)).await.unwrap();
        let b = fleet.device(addr(2)).await.unwrap();
        a.keep_connected(true).await.unwrap();
        b.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        assert!(a.status().state.is_connected() && b.status().state.is_connected());
        control.radio_down("p1").unwrap();
        run_for(Duration::from_secs(5)).await;
        assert!(!a.status().state.is_connected());
        assert!(fleet.slot_usage().iter().all(|u| u.held_by.is_empty()));
        control.radio_up("p1").unwrap();
        run_for(Duration::from_secs(30)).await;
        assert!(a.status().state.is_connected() && b.status().state.is_connected());
        check_slot_invariants(&simulation, &fleet);
    });
}

//! Slot accounting: limits, moving to another radio, no double holding, release on failure.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, AttemptEvent};
use bluefleet::sim::world::LatencyDraw;
use bluefleet::sim::RadioSpec;
use bluefleet::ErrorKind;
use futures::StreamExt;

use crate::support::*;

#[test]
fn more_devices_than_slots_fill_every_radio_and_never_exceed_a_limit() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(3),
            RadioSpec::esphome_proxy("p2").at(4.0, 0.0).slots(3),
        ];
        let devices = (1..=8)
            .map(|n| env_sensor(n, f64::from(n) * 0.5, 1.0))
            .collect();
        let (simulation, fleet) = start(world(radios, devices), 11);
        let mut handles = Vec::new();
        for n in 1..=8 {
            let device = fleet.device(addr(n)).await.unwrap();
            device.keep_connected(true).await.unwrap();
            handles.push(device);
        }
        for _ in 0..60 {
            run_for(Duration::from_secs(1)).await;
            check_slot_invariants(&simulation, &fleet);
        }
        let connected = handles
            .iter()
            .filter(|d| d.status().state.is_connected())
            .count();
        assert_eq!(connected, 6, "every slot of both proxies should be in use");
        let stats = simulation.stats();
        for radio in &stats.radios {
            assert!(radio.max_slots_in_use <= 3, "{radio:?}");
            assert_eq!(
                radio.max_concurrent_attempts, 1,
                "bluefleet caused a collision: {radio:?}"
            );
            assert_eq!(radio.concurrent_rejections, 0);
        }
    });
}

#[test]
fn out_of_slots_moves_to_the_next_radio() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("near").at(0.0, 0.0).slots(3),
            RadioSpec::esphome_proxy("far").at(8.0, 0.0).slots(3),
        ];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 3);
        simulation
            .control()
            .fail_next_connects("near", 1, ErrorKind::OutOfSlots)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        run_for(Duration::from_secs(3)).await;
        device.connect().await.unwrap();
        let status = device.status();
        assert_eq!(status.last_error.map(|e| e.0), Some(ErrorKind::OutOfSlots));
        let diagnostics = fleet.diagnostics().await.unwrap();
        let far = diagnostics
            .radios
            .iter()
            .find(|r| r.radio.as_str() == "far")
            .unwrap();
        assert_eq!(
            far.held_by,
            vec![addr(1)],
            "the next attempt went to the other proxy"
        );
        let stats = simulation.stats();
        assert_eq!(stats.radio("far").unwrap().successes, 1);
    });
}

#[test]
fn a_failed_attempt_gives_its_slot_back_at_once() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::local_controller("hci0").at(0.0, 0.0).slots(1)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 5);
        simulation
            .control()
            .fail_next_connects("hci0", 2, ErrorKind::Aborted)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        run_for(Duration::from_secs(2)).await;
        device.connect().await.unwrap();
        let stats = simulation.stats();
        let radio = stats.radio("hci0").unwrap();
        assert_eq!(radio.failures.get(ErrorKind::Aborted), 2);
        assert_eq!(radio.successes, 1);
        assert_eq!(device.status().failed_attempts, 2);
        check_slot_invariants(&simulation, &fleet);
    });
}

/// What the ledger learns from each successful connect orders the next batch: with every slot
/// taken, the waiting devices go slowest first by their last connect time (the wiring from a
/// connect that succeeded, through the ledger, to the grant order).
#[test]
fn known_devices_waiting_together_are_served_slowest_first() {
    block_on_virtual_time(async {
        let mut proxy = RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(1);
        // No jitter: every connection of a device takes the same time.
        proxy.latency_draw = LatencyDraw::PerDeviceConnection { jitter_percent: 0 };
        let devices = (1..=5)
            .map(|n| env_sensor(n, 1.0 + f64::from(n) * 0.2, 0.0))
            .collect();
        let world = world(vec![proxy], devices);
        let seed = 17;
        let took = |n: u8| {
            world
                .drawn_connect_latency(seed, 0, usize::from(n - 1), 0)
                .unwrap()
        };
        let (_simulation, fleet) = start(world.clone(), seed);
        run_for(Duration::from_secs(3)).await;
        for n in 1..=5 {
            connect_device(&fleet, n).await;
            fleet
                .device(addr(n))
                .await
                .unwrap()
                .disconnect()
                .await
                .unwrap();
        }
        let mut events = Box::pin(fleet.attempt_events());
        let reads = (1..=5).map(|n| {
            let fleet = fleet.clone();
            async move {
                let device = fleet.device(addr(n)).await.unwrap();
                let read = device.read(temperature()).await.map(|_| ());
                device.disconnect().await.unwrap();
                read
            }
        });
        for read in futures::future::join_all(reads).await {
            read.unwrap();
        }
        let mut started = Vec::new();
        while let Some(Some(event)) = futures::FutureExt::now_or_never(events.next()) {
            if let AttemptEvent::Started { device, .. } = event {
                started.push(device);
            }
        }
        assert_eq!(started.len(), 5, "{started:?}");
        // The first found the radio free; the other four waited for it.
        let waited: Vec<u8> = started[1..].iter().map(|a| a.bytes()[5]).collect();
        let mut slowest_first = waited.clone();
        slowest_first.sort_by_key(|n| std::cmp::Reverse(took(*n)));
        let mut in_line = waited.clone();
        in_line.sort();
        assert_ne!(
            slowest_first, in_line,
            "the seed must tell the orders apart"
        );
        assert_eq!(waited, slowest_first);
    });
}

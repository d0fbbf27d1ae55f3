//! The three failure stories of design §1, one regression test each.

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::RadioSpec;
use bluefleet::ErrorKind;

use crate::support::*;

/// Story 1: slots leaking until every device is stuck unavailable. Hammer a small fleet with
/// failures of every class and link drops; afterwards every device is connected again and
/// once they all let go, nothing is held — at the fleet or at the radios.
#[test]
fn slot_leak_under_faults() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(3),
            RadioSpec::esphome_proxy("p2").at(5.0, 0.0).slots(3),
        ];
        let devices = (1..=4).map(|n| env_sensor(n, f64::from(n), 1.0)).collect();
        let (simulation, fleet) = start(world(radios, devices), 21);
        let control = simulation.control();
        let mut handles = Vec::new();
        for n in 1..=4 {
            let device = fleet.device(addr(n)).await.unwrap();
            device.keep_connected(true).await.unwrap();
            handles.push(device);
        }
        let kinds = [
            ErrorKind::Aborted,
            ErrorKind::OutOfSlots,
            ErrorKind::Generic,
            ErrorKind::NotFound,
        ];
        for round in 0..20u8 {
            let kind = kinds[usize::from(round) % kinds.len()];
            control.fail_next_connects("p1", 1, kind).unwrap();
            control.fail_next_connects("p2", 1, kind).unwrap();
            control.drop_link(addr(round % 4 + 1)).unwrap();
            run_for(Duration::from_secs(5)).await;
            check_slot_invariants(&simulation, &fleet);
        }
        run_for(Duration::from_secs(300)).await;
        assert!(
            handles.iter().all(|d| d.status().state.is_connected()),
            "{:?}",
            handles.iter().map(|d| d.status().state).collect::<Vec<_>>()
        );
        for device in &handles {
            device.disconnect().await.unwrap();
        }
        run_for(Duration::from_secs(5)).await;
        assert!(fleet.slot_usage().iter().all(|u| u.held_by.is_empty()));
        assert!(
            simulation
                .stats()
                .radios
                .iter()
                .all(|r| r.slots_in_use == 0),
            "a radio still holds a slot"
        );
    });
}

/// Story 2: one device holding slots on two proxies at once. A device that fails on one proxy
/// and moves to another never holds both, even while the first is still tearing down.
#[test]
fn one_device_never_holds_slots_on_two_proxies() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(3),
            RadioSpec::esphome_proxy("p2").at(2.0, 0.0).slots(3),
        ];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 8);
        let control = simulation.control();
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        for _ in 0..50 {
            control
                .fail_next_connects("p1", 1, ErrorKind::OutOfSlots)
                .unwrap();
            control
                .fail_next_connects("p2", 1, ErrorKind::Aborted)
                .unwrap();
            control.drop_link(addr(1)).unwrap();
            for _ in 0..10 {
                run_for(Duration::from_millis(300)).await;
                check_slot_invariants(&simulation, &fleet);
                let at_radios: usize = simulation
                    .stats()
                    .radios
                    .iter()
                    .map(|r| r.slots_in_use)
                    .sum();
                assert!(
                    at_radios <= 1,
                    "the device holds {at_radios} slots at the radios"
                );
            }
        }
    });
}

/// Story 3: a device near a healthy proxy going permanently unavailable after one failed
/// attempt through a distant proxy.
#[test]
fn near_proxy_is_used_after_a_failure_through_a_distant_one() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("distant").at(12.0, 0.0).slots(3),
            RadioSpec::esphome_proxy("near").at(0.0, 0.0).slots(1),
        ];
        let mut sensor = env_sensor(1, 0.5, 0.0);
        sensor.keep_connected = true;
        let (simulation, fleet) = start(world(radios, vec![sensor, env_sensor(2, 0.2, 0.0)]), 4);
        let control = simulation.control();
        // Another device holds the near proxy's only slot, so attempts go far away and fail
        // there (the distant proxy cannot reach it).
        run_for(Duration::from_secs(5)).await; // the hub has been listening for a while
        let blocker = fleet.device(addr(2)).await.unwrap();
        blocker.connect().await.unwrap();
        control
            .fail_next_connects("distant", 1000, ErrorKind::NotFound)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(5)).await;
        let diagnostics = fleet.diagnostics().await.unwrap();
        assert!(!device.status().state.is_connected(), "{diagnostics:#?}");
        // The near slot frees up: the device must use it promptly, not stay unavailable.
        // Liveness bound: the attempt in flight through the distant proxy may run to its
        // connect timeout (20 s), then one backoff, then one connect.
        blocker.disconnect().await.unwrap();
        run_for(Duration::from_secs(30)).await;
        let diagnostics = fleet.diagnostics().await.unwrap();
        let near = diagnostics
            .radios
            .iter()
            .find(|r| r.radio.as_str() == "near")
            .unwrap();
        assert_eq!(near.held_by, vec![addr(1)], "{diagnostics:#?}");
    });
}

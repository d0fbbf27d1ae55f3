//! One regression test per numbered bug of issue 13 that shows through the public API (the
//! others are unit tests beside their fix: subscriber queues in `device::subscribers`, world
//! validation in `sim::world`).

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::RadioSpec;
use bluefleet::{Error, ErrorKind};

use crate::support::*;

/// Bug 2: when enabling notify failed, the subscriber stayed registered, so the next
/// `subscribe` returned `Ok` without enabling notify and values never started.
#[test]
fn a_failed_notify_enable_is_rolled_back_and_the_next_subscribe_enables_it() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 5);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.connect().await.unwrap();
        simulation
            .control()
            .fail_next_gatt(addr(1), 1, 0x0E)
            .unwrap();
        let refused = device.subscribe(temperature()).await;
        assert!(refused.is_err(), "the CCCD write failed: {refused:?}");
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.recv())
            .await
            .expect("a value within two notify periods");
        assert!(
            matches!(
                event,
                Some(bluefleet::fleet::SubscriptionEvent::Notification(_))
            ),
            "{event:?}"
        );
    });
}

/// Bug 6: `Error::NoRadio.kind()` said out-of-slots also when no radio had heard the device.
#[test]
fn no_radio_says_not_found_when_nobody_heard_the_device() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (_simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 6);
        run_for(Duration::from_secs(3)).await;
        let stranger = fleet.device(addr(99)).await.unwrap();
        let error = stranger
            .with_timeout(Duration::from_secs(5))
            .read(temperature())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::NoRadio { .. }), "{error}");
        assert_eq!(error.kind(), Some(ErrorKind::NotFound), "{error}");
    });
}

/// Bug 12: service discovery slower than the connect timeout failed every attempt (holding a
/// slot for the whole timeout, for ever).
#[test]
fn a_device_whose_discovery_outlasts_the_connect_timeout_still_connects() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let mut slow = env_sensor(1, 1.0, 0.0);
        slow.discovery_requests = 1_000; // 30 s at a 30 ms connection interval
        let (_simulation, fleet) = start(world(radios, vec![slow]), 12);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(40)).await;
        assert!(
            device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
    });
}

/// Bug 15: nothing was fair between waiting devices; in a slot-starved run some waited the whole
/// run while others reconnected again and again. With one FIFO, a device whose link drops queues
/// behind those already waiting: connections go round.
#[test]
fn waiting_devices_take_turns_on_a_starved_radio() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(1)];
        let devices = (1..=3).map(|n| env_sensor(n, f64::from(n), 0.0)).collect();
        let (simulation, fleet) = start(world(radios, devices), 15);
        run_for(Duration::from_secs(3)).await;
        let mut handles = Vec::new();
        for n in 1..=3 {
            let device = fleet.device(addr(n)).await.unwrap();
            device.keep_connected(true).await.unwrap();
            handles.push(device);
        }
        let control = simulation.control();
        for _ in 0..12 {
            run_for(Duration::from_secs(10)).await;
            for n in 1..=3 {
                control.drop_link(addr(n)).unwrap();
            }
        }
        let stats = simulation.stats();
        let connects: Vec<u64> = (1..=3)
            .map(|n| {
                stats
                    .devices
                    .iter()
                    .find(|d| d.address == addr(n))
                    .map_or(0, |d| d.connects)
            })
            .collect();
        let (least, most) = (
            connects.iter().min().copied().unwrap_or(0),
            connects.iter().max().copied().unwrap_or(0),
        );
        assert!(least >= 3, "somebody starved: {connects:?}");
        assert!(
            most - least <= 1,
            "connections did not go round: {connects:?}"
        );
    });
}

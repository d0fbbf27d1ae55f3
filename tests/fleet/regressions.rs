//! One regression test per numbered bug of issue 13 that shows through the public API (the
//! others are unit tests beside their fix: subscriber queues in `device::subscribers`, world
//! validation in `sim::world`; bugs 2, 3 and 7 are in `subscriptions.rs`).

use std::time::Duration;

use bluefleet::fleet::DeviceState;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::model::AddressKind;
use bluefleet::sim::RadioSpec;
use bluefleet::{Error, ErrorKind};

use crate::support::*;

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

/// Bug 5: every link end called `disconnect()` again, also on links the backend had already
/// reported `Disconnected` (dropped by the peer, or by a radio going down).
#[test]
fn links_the_backend_reported_disconnected_are_not_disconnected_again() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 55);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let control = simulation.control();
        for _ in 0..3 {
            run_for(Duration::from_secs(10)).await;
            assert!(
                device.status().state.is_connected(),
                "{:?}",
                device.status()
            );
            control.drop_link(addr(1)).unwrap();
        }
        run_for(Duration::from_secs(10)).await;
        control.radio_down("p1").unwrap();
        run_for(Duration::from_secs(2)).await;
        control.radio_up("p1").unwrap();
        run_for(Duration::from_secs(20)).await;
        // Our own disconnect: one call, not a second one when the link state is dropped.
        device.disconnect().await.unwrap();
        run_for(Duration::from_secs(2)).await;
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert!(stats.connects >= 4, "{stats:?}");
        assert_eq!(stats.disconnects_after_end, 0, "{stats:?}");
    });
}

/// Bug 8: after the device actor was restarted, dropping the last subscription never released
/// the connection (the new actor had no prune timer).
#[test]
fn a_restarted_actor_still_lets_go_when_the_last_subscription_is_dropped() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (_simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 8);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        let subscription = device.subscribe(temperature()).await.unwrap();
        assert!(fleet.crash_device_actor(addr(1)).await);
        run_for(Duration::from_secs(15)).await;
        assert!(
            device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
        drop(subscription);
        run_for(Duration::from_secs(60)).await;
        assert!(
            !device.status().state.is_connected(),
            "nothing wants the link, yet: {:?}",
            device.status()
        );
        assert!(fleet.slot_usage().iter().all(|u| u.held_by.is_empty()));
    });
}

/// Issue 13, lifecycle: a restarted device actor began with empty backoff, so crashing it
/// mid-backoff gave an immediate retry. The machine's memory now outlives the actor: the next
/// attempt waits out what was left of the backoff.
#[test]
fn a_device_actor_crashed_mid_backoff_does_not_retry_at_once() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 13);
        let control = simulation.control();
        run_for(Duration::from_secs(3)).await;
        control
            .fail_next_connects("p1", 8, ErrorKind::Aborted)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let attempts = || simulation.stats().radio("p1").unwrap().connect_attempts;
        // Until a backoff of at least 2 s has just begun.
        let remaining = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let DeviceState::Backoff { remaining, .. } = device.status().state {
                    if remaining >= Duration::from_secs(2) {
                        return remaining;
                    }
                }
                run_for(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("a long backoff within a minute");
        let before = attempts();
        assert!(fleet.crash_device_actor(addr(1)).await);
        run_for(remaining - Duration::from_millis(200)).await;
        assert_eq!(
            attempts(),
            before,
            "the restarted actor retried within its predecessor's backoff of {remaining:?}"
        );
        run_for(Duration::from_secs(2)).await;
        assert!(
            attempts() > before,
            "and it retries once the backoff is over"
        );
    });
}

/// Bug 11: `Device::status_changes()` ended for good when the device actor restarted.
#[test]
fn status_changes_survive_an_actor_restart() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (_simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 11);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let mut changes = Box::pin(device.status_changes());
        let first = futures::StreamExt::next(&mut changes).await.unwrap();
        assert!(first.state.is_connected(), "{first:?}");
        assert!(fleet.crash_device_actor(addr(1)).await);
        // The stream goes on: the restart, then the reconnect.
        let reconnected = tokio::time::timeout(Duration::from_secs(60), async {
            let mut saw_not_connected = false;
            while let Some(status) = futures::StreamExt::next(&mut changes).await {
                if !status.state.is_connected() {
                    saw_not_connected = true;
                } else if saw_not_connected {
                    return Some(status);
                }
            }
            None
        })
        .await
        .expect("within a minute");
        let status = reconnected.expect("the stream did not end at the restart");
        assert!(status.connections >= 2, "counters kept: {status:?}");
    });
}

/// Bug 1: a random-address device heard before it was managed connected with `Public` on its
/// first attempt (the sim now refuses a connect naming the wrong kind, as a radio pages an
/// address nobody answers).
#[test]
fn a_random_address_device_heard_before_it_is_managed_connects_at_the_first_attempt() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let mut random = env_sensor(1, 1.0, 0.0);
        random.address_kind = AddressKind::Random;
        let (_simulation, fleet) = start(world(radios, vec![random]), 1);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.connect().await.unwrap();
        assert_eq!(device.status().failed_attempts, 0, "{:?}", device.status());
    });
}

/// Bug 1, explicit kind: `Fleet::device_with_kind` wins over what adverts say, and a wrong
/// kind given by hand fails the way the radio fails.
#[test]
fn an_explicit_address_kind_is_used_for_the_connect() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let mut random = env_sensor(1, 1.0, 0.0);
        random.address_kind = AddressKind::Random;
        let (_simulation, fleet) = start(world(radios, vec![random, env_sensor(2, 2.0, 0.0)]), 2);
        run_for(Duration::from_secs(3)).await;
        let right = fleet
            .device_with_kind(addr(1), AddressKind::Random)
            .await
            .unwrap();
        right.connect().await.unwrap();
        let wrong = fleet
            .device_with_kind(addr(2), AddressKind::Random)
            .await
            .unwrap()
            .with_timeout(Duration::from_secs(30));
        assert!(wrong.connect().await.is_err());
        assert!(wrong.status().failed_attempts > 0, "{:?}", wrong.status());
    });
}

/// Bug 14: a keep-connected device that cannot connect (a non-connectable beacon) was accepted
/// and held its radio's queue for a full timeout on every attempt, so sensors beside it waited.
#[test]
fn a_non_connectable_device_is_refused_at_once_and_never_holds_the_queue() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0).slots(1)];
        let mut beacon = env_sensor(1, 1.0, 0.0);
        beacon.connectable = false;
        let (simulation, fleet) = start(world(radios, vec![beacon, env_sensor(2, 2.0, 0.0)]), 14);
        run_for(Duration::from_secs(3)).await;
        let beacon = fleet.device(addr(1)).await.unwrap();
        let refused = beacon.keep_connected(true).await;
        assert!(
            matches!(refused, Err(Error::NotConnectable { .. })),
            "{refused:?}"
        );
        let started = tokio::time::Instant::now();
        let read = beacon.read(temperature()).await;
        assert!(
            matches!(read, Err(Error::NotConnectable { .. })),
            "{read:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "refused at once"
        );
        let sensor = fleet.device(addr(2)).await.unwrap();
        sensor.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(5)).await;
        assert!(
            sensor.status().state.is_connected(),
            "{:?}",
            sensor.status()
        );
        let stats = simulation.stats();
        let p1 = stats.radio("p1").unwrap();
        assert_eq!(p1.connect_attempts, 1, "only the sensor's attempt: {p1:?}");
    });
}

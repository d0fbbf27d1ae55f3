//! Connecting, reading, subscribing.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::RadioSpec;
use futures::StreamExt;

use crate::support::*;

#[test]
fn keeps_a_sensor_connected_and_delivers_its_notifications() {
    block_on_virtual_time(async {
        let world = world(
            vec![RadioSpec::local_controller("hci0").at(0.0, 0.0)],
            vec![env_sensor(1, 2.0, 0.0)],
        );
        let (simulation, fleet) = start(world, 7);
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        let mut values = 0;
        while values < 3 {
            match subscription.next().await.unwrap() {
                SubscriptionEvent::Notification(value) => {
                    assert_eq!(value.len(), 2);
                    values += 1;
                    assert!(device.status().state.is_connected());
                }
                // The intent's markers: not connected yet, then notify on.
                SubscriptionEvent::Waiting | SubscriptionEvent::Reconnected => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let value = device.read(temperature()).await.unwrap();
        assert_eq!(value.len(), 2);
        check_slot_invariants(&simulation, &fleet);
        fleet.shutdown().await.unwrap();
        run_for(Duration::from_secs(1)).await;
        assert_eq!(
            fleet
                .slot_usage()
                .iter()
                .map(|u| u.held_by.len())
                .sum::<usize>(),
            0
        );
    });
}

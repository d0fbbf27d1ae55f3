//! Backpressure through the whole fleet: a device flooding notifications fills its link's
//! bounded channel; the drops are counted in diagnostics and reach the subscriber as
//! `Lagged`, and the link's end still arrives.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::world::SimGatt;
use bluefleet::sim::{DeviceSpec, RadioSpec};

use crate::support::*;

fn counter_uuid() -> uuid::Uuid {
    uuid::Uuid::from_u128(0x6e40_0002_b5a3_f393_e0a9_e50e_24dc_ca9e)
}

/// A counter notifying every microsecond: a thousand values due at once each millisecond.
fn flooding_counter(n: u8) -> DeviceSpec {
    let mut spec = DeviceSpec::new(addr(n)).at(1.0, 0.0);
    spec.gatt = SimGatt::counter();
    for characteristic in &mut spec.gatt.services[0].characteristics {
        if let Some(generator) = characteristic.generator.as_mut() {
            generator.every = Duration::from_micros(1);
        }
    }
    spec
}

#[test]
fn a_notification_flood_is_counted_told_as_lagged_and_the_disconnect_still_arrives() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::local_controller("hci0").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![flooding_counter(1)]), 11);
        let device = fleet.device(addr(1)).await.unwrap();
        let mut subscription = device.subscribe(counter_uuid()).await.unwrap();
        let enabled = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(event) = subscription.recv().await {
                if event == SubscriptionEvent::Reconnected {
                    return;
                }
            }
        })
        .await;
        assert!(enabled.is_ok(), "notify enabled");
        run_for(Duration::from_millis(20)).await;
        simulation.control().radio_down("hci0").unwrap();
        run_for(Duration::from_millis(50)).await;

        let diagnostics = fleet.diagnostics().await.unwrap();
        let sent = simulation
            .stats()
            .device(addr(1))
            .unwrap()
            .notifications_sent;
        let dropped = diagnostics.notifications_dropped;
        assert!(sent > 10_000, "a flood: {sent}");
        assert!(
            dropped > sent / 2 && dropped < sent,
            "most of the flood dropped at the link, and counted: {dropped} of {sent}"
        );
        let mut lagged = 0;
        let mut values = 0;
        let mut disconnected = false;
        while let Ok(event) = subscription.try_recv_event() {
            match event {
                SubscriptionEvent::Lagged(n) => lagged += n,
                SubscriptionEvent::Notification(_) => values += 1,
                SubscriptionEvent::Disconnected { .. } => disconnected = true,
                _ => {}
            }
        }
        assert!(disconnected, "the link's end reached the subscriber");
        assert!(
            lagged >= dropped,
            "the subscriber was told of every value it missed: {lagged} < {dropped}"
        );
        assert!(values <= 64, "its own queue stayed bounded too: {values}");
        assert!(!device.status().state.is_connected());
    });
}

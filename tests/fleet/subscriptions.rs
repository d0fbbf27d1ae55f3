//! Subscriptions are intents (issue 13, bugs 2, 3 and 7): made at once whether the device is
//! reachable or not, enabled on every connection, reporting in their stream, and routed by
//! value handle.

use std::time::Duration;

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::model::{uuid_from_u16, CharProps, CharacteristicRef};
use bluefleet::sim::world::Window;
use bluefleet::sim::world::{Generator, GeneratorKind, SimCharacteristic, SimGatt, SimService};
use bluefleet::sim::RadioSpec;
use bluefleet::Subscription;

use crate::support::*;

/// The next event within `within` of virtual time.
async fn next(subscription: &mut Subscription, within: Duration) -> Option<SubscriptionEvent> {
    tokio::time::timeout(within, subscription.recv())
        .await
        .ok()
        .flatten()
}

/// Events until the first notification (which is included), within `within`.
async fn until_value(subscription: &mut Subscription, within: Duration) -> Vec<SubscriptionEvent> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, subscription.recv()).await {
        let done = matches!(event, SubscriptionEvent::Notification(_));
        seen.push(event);
        if done {
            break;
        }
    }
    seen
}

/// Bug 7: `subscribe` on a device not reachable yet failed after 30 s and was gone, so a
/// `bluefleet run` against a proxy that came up 35 s late never printed a value.
#[test]
fn a_subscription_made_before_the_only_radio_appears_delivers_once_it_does() {
    block_on_virtual_time(async {
        let mut late = RadioSpec::esphome_proxy("p1").at(0.0, 0.0);
        late.outages = vec![Window {
            from: Duration::ZERO,
            until: Duration::from_secs(35),
        }];
        let (_simulation, fleet) = start(world(vec![late], vec![env_sensor(1, 1.0, 0.0)]), 7);
        let device = fleet.device(addr(1)).await.unwrap();
        let asked = tokio::time::Instant::now();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        assert!(
            asked.elapsed() < Duration::from_millis(100),
            "returns at once"
        );
        assert_eq!(
            next(&mut subscription, Duration::from_secs(1)).await,
            Some(SubscriptionEvent::Waiting)
        );
        let seen = until_value(&mut subscription, Duration::from_secs(60)).await;
        assert!(
            matches!(seen.last(), Some(SubscriptionEvent::Notification(_))),
            "values after the radio came up: {seen:?}"
        );
        assert!(seen.contains(&SubscriptionEvent::Reconnected), "{seen:?}");
        assert!(asked.elapsed() >= Duration::from_secs(35));
        assert!(device.status().state.is_connected());
    });
}

/// Bug 2 / 7: when enabling notify fails, the error arrives in the stream, nothing is left
/// marked enabled, and the next connection enables it.
#[test]
fn a_failed_notify_enable_is_reported_and_the_next_connection_enables_it() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 5);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.connect().await.unwrap();
        let control = simulation.control();
        control.fail_next_gatt(addr(1), 1, 0x0E).unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        let event = next(&mut subscription, Duration::from_secs(5)).await;
        assert!(
            matches!(event, Some(SubscriptionEvent::Failed(_))),
            "the CCCD write failed: {event:?}"
        );
        assert!(
            next(&mut subscription, Duration::from_secs(6))
                .await
                .is_none(),
            "no values: notify is off"
        );
        control.drop_link(addr(1)).unwrap();
        let seen = until_value(&mut subscription, Duration::from_secs(30)).await;
        assert!(
            matches!(
                seen.as_slice(),
                [
                    SubscriptionEvent::Disconnected { .. },
                    SubscriptionEvent::Reconnected,
                    SubscriptionEvent::Notification(_)
                ]
            ),
            "{seen:?}"
        );
    });
}

/// Bug 2: a second subscription made after the first one's enable failed enables notify
/// (for both) on the same link.
#[test]
fn a_second_subscription_after_a_failed_enable_enables_notify_on_the_same_link() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 2);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.connect().await.unwrap();
        simulation
            .control()
            .fail_next_gatt(addr(1), 1, 0x0E)
            .unwrap();
        let mut first = device.subscribe(temperature()).await.unwrap();
        let event = next(&mut first, Duration::from_secs(5)).await;
        assert!(
            matches!(event, Some(SubscriptionEvent::Failed(_))),
            "{event:?}"
        );
        let mut second = device.subscribe(temperature()).await.unwrap();
        for subscription in [&mut first, &mut second] {
            let seen = until_value(subscription, Duration::from_secs(10)).await;
            assert!(
                matches!(
                    seen.as_slice(),
                    [
                        SubscriptionEvent::Reconnected,
                        SubscriptionEvent::Notification(_)
                    ]
                ),
                "{seen:?}"
            );
        }
    });
}

/// Two services with a characteristic of the same UUID: a counter (4-byte values) in one, a
/// battery level (1-byte values) in the other.
fn twin_gatt() -> (SimGatt, uuid::Uuid, uuid::Uuid, uuid::Uuid) {
    let shared = uuid::Uuid::from_u128(0x1234_0001_0000_1000_8000_0080_5f9b_34fb);
    let (first, second) = (uuid_from_u16(0xFFF0), uuid_from_u16(0xFFE0));
    let twin = |kind, value: Vec<u8>| SimCharacteristic {
        uuid: shared,
        properties: CharProps::READ | CharProps::NOTIFY,
        value,
        descriptors: Vec::new(),
        generator: Some(Generator {
            kind,
            every: Duration::from_millis(500),
        }),
    };
    let gatt = SimGatt {
        services: vec![
            SimService {
                uuid: first,
                characteristics: vec![twin(GeneratorKind::Counter, vec![0; 4])],
            },
            SimService {
                uuid: second,
                characteristics: vec![twin(GeneratorKind::Battery, vec![100])],
            },
        ],
    };
    (gatt, first, second, shared)
}

/// Bug 3: two characteristics with the same UUID in two services were conflated: a
/// notification on one reached a subscriber of the other (routing was keyed by UUID).
#[test]
fn same_uuid_characteristics_in_two_services_never_mix() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (gatt, first, second, shared) = twin_gatt();
        let mut spec = env_sensor(1, 1.0, 0.0);
        spec.gatt = gatt;
        let (_simulation, fleet) = start(world(radios, vec![spec]), 3);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        let mut counter = device
            .subscribe(CharacteristicRef::in_service(first, shared))
            .await
            .unwrap();
        let table = device.services().await.unwrap();
        let battery_handle = table
            .find_characteristic(Some(&second), &shared)
            .unwrap()
            .handle;
        let mut battery = device
            .subscribe(CharacteristicRef::Handle(battery_handle))
            .await
            .unwrap();
        run_for(Duration::from_secs(5)).await;
        let drain = |s: &mut Subscription| {
            std::iter::from_fn(|| s.try_recv_event().ok())
                .filter_map(|e| match e {
                    SubscriptionEvent::Notification(v) => Some(v.len()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        let (counter_sizes, battery_sizes) = (drain(&mut counter), drain(&mut battery));
        assert!(counter_sizes.len() >= 8, "{counter_sizes:?}");
        assert!(battery_sizes.len() >= 8, "{battery_sizes:?}");
        assert!(counter_sizes.iter().all(|n| *n == 4), "{counter_sizes:?}");
        assert!(battery_sizes.iter().all(|n| *n == 1), "{battery_sizes:?}");
        // Reads and writes name the service too.
        let read = |service| device.read(CharacteristicRef::in_service(service, shared));
        assert_eq!(read(first).await.unwrap().len(), 4);
        assert_eq!(read(second).await.unwrap().len(), 1);
        assert_eq!(
            device
                .read(CharacteristicRef::Handle(battery_handle))
                .await
                .unwrap()
                .len(),
            1
        );
    });
}

/// Dropping a subscription unsubscribes at once: an on-demand link with no other use goes idle
/// after the idle timeout, with no polling in between.
#[test]
fn dropping_the_last_subscription_lets_the_link_go() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let (_simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 4);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        let seen = until_value(&mut subscription, Duration::from_secs(10)).await;
        assert!(matches!(
            seen.last(),
            Some(SubscriptionEvent::Notification(_))
        ));
        assert_eq!(device.status().subscribers, 1);
        drop(subscription);
        tokio::task::yield_now().await;
        run_for(Duration::from_millis(10)).await;
        assert_eq!(device.status().subscribers, 0, "gone at once");
        run_for(Duration::from_secs(30)).await;
        assert!(
            !device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
    });
}

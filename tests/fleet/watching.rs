//! Advert streams through the public API: `Fleet::watch`, `Device::adverts`, and `Lagged` on
//! the fleet-wide feeds.

use std::time::Duration;

use bluefleet::adverts::watch::{AdvertMatcher, Watched};
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::RadioSpec;
use futures::StreamExt;

use crate::support::*;

#[test]
fn watch_and_device_adverts_deliver_the_first_advert_and_only_their_device() {
    block_on_virtual_time(async {
        let devices = (1..=5).map(|n| env_sensor(n, 1.0, f64::from(n))).collect();
        let (_sim, fleet) = start(world(vec![RadioSpec::esphome_proxy("p")], devices), 3);
        let mut by_name = fleet.watch(AdvertMatcher::any().local_name("sensor-2"));
        let device = fleet.device(addr(4)).await.unwrap();
        let mut own = device.adverts();
        let first = tokio::time::timeout(Duration::from_secs(10), by_name.recv())
            .await
            .unwrap();
        let Some(Watched::Item(advert)) = first else {
            panic!("{first:?}");
        };
        assert_eq!(advert.address, addr(2));
        let Some(Watched::Item(advert)) = own.recv().await else {
            panic!("no advert for the device");
        };
        assert_eq!(advert.address, addr(4));
        run_for(Duration::from_secs(5)).await;
        while let Some(item) = by_name.try_recv() {
            assert!(matches!(item, Watched::Item(a) if a.address == addr(2)));
        }
        let diagnostics = fleet.diagnostics().await.unwrap();
        assert_eq!(diagnostics.watchers.watchers, 2);
        assert_eq!(diagnostics.watchers.lost, 0);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn a_feed_consumer_that_falls_behind_is_told_how_much_it_missed() {
    block_on_virtual_time(async {
        let devices = (1..=40).map(|n| env_sensor(n, 1.0, 1.0)).collect();
        let (_sim, fleet) = start(world(vec![RadioSpec::local_controller("hci0")], devices), 5);
        let mut stalled = Box::pin(fleet.adverts());
        let mut keeping_up = Box::pin(fleet.adverts());
        let reader = async {
            let mut seen = 0u64;
            while let Some(item) = keeping_up.next().await {
                match item {
                    Watched::Item(_) => seen += 1,
                    Watched::Lagged(n) => panic!("a consumer that keeps up lost {n}"),
                }
                if seen == 6_000 {
                    return seen;
                }
            }
            seen
        };
        assert_eq!(reader.await, 6_000);
        let Some(Watched::Lagged(missed)) = stalled.next().await else {
            panic!("the stalled consumer was not told");
        };
        assert!(missed > 0);
        let diagnostics = fleet.diagnostics().await.unwrap();
        assert_eq!(diagnostics.feed_lost, missed);
        fleet.shutdown().await.unwrap();
    });
}

/// What one callback received, in order.
type Calls = std::sync::Arc<std::sync::Mutex<Vec<(bluefleet::Address, i16)>>>;

fn recording(calls: &Calls) -> impl FnMut(&bluefleet::model::Advertisement) + Send + 'static {
    let calls = std::sync::Arc::clone(calls);
    move |advert| {
        calls
            .lock()
            .unwrap()
            .push((advert.address, advert.rssi_dbm))
    }
}

#[test]
fn a_callback_gets_what_a_stream_of_the_same_matcher_gets_in_the_same_order() {
    block_on_virtual_time(async {
        let devices = (1..=6).map(|n| env_sensor(n, 1.0, f64::from(n))).collect();
        let radios = vec![
            RadioSpec::esphome_proxy("p"),
            RadioSpec::local_controller("hci0"),
        ];
        let (_sim, fleet) = start(world(radios, devices), 7);
        run_for(Duration::from_secs(2)).await;
        // The first advert of each of the six (their content never changes), then every copy
        // of one device from both radios.
        for (matcher, at_least) in [
            (AdvertMatcher::any().local_name_prefix("sensor-"), 6),
            (AdvertMatcher::address(addr(3)).every_copy(), 20),
        ] {
            let calls = Calls::default();
            let mut stream = fleet.watch(matcher.clone());
            let _callback = fleet.register_callback(matcher, recording(&calls));
            run_for(Duration::from_secs(20)).await;
            let mut streamed = Vec::new();
            while let Some(item) = stream.try_recv() {
                match item {
                    Watched::Item(advert) => streamed.push((advert.address, advert.rssi_dbm)),
                    Watched::Lagged(n) => panic!("the stream lagged by {n}"),
                }
            }
            assert!(
                streamed.len() >= at_least,
                "only {} adverts",
                streamed.len()
            );
            assert_eq!(*calls.lock().unwrap(), streamed);
        }
        fleet.shutdown().await.unwrap();
    });
}

/// Four sensors heard by one local controller.
fn four_sensors_on_one_controller(seed: u64) -> (bluefleet::sim::Simulation, bluefleet::Fleet) {
    let devices = (1..=4).map(|n| env_sensor(n, 1.0, f64::from(n))).collect();
    start(
        world(vec![RadioSpec::local_controller("hci0")], devices),
        seed,
    )
}

#[test]
fn a_dropped_callback_is_not_called_again_and_a_callback_may_use_the_fleet() {
    block_on_virtual_time(async {
        let (_sim, fleet) = four_sensors_on_one_controller(3);
        run_for(Duration::from_secs(2)).await;
        let calls = Calls::default();
        let inner_calls = Calls::default();
        let nested = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let unheard = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let callback = {
            let (fleet, nested, inner_calls) = (fleet.clone(), nested.clone(), inner_calls.clone());
            let unheard = unheard.clone();
            let mut record = recording(&calls);
            fleet
                .clone()
                .register_callback(AdvertMatcher::any().every_copy(), move |advert| {
                    record(advert);
                    // The fleet's locks are free here: reading it and registering do not deadlock.
                    if !fleet.heard().iter().any(|d| d.address == advert.address) {
                        unheard.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    let mut nested = nested.lock().unwrap();
                    if nested.is_empty() {
                        let matcher = AdvertMatcher::address(advert.address).every_copy();
                        nested.push(fleet.register_callback(matcher, recording(&inner_calls)));
                    }
                })
        };
        run_for(Duration::from_secs(5)).await;
        let before = calls.lock().unwrap().len();
        assert!(before > 4, "{before} calls");
        assert!(!inner_calls.lock().unwrap().is_empty());
        assert_eq!(unheard.load(std::sync::atomic::Ordering::Relaxed), 0);
        drop(callback);
        nested.lock().unwrap().clear();
        let inner_before = inner_calls.lock().unwrap().len();
        run_for(Duration::from_secs(5)).await;
        assert_eq!(calls.lock().unwrap().len(), before);
        assert_eq!(inner_calls.lock().unwrap().len(), inner_before);
        assert_eq!(fleet.diagnostics().await.unwrap().watchers.watchers, 0);
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn a_panicking_callback_is_removed_and_counted_and_the_others_go_on() {
    block_on_virtual_time(async {
        let (_sim, fleet) = four_sensors_on_one_controller(5);
        let calls = Calls::default();
        let _healthy =
            fleet.register_callback(AdvertMatcher::any().every_copy(), recording(&calls));
        let mut record = recording(&Calls::default());
        let mut seen = 0;
        let _buggy = fleet.register_callback(AdvertMatcher::any().every_copy(), move |advert| {
            record(advert);
            seen += 1;
            assert!(seen < 3, "a hub's bug");
        });
        run_for(Duration::from_secs(5)).await;
        let diagnostics = fleet.diagnostics().await.unwrap();
        assert_eq!(diagnostics.watchers.callbacks_panicked, 1);
        assert_eq!(diagnostics.watchers.watchers, 1);
        let before = calls.lock().unwrap().len();
        run_for(Duration::from_secs(5)).await;
        assert!(
            calls.lock().unwrap().len() > before,
            "the healthy callback stopped"
        );
        fleet.shutdown().await.unwrap();
    });
}

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

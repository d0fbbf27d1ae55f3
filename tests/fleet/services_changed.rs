//! Service Changed end to end on the simulated radio (issue 13): the world changes a connected
//! device's GATT table and indicates it; the fleet forgets the cached table (the cache
//! directory is read back here), reconnects with a fresh discovery, and enables the
//! subscription again on the characteristic's new handle.

use std::path::Path;
use std::time::Duration;

use bluefleet::cache::ServiceCache;
use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::model::{uuid_from_u16, CharProps};
use bluefleet::sim::world::{ServicesChange, SimCharacteristic, SimGatt, SimService};
use bluefleet::sim::{DeviceSpec, RadioSpec, Simulation};
use bluefleet::{Device, Fleet, Subscription};
use tempfile::TempDir;

use crate::support::*;

/// The counter profile's notifying characteristic.
fn counter() -> uuid::Uuid {
    SimGatt::counter().services[0].characteristics[0].uuid
}

/// The counter profile after a firmware update that put a Battery service in front of it:
/// the same UUIDs, every handle moved.
fn updated_counter() -> SimGatt {
    let battery = SimService {
        uuid: uuid_from_u16(0x180F),
        characteristics: vec![SimCharacteristic {
            uuid: uuid_from_u16(0x2A19),
            properties: CharProps::READ,
            value: vec![90],
            descriptors: Vec::new(),
            generator: None,
        }],
    };
    let mut gatt = SimGatt::counter();
    gatt.services.insert(0, battery);
    gatt
}

fn counter_device(changes: Vec<ServicesChange>) -> DeviceSpec {
    let mut spec = DeviceSpec::new(addr(1)).at(1.0, 0.0);
    spec.gatt = SimGatt::counter();
    spec.services_changes = changes;
    spec
}

/// A fleet over `simulation` whose service cache lives in `dir`.
fn fleet_with_cache(simulation: &Simulation, dir: &Path, seed: u64) -> Fleet {
    Fleet::builder()
        .radios(simulation.radios())
        .seed(seed)
        .cache_dir(dir)
        .idle_disconnect(Duration::from_secs(1))
        .build()
        .expect("fleet starts")
}

/// The counter's value handle in the table cached on disk (read back by a fresh cache).
fn cached_counter_handle(dir: &Path) -> Option<u16> {
    let table = ServiceCache::persistent(dir).unwrap().get(&addr(1))?;
    table
        .find_characteristic(None, &counter())
        .map(|c| c.handle)
}

/// The counter device on one proxy (world and fleet seeded with `seed`), read once so its
/// table is cached in the returned directory, then left until its idle link is released.
async fn cached_then_idle(seed: u64) -> (TempDir, Simulation, Fleet, Device) {
    let dir = tempfile::tempdir().unwrap();
    let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
    let simulation = Simulation::start(world(radios, vec![counter_device(vec![])]), seed);
    let fleet = fleet_with_cache(&simulation, dir.path(), seed);
    run_for(Duration::from_secs(3)).await;
    let device = fleet.device(addr(1)).await.unwrap();
    device.read(counter()).await.unwrap();
    assert_eq!(cached_counter_handle(dir.path()), Some(3));
    run_for(Duration::from_secs(5)).await;
    assert!(!device.status().state.is_connected(), "idle link released");
    (dir, simulation, fleet, device)
}

/// Every event `subscription` yields within `within` of virtual time.
async fn events_for(subscription: &mut Subscription, within: Duration) -> Vec<SubscriptionEvent> {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, subscription.recv()).await {
        seen.push(event);
    }
    seen
}

fn values(events: &[SubscriptionEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, SubscriptionEvent::Notification(_)))
        .count()
}

#[test]
fn a_scheduled_services_change_is_rediscovered_recached_and_resubscribed() {
    block_on_virtual_time(async {
        let dir = tempfile::tempdir().unwrap();
        let change = ServicesChange {
            at: Duration::from_secs(20),
            gatt: updated_counter(),
        };
        let radios = vec![RadioSpec::esphome_proxy("p1").at(0.0, 0.0)];
        let simulation = Simulation::start(world(radios, vec![counter_device(vec![change])]), 21);
        let fleet = fleet_with_cache(&simulation, dir.path(), 21);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        let mut subscription = device.subscribe(counter()).await.unwrap();
        let before = events_for(&mut subscription, Duration::from_secs(15)).await;
        assert!(values(&before) >= 10, "{before:?}");
        assert_eq!(cached_counter_handle(dir.path()), Some(3));

        // The change at 20 s: the link goes, the next one is discovered afresh.
        let after = events_for(&mut subscription, Duration::from_secs(12)).await;
        let dropped = after
            .iter()
            .position(|e| matches!(e, SubscriptionEvent::Disconnected { .. }))
            .unwrap_or_else(|| panic!("no gap marked: {after:?}"));
        let back = after
            .iter()
            .position(|e| *e == SubscriptionEvent::Reconnected)
            .unwrap_or_else(|| panic!("not re-enabled: {after:?}"));
        assert!(dropped < back, "{after:?}");
        assert!(
            values(&after[back..]) >= 5,
            "values on the new handle: {after:?}"
        );
        assert!(
            !after
                .iter()
                .any(|e| matches!(e, SubscriptionEvent::Failed(_))),
            "{after:?}"
        );
        assert_eq!(cached_counter_handle(dir.path()), Some(6));
        let table = device.services().await.unwrap();
        assert_eq!(
            table
                .find_characteristic(None, &counter())
                .map(|c| c.handle),
            Some(6)
        );
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert_eq!(stats.services_changes_indicated, 1, "{stats:?}");
        assert_eq!(stats.discoveries, 2, "{stats:?}");
        assert_eq!(stats.cache_hits, 0, "{stats:?}");
    });
}

#[test]
fn a_services_change_through_the_control_while_connected_is_picked_up_the_same_way() {
    block_on_virtual_time(async {
        let dir = tempfile::tempdir().unwrap();
        let radios = vec![RadioSpec::local_controller("hci0").at(0.0, 0.0)];
        let simulation = Simulation::start(world(radios, vec![counter_device(vec![])]), 22);
        let fleet = fleet_with_cache(&simulation, dir.path(), 22);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let mut subscription = device.subscribe(counter()).await.unwrap();
        let before = events_for(&mut subscription, Duration::from_secs(5)).await;
        assert!(values(&before) >= 2, "{before:?}");
        let told = simulation
            .control()
            .change_services(addr(1), updated_counter())
            .unwrap();
        assert_eq!(told, 1, "one open link hears the indication");
        let after = events_for(&mut subscription, Duration::from_secs(5)).await;
        let back = after
            .iter()
            .position(|e| *e == SubscriptionEvent::Reconnected)
            .unwrap_or_else(|| panic!("not re-enabled: {after:?}"));
        assert!(values(&after[back..]) >= 2, "{after:?}");
        assert_eq!(cached_counter_handle(dir.path()), Some(6));
        assert!(
            device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
    });
}

/// A change while nobody is connected reaches no one: the next connect offers the stale cached
/// table, the device's database no longer matches it, so discovery runs and the cache is
/// replaced (a read by UUID then finds the characteristic at its new handle).
#[test]
fn a_services_change_while_disconnected_replaces_the_cache_on_the_next_connect() {
    block_on_virtual_time(async {
        let (dir, simulation, _fleet, device) = cached_then_idle(23).await;
        let told = simulation
            .control()
            .change_services(addr(1), updated_counter())
            .unwrap();
        assert_eq!(told, 0);
        device.read(counter()).await.unwrap();
        assert_eq!(cached_counter_handle(dir.path()), Some(6));
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert_eq!((stats.discoveries, stats.cache_hits), (2, 0), "{stats:?}");
    });
}

/// A handle from the cached table that the device answers with ATT's Invalid Handle (0x01):
/// the device changed its table and nobody told us. The fleet forgets the cache, reconnects
/// with a fresh discovery (which writes the cache anew) and runs the read once more, so the
/// caller gets the value, not the error.
#[test]
fn an_invalid_handle_on_a_cached_table_replaces_the_cache_and_retries_once() {
    block_on_virtual_time(async {
        let (dir, simulation, _fleet, device) = cached_then_idle(24).await;

        simulation
            .control()
            .fail_next_gatt(addr(1), 1, 0x01)
            .unwrap();
        let value = device.read(counter()).await;
        assert!(
            value.is_ok(),
            "the read is retried after rediscovery: {value:?}"
        );
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert_eq!(
            (stats.discoveries, stats.cache_hits),
            (2, 1),
            "the cached table was used once, then replaced by a discovery: {stats:?}"
        );
        assert_eq!(cached_counter_handle(dir.path()), Some(3), "cached again");

        // A second Invalid Handle right after a fresh discovery is the device's answer, not a
        // stale cache: it reaches the caller.
        simulation
            .control()
            .fail_next_gatt(addr(1), 1, 0x01)
            .unwrap();
        let error = device.read(counter()).await.unwrap_err();
        assert!(error.to_string().contains("Invalid Handle"), "{error}");
    });
}

/// Bug 1 of the lifecycle review: several operations in flight on a stale cached table. Both
/// reads get Invalid Handle; only the first was run again (the second reached its caller), and
/// a naive requeue lost the other to the link the rediscovery closed. Now one stale-cache
/// finding forgets the cache and rediscovers once, and every read that failed on the stale
/// handles runs once more.
#[test]
fn concurrent_reads_on_a_stale_cached_table_all_run_again_after_one_rediscovery() {
    block_on_virtual_time(async {
        let (dir, simulation, _fleet, device) = cached_then_idle(25).await;

        simulation
            .control()
            .fail_next_gatt(addr(1), 2, 0x01)
            .unwrap();
        let (first, second, third) = futures::join!(
            device.read(counter()),
            device.read(counter()),
            device.read(counter())
        );
        assert!(first.is_ok(), "{first:?}");
        assert!(second.is_ok(), "{second:?}");
        assert!(third.is_ok(), "{third:?}");
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert_eq!(
            (stats.discoveries, stats.cache_hits),
            (2, 1),
            "one rediscovery for both findings: {stats:?}"
        );
        assert_eq!(cached_counter_handle(dir.path()), Some(3), "cached again");
    });
}

/// The same finding when a subscription is enabled on a cached handle: the CCCD write gets
/// Invalid Handle. The subscriber is not told `Failed` (the link used to stay up with notify
/// off for good); the device rediscovers once and enables notify on the fresh table.
#[test]
fn an_invalid_handle_enabling_notify_on_a_cached_table_rediscovers_and_subscribes() {
    block_on_virtual_time(async {
        let (_dir, simulation, _fleet, device) = cached_then_idle(26).await;

        simulation
            .control()
            .fail_next_gatt(addr(1), 1, 0x01)
            .unwrap();
        let mut subscription = device.subscribe(counter()).await.unwrap();
        let events = events_for(&mut subscription, Duration::from_secs(10)).await;
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, SubscriptionEvent::Failed(_))),
            "{events:?}"
        );
        let back = events
            .iter()
            .position(|e| *e == SubscriptionEvent::Reconnected)
            .unwrap_or_else(|| panic!("never enabled: {events:?}"));
        assert!(values(&events[back..]) >= 2, "{events:?}");
        let stats = simulation.stats();
        let stats = stats.device(addr(1)).unwrap();
        assert_eq!((stats.discoveries, stats.cache_hits), (2, 1), "{stats:?}");
    });
}

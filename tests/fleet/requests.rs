//! GATT requests: budgets, deadlines, missing characteristics, stale caches, and running inside
//! a plain tokio program.

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::world::SimGatt;
use bluefleet::sim::{RadioSpec, Simulation};
use bluefleet::{Error, ErrorKind, Fleet};

use crate::support::*;

fn one_radio_world(gatt: SimGatt) -> bluefleet::sim::World {
    let mut sensor = env_sensor(1, 2.0, 0.0);
    sensor.gatt = gatt;
    world(
        vec![RadioSpec::local_controller("hci0").at(0.0, 0.0)],
        vec![sensor],
    )
}

#[test]
fn an_on_demand_read_fails_after_its_attempt_budget_with_the_class_and_the_radio_words() {
    block_on_virtual_time(async {
        let (simulation, fleet) = start(one_radio_world(SimGatt::env_sensor()), 4);
        simulation
            .control()
            .fail_next_connects("hci0", 50, ErrorKind::Aborted)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        let err = device.read(temperature()).await.unwrap_err();
        match &err {
            Error::Connection {
                kind,
                attempts,
                failure,
                radio,
                ..
            } => {
                assert_eq!(*kind, ErrorKind::Aborted);
                assert_eq!(*attempts, 4, "the default budget");
                assert_eq!(radio.as_ref().map(|r| r.as_str()), Some("hci0"));
                assert!(
                    failure.text.contains("le-connection-abort-by-local"),
                    "{failure}"
                );
            }
            other => panic!("unexpected {other}"),
        }
        assert_eq!(err.kind(), Some(ErrorKind::Aborted));
        // Nothing wants the device any more: it stops trying and holds nothing.
        run_for(Duration::from_secs(30)).await;
        let attempts = simulation.stats().radio("hci0").unwrap().connect_attempts;
        run_for(Duration::from_secs(60)).await;
        assert_eq!(
            simulation.stats().radio("hci0").unwrap().connect_attempts,
            attempts
        );
        assert_eq!(device.status().state.label(), "idle");
    });
}

#[test]
fn a_request_whose_caller_gave_up_does_not_keep_the_device_connecting() {
    block_on_virtual_time(async {
        let (simulation, fleet) = start(one_radio_world(SimGatt::env_sensor()), 5);
        simulation
            .control()
            .fail_next_connects("hci0", 1000, ErrorKind::Generic)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        let err = device
            .with_timeout(Duration::from_millis(300))
            .read(temperature())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Timeout { .. } | Error::NoRadio { .. }),
            "{err}"
        );
        run_for(Duration::from_secs(120)).await;
        let attempts = simulation.stats().radio("hci0").unwrap().connect_attempts;
        assert!(
            attempts <= 3,
            "kept trying for a request nobody waits for: {attempts} attempts"
        );
        assert_eq!(device.status().state.label(), "idle");
    });
}

#[test]
fn a_missing_characteristic_is_named_and_the_link_stays_usable() {
    block_on_virtual_time(async {
        let (_simulation, fleet) = start(one_radio_world(SimGatt::env_sensor()), 6);
        let device = fleet.device(addr(1)).await.unwrap();
        let missing = bluefleet::model::uuid_from_u16(0x2A37);
        let err = device.read(missing).await.unwrap_err();
        assert!(
            matches!(err, Error::CharacteristicNotFound { characteristic, .. } if characteristic == missing.into()),
            "{err}"
        );
        assert!(err.to_string().contains("00002a37"), "{err}");
        assert_eq!(device.read(temperature()).await.unwrap().len(), 2);
        assert_eq!(device.mtu().await.unwrap(), 247);
    });
}

#[test]
fn a_stale_persisted_cache_is_replaced_by_a_fresh_discovery() {
    let dir = tempfile::tempdir().unwrap();
    block_on_virtual_time(async {
        // First run: the device is an environment sensor; its table is cached on disk.
        let simulation = Simulation::start(one_radio_world(SimGatt::env_sensor()), 1);
        let fleet = fleet_with_cache_dir(&simulation, dir.path());
        connect_device(&fleet, 1).await;
        fleet.shutdown().await.unwrap();
        drop(simulation);
        // Second run: a firmware update turned it into a counter; the cache is stale.
        let simulation = Simulation::start(one_radio_world(SimGatt::counter()), 1);
        let fleet = fleet_with_cache_dir(&simulation, dir.path());
        let device = fleet.device(addr(1)).await.unwrap();
        let counter = uuid::Uuid::from_u128(0x6e40_0002_b5a3_f393_e0a9_e50e_24dc_ca9e);
        assert_eq!(device.read(counter).await.unwrap().len(), 4);
        let stats = simulation.stats().device(addr(1)).unwrap().clone();
        assert_eq!(
            stats.discoveries, 1,
            "the stale cache was rediscovered once"
        );
        let services = device.services().await.unwrap();
        assert!(services.find_characteristic(None, &counter).is_some());
        // And the fresh table replaced the stale one on disk.
        let reopened = bluefleet::cache::ServiceCache::persistent(dir.path()).unwrap();
        assert_eq!(reopened.get(&addr(1)).as_deref(), Some(&*services));
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_fleet_runs_on_its_own_thread_inside_a_plain_tokio_program() {
    // No actix System here: the fleet starts one on its own thread. Real time, bounded.
    let simulation = Simulation::start(one_radio_world(SimGatt::env_sensor()), 2);
    let fleet = Fleet::builder()
        .radios(simulation.radios())
        .build()
        .unwrap();
    let device = fleet
        .device(addr(1))
        .await
        .unwrap()
        .with_timeout(Duration::from_secs(20));
    assert_eq!(device.read(temperature()).await.unwrap().len(), 2);
    let clone = fleet.clone();
    let from_another_task =
        tokio::spawn(async move { clone.diagnostics().await.unwrap().radios.len() });
    assert_eq!(from_another_task.await.unwrap(), 1);
    fleet.shutdown().await.unwrap();
}

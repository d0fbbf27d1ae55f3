//! The simulated radio as a backend: slots, busy radios, failure texts, links, GATT costs.
//! Every test runs on tokio's paused clock, so the virtual times asserted here are exact.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{
    ConnectRequest, Connection, DisconnectCause, FailureSource, FailureStage, LinkEvent, Radio,
    RadioEvent, WriteMode,
};
use bluefleet::classify::classify;
use bluefleet::model::{uuid_from_u16, Address, AddressKind, CharProps, GattTable};
use bluefleet::sim::world::{SimCharacteristic, SimGatt, SimService, Window};
use bluefleet::sim::{DeviceSpec, RadioSpec, Simulation, World};
use bluefleet::ErrorKind;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::{sleep, Instant};

fn addr(n: u8) -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, n])
}

fn request(address: Address, timeout: Duration) -> ConnectRequest {
    ConnectRequest {
        address,
        address_kind: AddressKind::Public,
        cached_services: None,
        timeout,
    }
}

fn env_sensor(n: u8) -> DeviceSpec {
    DeviceSpec {
        gatt: SimGatt::env_sensor(),
        ..DeviceSpec::new(addr(n)).at(1.0, f64::from(n))
    }
}

/// One radio and `devices` environment sensors a few metres away.
fn world(radio: RadioSpec, devices: u8) -> World {
    (1..=devices)
        .fold(World::builder().radio(radio), |b, n| {
            b.device(env_sensor(n))
        })
        .build()
        .unwrap()
}

async fn connect(radio: &Arc<dyn Radio>, n: u8) -> Connection {
    radio
        .connect(request(addr(n), Duration::from_secs(20)))
        .await
        .unwrap()
}

async fn next_disconnect(connection: &mut Connection) -> DisconnectCause {
    while let Some(event) = connection.events.next().await {
        if let LinkEvent::Disconnected { cause, .. } = event {
            return cause;
        }
    }
    panic!("the link stream ended without Disconnected");
}

#[tokio::test(start_paused = true)]
async fn a_proxy_enforces_its_slot_limit_with_error_zero() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("proxy"), 4), 1);
    let radio = &sim.radios()[0];
    let mut held = Vec::new();
    for n in 1..=3 {
        held.push(connect(radio, n).await);
    }
    let failure = radio
        .connect(request(addr(4), Duration::from_secs(20)))
        .await
        .unwrap_err();
    assert_eq!(
        (failure.source, failure.stage, failure.code),
        (FailureSource::Esphome, FailureStage::Connect, Some(0))
    );
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots);
    let stats = sim.stats();
    let proxy = stats.radio("proxy").unwrap();
    assert_eq!(
        (proxy.slots_in_use, proxy.max_slots_in_use, proxy.successes),
        (3, 3, 3)
    );
    assert_eq!(proxy.failures.out_of_slots, 1);
}

#[tokio::test(start_paused = true)]
async fn a_local_controller_refuses_beyond_its_limit_with_the_kernel_text() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0").slots(2), 3), 1);
    let radio = &sim.radios()[0];
    let _a = connect(radio, 1).await;
    let _b = connect(radio, 2).await;
    let failure = radio
        .connect(request(addr(3), Duration::from_secs(20)))
        .await
        .unwrap_err();
    assert_eq!(failure.name.as_deref(), Some("org.bluez.Error.Failed"));
    assert_eq!(failure.text, "le-connection-concurrent-connection-limit");
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots);
}

#[tokio::test(start_paused = true)]
async fn a_second_concurrent_attempt_is_refused_as_busy_and_counted() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 2), 1);
    let radio = sim.radios()[0].clone();
    let first = radio.connect(request(addr(1), Duration::from_secs(20)));
    let second = radio.connect(request(addr(2), Duration::from_secs(20)));
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_ok());
    let busy = second.unwrap_err();
    assert_eq!(busy.name.as_deref(), Some("org.bluez.Error.InProgress"));
    assert_eq!(busy.text, "Operation already in progress");
    let stats = sim.stats();
    let hci0 = stats.radio("hci0").unwrap();
    assert_eq!(
        (
            hci0.concurrent_rejections,
            hci0.max_concurrent_attempts,
            hci0.connect_attempts
        ),
        (1, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn each_injected_class_fails_with_its_real_words_and_classifies_back() {
    for (radio_spec, words) in [
        (
            RadioSpec::local_controller("r"),
            [
                "UnknownObject",
                "Limited Resources",
                "le-connection-abort-by-local",
                "NoReply",
            ],
        ),
        (
            RadioSpec::esphome_proxy("r"),
            [
                "Timeout waiting for connect response",
                "ESP_GATT_CONN_CONN_CANCEL",
                "ESP_GATT_CONN_FAIL_ESTABLISH",
                "ESP_GATT_CONN_LMP_TIMEOUT",
            ],
        ),
    ] {
        let sim = Simulation::start(world(radio_spec, 1), 1);
        let radio = &sim.radios()[0];
        let control = sim.control();
        for (class, word) in [
            ErrorKind::NotFound,
            ErrorKind::OutOfSlots,
            ErrorKind::Aborted,
            ErrorKind::Generic,
        ]
        .into_iter()
        .zip(words)
        {
            control.fail_next_connects("r", 1, class).unwrap();
            let failure = radio
                .connect(request(addr(1), Duration::from_secs(5)))
                .await
                .unwrap_err();
            assert!(failure.to_string().contains(word), "{failure} lacks {word}");
            assert_eq!(classify(&failure).kind, class, "{failure}");
        }
        let link = connect(radio, 1).await;
        assert_eq!(link.link.address(), addr(1));
        let stats = sim.stats();
        let r = stats.radio("r").unwrap();
        assert_eq!(
            (r.failures.total(), r.failures.aborted, r.slots_in_use),
            (4, 1, 1)
        );
        assert_eq!(r.failures_by_text.len(), 4);
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_device_fails_not_found_after_the_timeout() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 1), 1);
    sim.control().set_out_of_range(addr(1), true).unwrap();
    let started = Instant::now();
    let failure = sim.radios()[0]
        .connect(request(addr(1), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(failure.timed_out);
    assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn discovery_costs_round_trips_and_a_matching_cache_costs_none() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 1), 1);
    let radio = &sim.radios()[0];
    let first = connect(radio, 1).await;
    let started = Instant::now();
    let table = first.link.services().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(25 * 30));
    first.link.disconnect().await.unwrap();
    let cached = ConnectRequest {
        cached_services: Some(Arc::new(table.clone())),
        ..request(addr(1), Duration::from_secs(20))
    };
    let second = radio.connect(cached).await.unwrap();
    let started = Instant::now();
    assert_eq!(second.link.services().await.unwrap(), table);
    assert_eq!(started.elapsed(), Duration::ZERO);
    second.link.disconnect().await.unwrap();
    let stale = GattTable {
        services: table.services[..1].to_vec(),
        mtu: table.mtu,
    };
    let third = radio
        .connect(ConnectRequest {
            cached_services: Some(Arc::new(stale)),
            ..request(addr(1), Duration::from_secs(20))
        })
        .await
        .unwrap();
    assert_eq!(third.link.services().await.unwrap(), table);
    let stats = sim.stats();
    let device = stats.device(addr(1)).unwrap();
    assert_eq!(
        (
            device.discoveries,
            device.discovery_round_trips,
            device.cache_hits,
            device.connects
        ),
        (2, 50, 1, 3)
    );
}

#[tokio::test(start_paused = true)]
async fn notifications_arrive_in_order_until_disabled() {
    let device = DeviceSpec {
        gatt: SimGatt::counter(),
        ..DeviceSpec::new(addr(1)).at(1.0, 0.0)
    };
    let world = World::builder()
        .radio(RadioSpec::esphome_proxy("p"))
        .device(device)
        .build()
        .unwrap();
    let sim = Simulation::start(world, 7);
    let mut connection = connect(&sim.radios()[0], 1).await;
    let table = connection.link.services().await.unwrap();
    let counter = table.services[0].characteristics[0].handle;
    connection.link.set_notify(counter, true).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 10 {
        match connection.events.next().await {
            Some(LinkEvent::Notification { handle, value }) if handle == counter => {
                seen.push(u32::from_le_bytes(value[..4].try_into().unwrap()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, (1..=10).collect::<Vec<u32>>());
    connection.link.set_notify(counter, false).await.unwrap();
    let sent = sim.stats().devices[0].notifications_sent;
    sleep(Duration::from_secs(10)).await;
    assert_eq!(sim.stats().devices[0].notifications_sent, sent);
    assert_eq!(connection.link.read(counter).await.unwrap().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn gatt_refusals_carry_att_status() {
    let write_only = SimCharacteristic {
        uuid: uuid_from_u16(0x2A06),
        properties: CharProps::WRITE,
        value: vec![0],
        descriptors: Vec::new(),
        generator: None,
    };
    let gatt = SimGatt {
        services: vec![SimService {
            uuid: uuid_from_u16(0x1802),
            characteristics: vec![write_only],
        }],
    };
    let world = World::builder()
        .radio(RadioSpec::local_controller("hci0"))
        .device(DeviceSpec {
            gatt,
            ..DeviceSpec::new(addr(1))
        })
        .build()
        .unwrap();
    let sim = Simulation::start(world, 1);
    let connection = connect(&sim.radios()[0], 1).await;
    let handle = connection.link.services().await.unwrap().services[0].characteristics[0].handle;
    assert_eq!(
        connection.link.read(handle).await.unwrap_err().att_status,
        Some(0x02)
    );
    assert_eq!(
        connection.link.read(0x99).await.unwrap_err().att_status,
        Some(0x01)
    );
    let refused = connection
        .link
        .write(handle, Bytes::from_static(&[1]), WriteMode::WithoutResponse)
        .await;
    assert!(refused.is_ok(), "a write command has no answer");
    let started = Instant::now();
    connection
        .link
        .write(handle, Bytes::from_static(&[2]), WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(30));
    assert_eq!(
        connection
            .link
            .set_notify(handle, true)
            .await
            .unwrap_err()
            .att_status,
        Some(0x03)
    );
    assert_eq!(sim.stats().devices[0].gatt_round_trips, 4);
}

#[tokio::test(start_paused = true)]
async fn a_radio_going_down_ends_its_links_and_frees_its_slots() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p"), 2), 1);
    let radio = &sim.radios()[0];
    let mut events = radio.events();
    assert_eq!(events.next().await, Some(RadioEvent::Up));
    let mut a = connect(radio, 1).await;
    let mut b = connect(radio, 2).await;
    sim.control().radio_down("p").unwrap();
    assert_eq!(next_disconnect(&mut a).await, DisconnectCause::RadioDown);
    assert_eq!(next_disconnect(&mut b).await, DisconnectCause::RadioDown);
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
    let mut saw_down = false;
    while let Some(event) = events.next().await {
        if matches!(event, RadioEvent::Down { .. }) {
            saw_down = true;
            break;
        }
    }
    assert!(saw_down);
    assert!(radio
        .connect(request(addr(1), Duration::from_secs(20)))
        .await
        .is_err());
    sim.control().radio_up("p").unwrap();
    let mut report = None;
    while let Some(event) = events.next().await {
        if let RadioEvent::SlotsReported(r) = event {
            report = Some(r);
            break;
        }
    }
    assert_eq!(report.map(|r| (r.free, r.limit)), Some((3, 3)));
    assert!(radio
        .connect(request(addr(1), Duration::from_secs(20)))
        .await
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connect_future_does_not_leak_the_slot() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p").slots(1), 1), 1);
    let radio = &sim.radios()[0];
    let attempt = radio.connect(request(addr(1), Duration::from_secs(20)));
    assert!(tokio::time::timeout(Duration::from_millis(50), attempt)
        .await
        .is_err());
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
    let _link = connect(radio, 1).await;
    assert_eq!(sim.stats().radios[0].concurrent_rejections, 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_link_is_ended_after_the_supervision_timeout() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 1), 1);
    let Connection { link, mut events } = connect(&sim.radios()[0], 1).await;
    drop(link);
    assert_eq!(sim.stats().radios[0].slots_in_use, 1);
    let started = Instant::now();
    assert_eq!(
        next_disconnect_stream(&mut events).await,
        DisconnectCause::LinkLost
    );
    assert_eq!(started.elapsed(), Duration::from_millis(420));
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
}

async fn next_disconnect_stream(
    events: &mut futures::stream::BoxStream<'static, LinkEvent>,
) -> DisconnectCause {
    while let Some(event) = events.next().await {
        if let LinkEvent::Disconnected { cause, .. } = event {
            return cause;
        }
    }
    panic!("no Disconnected");
}

#[tokio::test(start_paused = true)]
async fn disconnect_is_requested_and_final() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 1), 1);
    let mut connection = connect(&sim.radios()[0], 1).await;
    connection.link.disconnect().await.unwrap();
    assert_eq!(
        next_disconnect(&mut connection).await,
        DisconnectCause::Requested
    );
    assert!(connection.events.next().await.is_none());
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
    assert!(connection.link.read(3).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn scheduled_drops_and_sleep_end_links_as_lost() {
    let sensor = DeviceSpec {
        link_drops_at: vec![Duration::from_secs(10)],
        out_of_range: vec![Window {
            from: Duration::from_secs(60),
            until: Duration::from_secs(70),
        }],
        ..env_sensor(1)
    };
    let world = World::builder()
        .radio(RadioSpec::local_controller("hci0"))
        .device(sensor)
        .device(env_sensor(2))
        .build()
        .unwrap();
    let sim = Simulation::start(world, 1);
    let t0 = Instant::now();
    let mut dropped = connect(&sim.radios()[0], 1).await;
    let mut sleeper = connect(&sim.radios()[0], 2).await;
    assert_eq!(
        next_disconnect(&mut dropped).await,
        DisconnectCause::LinkLost
    );
    assert_eq!(sim.stats().devices[0].connects, 1);
    sim.control().set_asleep(addr(2), true).unwrap();
    let started = Instant::now();
    assert_eq!(
        next_disconnect(&mut sleeper).await,
        DisconnectCause::LinkLost
    );
    assert!(started.elapsed() <= Duration::from_millis(420));
    let failure = sim.radios()[0]
        .connect(request(addr(2), Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    tokio::time::sleep_until(t0 + Duration::from_secs(55)).await;
    let mut leaving = connect(&sim.radios()[0], 1).await;
    assert_eq!(
        next_disconnect(&mut leaving).await,
        DisconnectCause::LinkLost
    );
    let lost_at = t0.elapsed();
    assert!(
        lost_at >= Duration::from_secs(60) && lost_at < Duration::from_secs(61),
        "{lost_at:?}"
    );
    let failure = sim.radios()[0]
        .connect(request(addr(1), Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn proxies_batch_adverts_and_controllers_do_not() {
    let mut builder = World::builder()
        .radio(RadioSpec::esphome_proxy("p"))
        .radio(RadioSpec::local_controller("hci0"));
    for n in 1..=40 {
        let beacon = DeviceSpec {
            advert_interval: Duration::from_millis(100),
            connectable: false,
            ..DeviceSpec::new(addr(n)).at(2.0, 0.0)
        };
        builder = builder.device(beacon);
    }
    let sim = Simulation::start(builder.build().unwrap(), 3);
    let radios = sim.radios();
    let (mut proxy, mut local) = (radios[0].events(), radios[1].events());
    let (mut batches, mut singles) = (Vec::new(), 0);
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        tokio::select! {
            Some(event) = proxy.next() => if let RadioEvent::Adverts(batch) = event {
                batches.push(batch.len());
            },
            Some(event) = local.next() => if let RadioEvent::Adverts(batch) = event {
                assert_eq!(batch.len(), 1);
                singles += 1;
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    assert!(batches.iter().all(|&n| n <= 16));
    assert!(batches.contains(&16), "{batches:?}");
    assert!(singles > 500, "{singles}");
}

#[tokio::test(start_paused = true)]
async fn a_proxy_reports_its_slots_whenever_they_change() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p"), 1), 1);
    let radio = &sim.radios()[0];
    let mut events = radio.events();
    let mut reports = Vec::new();
    let connection = connect(radio, 1).await;
    connection.link.disconnect().await.unwrap();
    while reports.len() < 3 {
        if let Some(RadioEvent::SlotsReported(report)) = events.next().await {
            reports.push((report.free, report.allocated));
        }
    }
    assert_eq!(reports, vec![(3, vec![]), (2, vec![addr(1)]), (3, vec![])]);
}

#[tokio::test(start_paused = true)]
async fn a_device_walking_away_stops_being_heard() {
    use bluefleet::sim::world::{Route, Waypoint};
    use bluefleet::sim::Position;
    let walk = Route::Path {
        waypoints: vec![
            Waypoint {
                at: Duration::ZERO,
                position: Position::new(1.0, 0.0),
            },
            Waypoint {
                at: Duration::from_secs(600),
                position: Position::new(500.0, 0.0),
            },
        ],
        repeat: false,
    };
    let walker = DeviceSpec {
        route: walk,
        ..DeviceSpec::new(addr(1))
    };
    let world = World::builder()
        .radio(RadioSpec::local_controller("hci0"))
        .device(walker)
        .build()
        .unwrap();
    let sim = Simulation::start(world, 1);
    let mut events = sim.radios()[0].events();
    let mut heard_at = Vec::new();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(700);
    loop {
        tokio::select! {
            Some(event) = events.next() => if let RadioEvent::Adverts(adverts) = event {
                heard_at.extend(adverts.iter().map(|a| (a.seen_at - start, a.rssi_dbm)));
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let last = heard_at.last().map(|(at, _)| *at).unwrap();
    assert!(last < Duration::from_secs(300), "still heard at {last:?}");
    assert!(heard_at.len() > 50, "{}", heard_at.len());
    assert!(heard_at.first().unwrap().1 > heard_at.last().unwrap().1 + 20);
    sim.control()
        .move_device(addr(1), Position::new(2.0, 0.0))
        .unwrap();
    let mut heard_again = false;
    while let Some(event) = events.next().await {
        if matches!(event, RadioEvent::Adverts(_)) {
            heard_again = true;
            break;
        }
    }
    assert!(heard_again);
}

//! Links: discovery and cache costs, GATT refusals, notifications in order, and every way a
//! link ends.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::*;
use bluefleet::classify::classify;
use bluefleet::model::*;
use bluefleet::sim::world::*;
use bluefleet::sim::*;
use bluefleet::ErrorKind;
use bytes::Bytes;
use futures::StreamExt;
use tokio::time::{sleep, Instant};

use super::*;

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

/// A counter notifying every microsecond: a thousand values per millisecond of virtual time,
/// all due at once whenever the link's task wakes.
fn flooding_counter(n: u8) -> DeviceSpec {
    let mut gatt = SimGatt::counter();
    for characteristic in &mut gatt.services[0].characteristics {
        if let Some(generator) = characteristic.generator.as_mut() {
            generator.every = Duration::from_micros(1);
        }
    }
    DeviceSpec {
        gatt,
        ..DeviceSpec::new(addr(n)).at(1.0, 1.0)
    }
}

#[tokio::test(start_paused = true)]
async fn a_notification_flood_is_bounded_counted_and_never_hides_the_disconnect() {
    let world = World::builder()
        .radio(RadioSpec::local_controller("hci0"))
        .device(flooding_counter(1))
        .build()
        .unwrap();
    let sim = Simulation::start(world, 7);
    let Connection { link, mut events } = connect(&sim.radios()[0], 1).await;
    let table = link.services().await.unwrap();
    let counter = table.services[0].characteristics[0].handle;
    link.set_notify(counter, true).await.unwrap();
    // Nobody reads for 20 ms of virtual time (about 20 000 values), then the radio goes down.
    sleep(Duration::from_millis(20)).await;
    sim.control().radio_down("hci0").unwrap();
    let sent = sim.stats().device(addr(1)).unwrap().notifications_sent;
    assert!(sent > 10 * LINK_EVENT_CAPACITY as u64, "a flood: {sent}");
    let mut received = Vec::new();
    let mut dropped = 0;
    let mut ended = None;
    while let Some(event) = events.next().await {
        match event {
            LinkEvent::NotificationsDropped { handle, count } => {
                assert_eq!(handle, counter);
                assert!(
                    received.is_empty(),
                    "announced before the values it preceded"
                );
                dropped += count;
            }
            LinkEvent::Notification { value, .. } => {
                received.push(u32::from_le_bytes(value[..4].try_into().unwrap()));
            }
            LinkEvent::Disconnected { cause, .. } => ended = Some(cause),
            LinkEvent::ServicesChanged => panic!("no Service Changed here"),
        }
    }
    // Memory stayed bounded: at most the channel's capacity waited, the newest values.
    assert_eq!(received.len(), LINK_EVENT_CAPACITY);
    assert!(received.windows(2).all(|w| w[1] == w[0] + 1), "in order");
    assert_eq!(
        u64::from(*received.last().unwrap()),
        sent,
        "the newest kept"
    );
    // The count says exactly how many went, and the link's end still arrived, last.
    assert_eq!(dropped + received.len() as u64, sent);
    assert_eq!(ended, Some(DisconnectCause::RadioDown));
}

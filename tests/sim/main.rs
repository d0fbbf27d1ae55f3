//! The simulated radio, end to end, in one test binary: the connect path (slots, busy radios,
//! failure texts), links (GATT costs, notifications, endings), adverts, and whole worlds (the
//! ready world files, determinism, an hour of virtual time). Every test runs on tokio's paused
//! clock, so the virtual times asserted are exact.

#![allow(clippy::unwrap_used)] // helpers outside #[test] functions

mod adverts;
mod connect;
mod links;
mod world;

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{ConnectRequest, Connection, DisconnectCause, LinkEvent, Radio};
use bluefleet::model::{Address, AddressKind};
use bluefleet::sim::world::SimGatt;
use bluefleet::sim::{DeviceSpec, RadioSpec, World};
use futures::StreamExt;

pub(crate) fn addr(n: u8) -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, n])
}

pub(crate) fn request(address: Address, timeout: Duration) -> ConnectRequest {
    ConnectRequest {
        address,
        address_kind: AddressKind::Public,
        cached_services: None,
        timeout,
    }
}

pub(crate) fn env_sensor(n: u8) -> DeviceSpec {
    DeviceSpec {
        gatt: SimGatt::env_sensor(),
        ..DeviceSpec::new(addr(n)).at(1.0, f64::from(n))
    }
}

/// One radio and `devices` environment sensors a few metres away.
pub(crate) fn world(radio: RadioSpec, devices: u8) -> World {
    (1..=devices)
        .fold(World::builder().radio(radio), |b, n| {
            b.device(env_sensor(n))
        })
        .build()
        .unwrap()
}

pub(crate) async fn connect(radio: &Arc<dyn Radio>, n: u8) -> Connection {
    radio
        .connect(request(addr(n), Duration::from_secs(20)))
        .await
        .unwrap()
}

pub(crate) async fn next_disconnect(connection: &mut Connection) -> DisconnectCause {
    while let Some(event) = connection.events.next().await {
        if let LinkEvent::Disconnected { cause, .. } = event {
            return cause;
        }
    }
    panic!("the link stream ended without Disconnected");
}

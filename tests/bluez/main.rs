//! The BlueZ backend against a BlueZ D-Bus double (python-dbusmock) on a private bus per test,
//! through the backend's `Radio` and `Link` traits.
#![cfg(feature = "bluez")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bed;
mod connection;
mod daemon;
mod discovery;
mod failures;
mod fleet;
mod hotplug;
mod scan_modes;
mod services_changed;
mod watchdog;

use std::time::Duration;

use bluefleet::backend::bluez::{BluezConfig, BluezRadio};
use bluefleet::backend::ConnectRequest;
use bluefleet::model::{Address, AddressKind};

use bed::MockBluez;

/// Every adapter of the bed's BlueZ, as the backend lists them.
async fn radios(bed: &MockBluez, config: &BluezConfig) -> Vec<BluezRadio> {
    BluezRadio::discover_all(bed.connection().await, config)
        .await
        .unwrap()
}

/// The one radio named `name`.
async fn radio(bed: &MockBluez, name: &str) -> BluezRadio {
    BluezRadio::open(bed.connection().await, name, &BluezConfig::default())
        .await
        .unwrap()
}

fn request(address: &str, timeout: Duration) -> ConnectRequest {
    ConnectRequest {
        address: Address::parse(address).unwrap(),
        address_kind: AddressKind::Random,
        cached_services: None,
        timeout,
    }
}

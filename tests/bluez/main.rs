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
use bluefleet::backend::{ConnectRequest, Connection, Radio};
use bluefleet::model::{Address, AddressKind};

use bed::{thermometer, BluezMockProxy, MockBluez, Thermometer};

/// The thermometer of the single-device tests.
const THERMO: &str = "D4:00:00:00:00:01";

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

/// A bed with adapter hci0 and the thermometer [`THERMO`] on it, and the backend's radio.
async fn thermometer_bed() -> (MockBluez, BluezMockProxy<'static>, Thermometer, BluezRadio) {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let thermo = thermometer(&mock, "hci0", THERMO).await;
    let radio = radio(&bed, "hci0").await;
    (bed, mock, thermo, radio)
}

/// The same bed, connected to the thermometer through the backend.
async fn connected() -> (MockBluez, BluezMockProxy<'static>, Thermometer, Connection) {
    let (bed, mock, thermo, radio) = thermometer_bed().await;
    let connection = radio
        .connect(request(THERMO, Duration::from_secs(5)))
        .await
        .unwrap();
    (bed, mock, thermo, connection)
}

//! Typed zbus proxies for the BlueZ interfaces bluefleet calls.
//!
//! Only the methods and properties the backend uses are declared. Object enumeration goes
//! through `zbus::fdo::ObjectManagerProxy` at `/` of `org.bluez`, so it is not repeated here.

use std::collections::HashMap;

use zbus::proxy;
use zbus::{ObjectPath, Variant as Value};

/// `org.bluez.Adapter1`: one local controller.
#[proxy(interface = "org.bluez.Adapter1", default_service = "org.bluez")]
pub trait Adapter1 {
    /// Starts LE scanning with the filter set before.
    fn start_discovery(&self) -> zbus::Result<()>;
    /// Stops scanning.
    fn stop_discovery(&self) -> zbus::Result<()>;
    /// Sets `Transport`, `DuplicateData` and similar scan options.
    fn set_discovery_filter(&self, filter: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// Forgets a device object.
    fn remove_device(&self, device: &ObjectPath<'_>) -> zbus::Result<()>;
    /// The controller's own address.
    #[zbus(property)]
    fn address(&self) -> zbus::Result<String>;
    /// Whether the controller is powered.
    #[zbus(property)]
    fn powered(&self) -> zbus::Result<bool>;
}

/// `org.bluez.Device1`: one remote device as seen by one adapter.
#[proxy(interface = "org.bluez.Device1", default_service = "org.bluez")]
pub trait Device1 {
    /// Opens an LE connection and resolves services.
    fn connect(&self) -> zbus::Result<()>;
    /// Closes the connection.
    fn disconnect(&self) -> zbus::Result<()>;
    /// Whether a connection is up.
    #[zbus(property)]
    fn connected(&self) -> zbus::Result<bool>;
    /// Whether the GATT tree has been published.
    #[zbus(property)]
    fn services_resolved(&self) -> zbus::Result<bool>;
    /// The remote address.
    #[zbus(property)]
    fn address(&self) -> zbus::Result<String>;
}

/// `org.bluez.GattCharacteristic1`: one characteristic of a connected device.
#[proxy(
    interface = "org.bluez.GattCharacteristic1",
    default_service = "org.bluez"
)]
pub trait GattCharacteristic1 {
    /// Reads the value; options may carry `offset`.
    fn read_value(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<Vec<u8>>;
    /// Writes the value; option `type` is `request` or `command`.
    fn write_value(&self, value: &[u8], options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// Enables notifications; values then arrive as `Value` property changes.
    fn start_notify(&self) -> zbus::Result<()>;
    /// Disables notifications.
    fn stop_notify(&self) -> zbus::Result<()>;
    /// The characteristic's UUID.
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> zbus::Result<String>;
    /// Property names such as `read`, `write`, `notify`.
    #[zbus(property)]
    fn flags(&self) -> zbus::Result<Vec<String>>;
}

/// `org.bluez.GattDescriptor1`: one descriptor of a characteristic.
#[proxy(interface = "org.bluez.GattDescriptor1", default_service = "org.bluez")]
pub trait GattDescriptor1 {
    /// Reads the descriptor value.
    fn read_value(&self, options: HashMap<&str, Value<'_>>) -> zbus::Result<Vec<u8>>;
    /// Writes the descriptor value.
    fn write_value(&self, value: &[u8], options: HashMap<&str, Value<'_>>) -> zbus::Result<()>;
    /// The descriptor's UUID.
    #[zbus(property, name = "UUID")]
    fn uuid(&self) -> zbus::Result<String>;
}

//! Typed zbus clients for the BlueZ interfaces bluefleet calls.
//!
//! One `#[zbus::proxy]` trait per BlueZ interface (the ObjectManager comes from
//! `zbus::fdo`). Only the methods the backend uses are declared; properties are read from
//! `GetManagedObjects` snapshots and `PropertiesChanged` signals (`props.rs`, `signals.rs`)
//! rather than through proxy caches, so no proxy here declares any. Every proxy is built with
//! [`build`], which turns the property cache off: a cache would subscribe to signals per object
//! and is of no use to calls.

use std::collections::HashMap;

use zbus::{Connection, Variant};

/// BlueZ's well-known bus name.
pub(crate) const BLUEZ: &str = "org.bluez";
/// Interface names, as BlueZ spells them.
pub(crate) const ADAPTER: &str = "org.bluez.Adapter1";
pub(crate) const DEVICE: &str = "org.bluez.Device1";
pub(crate) const SERVICE: &str = "org.bluez.GattService1";
pub(crate) const CHARACTERISTIC: &str = "org.bluez.GattCharacteristic1";
pub(crate) const DESCRIPTOR: &str = "org.bluez.GattDescriptor1";

/// `org.bluez.Adapter1`: discovery on one controller.
#[zbus::proxy(interface = "org.bluez.Adapter1", default_service = "org.bluez")]
pub(crate) trait Adapter1 {
    /// Sets the filter for this client's discovery session (`Transport`, `DuplicateData`...).
    fn set_discovery_filter(&self, filter: HashMap<&str, Variant<'_>>) -> zbus::Result<()>;
    /// Starts this client's discovery session.
    fn start_discovery(&self) -> zbus::Result<()>;
    /// Stops this client's discovery session.
    fn stop_discovery(&self) -> zbus::Result<()>;
    /// Whether the controller is on.
    #[zbus(property)]
    fn powered(&self) -> zbus::Result<bool>;
    /// Turns the controller on or off.
    #[zbus(property)]
    fn set_powered(&self, powered: bool) -> zbus::Result<()>;
}

/// `org.bluez.AdvertisementMonitorManager1`: passive scanning through monitors (BlueZ 5.56+,
/// experimental in many builds).
#[zbus::proxy(
    interface = "org.bluez.AdvertisementMonitorManager1",
    default_service = "org.bluez"
)]
pub(crate) trait AdvertisementMonitorManager1 {
    /// Registers the monitors under an application root (an ObjectManager).
    fn register_monitor(&self, application: &zbus::ObjectPath<'_>) -> zbus::Result<()>;
    /// Unregisters them.
    fn unregister_monitor(&self, application: &zbus::ObjectPath<'_>) -> zbus::Result<()>;
    /// Monitor types this BlueZ supports (`or_patterns`).
    #[zbus(property)]
    fn supported_monitor_types(&self) -> zbus::Result<Vec<String>>;
}

/// `org.bluez.Device1`: connecting and disconnecting one peer.
#[zbus::proxy(interface = "org.bluez.Device1", default_service = "org.bluez")]
pub(crate) trait Device1 {
    /// Connects (LE: creates the connection and resolves services).
    fn connect(&self) -> zbus::Result<()>;
    /// Disconnects, or cancels a `Connect` still in progress.
    fn disconnect(&self) -> zbus::Result<()>;
}

/// `org.bluez.GattCharacteristic1`: value access and notifications.
#[zbus::proxy(
    interface = "org.bluez.GattCharacteristic1",
    default_service = "org.bluez"
)]
pub(crate) trait GattCharacteristic1 {
    /// Reads the value.
    fn read_value(&self, options: HashMap<&str, Variant<'_>>) -> zbus::Result<Vec<u8>>;
    /// Writes the value; option `type` is `request` (with response) or `command`.
    fn write_value(&self, value: &[u8], options: HashMap<&str, Variant<'_>>) -> zbus::Result<()>;
    /// Enables notifications (or indications); values then arrive as `Value` changes.
    fn start_notify(&self) -> zbus::Result<()>;
    /// Disables notifications.
    fn stop_notify(&self) -> zbus::Result<()>;
}

/// `org.bluez.GattDescriptor1`: descriptor access.
#[zbus::proxy(interface = "org.bluez.GattDescriptor1", default_service = "org.bluez")]
pub(crate) trait GattDescriptor1 {
    /// Reads the value.
    fn read_value(&self, options: HashMap<&str, Variant<'_>>) -> zbus::Result<Vec<u8>>;
    /// Writes the value.
    fn write_value(&self, value: &[u8], options: HashMap<&str, Variant<'_>>) -> zbus::Result<()>;
}

/// Builds proxy `P` for the object at `path`, without a property cache.
pub(crate) async fn build<'p, P>(conn: &Connection, path: &'p str) -> zbus::Result<P>
where
    P: From<zbus::Proxy<'p>> + zbus::proxy::Defaults + 'p,
{
    zbus::proxy::Builder::<P>::new(conn)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

/// The ObjectManager at `/` of `org.bluez`.
pub(crate) async fn object_manager(
    conn: &Connection,
) -> zbus::Result<zbus::fdo::ObjectManagerProxy<'static>> {
    zbus::fdo::ObjectManagerProxy::builder(conn)
        .destination(BLUEZ)
        .path("/")
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

/// `org.freedesktop.DBus.Properties` of one object, for single reads of remote state.
pub(crate) async fn properties<'p>(
    conn: &Connection,
    path: &'p str,
) -> zbus::Result<zbus::fdo::PropertiesProxy<'p>> {
    zbus::fdo::PropertiesProxy::builder(conn)
        .destination(BLUEZ)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

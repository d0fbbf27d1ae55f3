//! [`BluezLink`]: one open connection as a [`Link`], and the task that watches it.
//!
//! Operations name handles; the link maps them to the GATT object paths found at connect
//! (`gatt.rs`) and calls `ReadValue`/`WriteValue`/`StartNotify`/`StopNotify` there.
//! Notifications are `PropertiesChanged` of a characteristic's `Value`; the watch task forwards
//! those of characteristics with notifications enabled, in order, and ends the stream with
//! exactly one `Disconnected`: `Requested` after our `Disconnect`, `LinkLost` when BlueZ turns
//! `Connected` false on its own or removes the device, `RadioDown` when the adapter is powered
//! off or removed.
//!
//! Service Changed: BlueZ handles the indication itself (it rediscovers the changed range) and
//! shows the result as the device's GATT objects removed and added (`InterfacesRemoved` /
//! `InterfacesAdded` below the device's path). One change is a burst of such signals, and a
//! disconnect removes GATT objects too; so the task reports one `ServicesChanged` once the burst
//! has been quiet for [`GATT_SETTLE`] and only if the device is still connected then. The
//! handle index of this link is not rebuilt: the device core reconnects, and the next link
//! indexes the new objects.
//!
//! Dropping the link without `disconnect` still disconnects (from a spawned task), so a
//! restarted device actor never leaves BlueZ holding a connection nobody uses.

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::time::{sleep_until, Duration, Instant};
use zbus::{Connection, Variant};

use super::adapter::Adapter;
use super::connect::disconnect;
use super::failure::from_zbus;
use super::gatt::GattIndex;
use super::props;
use super::proxies::{
    self, GattCharacteristic1Proxy, GattDescriptor1Proxy, ADAPTER, CHARACTERISTIC, DESCRIPTOR,
    DEVICE, SERVICE,
};
use super::signals::{is_under, BluezSignal};
use crate::backend::{
    Connection as LinkConnection, DisconnectCause, Failure, FailureSource, FailureStage, Link,
    LinkEvent, WriteMode,
};
use crate::model::{Address, GattTable};

/// How long a burst of GATT object changes must be quiet before it is reported as one
/// `ServicesChanged` (BlueZ sends a change's removals and additions back to back).
const GATT_SETTLE: Duration = Duration::from_millis(250);

/// What the link handle and its watch task share.
#[derive(Debug)]
struct Shared {
    conn: Connection,
    address: Address,
    device_path: String,
    adapter_path: String,
    gatt: GattIndex,
    /// Value handles with notifications on: only their `Value` changes are notifications.
    notifying: Mutex<HashSet<u16>>,
    /// Set when we asked for the disconnect, so it is reported as `Requested`.
    requested: AtomicBool,
    /// Set once the stream reported `Disconnected`.
    ended: AtomicBool,
}

/// A connection through BlueZ.
pub struct BluezLink {
    shared: Arc<Shared>,
}

/// Builds the link and starts its watch task.
pub(crate) fn open(
    adapter: &Adapter,
    address: Address,
    device_path: String,
    gatt: GattIndex,
    signals: BoxStream<'static, BluezSignal>,
) -> LinkConnection {
    let shared = Arc::new(Shared {
        conn: adapter.conn.clone(),
        address,
        device_path,
        adapter_path: adapter.path.clone(),
        gatt,
        notifying: Mutex::new(HashSet::new()),
        requested: AtomicBool::new(false),
        ended: AtomicBool::new(false),
    });
    let (tx, rx) = crate::backend::link_events();
    // `connect` runs inside the runtime, so spawning here cannot fail.
    tokio::spawn(watch(Arc::clone(&shared), signals, tx));
    LinkConnection {
        link: Box::new(BluezLink { shared }),
        events: rx,
    }
}

impl Shared {
    fn notifying(&self) -> std::sync::MutexGuard<'_, HashSet<u16>> {
        self.notifying
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn gatt_failure(&self, text: String) -> Failure {
        Failure::new(FailureSource::Bluez, FailureStage::Gatt, text)
    }

    fn characteristic(&self, handle: u16) -> Result<&str, Failure> {
        self.gatt.characteristic_path(handle).ok_or_else(|| {
            self.gatt_failure(format!(
                "{} has no characteristic with handle 0x{handle:04x}",
                self.address
            ))
        })
    }

    fn descriptor(&self, handle: u16) -> Result<&str, Failure> {
        self.gatt.descriptor_path(handle).ok_or_else(|| {
            self.gatt_failure(format!(
                "{} has no descriptor with handle 0x{handle:04x}",
                self.address
            ))
        })
    }
}

fn gatt_error(error: zbus::Error) -> Failure {
    from_zbus(FailureStage::Gatt, &error)
}

#[async_trait]
impl Link for BluezLink {
    fn address(&self) -> Address {
        self.shared.address
    }

    fn mtu(&self) -> u16 {
        self.shared.gatt.table.mtu
    }

    async fn services(&self) -> Result<GattTable, Failure> {
        Ok(self.shared.gatt.table.clone())
    }

    async fn read(&self, handle: u16) -> Result<Bytes, Failure> {
        let path = self.shared.characteristic(handle)?;
        let proxy = proxies::build::<GattCharacteristic1Proxy<'_>>(&self.shared.conn, path)
            .await
            .map_err(gatt_error)?;
        let value = proxy.read_value(HashMap::new()).await.map_err(gatt_error)?;
        Ok(Bytes::from(value))
    }

    async fn write(&self, handle: u16, value: Bytes, mode: WriteMode) -> Result<(), Failure> {
        let path = self.shared.characteristic(handle)?;
        let proxy = proxies::build::<GattCharacteristic1Proxy<'_>>(&self.shared.conn, path)
            .await
            .map_err(gatt_error)?;
        let kind = match mode {
            WriteMode::WithResponse => "request",
            WriteMode::WithoutResponse => "command",
        };
        let options = HashMap::from([("type", Variant::from(kind))]);
        proxy.write_value(&value, options).await.map_err(gatt_error)
    }

    async fn read_descriptor(&self, handle: u16) -> Result<Bytes, Failure> {
        let path = self.shared.descriptor(handle)?;
        let proxy = proxies::build::<GattDescriptor1Proxy<'_>>(&self.shared.conn, path)
            .await
            .map_err(gatt_error)?;
        let value = proxy.read_value(HashMap::new()).await.map_err(gatt_error)?;
        Ok(Bytes::from(value))
    }

    async fn write_descriptor(&self, handle: u16, value: Bytes) -> Result<(), Failure> {
        let path = self.shared.descriptor(handle)?;
        let proxy = proxies::build::<GattDescriptor1Proxy<'_>>(&self.shared.conn, path)
            .await
            .map_err(gatt_error)?;
        proxy
            .write_value(&value, HashMap::new())
            .await
            .map_err(gatt_error)
    }

    async fn set_notify(&self, handle: u16, enable: bool) -> Result<(), Failure> {
        let path = self.shared.characteristic(handle)?;
        let proxy = proxies::build::<GattCharacteristic1Proxy<'_>>(&self.shared.conn, path)
            .await
            .map_err(gatt_error)?;
        if enable {
            // Listen first: the first value can arrive before StartNotify's reply.
            self.shared.notifying().insert(handle);
            let result = proxy.start_notify().await.map_err(gatt_error);
            if result.is_err() {
                self.shared.notifying().remove(&handle);
            }
            result
        } else {
            self.shared.notifying().remove(&handle);
            proxy.stop_notify().await.map_err(gatt_error)
        }
    }

    async fn disconnect(&self) -> Result<(), Failure> {
        self.shared.requested.store(true, Ordering::SeqCst);
        match disconnect(&self.shared.conn, &self.shared.device_path).await {
            Ok(()) => Ok(()),
            // Already gone: the stream reports (or reported) how.
            Err(zbus::Error::MethodError(name, ..))
                if name.as_str() == "org.bluez.Error.NotConnected" =>
            {
                Ok(())
            }
            Err(error) => Err(from_zbus(FailureStage::Link, &error)),
        }
    }
}

impl Drop for BluezLink {
    fn drop(&mut self) {
        let shared = &self.shared;
        if shared.ended.load(Ordering::SeqCst) || shared.requested.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(address = %shared.address, "link dropped outside a runtime: cannot disconnect");
            return;
        };
        let shared = Arc::clone(shared);
        runtime.spawn(async move {
            if let Err(error) = disconnect(&shared.conn, &shared.device_path).await {
                tracing::debug!(address = %shared.address, %error, "Disconnect of a dropped link");
            }
        });
    }
}

impl fmt::Debug for BluezLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluezLink")
            .field("address", &self.shared.address)
            .field("path", &self.shared.device_path)
            .finish()
    }
}

/// Forwards notifications until the link ends, then reports how it ended.
async fn watch(
    shared: Arc<Shared>,
    mut signals: BoxStream<'static, BluezSignal>,
    tx: crate::backend::LinkEventSender,
) {
    // When the current burst of GATT object changes is over, if one is going on.
    let mut settle: Option<Instant> = None;
    let (cause, detail) = loop {
        let deadline = settle.unwrap_or_else(Instant::now);
        let signal = tokio::select! {
            biased;
            () = tx.closed() => return,
            () = sleep_until(deadline), if settle.is_some() => {
                settle = None;
                if device_connected(&shared).await && !tx.send(LinkEvent::ServicesChanged) {
                    return;
                }
                continue;
            }
            signal = signals.next() => signal,
        };
        let Some(signal) = signal else {
            break (
                DisconnectCause::RadioDown,
                "the D-Bus connection to BlueZ closed".to_string(),
            );
        };
        match judge(&shared, signal).await {
            Verdict::Nothing => {}
            Verdict::GattChanged => settle = Some(Instant::now() + GATT_SETTLE),
            Verdict::Notify(event) => {
                if !tx.send(event) {
                    return;
                }
            }
            Verdict::Ended(cause, detail) => break (cause, detail),
        }
    };
    shared.ended.store(true, Ordering::SeqCst);
    let _ = tx.send(LinkEvent::Disconnected { cause, detail });
}

/// What one signal means for the link.
enum Verdict {
    Nothing,
    Notify(LinkEvent),
    /// A GATT object of the device appeared or went.
    GattChanged,
    Ended(DisconnectCause, String),
}

async fn judge(shared: &Shared, signal: BluezSignal) -> Verdict {
    match signal {
        BluezSignal::Changed {
            path,
            interface,
            changed,
            ..
        } => {
            if path == shared.device_path && interface == DEVICE {
                let connected = changed
                    .get("Connected")
                    .and_then(|v| bool::try_from(v).ok());
                if connected == Some(false) {
                    return Verdict::Ended(
                        lost_or_requested(shared),
                        "Device1.Connected became false".into(),
                    );
                }
            } else if path == shared.adapter_path && interface == ADAPTER {
                let powered = changed.get("Powered").and_then(|v| bool::try_from(v).ok());
                if powered == Some(false) {
                    return Verdict::Ended(
                        DisconnectCause::RadioDown,
                        "adapter powered off".into(),
                    );
                }
            } else if interface == CHARACTERISTIC {
                return notification(shared, &path, &changed);
            }
            Verdict::Nothing
        }
        BluezSignal::Removed { path, interfaces } => {
            if is_gatt_object(shared, &path, interfaces.iter()) {
                Verdict::GattChanged
            } else if path == shared.adapter_path && interfaces.iter().any(|i| i == ADAPTER) {
                Verdict::Ended(DisconnectCause::RadioDown, "adapter removed".into())
            } else if path == shared.device_path && interfaces.iter().any(|i| i == DEVICE) {
                // BlueZ removes an adapter's devices just before the adapter itself.
                if adapter_exists(shared).await {
                    Verdict::Ended(lost_or_requested(shared), "device removed by BlueZ".into())
                } else {
                    Verdict::Ended(DisconnectCause::RadioDown, "adapter removed".into())
                }
            } else {
                Verdict::Nothing
            }
        }
        BluezSignal::Added { path, interfaces } => {
            if is_gatt_object(shared, &path, interfaces.keys()) {
                Verdict::GattChanged
            } else {
                Verdict::Nothing
            }
        }
    }
}

/// Whether `path` is a GATT service, characteristic or descriptor of this link's device.
fn is_gatt_object<'a>(
    shared: &Shared,
    path: &str,
    mut interfaces: impl Iterator<Item = &'a String>,
) -> bool {
    path != shared.device_path
        && is_under(path, &shared.device_path)
        && interfaces.any(|i| [SERVICE, CHARACTERISTIC, DESCRIPTOR].contains(&i.as_str()))
}

/// Whether BlueZ still shows the device connected (a disconnect removes GATT objects too).
async fn device_connected(shared: &Shared) -> bool {
    let result = async {
        let props = proxies::properties(&shared.conn, &shared.device_path).await?;
        props.get(DEVICE.try_into()?, "Connected").await
    }
    .await;
    result.is_ok_and(|value| bool::try_from(&value).unwrap_or(false))
}

fn lost_or_requested(shared: &Shared) -> DisconnectCause {
    if shared.requested.load(Ordering::SeqCst) {
        DisconnectCause::Requested
    } else {
        DisconnectCause::LinkLost
    }
}

fn notification(shared: &Shared, path: &str, changed: &props::PropMap) -> Verdict {
    let Some(handle) = shared.gatt.handle_of(path) else {
        return Verdict::Nothing;
    };
    let Some(value) = changed.get("Value") else {
        return Verdict::Nothing;
    };
    if !shared.notifying().contains(&handle) {
        return Verdict::Nothing;
    }
    match props::bytes(value) {
        Ok(value) => Verdict::Notify(LinkEvent::Notification {
            handle,
            value: Bytes::from(value),
        }),
        Err(error) => {
            tracing::debug!(path, %error, "skipping a notification value that is not bytes");
            Verdict::Nothing
        }
    }
}

async fn adapter_exists(shared: &Shared) -> bool {
    let result = async {
        let props = proxies::properties(&shared.conn, &shared.adapter_path).await?;
        props.get(ADAPTER.try_into()?, "Address").await
    }
    .await;
    result.is_ok()
}

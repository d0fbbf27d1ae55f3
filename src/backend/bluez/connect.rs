//! Opening a connection: `Device1.Connect` within the request's deadline, then waiting for
//! BlueZ to resolve the device's services, then reading the GATT tree.
//!
//! The steps, all inside `ConnectRequest::timeout`:
//! 1. read the device's properties (a device BlueZ does not know fails here with
//!    `UnknownObject`, which classifies as not-found); if BlueZ still shows it connected (left by
//!    an earlier run or a crashed attempt, like bleak-retry-connector's
//!    `close_stale_connections`), disconnect it first;
//! 2. subscribe to the device's signals, *then* call `Connect`, so no change is missed;
//! 3. wait for `ServicesResolved = true` (`Connected = false` meanwhile is a failure);
//! 4. build the GATT index from a snapshot and hand the signals to the link.
//!
//! A connection BlueZ may hold for us is always given back: on a timeout or a failure after
//! `Connect` was sent the attempt disconnects (cancelling a pending `Connect`) before it
//! returns, and if the caller drops the future, a guard sends `Disconnect` from a spawned task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream};
use futures::StreamExt;
use tokio::time::Instant;
use zbus::Connection;

use super::adapter::Adapter;
use super::failure::{from_zbus, timed_out};
use super::gatt::GattIndex;
use super::link;
use super::objects;
use super::props::PropMap;
use super::proxies::{self, Device1Proxy, DEVICE};
use super::signals::{self, BluezSignal, Filter};
use crate::backend::{
    ConnectRequest, Connection as LinkConnection, Failure, FailureSource, FailureStage,
};

/// How long giving a connection back may take after a failed attempt.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection to `request.address` through `adapter`.
pub(crate) async fn connect(
    adapter: &Arc<Adapter>,
    request: ConnectRequest,
) -> Result<LinkConnection, Failure> {
    let started = Instant::now();
    let device_path = format!("{}/{}", adapter.path, request.address.to_dbus_suffix());
    let guard = CancelGuard {
        conn: adapter.conn.clone(),
        path: device_path.clone(),
        armed: AtomicBool::new(false),
    };
    let outcome =
        tokio::time::timeout(request.timeout, establish(adapter, &device_path, &guard)).await;
    match outcome {
        Ok(Ok((gatt, signals))) => {
            guard.armed.store(false, Ordering::SeqCst);
            Ok(link::open(
                adapter,
                request.address,
                device_path,
                gatt,
                signals,
            ))
        }
        Ok(Err(failure)) => {
            guard.give_back().await;
            Err(failure.with_elapsed(started.elapsed()))
        }
        Err(_) => {
            guard.give_back().await;
            Err(timed_out(FailureStage::Connect, request.timeout, "Connect"))
        }
    }
}

/// Steps 1–4; arms `guard` once BlueZ may be holding a connection for us.
async fn establish(
    adapter: &Adapter,
    path: &str,
    guard: &CancelGuard,
) -> Result<(GattIndex, BoxStream<'static, BluezSignal>), Failure> {
    let fail = |error: zbus::Error| from_zbus(FailureStage::Connect, &error);
    let conn = &adapter.conn;
    if device_props(conn, path).await.map_err(fail)?.connected {
        tracing::info!(radio = %adapter.id, path, "closing a stale connection before connecting");
        if let Err(error) = disconnect(conn, path).await {
            tracing::debug!(path, %error, "stale connection was already closing");
        }
    }
    let signals = link_signals(conn, path, &adapter.path)
        .await
        .map_err(fail)?;
    let device = proxies::build::<Device1Proxy<'_>>(conn, path)
        .await
        .map_err(fail)?;
    guard.armed.store(true, Ordering::SeqCst);
    if let Err(error) = device.connect().await {
        // BlueZ made no connection: nothing to give back (and a Disconnect now could cancel
        // another program's attempt that caused `InProgress`).
        guard.armed.store(false, Ordering::SeqCst);
        return Err(fail(error));
    }
    let signals = wait_services_resolved(conn, path, signals).await?;
    let objects = objects::snapshot(conn).await.map_err(fail)?;
    Ok((GattIndex::build(&objects, path), signals))
}

/// The signals a link needs: its device's (and its GATT objects') property changes, object
/// removals, and its adapter's property changes.
async fn link_signals(
    conn: &Connection,
    device: &str,
    adapter: &str,
) -> zbus::Result<BoxStream<'static, BluezSignal>> {
    let streams = vec![
        signals::subscribe(conn, Filter::PropertiesUnder(device)).await?,
        signals::subscribe(conn, Filter::ObjectManager).await?,
        signals::subscribe(conn, Filter::PropertiesOf(adapter)).await?,
    ];
    Ok(stream::select_all(streams).boxed())
}

/// Returns once BlueZ says the device's services are resolved.
async fn wait_services_resolved(
    conn: &Connection,
    path: &str,
    mut signals: BoxStream<'static, BluezSignal>,
) -> Result<BoxStream<'static, BluezSignal>, Failure> {
    let state = device_props(conn, path)
        .await
        .map_err(|error| from_zbus(FailureStage::Connect, &error))?;
    if state.services_resolved {
        return Ok(signals);
    }
    while let Some(signal) = signals.next().await {
        let BluezSignal::Changed {
            path: changed_path,
            interface,
            changed,
            ..
        } = signal
        else {
            continue;
        };
        if changed_path != path || interface != DEVICE {
            continue;
        }
        if flag(&changed, "ServicesResolved") == Some(true) {
            return Ok(signals);
        }
        if flag(&changed, "Connected") == Some(false) {
            return Err(Failure::new(
                FailureSource::Bluez,
                FailureStage::Connect,
                "the device disconnected before its services were resolved",
            ));
        }
    }
    Err(Failure::new(
        FailureSource::Bluez,
        FailureStage::Connect,
        "the D-Bus connection closed while waiting for services to resolve",
    ))
}

/// The two Device1 flags a connect attempt reads.
struct DeviceState {
    connected: bool,
    services_resolved: bool,
}

async fn device_props(conn: &Connection, path: &str) -> zbus::Result<DeviceState> {
    let props = proxies::properties(conn, path).await?;
    let all = props.get_all(DEVICE.try_into()?).await?;
    Ok(DeviceState {
        connected: flag(&all, "Connected").unwrap_or(false),
        services_resolved: flag(&all, "ServicesResolved").unwrap_or(false),
    })
}

fn flag(props: &PropMap, name: &str) -> Option<bool> {
    props.get(name).and_then(|v| bool::try_from(v).ok())
}

/// `Device1.Disconnect` on the device at `path`.
pub(crate) async fn disconnect(conn: &Connection, path: &str) -> zbus::Result<()> {
    proxies::build::<Device1Proxy<'_>>(conn, path)
        .await?
        .disconnect()
        .await
}

/// Gives back a connection BlueZ may be holding for an attempt that did not finish.
struct CancelGuard {
    conn: Connection,
    path: String,
    /// Set once `Connect` was sent, cleared when BlueZ refused it or the link took over.
    armed: AtomicBool,
}

impl CancelGuard {
    /// Disconnects now (bounded by [`CLEANUP_TIMEOUT`]) if armed.
    async fn give_back(&self) {
        if !self.armed.swap(false, Ordering::SeqCst) {
            return;
        }
        match tokio::time::timeout(CLEANUP_TIMEOUT, disconnect(&self.conn, &self.path)).await {
            Ok(Ok(())) => tracing::debug!(path = self.path, "gave back a half-made connection"),
            Ok(Err(error)) => tracing::debug!(path = self.path, %error, "nothing to give back"),
            Err(_) => tracing::warn!(
                path = self.path,
                "Disconnect after a failed attempt timed out"
            ),
        }
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.armed.load(Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                path = self.path,
                "connect cancelled outside a runtime: cannot disconnect"
            );
            return;
        };
        let (conn, path) = (self.conn.clone(), self.path.clone());
        runtime.spawn(async move {
            if let Err(error) = disconnect(&conn, &path).await {
                tracing::debug!(path, %error, "Disconnect after a cancelled connect");
            }
        });
    }
}

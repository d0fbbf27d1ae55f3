//! [`BluezRadio`]: one local controller (`org.bluez.Adapter1`) as a [`Radio`].
//!
//! A radio is cheap to clone and holds the shared D-Bus connection, the adapter's path and
//! its configured slot limit (BlueZ does not report one). [`BluezRadio::discover_all`] lists the
//! adapters BlueZ has and closes connections a previous run left open;
//! [`BluezRadio::watch_adapters`] reports adapters plugged in or removed later. The event
//! stream is `scan.rs`; opening a connection is `connect.rs`.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use zbus::Connection;

use super::adapter::Adapter;
use super::objects::{self, Objects};
use super::proxies::{self, Device1Proxy, ADAPTER};
use super::signals::{self, BluezSignal, Filter};
use super::{connect, recovery, scan, BluezConfig};
use crate::backend::{
    ConnectRequest, Connection as LinkConnection, Failure, Radio, RadioEvent, RadioInfo, RadioKind,
    RecoveryStep, ScanMode, ScanModeReport,
};
use crate::model::RadioId;

/// A local BlueZ controller.
#[derive(Clone)]
pub struct BluezRadio {
    adapter: Arc<Adapter>,
}

/// An adapter appearing or going away after start (USB dongles, `btmgmt power`, bluetoothd
/// restarts).
#[derive(Debug)]
pub enum AdapterChange {
    /// A new adapter: a radio to add to the fleet.
    Added(BluezRadio),
    /// The adapter with this name is gone (its own event stream reports `Down` too).
    Removed(RadioId),
}

impl BluezRadio {
    /// Every adapter BlueZ exports, in name order. With `config.close_stale_connections`, first
    /// disconnects every device BlueZ still shows as connected on them (left by an earlier run;
    /// bluefleet cannot use a connection it did not open).
    pub async fn discover_all(conn: Connection, config: &BluezConfig) -> zbus::Result<Vec<Self>> {
        let objects = objects::snapshot(&conn).await?;
        let mut radios = Vec::new();
        for path in objects::adapter_paths(&objects) {
            radios.push(Self::prepare(&conn, &objects, &path, config).await);
        }
        Ok(radios)
    }

    /// The adapter with this name (`hci0`), prepared as [`BluezRadio::discover_all`] does.
    pub async fn open(conn: Connection, name: &str, config: &BluezConfig) -> zbus::Result<Self> {
        let objects = objects::snapshot(&conn).await?;
        let path = objects::adapter_path(name);
        let present = objects.get(&path).is_some_and(|i| i.contains_key(ADAPTER));
        if !present {
            return Err(
                zbus::fdo::Error::UnknownObject(format!("no BlueZ adapter at {path}")).into(),
            );
        }
        Ok(Self::prepare(&conn, &objects, &path, config).await)
    }

    /// Adapters added or removed from now on, as radios. Ends when the connection closes.
    pub async fn watch_adapters(
        conn: Connection,
        config: BluezConfig,
    ) -> zbus::Result<BoxStream<'static, AdapterChange>> {
        let signals = signals::subscribe(&conn, Filter::ObjectManager).await?;
        Ok(signals
            .filter_map(move |signal| {
                let change = match signal {
                    BluezSignal::Added { path, interfaces } if interfaces.contains_key(ADAPTER) => {
                        Some(AdapterChange::Added(Self::new(&conn, &path, &config)))
                    }
                    BluezSignal::Removed { path, interfaces }
                        if interfaces.iter().any(|i| i == ADAPTER) =>
                    {
                        Some(AdapterChange::Removed(RadioId::new(objects::adapter_name(
                            &path,
                        ))))
                    }
                    _ => None,
                };
                async move { change }
            })
            .boxed())
    }

    /// The adapter's object path (`/org/bluez/hci0`).
    pub fn path(&self) -> &str {
        &self.adapter.path
    }

    fn new(conn: &Connection, path: &str, config: &BluezConfig) -> Self {
        let name = objects::adapter_name(path);
        Self {
            adapter: Arc::new(Adapter {
                conn: conn.clone(),
                id: RadioId::new(name),
                path: path.to_owned(),
                slot_limit: config.slot_limit_for(name),
                pumps: AtomicUsize::new(0),
                scan: std::sync::Mutex::new(ScanModeReport {
                    wanted: ScanMode::Active,
                    actual: None,
                    note: Some("not scanning yet".into()),
                }),
            }),
        }
    }

    async fn prepare(
        conn: &Connection,
        objects: &Objects,
        path: &str,
        config: &BluezConfig,
    ) -> Self {
        let radio = Self::new(conn, path, config);
        if config.close_stale_connections {
            radio.close_stale_connections(objects).await;
        }
        radio
    }

    /// Disconnects every device of this adapter that BlueZ shows as connected.
    async fn close_stale_connections(&self, objects: &Objects) {
        let connected = objects::devices_of(objects, &self.adapter.path).filter(|(_, props)| {
            props
                .get("Connected")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(false)
        });
        for (path, _) in connected {
            let result = match proxies::build::<Device1Proxy<'_>>(&self.adapter.conn, path).await {
                Ok(device) => device.disconnect().await,
                Err(error) => Err(error),
            };
            match result {
                Ok(()) => {
                    tracing::info!(radio = %self.adapter.id, path, "closed a stale connection")
                }
                Err(error) => {
                    tracing::warn!(radio = %self.adapter.id, path, %error, "could not close a stale connection")
                }
            }
        }
    }
}

impl Adapter {
    /// The scan mode record, locked for a copy or an update (never across an await).
    pub(crate) fn scan_report(&self) -> std::sync::MutexGuard<'_, ScanModeReport> {
        self.scan
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for BluezRadio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BluezRadio")
            .field("id", &self.adapter.id)
            .field("path", &self.adapter.path)
            .field("slot_limit", &self.adapter.slot_limit)
            .finish()
    }
}

#[async_trait]
impl Radio for BluezRadio {
    fn id(&self) -> RadioId {
        self.adapter.id.clone()
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: RadioKind::LocalController,
            slot_limit: self.adapter.slot_limit,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let reason = "the BlueZ backend needs a tokio runtime to stream events".to_string();
            return stream::iter([RadioEvent::Down { reason }]).boxed();
        };
        let (tx, rx) = crate::backend::radio_events();
        runtime.spawn(scan::pump(Arc::clone(&self.adapter), tx));
        rx
    }

    async fn connect(&self, request: ConnectRequest) -> Result<LinkConnection, Failure> {
        connect::connect(&self.adapter, request).await
    }

    fn recovery_steps(&self) -> Vec<RecoveryStep> {
        vec![RecoveryStep::RestartDiscovery, RecoveryStep::PowerCycle]
    }

    /// Takes effect when scanning next starts (the adapter coming up, or a restart of
    /// discovery by the watchdog).
    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        self.adapter.scan_report().wanted = wanted;
        Ok(())
    }

    fn scan_mode(&self) -> Option<ScanModeReport> {
        Some(self.adapter.scan_report().clone())
    }

    async fn recover(&self, step: RecoveryStep) -> Result<(), String> {
        recovery::recover(&self.adapter, step).await
    }
}

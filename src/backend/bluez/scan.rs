//! The event pump behind `BluezRadio::events`: D-Bus signals in, [`RadioEvent`]s out.
//!
//! It subscribes to every BlueZ signal (one ordered stream), then takes a snapshot, so nothing
//! falls between the two. It reports `Up`/`Down` as the adapter appears, is removed, or is
//! powered on or off; keeps a [`DeviceView`] per device of this adapter, merged from each
//! `PropertiesChanged`; and sends an advertisement whenever an advertised field changes.
//! Discovery runs with the filter {Transport: le, DuplicateData: true} — without
//! `DuplicateData` BlueZ would only report a device's first advert and RSSI would freeze. It is
//! started whenever the adapter comes up, and stopped when the last pump ends (its receiver
//! was dropped).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::StreamExt;
use tokio::time::Instant;
use zbus::Variant;

use super::adapter::Adapter;
use super::monitor;
use super::objects::{self, Objects};
use super::props::DeviceView;
use super::proxies::{self, Adapter1Proxy, ADAPTER, DEVICE};
use super::signals::{self, is_under, BluezSignal, Filter};
use crate::backend::{RadioEvent, RadioEventSender, ScanMode};
use crate::model::Advertisement;

/// The pump's state: where the adapter stands and what each device last said.
struct Pump {
    adapter: Arc<Adapter>,
    tx: RadioEventSender,
    /// The state last reported (`None` before the first report).
    up: Option<bool>,
    /// Device object path → its merged properties.
    devices: HashMap<String, DeviceView>,
}

/// The state of an adapter that is present but off, with what turns it on.
const POWERED_OFF: &str =
    "adapter powered off (turn it on: `bluetoothctl power on`, or check `rfkill list`)";

/// Runs until the receiver is dropped or the bus connection closes.
pub(crate) async fn pump(adapter: Arc<Adapter>, tx: RadioEventSender) {
    adapter.pumps.fetch_add(1, Ordering::SeqCst);
    let mut pump = Pump {
        adapter,
        tx,
        up: None,
        devices: HashMap::new(),
    };
    let reason = pump.run().await;
    if let Some(reason) = reason {
        pump.tx.send(RadioEvent::Down { reason });
    }
    if pump.adapter.pumps.fetch_sub(1, Ordering::SeqCst) == 1 && pump.up == Some(true) {
        stop_discovery(&pump.adapter).await;
    }
}

impl Pump {
    /// Pumps signals; returns why it stopped when the consumer should hear it.
    async fn run(&mut self) -> Option<String> {
        let conn = self.adapter.conn.clone();
        let mut signals = match signals::subscribe(&conn, Filter::Everything).await {
            Ok(signals) => signals,
            Err(error) => return Some(format!("cannot subscribe to BlueZ signals: {error}")),
        };
        let objects = match objects::snapshot(&conn).await {
            Ok(objects) => objects,
            Err(error) => return Some(format!("cannot list BlueZ objects: {error}")),
        };
        self.start(&objects).await;
        loop {
            tokio::select! {
                () = self.tx.closed() => return None,
                signal = signals.next() => match signal {
                    Some(signal) => self.handle(signal).await,
                    None => return Some("the D-Bus connection to BlueZ closed".to_string()),
                },
            }
            if self.tx.is_closed() {
                return None;
            }
        }
    }

    /// Reports the adapter's state from the snapshot and the devices it already knows.
    async fn start(&mut self, objects: &Objects) {
        let adapter = objects.get(&self.adapter.path).and_then(|i| i.get(ADAPTER));
        match adapter {
            Some(props) if objects::is_powered(props) => self.set_up(true, "").await,
            Some(_) => self.set_up(false, POWERED_OFF).await,
            None => self.set_up(false, "adapter not present").await,
        }
        let adapter = Arc::clone(&self.adapter);
        for (path, props) in objects::devices_of(objects, &adapter.path) {
            if let Some(view) = DeviceView::from_props(props) {
                self.send_advert(view.advertisement(&self.adapter.id, Instant::now()));
                self.devices.insert(path.to_owned(), view);
            }
        }
    }

    async fn handle(&mut self, signal: BluezSignal) {
        let adapter_path = self.adapter.path.as_str();
        match signal {
            BluezSignal::Added { path, interfaces } if path == adapter_path => {
                if let Some(props) = interfaces.get(ADAPTER) {
                    self.set_up(objects::is_powered(props), POWERED_OFF).await;
                }
            }
            BluezSignal::Added { path, interfaces } if is_under(&path, adapter_path) => {
                if let Some(view) = interfaces.get(DEVICE).and_then(DeviceView::from_props) {
                    self.send_advert(view.advertisement(&self.adapter.id, Instant::now()));
                    self.devices.insert(path, view);
                }
            }
            BluezSignal::Removed { path, interfaces } => {
                if path == adapter_path && interfaces.iter().any(|i| i == ADAPTER) {
                    self.devices.clear();
                    self.set_up(false, "adapter removed").await;
                } else if interfaces.iter().any(|i| i == DEVICE) {
                    self.devices.remove(&path);
                }
            }
            BluezSignal::Changed {
                path,
                interface,
                changed,
                ..
            } if path == adapter_path && interface == ADAPTER => {
                if let Some(powered) = changed.get("Powered").and_then(|v| bool::try_from(v).ok()) {
                    self.set_up(powered, POWERED_OFF).await;
                }
            }
            BluezSignal::Changed {
                path,
                interface,
                changed,
                invalidated,
            } if interface == DEVICE => {
                let Some(view) = self.devices.get_mut(&path) else {
                    return;
                };
                view.invalidate(&invalidated);
                if view.apply(&changed) {
                    let advert = view.advertisement(&self.adapter.id, Instant::now());
                    self.send_advert(advert);
                }
            }
            _ => {}
        }
    }

    /// Reports a change of state (and starts discovery on the way up).
    async fn set_up(&mut self, up: bool, reason: &str) {
        if self.up == Some(up) {
            return;
        }
        self.up = Some(up);
        let event = if up {
            start_scanning(&self.adapter).await;
            RadioEvent::Up
        } else {
            RadioEvent::Down {
                reason: reason.to_string(),
            }
        };
        self.tx.send(event);
    }

    /// Sends an advert (a device not heard yet has none); when the consumer is behind the
    /// channel drops the oldest and says so.
    fn send_advert(&mut self, advert: Option<Advertisement>) {
        if let Some(advert) = advert {
            self.tx.send(RadioEvent::Adverts(vec![advert]));
        }
    }
}

/// Sets the LE filter and starts this client's discovery session.
async fn try_start_discovery(adapter: &Adapter) -> zbus::Result<()> {
    let proxy = proxies::build::<Adapter1Proxy<'_>>(&adapter.conn, &adapter.path).await?;
    let filter = HashMap::from([
        ("Transport", Variant::from("le")),
        ("DuplicateData", Variant::from(true)),
    ]);
    proxy.set_discovery_filter(filter).await?;
    proxy.start_discovery().await
}

/// Starts scanning in the wanted mode and records the mode that really runs: passive through
/// an advertisement monitor where BlueZ offers one, else active discovery (and the reason).
pub(crate) async fn start_scanning(adapter: &Adapter) {
    let wanted = adapter.scan_report().wanted;
    let mut note = None;
    if wanted == ScanMode::Passive {
        match monitor::register(adapter).await {
            Ok(()) => {
                let mut report = adapter.scan_report();
                report.actual = Some(ScanMode::Passive);
                report.note = None;
                return;
            }
            Err(reason) => {
                tracing::warn!(radio = %adapter.id, %reason, "passive scanning not available: scanning actively");
                note = Some(format!("passive not available: {reason}"));
            }
        }
    }
    let started = start_discovery(adapter).await;
    let mut report = adapter.scan_report();
    match started {
        Ok(()) => {
            report.actual = Some(ScanMode::Active);
            report.note = note;
        }
        Err(error) => {
            report.actual = None;
            report.note = Some(format!("discovery did not start: {error}"));
        }
    }
}

/// Starts discovery; failures are logged (and returned): the radio can still connect to
/// devices BlueZ already knows.
async fn start_discovery(adapter: &Adapter) -> Result<(), String> {
    let result = try_start_discovery(adapter).await;
    match result {
        Ok(()) => {
            tracing::debug!(radio = %adapter.id, "discovery started");
            Ok(())
        }
        // This connection already runs a discovery session on the adapter: nothing to do.
        Err(zbus::Error::MethodError(name, ..))
            if name.as_str() == "org.bluez.Error.InProgress" =>
        {
            Ok(())
        }
        Err(error) => {
            tracing::warn!(radio = %adapter.id, %error, "could not start discovery");
            Err(error.to_string())
        }
    }
}

pub(crate) async fn stop_discovery(adapter: &Adapter) {
    let result = async {
        let proxy = proxies::build::<Adapter1Proxy<'_>>(&adapter.conn, &adapter.path).await?;
        proxy.stop_discovery().await
    }
    .await;
    if let Err(error) = result {
        tracing::debug!(radio = %adapter.id, %error, "could not stop discovery");
    }
}

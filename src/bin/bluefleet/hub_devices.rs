//! The devices a running hub manages, kept equal to the hub file's `[[device]]` list.
//!
//! At start every entry is managed (kept connected, its subscriptions and periodic reads
//! printed, and shown on the live page); on SIGHUP the
//! new list is applied as a difference: entries that vanished are released (printing stops,
//! `Device::release`: disconnected and no longer managed), new entries are managed, and entries that did not
//! change are not touched at all (their links and subscriptions carry on).

use std::collections::BTreeMap;
use std::rc::Rc;

use bluefleet::config::{AdvertDecoding, DeviceConfig, SubscriptionConfig};
use bluefleet::fleet::SubscriptionEvent;
use bluefleet::{Address, Device, Fleet};
use futures::StreamExt;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::output::hex;
use crate::web_driver::WebDriver;

/// One managed device and the tasks printing its values.
#[derive(Debug)]
struct Managed {
    config: DeviceConfig,
    device: Device,
    printers: Vec<JoinHandle<()>>,
}

/// Every managed device, by address.
#[derive(Debug)]
pub struct HubDevices {
    fleet: Fleet,
    started: tokio::time::Instant,
    json: bool,
    /// The live page, which shows each device's latest value.
    web: Option<Rc<WebDriver>>,
    managed: BTreeMap<Address, Managed>,
}

/// What one `apply` changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Devices newly managed.
    pub added: usize,
    /// Devices released.
    pub removed: usize,
    /// Devices left as they were.
    pub kept: usize,
}

impl HubDevices {
    /// No devices yet.
    pub fn new(fleet: Fleet, json: bool, web: Option<Rc<WebDriver>>) -> Self {
        Self {
            fleet,
            started: tokio::time::Instant::now(),
            json,
            web,
            managed: BTreeMap::new(),
        }
    }

    /// Makes the managed set equal to `devices`.
    pub async fn apply(&mut self, devices: &[DeviceConfig]) -> Result<Changes, String> {
        let mut changes = Changes::default();
        let wanted: BTreeMap<Address, &DeviceConfig> =
            devices.iter().map(|d| (d.address, d)).collect();
        // A changed entry counts as released, then managed again.
        let gone: Vec<Address> = self
            .managed
            .iter()
            .filter(|(address, managed)| wanted.get(address) != Some(&&managed.config))
            .map(|(address, _)| *address)
            .collect();
        for address in gone {
            if let Some(managed) = self.managed.remove(&address) {
                release(managed).await;
                changes.removed += 1;
            }
        }
        for (address, config) in wanted {
            if self.managed.contains_key(&address) {
                changes.kept += 1;
                continue;
            }
            let managed = self.manage(config).await?;
            self.managed.insert(address, managed);
            changes.added += 1;
        }
        Ok(changes)
    }

    async fn manage(&self, config: &DeviceConfig) -> Result<Managed, String> {
        let device = self
            .fleet
            .device(config.address)
            .await
            .map_err(|e| e.to_string())?;
        device
            .keep_connected(config.keep_connected)
            .await
            .map_err(|e| e.to_string())?;
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| config.address.to_string());
        let mut printers: Vec<JoinHandle<()>> = config
            .subscribe
            .iter()
            .map(|subscription| {
                let characteristic = subscription.uuid().map_or_else(
                    |_| subscription.characteristic.clone(),
                    |uuid| bluefleet::model::uuid::display_uuid(&uuid),
                );
                let printer = Printer {
                    device: config.address,
                    name: name.clone(),
                    characteristic,
                    started: self.started,
                    json: self.json,
                    web: self.web.clone(),
                };
                actix::spawn(print_values(
                    self.fleet.clone(),
                    device.clone(),
                    subscription.clone(),
                    printer,
                ))
            })
            .collect();
        if config.decode == AdvertDecoding::Auto {
            printers.push(actix::spawn(crate::readings::print_readings(
                self.fleet.clone(),
                config.address,
                name.clone(),
                self.started,
                self.json,
            )));
        }
        Ok(Managed {
            config: config.clone(),
            device,
            printers,
        })
    }
}

/// Stops printing and releases the device (`Device::release`: disconnected, its actor,
/// subscriptions and status gone).
async fn release(managed: Managed) {
    for printer in managed.printers {
        printer.abort();
    }
    let address = managed.device.address();
    if let Err(error) = managed.device.release().await {
        tracing::warn!(%address, %error, "could not release the device");
    }
}

/// Where one followed characteristic's values go: stdout (a line or a JSON line) and the
/// live page when there is one.
#[derive(Clone, Debug)]
struct Printer {
    device: Address,
    name: String,
    characteristic: String,
    started: tokio::time::Instant,
    json: bool,
    web: Option<Rc<WebDriver>>,
}

impl Printer {
    fn value(&self, config: &SubscriptionConfig, value: &[u8]) {
        let t = self.started.elapsed().as_secs_f64();
        let reading = config.format().apply(value);
        let (name, characteristic, unit) = (&self.name, &self.characteristic, &config.unit);
        if self.json {
            println!(
                "{}",
                json!({"t_s": t, "device": name, "address": self.device, "characteristic": characteristic, "value": reading, "unit": unit, "raw": hex(value)})
            );
        } else {
            println!("{t:>9.1}s  {name:<24} {characteristic:<8} {reading} {unit}");
        }
        if let Some(web) = &self.web {
            web.value(
                self.device,
                format!("{characteristic}: {reading} {unit}")
                    .trim_end()
                    .to_string(),
            );
        }
    }

    fn event(&self, kind: &str, detail: &str) {
        let t = self.started.elapsed().as_secs_f64();
        let (name, characteristic) = (&self.name, &self.characteristic);
        if self.json {
            println!(
                "{}",
                json!({"t_s": t, "device": name, "address": self.device, "characteristic": characteristic, "event": kind, "detail": detail})
            );
        } else {
            println!("{t:>9.1}s  {name:<24} {characteristic:<8} [{kind}] {detail}");
        }
    }
}

/// Prints one entry's values: its notifications, or a read every `poll`.
async fn print_values(fleet: Fleet, device: Device, config: SubscriptionConfig, printer: Printer) {
    let Ok(uuid) = config.uuid() else { return };
    if let Some(every) = config.poll {
        let mut reads = Box::pin(bluefleet::config::poll::reads(
            fleet,
            device.address(),
            uuid,
            every,
        ));
        while let Some(read) = reads.next().await {
            match read {
                Ok(value) => printer.value(&config, &value),
                Err(error) => printer.event("read failed", &error.to_string()),
            }
        }
        return;
    }
    let mut subscription = match device.subscribe(uuid).await {
        Ok(subscription) => subscription,
        Err(err) => return eprintln!("{}: cannot subscribe to {uuid}: {err}", printer.name),
    };
    while let Some(event) = subscription.next().await {
        match event {
            SubscriptionEvent::Notification(value) => printer.value(&config, &value),
            SubscriptionEvent::Disconnected { reason } => printer.event("disconnected", &reason),
            SubscriptionEvent::Reconnected => printer.event("reconnected", ""),
            SubscriptionEvent::Waiting => printer.event("waiting", "not connected yet"),
            SubscriptionEvent::Failed(error) => printer.event("failed", &error.to_string()),
            SubscriptionEvent::Lagged(n) => printer.event("lagged", &format!("{n} values missed")),
        }
    }
}

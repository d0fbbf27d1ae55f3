//! The devices a running hub manages, kept equal to the hub file's `[[device]]` list.
//!
//! At start every entry is managed (kept connected, its subscriptions printed); on SIGHUP the
//! new list is applied as a difference: entries that vanished are released (printing stops,
//! keep-connected off, disconnected), new entries are managed, and entries that did not
//! change are not touched at all (their links and subscriptions carry on).

use std::collections::BTreeMap;

use bluefleet::config::{AdvertDecoding, DeviceConfig, SubscriptionConfig};
use bluefleet::fleet::SubscriptionEvent;
use bluefleet::{Address, Device, Fleet};
use futures::StreamExt;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::output::hex;

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
    pub fn new(fleet: Fleet, json: bool) -> Self {
        Self {
            fleet,
            started: tokio::time::Instant::now(),
            json,
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
                actix::spawn(print_values(
                    device.clone(),
                    name.clone(),
                    subscription.clone(),
                    self.started,
                    self.json,
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

/// Stops printing, stops keeping the device connected, and disconnects it.
async fn release(managed: Managed) {
    for printer in managed.printers {
        printer.abort();
    }
    let address = managed.device.address();
    if let Err(error) = managed.device.keep_connected(false).await {
        tracing::warn!(%address, %error, "could not release the device");
    }
    if let Err(error) = managed.device.disconnect().await {
        tracing::debug!(%address, %error, "disconnect on release");
    }
}

async fn print_values(
    device: Device,
    name: String,
    config: SubscriptionConfig,
    started: tokio::time::Instant,
    json: bool,
) {
    let Ok(uuid) = config.uuid() else { return };
    let mut subscription = match device.subscribe(uuid).await {
        Ok(subscription) => subscription,
        Err(err) => return eprintln!("{name}: cannot subscribe to {uuid}: {err}"),
    };
    let characteristic = bluefleet::model::uuid::display_uuid(&uuid);
    while let Some(event) = subscription.next().await {
        let t = started.elapsed().as_secs_f64();
        let (kind, detail) = match event {
            SubscriptionEvent::Notification(value) => {
                let reading = config.decode.apply(&value, config.scale);
                if json {
                    println!(
                        "{}",
                        json!({"t_s": t, "device": name, "address": device.address(), "characteristic": characteristic, "value": reading, "unit": config.unit, "raw": hex(&value)})
                    );
                } else {
                    println!(
                        "{t:>9.1}s  {name:<24} {characteristic:<8} {reading} {}",
                        config.unit
                    );
                }
                continue;
            }
            SubscriptionEvent::Disconnected { reason } => ("disconnected", reason),
            SubscriptionEvent::Reconnected => ("reconnected", String::new()),
            SubscriptionEvent::Waiting => ("waiting", "not connected yet".to_string()),
            SubscriptionEvent::Failed(error) => ("failed", error.to_string()),
            SubscriptionEvent::Lagged(n) => ("lagged", format!("{n} values missed")),
        };
        if json {
            println!(
                "{}",
                json!({"t_s": t, "device": name, "address": device.address(), "characteristic": characteristic, "event": kind, "detail": detail})
            );
        } else {
            println!("{t:>9.1}s  {name:<24} {characteristic:<8} [{kind}] {detail}");
        }
    }
}

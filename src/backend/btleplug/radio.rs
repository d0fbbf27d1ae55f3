//! [`BtleplugRadio`]: one btleplug adapter, implementing [`Radio`], and
//! [`BtleplugRadio::discover_all`], which lists the machine's adapters.
//!
//! A btleplug adapter is a local controller: it does not report its slot use, so the slot
//! limit comes from [`BtleplugConfig`]. The radio's name is the platform's adapter name where
//! it has a short one (`hci0` on Linux), else `btleplug<N>` in listing order.

use std::sync::Arc;

use async_trait::async_trait;
use btleplug::api::{Central, Manager as _};
use btleplug::platform::{Adapter, Manager};
use dashmap::DashMap;
use futures::stream::BoxStream;

use super::connect::{open, Attempt};
use super::driver::Driver;
use super::failure::from_btleplug;
use super::scan::{radio_events, KnownPeripherals, ScanUsers};
use super::watch::AdapterWatch;
use super::BtleplugConfig;
use crate::backend::{
    ConnectRequest, Connection, Failure, FailureStage, Radio, RadioEvent, RadioInfo, RadioKind,
    ScanMode, ScanModeReport,
};
use crate::model::RadioId;
use crate::Error;

/// One btleplug adapter.
#[derive(Debug)]
pub struct BtleplugRadio {
    id: RadioId,
    config: BtleplugConfig,
    driver: Driver,
    adapter: Adapter,
    known: KnownPeripherals,
    watch: Arc<AdapterWatch>,
    scan_users: ScanUsers,
}

impl BtleplugRadio {
    /// Every Bluetooth adapter btleplug finds on this machine, as radios sorted by name.
    /// No adapter gives an empty list. On Linux this talks to BlueZ on the system D-Bus
    /// (following `DBUS_SYSTEM_BUS_ADDRESS`); a missing bus or BlueZ is an
    /// [`Error::Config`] naming the platform's complaint.
    pub async fn discover_all(config: &BtleplugConfig) -> crate::Result<Vec<Arc<dyn Radio>>> {
        let setup = |reason: String| Error::config("btleplug backend", reason);
        let driver = Driver::start().map_err(|e| setup(format!("cannot start its thread: {e}")))?;
        let listing = async {
            let manager = Manager::new()
                .await
                .map_err(|e| from_btleplug(FailureStage::Link, &e))?;
            let adapters = manager
                .adapters()
                .await
                .map_err(|e| from_btleplug(FailureStage::Link, &e))?;
            let mut named = Vec::with_capacity(adapters.len());
            for (index, adapter) in adapters.into_iter().enumerate() {
                let info = adapter.adapter_info().await.unwrap_or_default();
                named.push((radio_name(&info, index), adapter));
            }
            Ok::<_, Failure>(named)
        };
        let mut named = driver
            .run(FailureStage::Link, listing)
            .await
            .map_err(|failure| setup(format!("cannot list adapters: {failure}")))?;
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let radios = named
            .into_iter()
            .map(|(name, adapter)| {
                Arc::new(Self {
                    id: RadioId::new(name),
                    config: config.clone(),
                    driver: driver.clone(),
                    adapter,
                    known: Arc::new(DashMap::new()),
                    watch: Arc::default(),
                    scan_users: Arc::default(),
                }) as Arc<dyn Radio>
            })
            .collect();
        Ok(radios)
    }
}

/// `hci0` from BlueZ's `"hci0 (usb:v1D6Bp0246d0540)"`; `btleplug<index>` when the platform's
/// text is empty or not a short single word.
fn radio_name(adapter_info: &str, index: usize) -> String {
    match adapter_info.split_whitespace().next() {
        Some(word) if word.len() <= 16 && word.chars().all(|c| c.is_ascii_alphanumeric()) => {
            word.to_string()
        }
        _ => format!("btleplug{index}"),
    }
}

#[async_trait]
impl Radio for BtleplugRadio {
    fn id(&self) -> RadioId {
        self.id.clone()
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: RadioKind::LocalController,
            slot_limit: self.config.slot_limit,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        radio_events(
            &self.driver,
            self.adapter.clone(),
            self.id.clone(),
            Arc::clone(&self.known),
            Arc::clone(&self.scan_users),
        )
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        let attempt = Attempt {
            driver: self.driver.clone(),
            adapter: self.adapter.clone(),
            known: Arc::clone(&self.known),
            watch: Arc::clone(&self.watch),
        };
        open(attempt, request).await
    }

    /// btleplug has no scan-mode setting: it scans as the platform does (BlueZ discovery,
    /// active, on Linux), so only `active` is accepted, and never confirmed.
    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        match wanted {
            ScanMode::Active => Ok(()),
            ScanMode::Passive => Err(format!(
                "{}: btleplug cannot scan passively (use the bluez backend)",
                self.id
            )),
        }
    }

    fn scan_mode(&self) -> Option<ScanModeReport> {
        Some(ScanModeReport {
            wanted: ScanMode::Active,
            actual: None,
            note: Some("btleplug neither sets nor reports the scan mode".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::radio_name;

    #[test]
    fn bluez_adapters_are_named_by_their_interface() {
        assert_eq!(radio_name("hci0 (usb:v1D6Bp0246d0540)", 0), "hci0");
        assert_eq!(radio_name("", 2), "btleplug2");
        assert_eq!(radio_name("{a-guid-like-thing}", 1), "btleplug1");
    }
}

//! Opening the real radios a hub file lists (BlueZ adapters, ESPHome proxies).
//!
//! `run` owns the adapters it uses, so it closes connections an earlier run left behind
//! (`close_stale_connections`); one-shot commands never do (see `backend.rs`).

use std::sync::Arc;

use bluefleet::backend::{Radio, ScanMode};
use bluefleet::config::RadioConfig;

/// The real radio of one entry, asked for `scan_mode`; `None` for simulated entries (the
/// caller starts those).
pub async fn open(
    radio: &RadioConfig,
    scan_mode: ScanMode,
) -> Result<Option<Arc<dyn Radio>>, String> {
    let opened = match radio {
        RadioConfig::Sim { .. } => return Ok(None),
        RadioConfig::Bluez { adapter, slots, .. } => bluez(adapter, *slots).await?,
        RadioConfig::Esphome {
            host, psk, name, ..
        } => esphome(host, psk.as_deref(), name.as_deref())?,
    };
    opened.set_scan_mode(scan_mode)?;
    Ok(Some(opened))
}

#[cfg(feature = "bluez")]
async fn bluez(adapter: &str, slots: usize) -> Result<Arc<dyn Radio>, String> {
    use bluefleet::backend::bluez::{unavailable_words, zbus, BluezConfig, BluezRadio};
    let conn = zbus::Connection::system()
        .await
        .map_err(|e| format!("radio {adapter}: cannot reach the system D-Bus: {e}"))?;
    let config = BluezConfig {
        slot_limit: slots,
        close_stale_connections: true,
        ..BluezConfig::default()
    };
    let radio = BluezRadio::open(conn, adapter, &config)
        .await
        .map_err(|e| format!("radio {adapter}: {}", unavailable_words(&e)))?;
    Ok(Arc::new(radio))
}

#[cfg(not(feature = "bluez"))]
async fn bluez(_: &str, _: usize) -> Result<Arc<dyn Radio>, String> {
    Err("the bluez backend is not built in this binary (rebuild with cargo feature `bluez`)".into())
}

#[cfg(feature = "esphome")]
fn esphome(host: &str, psk: Option<&str>, name: Option<&str>) -> Result<Arc<dyn Radio>, String> {
    use bluefleet::backend::esphome::{EsphomeConfig, EsphomeRadio};
    let mut config = EsphomeConfig::parse(host).map_err(|e| format!("radio {host}: {e}"))?;
    if let Some(psk) = psk {
        config = config
            .with_key(psk)
            .map_err(|e| format!("radio {host}: {e}"))?;
    }
    if let Some(name) = name {
        config = config.named(name);
    }
    Ok(Arc::new(EsphomeRadio::new(config)))
}

#[cfg(not(feature = "esphome"))]
fn esphome(_: &str, _: Option<&str>, _: Option<&str>) -> Result<Arc<dyn Radio>, String> {
    Err(
        "the esphome backend is not built in this binary (rebuild with cargo feature `esphome`)"
            .into(),
    )
}

//! Opening the real radios a hub file lists (BlueZ adapters, btleplug adapters, ESPHome
//! proxies). A backend not built into this binary is refused with the feature to rebuild with.
//!
//! `run` owns the adapters it uses, so it closes connections an earlier run left behind
//! (`close_stale_connections`); one-shot commands never do (see `backend.rs`).

use std::sync::Arc;

use bluefleet::backend::{Radio, ScanMode};
use bluefleet::config::RadioConfig;

/// The real radios of one entry, asked for `scan_mode`; none for simulated entries (the
/// caller starts those).
pub async fn open(radio: &RadioConfig, scan_mode: ScanMode) -> Result<Vec<Arc<dyn Radio>>, String> {
    let opened = match radio {
        RadioConfig::Sim { .. } => return Ok(Vec::new()),
        RadioConfig::Bluez { adapter, slots, .. } => vec![bluez(adapter, *slots).await?],
        RadioConfig::Btleplug { adapter, slots, .. } => {
            btleplug(adapter.as_deref(), *slots).await?
        }
        RadioConfig::Esphome {
            host, psk, name, ..
        } => vec![esphome(host, psk.as_deref(), name.as_deref())?],
    };
    for radio in &opened {
        radio.set_scan_mode(scan_mode)?;
    }
    Ok(opened)
}

/// The adapter named `adapter`, or every one btleplug finds.
#[cfg(feature = "btleplug")]
async fn btleplug(adapter: Option<&str>, slots: usize) -> Result<Vec<Arc<dyn Radio>>, String> {
    use bluefleet::backend::btleplug::{BtleplugConfig, BtleplugRadio};
    let config = BtleplugConfig { slot_limit: slots };
    let found = BtleplugRadio::discover_all(&config)
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = found.iter().map(|r| r.id().to_string()).collect();
    let chosen: Vec<Arc<dyn Radio>> = found
        .into_iter()
        .filter(|r| adapter.is_none_or(|name| r.id().as_str() == name))
        .collect();
    if chosen.is_empty() {
        let wanted = adapter.map_or_else(|| "any adapter".to_string(), |a| format!("adapter {a}"));
        let seen = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        return Err(format!(
            "btleplug found no {wanted} (adapters found: {seen})"
        ));
    }
    Ok(chosen)
}

#[cfg(not(feature = "btleplug"))]
async fn btleplug(_: Option<&str>, _: usize) -> Result<Vec<Arc<dyn Radio>>, String> {
    Err(
        "the btleplug backend is not built in this binary (rebuild with cargo feature `btleplug`)"
            .into(),
    )
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

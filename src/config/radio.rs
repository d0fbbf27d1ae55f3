//! One `[[radio]]` entry as written, and its checks.
//!
//! Read as one flat struct with every field optional (not a serde-tagged enum) so that a wrong
//! type keeps its place in the file: the error then names the line and the field path
//! (`radio[0].slots`) instead of the table's first line. [`RadioConfig`] is built from it,
//! refusing fields that do not belong to the chosen backend.

use std::path::PathBuf;

use serde::Deserialize;

use super::RadioConfig;
use crate::backend::ScanMode;

/// Which backend a radio entry uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum BackendName {
    Sim,
    Bluez,
    Btleplug,
    Esphome,
}

/// A `[[radio]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRadio {
    backend: BackendName,
    world: Option<PathBuf>,
    adapter: Option<String>,
    slots: Option<usize>,
    host: Option<String>,
    psk: Option<String>,
    name: Option<String>,
    #[serde(default)]
    scan_mode: ScanMode,
}

impl TryFrom<RawRadio> for RadioConfig {
    type Error = String;

    fn try_from(raw: RawRadio) -> Result<Self, String> {
        let backend = format!("{:?}", raw.backend).to_lowercase();
        let only = |present: bool, field: &str, allowed: &str| {
            if present {
                Err(format!(
                    "`{field}` belongs to {allowed} radios, not to {backend} radios"
                ))
            } else {
                Ok(())
            }
        };
        let needs = |value: Option<String>, field: &str| {
            value.ok_or_else(|| format!("{backend} radios need `{field}`"))
        };
        match raw.backend {
            BackendName::Sim => {
                only(raw.adapter.is_some(), "adapter", "bluez and btleplug")?;
                only(raw.slots.is_some(), "slots", "bluez and btleplug")?;
                only(raw.host.is_some(), "host", "esphome")?;
                only(raw.psk.is_some(), "psk", "esphome")?;
                let world = raw
                    .world
                    .ok_or("sim radios need `world` (a file or a built-in name)")?;
                Ok(Self::Sim {
                    world,
                    scan_mode: raw.scan_mode,
                })
            }
            BackendName::Bluez => {
                only(raw.world.is_some(), "world", "sim")?;
                only(raw.host.is_some(), "host", "esphome")?;
                only(raw.psk.is_some(), "psk", "esphome")?;
                Ok(Self::Bluez {
                    adapter: needs(raw.adapter, "adapter")?,
                    slots: raw.slots.unwrap_or(super::default_local_slots()),
                    scan_mode: raw.scan_mode,
                })
            }
            BackendName::Btleplug => {
                only(raw.world.is_some(), "world", "sim")?;
                only(raw.host.is_some(), "host", "esphome")?;
                only(raw.psk.is_some(), "psk", "esphome")?;
                Ok(Self::Btleplug {
                    adapter: raw.adapter,
                    slots: raw.slots.unwrap_or(super::default_local_slots()),
                    scan_mode: raw.scan_mode,
                })
            }
            BackendName::Esphome => {
                only(raw.world.is_some(), "world", "sim")?;
                only(raw.adapter.is_some(), "adapter", "bluez and btleplug")?;
                only(raw.slots.is_some(), "slots", "bluez and btleplug")?;
                Ok(Self::Esphome {
                    host: needs(raw.host, "host")?,
                    psk: raw.psk,
                    name: raw.name,
                    scan_mode: raw.scan_mode,
                })
            }
        }
    }
}

//! [`ScanMode`]: active scanning (scan requests, so scan responses and names arrive) or passive
//! (listen only: less air time, no scan requests the sensors' batteries pay for), and
//! [`ScanModeReport`]: the mode asked for next to the one the radio really runs.
//!
//! A backend never claims a mode it cannot confirm: BlueZ is passive only through an
//! `AdvertisementMonitor1` it accepted; an ESPHome proxy's mode is what its scanner-state
//! message says; a radio that cannot tell reports `actual: None` with the reason.

use std::fmt;
use std::str::FromStr;

/// How a radio scans.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// Send scan requests (the default of BlueZ discovery and of most proxies).
    #[default]
    Active,
    /// Only listen.
    Passive,
}

impl ScanMode {
    /// `active` or `passive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Passive => "passive",
        }
    }
}

impl fmt::Display for ScanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScanMode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "active" => Ok(Self::Active),
            "passive" => Ok(Self::Passive),
            other => Err(format!("'{other}' is not a scan mode (active or passive)")),
        }
    }
}

/// The mode a radio was asked for and the mode it runs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScanModeReport {
    /// Asked for.
    pub wanted: ScanMode,
    /// Confirmed by the radio (`None`: not known, see `note`).
    pub actual: Option<ScanMode>,
    /// Why the actual mode differs or is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ScanModeReport {
    /// `passive`, or `active (wanted passive: <note>)`, or `unknown (wanted …)`: for one line.
    pub fn in_words(&self) -> String {
        let actual = self.actual.map_or("unknown", ScanMode::as_str);
        match (&self.note, self.actual == Some(self.wanted)) {
            (None, true) => actual.to_string(),
            (Some(note), true) => format!("{actual} ({note})"),
            (note, false) => {
                let note = note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default();
                format!("{actual} (wanted {}{note})", self.wanted)
            }
        }
    }
}

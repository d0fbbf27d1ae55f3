//! [`RecoveryStep`]: what can be done to a radio that should be scanning but hears nothing.
//!
//! Real scanners get stuck without saying so: a BlueZ controller whose discovery stopped
//! delivering after a firmware hiccup, an ESP32 proxy whose scanner wedged while its API
//! session stays open. Each backend offers the steps it can take, mildest first; the radio
//! watchdog (`crate::watchdog`) climbs them while the radio stays quiet.

use std::fmt;

/// One recovery step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecoveryStep {
    /// Stop and start scanning (BlueZ discovery, the proxy's advertisement subscription).
    /// Links are not touched.
    RestartDiscovery,
    /// Turn the controller off and on (BlueZ `Powered`). Every link through it ends.
    PowerCycle,
    /// Close the proxy's API session and open a new one (ESPHome). Every link through it ends.
    Reconnect,
}

impl RecoveryStep {
    /// How disruptive the step is: 1 keeps links, 2 ends them.
    pub fn weight(self) -> u8 {
        match self {
            Self::RestartDiscovery => 1,
            Self::PowerCycle | Self::Reconnect => 2,
        }
    }

    /// The step's name as in diagnostics and logs (`restart-discovery`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RestartDiscovery => "restart-discovery",
            Self::PowerCycle => "power-cycle",
            Self::Reconnect => "reconnect",
        }
    }
}

impl fmt::Display for RecoveryStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

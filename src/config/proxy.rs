//! `[proxy]` in `hub.toml`: serve the hub's radios as an ESPHome Bluetooth proxy from
//! `bluefleet run` too (the same settings as `bluefleet proxy`'s options).
//!
//! ```toml
//! [proxy]
//! listen = "0.0.0.0:6053"     # 127.0.0.1:6053 by default
//! psk = "base64 of 32 bytes"  # omit for plaintext
//! mode = "aggregate"          # or "per-radio"
//! name = "bluefleet"
//! mdns = true
//! keepalive = "20s"
//! ```
//!
//! Checked at load: the address must be `IP:PORT` (names are not resolved) and the keepalive a
//! duration above zero. The key's decoding is checked when the server starts.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// The `[proxy]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySection {
    /// `IP:PORT` to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Noise key, base64 (omit for plaintext).
    pub psk: Option<String>,
    /// `aggregate` (one proxy for every radio) or `per-radio`.
    #[serde(default = "default_mode")]
    pub mode: String,
    /// The node name Home Assistant shows.
    pub name: Option<String>,
    /// Announce `_esphomelib._tcp` over mDNS.
    #[serde(default = "default_mdns")]
    pub mdns: bool,
    /// Ping a silent client after this long (gone after three times as long).
    pub keepalive: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:6053".into()
}

fn default_mode() -> String {
    "aggregate".into()
}

fn default_mdns() -> bool {
    true
}

impl ProxySection {
    /// The listen address.
    pub fn listen_address(&self) -> crate::Result<SocketAddr> {
        self.listen.parse().map_err(|_| {
            Error::config(
                "proxy.listen",
                format!(
                    "'{}' is not IP:PORT such as 127.0.0.1:6053 (names are not resolved)",
                    self.listen
                ),
            )
        })
    }

    /// Whether the mode is per-radio (else aggregate).
    pub fn per_radio(&self) -> crate::Result<bool> {
        match self.mode.as_str() {
            "aggregate" => Ok(false),
            "per-radio" => Ok(true),
            other => Err(Error::config(
                "proxy.mode",
                format!("'{other}': expected \"aggregate\" or \"per-radio\""),
            )),
        }
    }

    /// The keepalive ping interval, if set.
    pub fn keepalive(&self) -> crate::Result<Option<Duration>> {
        let Some(text) = &self.keepalive else {
            return Ok(None);
        };
        match crate::sim::world::parse_duration(text) {
            Ok(duration) if !duration.is_zero() => Ok(Some(duration)),
            Ok(_) => Err(Error::config("proxy.keepalive", "must be more than 0s")),
            Err(reason) => Err(Error::config("proxy.keepalive", reason)),
        }
    }

    pub(super) fn check(&self) -> crate::Result<()> {
        self.listen_address()?;
        self.per_radio()?;
        self.keepalive()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::HubConfig;

    const RADIO: &str = "[[radio]]\nbackend = \"sim\"\nworld = \"w.toml\"\n";

    #[test]
    fn defaults_and_bad_fields_name_the_field() {
        let config = HubConfig::parse(&format!("{RADIO}[proxy]\n")).unwrap();
        let proxy = config.proxy.unwrap();
        assert_eq!(
            proxy.listen_address().unwrap().to_string(),
            "127.0.0.1:6053"
        );
        assert!(!proxy.per_radio().unwrap() && proxy.mdns);
        for (field, bad) in [
            ("proxy.listen", "listen = \"hub.local:6053\""),
            ("proxy.mode", "mode = \"both\""),
            ("proxy.keepalive", "keepalive = \"0s\""),
        ] {
            let err = HubConfig::parse(&format!("{RADIO}[proxy]\n{bad}\n")).unwrap_err();
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}

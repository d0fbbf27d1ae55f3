//! [`ProxyConfig`]: where and how `bluefleet proxy` listens, and [`ProxyError`].

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;

use super::session::Keepalive;

/// The port ESPHome devices listen on.
pub const DEFAULT_PORT: u16 = 6053;

/// One proxy for every radio, or one per radio.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProxyMode {
    /// One proxy whose slots are the pool of every radio; bluefleet picks the radio.
    #[default]
    Aggregate,
    /// One virtual proxy per radio (own port, name and MAC) with that radio's adverts and
    /// slots, so RSSI-based presence tools still see each radio.
    PerRadio,
}

/// How the server listens and behaves.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Where to listen (127.0.0.1:6053 unless told otherwise).
    pub listen: SocketAddr,
    /// The Noise pre-shared key; `None` serves plaintext.
    pub psk: Option<[u8; 32]>,
    /// Aggregate or per-radio.
    pub mode: ProxyMode,
    /// The node name (per-radio proxies append the radio's name).
    pub name: String,
    /// Whether to announce `_esphomelib._tcp` over mDNS.
    pub mdns: bool,
    /// Client keepalive.
    pub keepalive: Keepalive,
    /// Budget of one connect: under the 20 s bleak-retry-connector gives `connect` (its
    /// `BLEAK_TIMEOUT`), so the answer is ours and not the client's timeout.
    pub connect_timeout: Duration,
    /// Budget of one GATT operation (the client waits 30 s).
    pub op_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            psk: None,
            mode: ProxyMode::Aggregate,
            name: "bluefleet".into(),
            mdns: true,
            keepalive: Keepalive::default(),
            connect_timeout: Duration::from_secs(17),
            op_timeout: Duration::from_secs(25),
        }
    }
}

impl ProxyConfig {
    /// Sets the Noise key from its base64 text (what ESPHome's YAML and Home Assistant show).
    pub fn with_psk(mut self, text: &str) -> Result<Self, ProxyError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|err| ProxyError::Key(format!("not base64: {err}")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            ProxyError::Key(format!("{} bytes, expected 32", bytes.len()))
        })?;
        self.psk = Some(key);
        Ok(self)
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The key is not 32 bytes of base64.
    #[error("invalid proxy key: {0}")]
    Key(String),
    /// A listener could not bind.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, String),
    /// Per-radio ports would run past 65535.
    #[error("per-radio ports starting at {0} run past 65535")]
    PortRange(u16),
    /// The mDNS record could not be built or announced.
    #[error("mDNS: {0}")]
    Mdns(String),
    /// The fleet did not answer.
    #[error("the fleet: {0}")]
    Fleet(crate::Error),
    /// Per-radio mode with no radio.
    #[error("per-radio mode needs at least one radio")]
    NoRadios,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let good = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_eq!(
            ProxyConfig::default().with_psk(good).unwrap().psk.unwrap()[31],
            31
        );
        let short = ProxyConfig::default().with_psk("AAEC").unwrap_err();
        assert!(
            short.to_string().contains("3 bytes, expected 32"),
            "{short}"
        );
        assert!(ProxyConfig::default().with_psk("not base64!").is_err());
    }
}

//! How to reach one ESPHome proxy: [`EsphomeConfig`], parsed from `HOST:PORT[,KEY]`.
//!
//! The command line (`--proxy HOST:PORT[,KEY]`) and embedders both build this. Parsing checks
//! everything it can before any socket opens (port range, the key's base64 and its 32-byte
//! length) and says exactly what was wrong; the key never appears in `Debug` output or logs.
//! The timing fields have the reference client's defaults and exist so tests can shorten them.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;

/// The native API's default port.
pub const DEFAULT_PORT: u16 = 6053;

/// Why a proxy specification was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No host before the port.
    #[error("proxy '{0}' has no host: expected HOST:PORT[,KEY]")]
    MissingHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("proxy '{spec}': '{port}' is not a port number (1-65535)")]
    BadPort {
        /// The whole specification.
        spec: String,
        /// The port text.
        port: String,
    },
    /// The key is not base64.
    #[error("proxy '{0}': the encryption key is not valid base64")]
    KeyNotBase64(String),
    /// The key does not decode to 32 bytes.
    #[error("proxy '{spec}': the encryption key decodes to {length} bytes, expected 32")]
    KeyLength {
        /// The proxy (without the key).
        spec: String,
        /// Bytes decoded.
        length: usize,
    },
}

/// One proxy's address, key and timings.
#[derive(Clone, PartialEq, Eq)]
pub struct EsphomeConfig {
    /// The radio's name in the fleet (defaults to `HOST:PORT`).
    pub name: String,
    /// Host name or IP address.
    pub host: String,
    /// TCP port (6053 by default).
    pub port: u16,
    /// The 32-byte Noise pre-shared key (`api: encryption: key:`), if the proxy has one.
    psk: Option<[u8; 32]>,
    /// The legacy API password (ESPHome before 2026.1), if the proxy has one.
    password: Option<String>,
    /// First delay before reconnecting after the session drops; doubles up to `reconnect_max`.
    pub reconnect_min: Duration,
    /// Longest delay between reconnect attempts.
    pub reconnect_max: Duration,
    /// Budget for TCP connect + handshake + hello + device info.
    pub handshake_timeout: Duration,
    /// Budget for one GATT operation or service discovery.
    pub request_timeout: Duration,
    /// Ping after this long without traffic; the session is dead after 4.5 times this.
    pub keepalive: Duration,
}

impl fmt::Debug for EsphomeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EsphomeConfig")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("encrypted", &self.psk.is_some())
            .field("password", &self.password.is_some())
            .finish_non_exhaustive()
    }
}

impl EsphomeConfig {
    /// A plaintext proxy at `host:port` with default timings, named `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        let host = host.into();
        Self {
            name: format!("{host}:{port}"),
            host,
            port,
            psk: None,
            password: None,
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            keepalive: Duration::from_secs(20),
        }
    }

    /// Parses `HOST:PORT[,KEY]` (`HOST` alone means port 6053; IPv6 hosts in brackets).
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let (address, key) = match spec.trim().split_once(',') {
            Some((address, key)) => (address.trim(), Some(key.trim())),
            None => (spec.trim(), None),
        };
        let (host, port) = match address.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| ConfigError::BadPort {
                        spec: address.to_string(),
                        port: port.to_string(),
                    })?;
                (host, port)
            }
            _ => (address, DEFAULT_PORT),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(ConfigError::MissingHost(address.to_string()));
        }
        let config = Self::new(host, port);
        match key {
            Some(key) => config.with_key(key).map_err(|err| match err {
                ConfigError::KeyNotBase64(_) => ConfigError::KeyNotBase64(address.to_string()),
                ConfigError::KeyLength { length, .. } => ConfigError::KeyLength {
                    spec: address.to_string(),
                    length,
                },
                other => other,
            }),
            None => Ok(config),
        }
    }

    /// Sets the Noise key from its base64 form (as in the proxy's YAML).
    pub fn with_key(mut self, base64_key: &str) -> Result<Self, ConfigError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(base64_key.trim())
            .map_err(|_| ConfigError::KeyNotBase64(self.name.clone()))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ConfigError::KeyLength {
                spec: self.name.clone(),
                length: bytes.len(),
            })?;
        self.psk = Some(key);
        Ok(self)
    }

    /// Sets the legacy API password (`api: password:`, ESPHome before 2026.1; prefer a key).
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Renames the radio.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The legacy password, if set.
    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The key, if the proxy uses encryption.
    pub(crate) fn psk(&self) -> Option<&[u8; 32]> {
        self.psk.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn host_port_and_key_parse_and_the_key_stays_out_of_debug() {
        let config = EsphomeConfig::parse(&format!("proxy.lan:6054,{KEY}")).unwrap();
        assert_eq!((config.host.as_str(), config.port), ("proxy.lan", 6054));
        assert_eq!(config.name, "proxy.lan:6054");
        assert_eq!(config.psk().map(|k| k[31]), Some(31));
        let debug = format!("{config:?}");
        assert!(
            debug.contains("encrypted: true") && !debug.contains(KEY),
            "{debug}"
        );
        let plain = EsphomeConfig::parse("10.0.0.7").unwrap();
        assert_eq!((plain.port, plain.psk()), (DEFAULT_PORT, None));
        assert_eq!(EsphomeConfig::parse("[::1]:7000").unwrap().host, "::1");
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = EsphomeConfig::parse("proxy:http").unwrap_err();
        assert!(
            err.to_string().contains("'http' is not a port number"),
            "{err}"
        );
        assert!(EsphomeConfig::parse("proxy:0").is_err());
        assert!(matches!(
            EsphomeConfig::parse(":6053"),
            Err(ConfigError::MissingHost(_))
        ));
        let err = EsphomeConfig::parse("proxy:6053,not base64!").unwrap_err();
        assert_eq!(err, ConfigError::KeyNotBase64("proxy:6053".into()));
        let err = EsphomeConfig::parse("proxy:6053,AAEC").unwrap_err();
        assert!(
            err.to_string().contains("decodes to 3 bytes, expected 32"),
            "{err}"
        );
        assert!(!err.to_string().contains("AAEC"));
    }
}

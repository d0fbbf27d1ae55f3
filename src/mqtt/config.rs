//! `[mqtt]` in hub.toml: which broker, how to log in, and what to publish where.
//!
//! Checked at load like the rest of the file: every error names the `mqtt.<field>` that is
//! wrong. A password can come from the file or, better, from an environment variable named in
//! the file, so hub.toml can be shared without the secret.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// The `[mqtt]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (1883, or 8883 with TLS, by default).
    pub port: Option<u16>,
    /// `"5"` (default) or `"3.1.1"` for old brokers.
    #[serde(default)]
    pub protocol: Protocol,
    /// Connect with TLS.
    #[serde(default)]
    pub tls: bool,
    /// PEM file of the CA to trust (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// Login name.
    pub username: Option<String>,
    /// Password, in the file.
    pub password: Option<String>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    /// MQTT client id (default `bluefleet-<hub>`).
    pub client_id: Option<String>,
    /// This hub's name in topics (default `hub`).
    #[serde(default = "default_hub")]
    pub hub: String,
    /// First topic level (default `bluefleet`).
    #[serde(default = "default_base")]
    pub base_topic: String,
    /// Home Assistant's discovery prefix (default `homeassistant`).
    #[serde(default = "default_discovery_prefix")]
    pub discovery_prefix: String,
    /// Publish Home Assistant discovery (default true).
    #[serde(default = "yes")]
    pub discovery: bool,
    /// QoS of what the hub publishes (0, 1 or 2; default 1).
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// Retain state, radio and value messages (default true).
    #[serde(default = "yes")]
    pub retain: bool,
    /// Raw adverts on `…/devices/<ADDRESS>/advert`: `off` (default), `changed` or `all`.
    #[serde(default)]
    pub publish_adverts: PublishAdverts,
    /// MQTT keepalive (default 30s, at least 5s).
    #[serde(default = "default_keepalive", deserialize_with = "duration")]
    pub keepalive: Duration,
}

/// MQTT protocol version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    /// MQTT 5.
    #[default]
    #[serde(rename = "5")]
    V5,
    /// MQTT 3.1.1.
    #[serde(rename = "3.1.1")]
    V311,
}

/// Which raw adverts to publish.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishAdverts {
    /// None.
    #[default]
    Off,
    /// Only when a device's advert payload changed.
    Changed,
    /// Every advert heard.
    All,
}

fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::sim::world::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn default_hub() -> String {
    "hub".into()
}
fn default_base() -> String {
    "bluefleet".into()
}
fn default_discovery_prefix() -> String {
    "homeassistant".into()
}
fn yes() -> bool {
    true
}
fn default_qos() -> u8 {
    1
}
fn default_keepalive() -> Duration {
    Duration::from_secs(30)
}

/// A broker `host:port` from the command line (`demo --mqtt`), with defaults for the rest.
pub fn from_host_port(text: &str) -> crate::Result<MqttConfig> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| Error::config("--mqtt", format!("'{text}' needs HOST:PORT")))?;
    let port: u16 = port
        .parse()
        .map_err(|_| Error::config("--mqtt", format!("'{port}' is not a port number")))?;
    let config = MqttConfig {
        host: host.trim_matches(['[', ']']).to_string(),
        port: Some(port),
        ..minimal()
    };
    config.check()?;
    Ok(config)
}

fn minimal() -> MqttConfig {
    MqttConfig {
        host: String::new(),
        port: None,
        protocol: Protocol::V5,
        tls: false,
        ca_file: None,
        username: None,
        password: None,
        password_env: None,
        client_id: None,
        hub: default_hub(),
        base_topic: default_base(),
        discovery_prefix: default_discovery_prefix(),
        discovery: true,
        qos: default_qos(),
        retain: true,
        publish_adverts: PublishAdverts::Off,
        keepalive: default_keepalive(),
    }
}

/// A topic level we build topics from: not empty, no wildcards, no separators.
fn check_level(field: &str, value: &str, allow_slash: bool) -> crate::Result<()> {
    let bad = value.is_empty()
        || value.contains(['+', '#', '\0'])
        || (!allow_slash && value.contains('/'))
        || value.starts_with('/')
        || value.ends_with('/');
    if bad {
        return Err(Error::config(
            format!("mqtt.{field}"),
            format!("'{value}' cannot be used in a topic (empty, or has +, #, or a stray /)"),
        ));
    }
    Ok(())
}

impl MqttConfig {
    /// Checks every field; the error names the field.
    pub fn check(&self) -> crate::Result<()> {
        if self.host.trim().is_empty() {
            return Err(Error::config("mqtt.host", "must not be empty"));
        }
        if self.port == Some(0) {
            return Err(Error::config("mqtt.port", "must be 1-65535"));
        }
        if self.qos > 2 {
            return Err(Error::config(
                "mqtt.qos",
                format!("{} is not a QoS (0, 1 or 2)", self.qos),
            ));
        }
        check_level("hub", &self.hub, false)?;
        check_level("base_topic", &self.base_topic, true)?;
        check_level("discovery_prefix", &self.discovery_prefix, true)?;
        if self.password.is_some() && self.password_env.is_some() {
            return Err(Error::config(
                "mqtt.password_env",
                "give either password or password_env, not both",
            ));
        }
        if (self.password.is_some() || self.password_env.is_some()) && self.username.is_none() {
            return Err(Error::config(
                "mqtt.username",
                "a password needs a username",
            ));
        }
        if self.ca_file.is_some() && !self.tls {
            return Err(Error::config("mqtt.ca_file", "needs tls = true"));
        }
        // rumqttc refuses (panics on) keepalives under 5 s; MQTT's own limit is 65535 s.
        if self.keepalive < Duration::from_secs(5) || self.keepalive > Duration::from_secs(65535) {
            return Err(Error::config("mqtt.keepalive", "must be 5s to 18h"));
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > 65535 {
                return Err(Error::config("mqtt.client_id", "must not be empty"));
            }
        }
        Ok(())
    }

    /// The port, defaulted by TLS.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls { 8883 } else { 1883 })
    }

    /// The client id, defaulted from the hub name.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("bluefleet-{}", self.hub))
    }

    /// The password, read from the environment variable when one is named.
    pub fn password(&self) -> crate::Result<Option<String>> {
        match (&self.password, &self.password_env) {
            (Some(password), _) => Ok(Some(password.clone())),
            (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
                Error::config(
                    "mqtt.password_env",
                    format!("environment variable {var} is not set"),
                )
            }),
            (None, None) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> crate::Result<MqttConfig> {
        let config: MqttConfig =
            toml::from_str(text).map_err(|e| Error::config("mqtt", e.message().to_string()))?;
        config.check()?;
        Ok(config)
    }

    #[test]
    fn defaults() {
        let config = parse("host = \"127.0.0.1\"").unwrap();
        assert_eq!(config.port(), 1883);
        assert_eq!(config.client_id(), "bluefleet-hub");
        assert_eq!(config.qos, 1);
        assert!(config.retain && config.discovery);
        assert_eq!(config.publish_adverts, PublishAdverts::Off);
        assert_eq!(config.protocol, Protocol::V5);
        let tls = parse("host = \"b\"\ntls = true\nprotocol = \"3.1.1\"").unwrap();
        assert_eq!(tls.port(), 8883);
        assert_eq!(tls.protocol, Protocol::V311);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("host = \"\"", "mqtt.host"),
            ("host = \"h\"\nqos = 3", "mqtt.qos"),
            ("host = \"h\"\nport = 0", "mqtt.port"),
            ("host = \"h\"\nhub = \"a/b\"", "mqtt.hub"),
            ("host = \"h\"\nbase_topic = \"x/#\"", "mqtt.base_topic"),
            ("host = \"h\"\npassword = \"p\"", "mqtt.username"),
            (
                "host = \"h\"\nusername = \"u\"\npassword = \"p\"\npassword_env = \"P\"",
                "mqtt.password_env",
            ),
            ("host = \"h\"\nca_file = \"/ca.pem\"", "mqtt.ca_file"),
            ("host = \"h\"\nkeepalive = \"0s\"", "mqtt.keepalive"),
            ("host = \"h\"\nkeepalive = \"4s\"", "mqtt.keepalive"),
            (
                "host = \"h\"\npublish_adverts = \"some\"",
                "unknown variant",
            ),
            ("host = \"h\"\nprotocol = \"4\"", "unknown variant"),
            ("host = \"h\"\nhots = 1", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected} not in: {err}");
        }
    }

    #[test]
    fn password_from_the_environment() {
        let var = "BLUEFLEET_TEST_MQTT_PASSWORD_UNSET_1";
        let config = parse(&format!(
            "host = \"h\"\nusername = \"u\"\npassword_env = \"{var}\""
        ))
        .unwrap();
        let err = config.password().unwrap_err().to_string();
        assert!(
            err.contains(var) && err.contains("mqtt.password_env"),
            "{err}"
        );
        let inline = parse("host = \"h\"\nusername = \"u\"\npassword = \"p\"").unwrap();
        assert_eq!(inline.password().unwrap().as_deref(), Some("p"));
    }

    #[test]
    fn host_port_from_the_command_line() {
        let config = from_host_port("127.0.0.1:1884").unwrap();
        assert_eq!((config.host.as_str(), config.port()), ("127.0.0.1", 1884));
        assert!(from_host_port("127.0.0.1")
            .unwrap_err()
            .to_string()
            .contains("HOST:PORT"));
        assert!(from_host_port("h:99999").is_err());
    }
}

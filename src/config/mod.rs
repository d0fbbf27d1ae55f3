//! `hub.toml`: the configuration of `bluefleet run`, the hub daemon.
//!
//! It lists the radios (simulated, BlueZ or btleplug adapters, ESPHome proxies), the devices to keep
//! connected and what to subscribe to on each, with how to decode the values. Everything is
//! checked at load, and an error names the file, the entry and the field that is wrong.
//!
//! ```toml
//! cache_dir = "/var/cache/bluefleet"
//!
//! [[radio]]
//! backend = "sim"
//! world = "examples/worlds/flat.toml"
//!
//! [[device]]
//! address = "A4:C1:38:00:00:01"
//! name = "kitchen"
//! keep_connected = true
//! subscribe = [{ characteristic = "2a6e", decode = "sint16", scale = 0.01, unit = "°C" }]
//!
//! [[device]]                        # a sensor read from its adverts only
//! address = "54:48:E6:8F:80:A5"
//! keep_connected = false
//! decode = "auto"
//! bindkey = "231d39c1d7cc1ab1aee224cd096db932"
//! ```

pub mod decode;
mod device;
mod location;
mod medfloat;
pub mod poll;
mod proxy;
mod radio;
pub mod web;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::ScanMode;
use crate::Error;
pub use decode::{Decode, Reading, ValueFormat};
pub use device::{AdvertDecoding, DeviceConfig, SubscriptionConfig};
pub use proxy::ProxySection;
pub use web::WebConfig;

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// Where to persist the service cache.
    pub cache_dir: Option<PathBuf>,
    /// Seed for retry jitter and the simulated world.
    #[serde(default)]
    pub seed: u64,
    /// How long a scanning radio may deliver nothing before the watchdog recovers it
    /// (`"90s"`, the default; `"off"`). See [`HubConfig::radio_watchdog`].
    #[serde(default, rename = "radio_watchdog")]
    pub radio_watchdog_text: Option<String>,
    /// Radios.
    #[serde(default, rename = "radio")]
    pub radios: Vec<RadioConfig>,
    /// Devices to manage.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceConfig>,
    /// Serve the radios as an ESPHome Bluetooth proxy (`[proxy]`).
    pub proxy: Option<ProxySection>,
    /// The live page, when the file asks for one.
    #[serde(default)]
    pub web: Option<WebConfig>,
    /// The MQTT bridge (`[mqtt]`).
    #[cfg(feature = "mqtt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mqtt")))]
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// Several hubs sharing the devices through the broker (`[cluster]`, needs `[mqtt]`).
    #[cfg(feature = "mqtt")]
    #[cfg_attr(docsrs, doc(cfg(feature = "mqtt")))]
    pub cluster: Option<crate::mqtt::ClusterConfig>,
}

/// One radio, by backend.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "radio::RawRadio")]
pub enum RadioConfig {
    /// Every radio of a simulated world file.
    Sim {
        /// The world file.
        world: PathBuf,
        /// Scan mode of every radio of the world.
        scan_mode: ScanMode,
    },
    /// A local BlueZ adapter.
    Bluez {
        /// Adapter name (`hci0`).
        adapter: String,
        /// Connection slots (BlueZ does not report them; 5 by default).
        slots: usize,
        /// `active` (default) or `passive` (through an advertisement monitor where BlueZ has
        /// one).
        scan_mode: ScanMode,
    },
    /// Local adapters through btleplug (macOS, Windows, Linux; cargo feature `btleplug`).
    Btleplug {
        /// The adapter's name as btleplug lists it (`hci0`); every adapter when absent.
        adapter: Option<String>,
        /// Connection slots of each adapter (btleplug cannot ask; 5 by default).
        slots: usize,
        /// Only `active`: btleplug cannot scan passively, and says so when asked.
        scan_mode: ScanMode,
    },
    /// An ESPHome Bluetooth proxy.
    Esphome {
        /// `host:port`.
        host: String,
        /// Noise PSK, base64 (omit for plaintext).
        psk: Option<String>,
        /// A name for logs (defaults to the host).
        name: Option<String>,
        /// `active` (default) or `passive`, asked of the proxy's scanner.
        scan_mode: ScanMode,
    },
}

fn default_local_slots() -> usize {
    5
}

impl RadioConfig {
    /// The scan mode the entry asks for.
    pub fn scan_mode(&self) -> ScanMode {
        match self {
            Self::Sim { scan_mode, .. }
            | Self::Bluez { scan_mode, .. }
            | Self::Btleplug { scan_mode, .. }
            | Self::Esphome { scan_mode, .. } => *scan_mode,
        }
    }
}

impl HubConfig {
    /// Reads and checks a file.
    pub fn load(path: &Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|err| match err {
            Error::Config { what, reason } => {
                Error::config(format!("{} {what}", path.display()), reason)
            }
            other => other,
        })
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> crate::Result<Self> {
        let config: Self = serde_path_to_error::deserialize(toml::Deserializer::new(text))
            .map_err(|e| {
                let path = e.path().to_string();
                let error = e.into_inner();
                let what = location::place(text, &path, error.span().map(|span| span.start));
                Error::config(what, location::in_words(error.message()))
            })?;
        config.check().map_err(|error| match error {
            Error::Config { what, reason } => {
                Error::config(location::place(text, &what, None), reason)
            }
            other => other,
        })?;
        Ok(config)
    }

    /// The radio watchdog's quiet time: the file's `radio_watchdog`, 90 s when absent, `None`
    /// for `"off"`.
    pub fn radio_watchdog(&self) -> crate::Result<Option<std::time::Duration>> {
        let Some(text) = self.radio_watchdog_text.as_deref() else {
            return Ok(Some(crate::watchdog::DEFAULT_QUIET_AFTER));
        };
        if text == "off" {
            return Ok(None);
        }
        match crate::sim::world::parse_duration(text) {
            Ok(quiet)
                if quiet >= std::time::Duration::from_secs(1) && quiet.as_secs() <= 86_400 =>
            {
                Ok(Some(quiet))
            }
            _ => Err(Error::config(
                "radio_watchdog",
                format!("'{text}' is not a duration from 1s to 24h (like \"90s\"), nor \"off\""),
            )),
        }
    }

    fn check(&self) -> crate::Result<()> {
        self.radio_watchdog()?;
        if let Some(proxy) = &self.proxy {
            proxy.check()?;
        }
        if self.radios.is_empty() {
            return Err(Error::config("radio", "at least one [[radio]] is needed"));
        }
        for (index, radio) in self.radios.iter().enumerate() {
            if let RadioConfig::Bluez { slots: 0, .. } | RadioConfig::Btleplug { slots: 0, .. } =
                radio
            {
                return Err(Error::config(
                    format!("radio[{index}].slots"),
                    "must be at least 1",
                ));
            }
            if let RadioConfig::Esphome { host, .. } = radio {
                if !host.contains(':') {
                    return Err(Error::config(
                        format!("radio[{index}].host"),
                        format!("'{host}' needs a port, like {host}:6053"),
                    ));
                }
            }
        }
        #[cfg(feature = "mqtt")]
        if let Some(mqtt) = &self.mqtt {
            mqtt.check()?;
        }
        #[cfg(feature = "mqtt")]
        if let Some(cluster) = &self.cluster {
            let mqtt = self.mqtt.as_ref().ok_or_else(|| {
                Error::config("cluster", "needs [mqtt]: the hubs meet on the broker")
            })?;
            cluster.check(mqtt.keepalive)?;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, device) in self.devices.iter().enumerate() {
            if !seen.insert(device.address) {
                return Err(Error::config(
                    format!("device[{index}].address"),
                    format!("{} is listed twice", device.address),
                ));
            }
            device.check(index)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        cache_dir = "/tmp/bf"
        [[radio]]
        backend = "sim"
        world = "examples/worlds/flat.toml"
        [[radio]]
        backend = "esphome"
        host = "127.0.0.1:6053"
        [[device]]
        address = "a4:c1:38:00:00:01"
        subscribe = [{ characteristic = "2a6e", decode = "int16le", scale = 0.01, unit = "°C" }]
    "#;

    #[test]
    fn parses_a_good_file() {
        let config = HubConfig::parse(GOOD).unwrap();
        assert_eq!(config.radios.len(), 2);
        let device = &config.devices[0];
        assert!(device.keep_connected);
        assert_eq!(device.subscribe[0].decode, Decode::Sint16);
        assert_eq!(
            device.subscribe[0].uuid().unwrap(),
            crate::model::uuid_from_u16(0x2A6E)
        );
    }

    #[test]
    fn the_radio_watchdog_defaults_to_90s_and_can_be_set_or_turned_off() {
        let quiet = |line: &str| {
            HubConfig::parse(&format!("{line}\n{GOOD}")).map(|c| c.radio_watchdog().unwrap())
        };
        assert_eq!(quiet("").unwrap(), Some(std::time::Duration::from_secs(90)));
        assert_eq!(
            quiet("radio_watchdog = \"2m\"").unwrap(),
            Some(std::time::Duration::from_secs(120))
        );
        assert_eq!(quiet("radio_watchdog = \"off\"").unwrap(), None);
        for bad in ["\"0s\"", "\"soon\"", "\"100d\""] {
            let err = quiet(&format!("radio_watchdog = {bad}"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("radio_watchdog") && err.contains("not a duration"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn each_radio_has_a_scan_mode_active_unless_set() {
        let config = HubConfig::parse(&GOOD.replace(
            "backend = \"esphome\"",
            "backend = \"esphome\"\nscan_mode = \"passive\"",
        ))
        .unwrap();
        let modes: Vec<ScanMode> = config.radios.iter().map(RadioConfig::scan_mode).collect();
        assert_eq!(modes, [ScanMode::Active, ScanMode::Passive]);
        let err = HubConfig::parse(&GOOD.replace(
            "backend = \"esphome\"",
            "backend = \"esphome\"\nscan_mode = \"sideways\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("radio[1].scan_mode") && err.contains("sideways"),
            "{err}"
        );
    }

    /// examples/hub-full.toml shows every setting: it must stay a valid hub file.
    #[test]
    fn the_full_example_parses_with_every_section() {
        let config = HubConfig::parse(include_str!("../../examples/hub-full.toml")).unwrap();
        assert_eq!(config.radios.len(), 3);
        let modes: Vec<ScanMode> = config.radios.iter().map(RadioConfig::scan_mode).collect();
        assert_eq!(
            modes,
            [ScanMode::Active, ScanMode::Passive, ScanMode::Active]
        );
        assert_eq!(config.devices.len(), 3);
        assert_eq!(
            config.devices[0].subscribe[2].poll,
            Some(std::time::Duration::from_secs(600))
        );
        assert_eq!(config.devices[1].subscribe[0].offset, 1);
        assert!(config.devices[2].bindkey().is_some());
        assert!(config.proxy.is_some() && config.web.is_some());
        #[cfg(feature = "mqtt")]
        assert!(config.mqtt.is_some());
        assert_eq!(
            config.radio_watchdog().unwrap(),
            Some(std::time::Duration::from_secs(90))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (
                GOOD.replace("a4:c1:38:00:00:01", "not-an-address"),
                "not a Bluetooth address",
            ),
            (
                GOOD.replace("\"2a6e\"", "\"xyz\""),
                "device[0].subscribe[0].characteristic",
            ),
            (GOOD.replace("127.0.0.1:6053", "127.0.0.1"), "radio[1].host"),
            (
                GOOD.replace("backend = \"sim\"", "backend = \"zigbee\""),
                "unknown variant",
            ),
            (GOOD.replace("cache_dir", "cache_dri"), "unknown field"),
            ("".to_string(), "at least one [[radio]]"),
        ];
        for (text, expected) in cases {
            let err = HubConfig::parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected} not in: {err}");
        }
    }

    #[test]
    fn bindkeys_and_advert_decoding_are_read_and_checked() {
        let sensor = "[[device]]\naddress = \"54:48:E6:8F:80:A5\"\nkeep_connected = false\n\
                      decode = \"auto\"\nbindkey = \"231d39c1d7cc1ab1aee224cd096db932\"\n";
        let config = HubConfig::parse(&format!("{GOOD}\n{sensor}")).unwrap();
        assert_eq!(config.devices[0].decode, AdvertDecoding::Off);
        assert_eq!(config.devices[1].decode, AdvertDecoding::Auto);
        assert_eq!(config.devices[1].bindkey().unwrap().0[0], 0x23);
        let short = sensor.replace("231d39c1d7cc1ab1aee224cd096db932", "231d");
        let err = HubConfig::parse(&format!("{GOOD}\n{short}"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("device[1].bindkey") && err.contains("32 hex digits"),
            "{err}"
        );
        let odd = sensor.replace("\"auto\"", "\"sometimes\"");
        let err = HubConfig::parse(&format!("{GOOD}\n{odd}"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `sometimes`"), "{err}");
    }

    #[test]
    fn btleplug_radios_take_an_optional_adapter_and_slots() {
        let radio = |lines: &str| {
            HubConfig::parse(&format!("[[radio]]\nbackend = \"btleplug\"\n{lines}"))
                .map(|c| c.radios[0].clone())
        };
        assert_eq!(
            radio("").unwrap(),
            RadioConfig::Btleplug {
                adapter: None,
                slots: 5,
                scan_mode: ScanMode::Active
            }
        );
        assert_eq!(
            radio("adapter = \"hci1\"\nslots = 7").unwrap(),
            RadioConfig::Btleplug {
                adapter: Some("hci1".into()),
                slots: 7,
                scan_mode: ScanMode::Active
            }
        );
        let host = radio("host = \"127.0.0.1:6053\"").unwrap_err().to_string();
        assert!(
            host.contains("line 1, radio[0]")
                && host.contains("`host` belongs to esphome radios, not to btleplug radios"),
            "{host}"
        );
        let none = radio("slots = 0").unwrap_err().to_string();
        assert!(
            none.contains("line 3, radio[0].slots: must be at least 1"),
            "{none}"
        );
    }

    #[test]
    fn duplicate_devices_are_refused() {
        let text = format!("{GOOD}\n[[device]]\naddress = \"A4:C1:38:00:00:01\"\n");
        assert!(HubConfig::parse(&text)
            .unwrap_err()
            .to_string()
            .contains("listed twice"));
    }

    #[test]
    fn a_missing_file_names_the_path() {
        let err = HubConfig::load(Path::new("/nonexistent/hub.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/hub.toml"));
    }
}

//! Every topic the bridge uses, built in one place (design §10), so the publisher, the
//! command parser, the tests and docs/mqtt.md agree.

use uuid::Uuid;

use crate::model::uuid::short_form;
use crate::model::{Address, RadioId};

/// The topics of one hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    root: String,
    discovery_prefix: String,
    hub: String,
}

/// A characteristic as a topic level: `2a6e` for SIG UUIDs, the full form otherwise.
pub fn characteristic_level(uuid: &Uuid) -> String {
    match short_form(uuid) {
        Some(short) if short <= 0xFFFF => format!("{short:04x}"),
        Some(short) => format!("{short:08x}"),
        None => uuid.to_string(),
    }
}

/// A radio name as one topic level (slashes and wildcards replaced).
fn radio_level(radio: &RadioId) -> String {
    radio
        .to_string()
        .chars()
        .map(|c| if matches!(c, '/' | '+' | '#') { '_' } else { c })
        .collect()
}

impl Topics {
    /// Topics under `<base>/<hub>`, discovery under `<discovery_prefix>`.
    pub fn new(base: &str, hub: &str, discovery_prefix: &str) -> Self {
        Self {
            root: format!("{base}/{hub}"),
            discovery_prefix: discovery_prefix.to_string(),
            hub: hub.to_string(),
        }
    }

    /// `<base>/<hub>/status`: `online` / `offline` (retained, also the last will).
    pub fn status(&self) -> String {
        format!("{}/status", self.root)
    }

    /// `<base>/<hub>/state`: the hub's own JSON state.
    pub fn hub_state(&self) -> String {
        format!("{}/state", self.root)
    }

    /// `<base>/<hub>/radios/<radio>`.
    pub fn radio(&self, radio: &RadioId) -> String {
        format!("{}/radios/{}", self.root, radio_level(radio))
    }

    /// `<base>/<hub>/devices/<ADDRESS>/state`.
    pub fn device_state(&self, address: &Address) -> String {
        format!("{}/devices/{address}/state", self.root)
    }

    /// `<base>/<hub>/devices/+/state`: every device's state, to find stale ones.
    pub fn every_device_state(&self) -> String {
        format!("{}/devices/+/state", self.root)
    }

    /// `<base>/<hub>/devices/<ADDRESS>/<characteristic>`.
    pub fn value(&self, address: &Address, characteristic: &Uuid) -> String {
        format!(
            "{}/devices/{address}/{}",
            self.root,
            characteristic_level(characteristic)
        )
    }

    /// `<base>/<hub>/devices/<ADDRESS>/advert`.
    pub fn advert(&self, address: &Address) -> String {
        format!("{}/devices/{address}/advert", self.root)
    }

    /// `<base>/<hub>/commands/+`: what the hub subscribes to.
    pub fn commands(&self) -> String {
        format!("{}/commands/+", self.root)
    }

    /// The verb of a command topic, if `topic` is one of ours.
    pub fn command_verb<'t>(&self, topic: &'t str) -> Option<&'t str> {
        topic
            .strip_prefix(self.root.as_str())?
            .strip_prefix("/commands/")
    }

    /// The address of a `…/devices/<ADDRESS>/state` topic, if `topic` is one of ours.
    pub fn state_address(&self, topic: &str) -> Option<Address> {
        let rest = topic
            .strip_prefix(self.root.as_str())?
            .strip_prefix("/devices/")?;
        rest.strip_suffix("/state")?.parse().ok()
    }

    /// `<base>/<hub>/responses/<id>` (MQTT 3.1.1, or no response topic given).
    pub fn response(&self, id: Option<&str>) -> String {
        match id {
            Some(id) => format!("{}/responses/{id}", self.root),
            None => format!("{}/responses", self.root),
        }
    }

    /// Home Assistant's device-based discovery topic of a device.
    pub fn discovery(&self, object_id: &str) -> String {
        format!("{}/device/{object_id}/config", self.discovery_prefix)
    }

    /// The hub's name.
    pub fn hub(&self) -> &str {
        &self.hub
    }
}

/// A discovery object id for a device: `bluefleet_a4c138000001`.
pub fn device_object_id(address: &Address) -> String {
    let hex: String = address
        .to_string()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .collect();
    format!("bluefleet_{}", hex.to_lowercase())
}

/// The discovery object id of the hub itself: `bluefleet_hub_<hub>`.
pub fn hub_object_id(hub: &str) -> String {
    let safe: String = hub
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("bluefleet_hub_{safe}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid_from_u16;

    #[test]
    fn topics_follow_the_design() {
        let topics = Topics::new("bluefleet", "attic", "homeassistant");
        let address: Address = "A4:C1:38:00:00:01".parse().unwrap();
        assert_eq!(topics.status(), "bluefleet/attic/status");
        assert_eq!(
            topics.device_state(&address),
            "bluefleet/attic/devices/A4:C1:38:00:00:01/state"
        );
        assert_eq!(
            topics.value(&address, &uuid_from_u16(0x2A6E)),
            "bluefleet/attic/devices/A4:C1:38:00:00:01/2a6e"
        );
        assert_eq!(
            topics.radio(&RadioId::new("proxy/kitchen")),
            "bluefleet/attic/radios/proxy_kitchen"
        );
        assert_eq!(
            topics.discovery(&device_object_id(&address)),
            "homeassistant/device/bluefleet_a4c138000001/config"
        );
        assert_eq!(
            topics.command_verb("bluefleet/attic/commands/read"),
            Some("read")
        );
        assert_eq!(topics.command_verb("bluefleet/other/commands/read"), None);
        assert_eq!(
            topics.state_address("bluefleet/attic/devices/A4:C1:38:00:00:01/state"),
            Some(address)
        );
        assert_eq!(hub_object_id("my hub"), "bluefleet_hub_my_hub");
    }
}

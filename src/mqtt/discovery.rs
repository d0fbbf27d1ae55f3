//! Home Assistant MQTT discovery, device-based: one retained
//! `homeassistant/device/<id>/config` per device, listing its entities under `components`
//! (abbreviated `cmps` in HA's docs), with `origin`, `availability` (the hub's status topic)
//! and `via_device` (the hub). An empty retained payload on the same topic removes the device.
//!
//! The keys are the full names Home Assistant documents for device discovery and the `sensor`
//! and `binary_sensor` platforms; `tests/mqtt` checks every payload against that list.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::topics::{characteristic_level, device_object_id, hub_object_id, Topics};
use crate::model::uuid::short_form;
use crate::model::Address;

/// One value a device publishes that Home Assistant should show as a sensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueSpec {
    /// Key in the state JSON's `readings`.
    pub key: String,
    /// Entity name.
    pub name: String,
    /// Unit, if any.
    pub unit: Option<String>,
    /// Home Assistant device class, if one fits.
    pub device_class: Option<&'static str>,
    /// Whether values are numbers (then it is a measurement).
    pub numeric: bool,
}

impl ValueSpec {
    /// The spec of a subscribed GATT characteristic.
    pub fn for_characteristic(characteristic: &Uuid, unit: &str, numeric: bool) -> Self {
        let (name, device_class) = match short_form(characteristic) {
            Some(0x2A6E) => ("Temperature", Some("temperature")),
            Some(0x2A6F) => ("Humidity", Some("humidity")),
            Some(0x2A19) => ("Battery", Some("battery")),
            Some(0x2A6D) => ("Pressure", Some("pressure")),
            Some(0x2A37) => ("Heart rate", None),
            _ => ("", None),
        };
        let key = characteristic_level(characteristic);
        Self {
            name: if name.is_empty() {
                key.clone()
            } else {
                name.into()
            },
            key,
            unit: (!unit.is_empty()).then(|| unit.to_string()),
            // A device class with a unit HA would refuse is worse than none.
            device_class: device_class.filter(|_| numeric && !unit.is_empty()),
            numeric,
        }
    }
}

impl ValueSpec {
    /// The spec of a reading decoded from adverts (`temperature`, `battery_1`, …).
    pub fn for_reading(key: &str, reading: &crate::decode::reading::Reading) -> Self {
        use crate::decode::reading::{Kind, Value as Decoded};
        let numeric = matches!(reading.value, Decoded::Number(_));
        let device_class = match reading.kind {
            Kind::Temperature => Some("temperature"),
            Kind::Humidity => Some("humidity"),
            Kind::Battery => Some("battery"),
            Kind::Voltage => Some("voltage"),
            Kind::Illuminance => Some("illuminance"),
            Kind::Pressure => Some("pressure"),
            _ => None,
        };
        let unit = reading.unit.symbol();
        let mut name = key.replace('_', " ");
        if let Some(first) = name.get(..1) {
            name = first.to_uppercase() + name.get(1..).unwrap_or_default();
        }
        Self {
            key: key.to_string(),
            name,
            unit: (!unit.is_empty()).then(|| unit.to_string()),
            device_class: device_class.filter(|_| numeric && !unit.is_empty()),
            numeric,
        }
    }
}

fn availability(topics: &Topics) -> Value {
    json!([{
        "topic": topics.status(),
        "payload_available": "online",
        "payload_not_available": "offline",
    }])
}

fn origin() -> Value {
    json!({"name": "bluefleet", "sw_version": env!("CARGO_PKG_VERSION")})
}

/// The discovery payload of one device.
pub fn device_config(
    topics: &Topics,
    address: &Address,
    name: &str,
    values: &[ValueSpec],
) -> Value {
    let object_id = device_object_id(address);
    let state_topic = topics.device_state(address);
    let mut components = Map::new();
    for value in values {
        let mut component = json!({
            "platform": "sensor",
            "unique_id": format!("{object_id}_{}", value.key),
            "name": value.name,
            "state_topic": state_topic,
            "value_template": format!("{{{{ value_json.readings['{}'] }}}}", value.key),
        });
        if let Some(unit) = &value.unit {
            component["unit_of_measurement"] = json!(unit);
        }
        if let Some(class) = value.device_class {
            component["device_class"] = json!(class);
        }
        if value.numeric {
            component["state_class"] = json!("measurement");
        }
        components.insert(value.key.clone(), component);
    }
    components.insert(
        "rssi".into(),
        json!({
            "platform": "sensor",
            "unique_id": format!("{object_id}_rssi"),
            "name": "Signal strength",
            "state_topic": state_topic,
            "value_template": "{{ value_json.best_rssi }}",
            "unit_of_measurement": "dBm",
            "device_class": "signal_strength",
            "state_class": "measurement",
            "entity_category": "diagnostic",
        }),
    );
    components.insert(
        "connected".into(),
        json!({
            "platform": "binary_sensor",
            "unique_id": format!("{object_id}_connected"),
            "name": "Connected",
            "state_topic": state_topic,
            "value_template": "{{ 'ON' if value_json.connection == 'connected' else 'OFF' }}",
            "device_class": "connectivity",
            "entity_category": "diagnostic",
        }),
    );
    json!({
        "device": {
            "identifiers": [object_id],
            "connections": [["bluetooth", address.to_string().to_lowercase()]],
            "name": name,
            "via_device": hub_object_id(topics.hub()),
        },
        "origin": origin(),
        "availability": availability(topics),
        "components": components,
    })
}

/// The discovery payload of the hub itself (what devices are `via_device` of).
pub fn hub_config(topics: &Topics) -> Value {
    let object_id = hub_object_id(topics.hub());
    json!({
        "device": {
            "identifiers": [object_id],
            "name": format!("bluefleet {}", topics.hub()),
            "manufacturer": "bluefleet",
            "sw_version": env!("CARGO_PKG_VERSION"),
        },
        "origin": origin(),
        "availability": availability(topics),
        "components": {
            "connected_devices": {
                "platform": "sensor",
                "unique_id": format!("{object_id}_connected_devices"),
                "name": "Connected devices",
                "state_topic": topics.hub_state(),
                "value_template": "{{ value_json.connected }}",
                "state_class": "measurement",
            },
            "slots_free": {
                "platform": "sensor",
                "unique_id": format!("{object_id}_slots_free"),
                "name": "Free connection slots",
                "state_topic": topics.hub_state(),
                "value_template": "{{ value_json.slots_free }}",
                "state_class": "measurement",
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid_from_u16;

    #[test]
    fn a_device_config_links_to_the_hub() {
        let topics = Topics::new("bluefleet", "attic", "homeassistant");
        let address: Address = "A4:C1:38:00:00:01".parse().unwrap();
        let values = [ValueSpec::for_characteristic(
            &uuid_from_u16(0x2A6E),
            "°C",
            true,
        )];
        let config = device_config(&topics, &address, "Living room", &values);
        assert_eq!(config["device"]["via_device"], "bluefleet_hub_attic");
        assert_eq!(config["availability"][0]["topic"], "bluefleet/attic/status");
        let temperature = &config["components"]["2a6e"];
        assert_eq!(temperature["device_class"], "temperature");
        assert_eq!(
            temperature["value_template"],
            "{{ value_json.readings['2a6e'] }}"
        );
        assert_eq!(temperature["unique_id"], "bluefleet_a4c138000001_2a6e");
        assert_eq!(
            hub_config(&topics)["device"]["identifiers"][0],
            "bluefleet_hub_attic"
        );
    }

    #[test]
    fn no_device_class_without_a_unit() {
        let hex = ValueSpec::for_characteristic(&uuid_from_u16(0x2A6E), "", false);
        assert_eq!(hex.device_class, None);
        assert_eq!(hex.name, "Temperature");
        let vendor = ValueSpec::for_characteristic(&uuid_from_u16(0xFFF1), "", false);
        assert_eq!(vendor.name, "fff1");
    }
}

//! Home Assistant's documented keys for device-based MQTT discovery, to check our payloads
//! against. Source: the Home Assistant documentation, `source/_integrations/mqtt.markdown`
//! (device discovery payload: `device`, `origin`, `components`, shared options; the device and
//! origin maps), `sensor.mqtt.markdown` and `binary_sensor.mqtt.markdown` (configuration
//! variables), and the sensor / binary sensor device-class lists. Full key names only (we do
//! not abbreviate).

use serde_json::Value;

const TOP_LEVEL: &[&str] = &[
    "device",
    "origin",
    "components",
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "state_topic",
    "command_topic",
    "qos",
    "encoding",
];
const DEVICE: &[&str] = &[
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
];
const ORIGIN: &[&str] = &["name", "sw_version", "support_url"];
const AVAILABILITY: &[&str] = &[
    "topic",
    "payload_available",
    "payload_not_available",
    "value_template",
];
/// Keys both platforms share.
const ENTITY: &[&str] = &[
    "platform",
    "unique_id",
    "name",
    "object_id",
    "default_entity_id",
    "state_topic",
    "value_template",
    "device_class",
    "entity_category",
    "enabled_by_default",
    "encoding",
    "entity_picture",
    "expire_after",
    "force_update",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "qos",
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "payload_available",
    "payload_not_available",
];
const SENSOR_ONLY: &[&str] = &[
    "unit_of_measurement",
    "state_class",
    "suggested_display_precision",
    "last_reset_value_template",
    "options",
];
const BINARY_SENSOR_ONLY: &[&str] = &["payload_on", "payload_off", "off_delay"];
const SENSOR_CLASSES: &[&str] = &[
    "temperature",
    "humidity",
    "battery",
    "pressure",
    "signal_strength",
    "voltage",
    "illuminance",
    "timestamp",
];
const BINARY_SENSOR_CLASSES: &[&str] = &["connectivity", "presence", "battery", "problem"];
const STATE_CLASSES: &[&str] = &["measurement", "total", "total_increasing"];
const ENTITY_CATEGORIES: &[&str] = &["config", "diagnostic"];

fn keys_within(what: &str, value: &Value, allowed: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("{what} is not an object: {value}"));
    for key in object.keys() {
        assert!(
            allowed.contains(&key.as_str()),
            "{what}: '{key}' is not a documented key"
        );
    }
}

fn one_of(what: &str, value: &Value, allowed: &[&str]) {
    if let Some(text) = value.as_str() {
        assert!(
            allowed.contains(&text),
            "{what}: '{text}' is not documented"
        );
    } else {
        assert!(value.is_null(), "{what} is not a string: {value}");
    }
}

/// Panics naming the first key or value Home Assistant does not document.
pub fn check_device_discovery(payload: &Value) {
    keys_within("payload", payload, TOP_LEVEL);
    let device = &payload["device"];
    keys_within("device", device, DEVICE);
    assert!(
        device["identifiers"]
            .as_array()
            .is_some_and(|ids| !ids.is_empty()),
        "device.identifiers missing"
    );
    let origin = &payload["origin"];
    keys_within("origin", origin, ORIGIN);
    assert!(origin["name"].is_string(), "origin.name is required");
    for entry in payload["availability"].as_array().into_iter().flatten() {
        keys_within("availability[]", entry, AVAILABILITY);
        assert!(
            entry["topic"].is_string(),
            "availability[].topic is required"
        );
    }
    let components = payload["components"]
        .as_object()
        .expect("components is a map");
    assert!(!components.is_empty(), "no components");
    for (id, component) in components {
        let what = format!("components.{id}");
        let platform = component["platform"].as_str().unwrap_or_default();
        let (own, classes) = match platform {
            "sensor" => (SENSOR_ONLY, SENSOR_CLASSES),
            "binary_sensor" => (BINARY_SENSOR_ONLY, BINARY_SENSOR_CLASSES),
            other => panic!("{what}: platform '{other}' is not one we document"),
        };
        let allowed: Vec<&str> = ENTITY.iter().chain(own.iter()).copied().collect();
        keys_within(&what, component, &allowed);
        assert!(
            component["unique_id"].is_string(),
            "{what}.unique_id is required"
        );
        assert!(
            component["state_topic"].is_string(),
            "{what}.state_topic is required"
        );
        one_of(
            &format!("{what}.device_class"),
            &component["device_class"],
            classes,
        );
        one_of(
            &format!("{what}.state_class"),
            &component["state_class"],
            STATE_CLASSES,
        );
        one_of(
            &format!("{what}.entity_category"),
            &component["entity_category"],
            ENTITY_CATEGORIES,
        );
    }
}

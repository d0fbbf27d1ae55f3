//! The MQTT bridge of `bluefleet run` (feature `mqtt`): every managed device's state, its
//! subscribed GATT values and optionally its raw adverts on a broker, Home Assistant
//! device-based discovery, and commands (read, write, subscribe, keep-connected, explain,
//! release) with answers. Topics and payloads: docs/mqtt.md.
//!
//! Outside Home Assistant's Python stack, BLE reaches home automation through MQTT (openHAB,
//! Node-RED, Domoticz, HA itself all read it), so a hub that speaks it serves all of them.
//!
//! Layout: [`core::Bridge`] is the sans-IO part (fleet facts in, publishes out, commands
//! parsed by [`commands`]); `shell` samples the fleet and runs commands; [`link`] is the
//! broker connection on its own thread, behind small traits that `rumqtt` implements for
//! rumqttc's MQTT 5 and 3.1.1 clients.

pub mod cluster;
pub mod commands;
pub mod config;
pub mod core;
pub mod discovery;
mod execute;
pub mod link;
mod rumqtt;
mod shell;
pub mod snapshot;
pub mod topics;

pub use cluster::ClusterConfig;
pub use config::{MqttConfig, Protocol, PublishAdverts};
pub use shell::serve;

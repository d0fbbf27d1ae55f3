//! The MQTT bridge against a real mosquitto on loopback, observed with mosquitto's own clients:
//! state and discovery payloads (checked against Home Assistant's documented keys), commands and
//! their refusals over MQTT 5 and 3.1.1, a broker restart, releases and clean stops; and three
//! hubs sharing one house as a cluster.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bed;
mod cluster;
mod cluster_bed;
mod commands;
mod restart;
mod schema;
mod state;

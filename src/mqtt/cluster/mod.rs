//! Several hubs, one house (`[cluster]`): every managed device is connected by exactly one hub
//! of the cluster, the one whose radio hears it best and has a free slot, and a hub that dies
//! or loses the broker hands its devices over within a lease, without ever letting two hubs
//! hold one device.
//!
//! The broker every home already runs is the coordinator: hubs publish offers (how well they
//! hear each device) and retained claims (who connects it, under which epoch), renewed on a
//! lease. [`core::Cluster`] is the sans-IO protocol; the bridge's shell drives the fleet from
//! its steps (keep-connected on a claim, disconnect on a drop) and forwards commands to the
//! holder. Protocol, payloads and guarantees: docs/mqtt.md, "Several hubs".

pub mod config;
pub mod core;
pub mod drive;
mod view;
pub mod wire;

pub use config::{ClusterConfig, Timings};

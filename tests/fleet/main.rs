//! The actor core end to end, through the public `Fleet` API on the simulated radio, in
//! virtual time with fixed seeds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod attempts;
mod backpressure;
mod connect;
mod determinism;
mod faults;
mod lifecycle;
mod liveness;
mod per_radio_backoff;
mod reconnect;
mod regressions;
mod requests;
mod services_changed;
mod slots;
mod stories;
mod subscriptions;
mod watchdog;
mod watching;

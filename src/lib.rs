//! bluefleet keeps many Bluetooth Low Energy sensors connected at once, across several
//! slot-limited radios (local BlueZ controllers and ESPHome Bluetooth proxies).
//!
//! # Layout, in the order data flows
//! - [`model`]: the nouns every layer shares (addresses, UUIDs, advertisements, GATT tables).
//! - [`backend`]: the `Radio` / `Link` seam every radio implements, and the [`Failure`] a
//!   backend reports in its own words; [`sim`] is the simulated radio, the default backend;
//!   [`backend::bluez`] (feature `bluez`) drives local BlueZ controllers over D-Bus with zbus.
//!   [`backend::esphome`] (feature `esphome`) speaks to ESPHome Bluetooth proxies.
//!   `backend::btleplug` (feature `btleplug`) drives local adapters on macOS, Windows and Linux.
//! - `adapter` (crate-private): one actor per radio; the fleet-wide slot ledger and per-radio
//!   connect gate. Their listings are public as [`fleet::SlotUsage`] and [`fleet::GateStats`].
//! - [`adverts`]: the listen path: every radio's adverts merged per device (best radio,
//!   smoothed RSSI, availability, proximity, beacons), plain state with no actor per device.
//! - [`decode`]: sensor readings from advert payloads (BTHome, Xiaomi, ATC/pvvx, Govee, Ruuvi,
//!   SwitchBot, Inkbird, beacons), encrypted ones with per-device bindkeys.
//! - `shared` (crate-private): what handles and actors read without a message round trip
//!   (radio registry, ledger, pipeline, device states) and the fleet-wide tunables.
//! - `supervisor` (crate-private): the one actor that routes adverts and restarts actors.
//! - `device` (crate-private): one actor per managed device around a pure `DeviceMachine`:
//!   radio choice, retries, GATT requests, subscriptions. Its policies and status types are
//!   public in [`fleet`]: [`fleet::RetryPolicy`], [`fleet::ChoicePolicy`], [`fleet::DeviceStatus`].
//! - `watchdog` (crate-private): recovers radios that go quiet; its reports are
//!   [`fleet::RecoveryReport`].
//! - [`cache`]: GATT tables kept so reconnects skip discovery.
//! - [`fleet`]: the public handles, [`Fleet`], [`Device`], [`Subscription`].
//! - [`classify`]: one table that turns a [`Failure`] into an [`ErrorKind`].
//! - [`error`]: the public [`Error`]; [`config`]: the `hub.toml` of `bluefleet run`.
//! - `native_api` (feature `esphome`): ESPHome's framing, Noise and messages, shared by the
//!   esphome backend (a client) and `proxy` (feature `proxy`), the ESPHome Bluetooth proxy
//!   server that lets Home Assistant use the fleet's radios.
//! - [`web`]: the live page's model and the SVG report, fed from diagnostics; its server
//!   (axum) is feature `web`.

// docs.rs builds with `--cfg docsrs` (Cargo.toml) and marks feature-gated items.
#![cfg_attr(docsrs, feature(doc_cfg))]
// Every type a public signature returns must be nameable by users (re-exported where it
// belongs, mostly in `fleet`): the actor modules are crate-private.
#![warn(unnameable_types)]

pub(crate) mod adapter;
pub mod adverts;
pub mod backend;
pub mod cache;
pub mod classify;
pub mod config;
pub mod decode;
pub(crate) mod device;
pub mod error;
pub mod fleet;
pub mod model;
#[cfg(feature = "mqtt")]
#[cfg_attr(docsrs, doc(cfg(feature = "mqtt")))]
pub mod mqtt;
#[cfg(feature = "esphome")]
#[cfg_attr(docsrs, doc(cfg(feature = "esphome")))]
pub mod native_api;
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub mod proxy;
pub(crate) mod shared;
pub(crate) mod supervisor;
pub(crate) mod watchdog;
pub mod web;

pub use backend::sim;
pub use backend::{Failure, FailureSource, FailureStage};
pub use error::{AttError, Error, ErrorKind, Result};
pub use fleet::{Device, Fleet, FleetBuilder, Subscription};
pub use model::{Address, AddressKind, Advertisement, CharacteristicRef, GattTable, RadioId};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

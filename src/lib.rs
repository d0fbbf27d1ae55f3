//! bluefleet keeps many Bluetooth Low Energy sensors connected at once, across several
//! slot-limited radios (local BlueZ controllers and ESPHome Bluetooth proxies).
//!
//! # Layout, in the order data flows
//! - [`model`]: the nouns every layer shares (addresses, UUIDs, advertisements, GATT tables).
//! - [`backend`]: the `Radio` / `Link` seam every radio implements, and the [`Failure`] a
//!   backend reports in its own words.
//! - [`sim`]: the simulated radio, the default backend: a seeded world of radios and devices.
//! - [`classify`]: one table that turns a [`Failure`] into an [`ErrorKind`].
//! - [`device`]: per-device behaviour; [`device::retry`] is the backoff policy.
//! - [`error`]: the public [`Error`].

pub mod adapter;
pub mod backend;
pub mod cache;
pub mod classify;
pub mod config;
pub mod device;
pub mod error;
pub mod fleet;
pub mod model;
pub mod supervisor;

pub use backend::sim;
pub use backend::{Failure, FailureSource, FailureStage};
pub use error::{AttError, Error, ErrorKind, Result};
pub use fleet::{Device, Fleet, FleetBuilder, Subscription};
pub use model::{Address, AddressKind, Advertisement, GattTable, RadioId};

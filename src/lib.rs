//! bluefleet keeps many Bluetooth Low Energy sensors connected at once, across several
//! slot-limited radios (local BlueZ controllers and ESPHome Bluetooth proxies).
//!
//! # Layout, in the order data flows
//! - [`model`]: the nouns every layer shares (addresses, UUIDs, advertisements, GATT tables).
//! - [`backend`]: the `Radio` / `Link` seam every radio implements, and the [`Failure`] a
//!   backend reports in its own words. [`backend::esphome`] (feature `esphome`) speaks to
//!   ESPHome Bluetooth proxies.
//! - [`classify`]: one table that turns a [`Failure`] into an [`ErrorKind`].
//! - [`device`]: per-device behaviour; [`device::retry`] is the backoff policy.
//! - [`error`]: the public [`Error`].

pub mod backend;
pub mod classify;
pub mod device;
pub mod error;
pub mod model;

pub use backend::{Failure, FailureSource, FailureStage};
pub use error::{AttError, Error, ErrorKind, Result};
pub use model::{Address, AddressKind, Advertisement, GattTable, RadioId};

//! The BlueZ backend: local Bluetooth controllers reached over the system D-Bus with zbus.
//!
//! BlueZ exposes each controller as an `org.bluez.Adapter1` object and each remote device as an
//! `org.bluez.Device1` object under it. This module owns the typed D-Bus proxies
//! ([`proxies`]) and the translation of D-Bus errors into [`crate::backend::failure::Failure`]
//! ([`failure`]), which the classifier then judges. The `Radio`/`Link` implementations sit on
//! top of these two pieces.

pub mod failure;
pub mod proxies;

//! The Supervisor's protocol: what handles and the adapter and device actors send it.

use std::sync::Arc;

use actix::prelude::*;

use super::diagnostics::Diagnostics;
use crate::backend::Radio;
use crate::device::DeviceActor;
use crate::model::{Address, AddressKind};

/// Registers a radio and starts its adapter actor.
#[derive(Message, Debug)]
#[rtype(result = "crate::Result<()>")]
pub struct AddRadio(pub Arc<dyn Radio>);

/// Starts managing a device (idempotent); answers with its actor.
#[derive(Message, Debug)]
#[rtype(result = "Result<Addr<DeviceActor>, crate::Error>")]
pub struct Manage {
    /// The device.
    pub address: Address,
    /// The address kind to connect with, when the user says (kept across actor restarts;
    /// `None` leaves an earlier choice, or the advertised kind).
    pub kind: Option<AddressKind>,
}

/// Keep a managed device connected or not (remembered across actor restarts). Refused with
/// `Error::NotConnectable` when the device's adverts say it accepts no connections.
#[derive(Message, Debug)]
#[rtype(result = "crate::Result<()>")]
pub struct KeepConnected {
    /// The device.
    pub address: Address,
    /// The wish.
    pub keep: bool,
}

/// A snapshot of every radio and managed device.
#[derive(Message, Debug)]
#[rtype(result = "Diagnostics")]
pub struct GetDiagnostics;

/// Disconnect everything, flush, stop the actors.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ShutdownFleet;

/// Fault injection: make a device actor panic (it is restarted, its slot released).
#[cfg(feature = "testing")]
#[derive(Message, Debug)]
#[rtype(result = "bool")]
pub struct CrashDevice(pub Address);

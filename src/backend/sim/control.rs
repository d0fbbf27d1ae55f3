//! [`SimControl`]: fault injection while a simulation runs.
//!
//! Owns the levers a test or the demo pulls at run time: take a radio down or bring it back,
//! drop a device's link, make a radio's next connects fail with a chosen class, move a device,
//! put it to sleep or out of range. Each lever applies at once, atomically, under the state
//! lock, with the same consequences a scheduled fault has (links end, slots come back, events
//! go out).

use std::sync::Arc;

use super::state::Shared;
use super::world::Position;
use crate::backend::RecoveryStep;
use crate::model::Address;
use crate::ErrorKind;

/// A lever named something the world does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// No radio has this name.
    #[error("the simulated world has no radio named '{0}'")]
    UnknownRadio(String),
    /// No device has this address.
    #[error("the simulated world has no device {0}")]
    UnknownDevice(Address),
}

/// Run-time fault injection; cheap to clone.
#[derive(Clone, Debug)]
pub struct SimControl {
    shared: Arc<Shared>,
}

impl SimControl {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn radio(&self, name: &str) -> Result<usize, SimError> {
        self.shared
            .radio_index(name)
            .ok_or_else(|| SimError::UnknownRadio(name.to_string()))
    }

    fn device(&self, address: Address) -> Result<usize, SimError> {
        self.shared
            .device_index(address)
            .ok_or(SimError::UnknownDevice(address))
    }

    /// Takes a radio down: its links end with `RadioDown`, its slots free, `Down` is emitted.
    pub fn radio_down(&self, name: &str) -> Result<(), SimError> {
        let radio = self.radio(name)?;
        self.shared
            .lock()
            .radio_down(&self.shared, radio, "taken down by the simulation control");
        Ok(())
    }

    /// The radio's scanner gets stuck: it stays up but delivers no advert until a recovery
    /// step at least as heavy as `cured_by` is taken on it (a restart of discovery cures
    /// only a `RestartDiscovery` fault; a power cycle or reconnect cures either).
    pub fn radio_quiet(&self, name: &str, cured_by: RecoveryStep) -> Result<(), SimError> {
        let radio = self.radio(name)?;
        if let Some(r) = self.shared.lock().radios.get_mut(radio) {
            r.stuck = Some(cured_by);
        }
        Ok(())
    }

    /// Brings a radio back up (`Up`, and a slot report on proxies).
    pub fn radio_up(&self, name: &str) -> Result<(), SimError> {
        let radio = self.radio(name)?;
        self.shared.lock().radio_up(&self.shared, radio);
        Ok(())
    }

    /// Ends every link of a device with `LinkLost` (a supervision timeout); returns how many.
    pub fn drop_link(&self, address: Address) -> Result<usize, SimError> {
        let device = self.device(address)?;
        Ok(self.shared.lock().drop_device_links(&self.shared, device))
    }

    /// Makes the radio's next `count` accepted connect attempts fail with `class`, in the
    /// radio's real words (before any random fault).
    pub fn fail_next_connects(
        &self,
        radio: &str,
        count: usize,
        class: ErrorKind,
    ) -> Result<(), SimError> {
        let index = self.radio(radio)?;
        if let Some(r) = self.shared.lock().radios.get_mut(index) {
            r.forced.extend(std::iter::repeat_n(class, count));
        }
        Ok(())
    }

    /// Makes the next `count` GATT operations on `address` (reads, writes, descriptor writes,
    /// notify changes) fail with ATT status `att_status`, as the device would answer.
    pub fn fail_next_gatt(
        &self,
        address: Address,
        count: usize,
        att_status: u8,
    ) -> Result<(), SimError> {
        let device = self.device(address)?;
        if let Some(d) = self.shared.lock().devices.get_mut(device) {
            d.forced_gatt.extend(std::iter::repeat_n(att_status, count));
        }
        Ok(())
    }

    /// Forgets every injected failure still queued on every radio (the faults have cleared).
    pub fn clear_injected_failures(&self) {
        for radio in self.shared.lock().radios.iter_mut() {
            radio.forced.clear();
        }
    }

    /// The device's GATT table becomes `gatt` now (as a scheduled `services_changes` entry
    /// does): open links get a Service Changed indication; a client connecting later with the
    /// old table cached finds it stale. Returns how many links were told.
    pub fn change_services(
        &self,
        address: Address,
        gatt: super::world::SimGatt,
    ) -> Result<usize, SimError> {
        let device = self.device(address)?;
        Ok(self
            .shared
            .lock()
            .change_services(&self.shared, device, &gatt))
    }

    /// Moves a device to a fixed position (overriding its route from now on).
    pub fn move_device(&self, address: Address, to: Position) -> Result<(), SimError> {
        let device = self.device(address)?;
        if let Some(d) = self.shared.lock().devices.get_mut(device) {
            d.moved_to = Some(to);
        }
        Ok(())
    }

    /// Puts a device to sleep (no adverts, no connects, its links lost at the next supervision
    /// check) or wakes it.
    pub fn set_asleep(&self, address: Address, asleep: bool) -> Result<(), SimError> {
        let device = self.device(address)?;
        if let Some(d) = self.shared.lock().devices.get_mut(device) {
            d.forced_asleep = asleep;
        }
        Ok(())
    }

    /// Takes a device out of every radio's range or brings it back.
    pub fn set_out_of_range(&self, address: Address, out: bool) -> Result<(), SimError> {
        let device = self.device(address)?;
        if let Some(d) = self.shared.lock().devices.get_mut(device) {
            d.out_of_range = out;
        }
        Ok(())
    }
}

//! The simulated world: which radios exist, which devices are around, and how they behave.
//!
//! Owns [`World`] and its parts ([`RadioSpec`], [`DeviceSpec`], [`RfModel`]), plain data a test
//! builds in code ([`World::builder`]) or a user writes as TOML ([`World::from_toml_str`],
//! [`World::load`]; the format is in `docs/sim-world.md`). Every way in ends in the same
//! validation, so a world that exists is one the simulation can run: bad input is a
//! [`WorldError`] naming the field (`devices[3].address`), never a panic later.
//!
//! The demo reads the plain per-device fields `keep_connected` and `subscribe` to know what to
//! manage; the simulation itself ignores them.

mod builder;
mod duration;
mod gatt;
mod parse;
mod parse_device;
mod payload;
mod schema;
mod sensor_formats;
mod specs;
mod validate;

use std::path::{Path, PathBuf};

pub use builder::WorldBuilder;
pub use duration::parse_duration;
pub(crate) use gatt::{Attribute, GattLayout, CCCD as CCCD_UUID};
pub use gatt::{Generator, GeneratorKind, SimCharacteristic, SimDescriptor, SimGatt, SimService};
pub use payload::{eddystone_uid, eddystone_url, ibeacon};
pub use specs::{
    AdvertBatching, DeviceSpec, FaultRates, LatencyDraw, LatencyRange, Position, RadioSpec,
    RfModel, Route, ServicesChange, Waypoint, Window,
};

/// Everything the simulation runs: radios, devices and the radio-frequency model.
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// Path loss and noise, shared by every radio.
    pub rf: RfModel,
    /// The radios, in the order [`crate::sim::Simulation::radios`] returns them.
    pub radios: Vec<RadioSpec>,
    /// The devices.
    pub devices: Vec<DeviceSpec>,
}

/// A world that cannot be run, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// The world file could not be read.
    #[error("cannot read world file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has a field of the wrong type or an unknown field.
    #[error("world TOML is malformed: {0}")]
    Toml(String),
    /// A problem in a named world file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        source: Box<WorldError>,
    },
    /// A field has a value the simulation cannot run.
    #[error("{field}: {problem}")]
    Invalid {
        /// Where, as a path: `radios[1].slot_limit`, `devices[3].address`.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl WorldError {
    pub(crate) fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl World {
    /// Starts a world in code; see [`WorldBuilder`].
    pub fn builder() -> WorldBuilder {
        WorldBuilder::default()
    }

    /// Parses and validates a world from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, WorldError> {
        parse::parse(text)
    }

    /// Reads, parses and validates a world file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, WorldError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| WorldError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|source| WorldError::InFile {
            path: path.to_path_buf(),
            source: Box::new(source),
        })
    }

    /// Checks every rule a runnable world must meet (also run by the builder and the parser).
    pub fn validate(&self) -> Result<(), WorldError> {
        validate::world(self)
    }

    /// The device with this address.
    pub fn device(&self, address: crate::model::Address) -> Option<&DeviceSpec> {
        self.devices.iter().find(|d| d.address == address)
    }

    /// The devices the hub should keep connected (`keep_connected = true`), in world order.
    pub fn keep_connected(&self) -> impl Iterator<Item = &DeviceSpec> {
        self.devices.iter().filter(|d| d.keep_connected)
    }
}

#[cfg(test)]
mod tests;

//! [`WorldBuilder`]: a world in code, for tests and examples.
//!
//! Collects radios and devices and runs the same validation as the TOML parser, so a test
//! cannot build a world the file format would refuse.

use super::{DeviceSpec, RadioSpec, RfModel, World, WorldError};

/// Builds a [`World`]: `World::builder().radio(..).device(..).build()`.
#[derive(Clone, Debug, Default)]
pub struct WorldBuilder {
    world: WorldParts,
}

#[derive(Clone, Debug, Default)]
struct WorldParts {
    rf: RfModel,
    radios: Vec<RadioSpec>,
    devices: Vec<DeviceSpec>,
}

impl WorldBuilder {
    /// Replaces the RF model (default: [`RfModel::default`]).
    pub fn rf(mut self, rf: RfModel) -> Self {
        self.world.rf = rf;
        self
    }

    /// Adds a radio.
    pub fn radio(mut self, radio: RadioSpec) -> Self {
        self.world.radios.push(radio);
        self
    }

    /// Adds a device.
    pub fn device(mut self, device: DeviceSpec) -> Self {
        self.world.devices.push(device);
        self
    }

    /// Validates and returns the world.
    pub fn build(self) -> Result<World, WorldError> {
        let world = World {
            rf: self.world.rf,
            radios: self.world.radios,
            devices: self.world.devices,
        };
        world.validate()?;
        Ok(world)
    }
}

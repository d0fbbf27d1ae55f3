//! The simulated radio: a deterministic world of controllers, proxies and sensors, and the
//! default backend (`bluefleet::sim`).
//!
//! Owns [`Simulation`], which runs a [`World`] on the current tokio runtime and hands out one
//! [`SimRadio`] per world radio (`Arc<dyn Radio>`, exactly what the BlueZ and ESPHome backends
//! give), a [`SimControl`] for run-time faults, counters ([`SimStats`]) and an optional trace.
//! It is a real backend, not a mock: radios enforce their slot limits, refuse concurrent
//! attempts, lose links, and fail with the real BlueZ and ESP-IDF words so the classifier is
//! exercised end to end. The demo, the actor tests and the benchmarks all run on it.
//!
//! Determinism: one seed drives every draw (per-radio, per-device and per-link ChaCha8
//! streams); run it on a current-thread runtime with tokio's paused clock
//! (`#[tokio::test(start_paused = true)]`) and the same seed gives the same trace, an hour of
//! virtual time costs well under a second of CPU per few devices.
//!
//! # Example
//! ```
//! use std::time::Duration;
//!
//! use bluefleet::backend::ConnectRequest;
//! use bluefleet::model::{Address, AddressKind};
//! use bluefleet::sim::{run_virtual, DeviceSpec, RadioSpec, Simulation, World};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kitchen = Address::parse("A4:C1:38:00:00:01")?;
//! let world = World::builder()
//!     .radio(RadioSpec::esphome_proxy("proxy-kitchen"))
//!     .device(DeviceSpec::new(kitchen).named("Kitchen").at(2.0, 1.0))
//!     .build()?;
//! let round_trips = run_virtual(async {
//!     let sim = Simulation::start(world, 42);
//!     let request = ConnectRequest {
//!         address: kitchen,
//!         address_kind: AddressKind::Public,
//!         cached_services: None,
//!         timeout: Duration::from_secs(20),
//!     };
//!     let connection = sim.radios()[0].connect(request).await.map_err(|f| f.to_string())?;
//!     // Discovery costs 25 ATT round trips of 30 ms each, in virtual time.
//!     connection.link.services().await.map_err(|f| f.to_string())?;
//!     Ok::<_, String>(sim.stats().device(kitchen).map(|d| d.discovery_round_trips))
//! })??;
//! assert_eq!(round_trips, Some(25));
//! # Ok(())
//! # }
//! ```
//!
//! Flow: `air` (adverts, batches, outages) → `SimRadio::events`; `SimRadio::connect` → `SimLink`
//! (GATT, round trips) + `link_task` (notifications, drops); `state` holds it all.

mod air;
mod control;
mod draws;
mod faults;
mod link;
mod link_task;
mod radio;
mod reach;
mod rf;
mod state;
mod stats;
pub mod world;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub use control::{SimControl, SimError};
pub use link::SimLink;
pub use radio::SimRadio;
pub use stats::{DeviceStats, FailureCounts, RadioStats, SimStats, TraceEvent, Traced};
pub use world::{DeviceSpec, Position, RadioSpec, World, WorldBuilder, WorldError};

use crate::backend::{DisconnectCause, Radio};
use state::Shared;

/// Runs `future` to completion on a fresh current-thread tokio runtime with the clock paused,
/// the way every simulation test and benchmark runs: virtual time jumps ahead whenever all
/// tasks wait, so an hour of simulated time takes as long as the work in it.
pub fn run_virtual<F: std::future::Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(runtime.block_on(future))
}

/// A running simulated world.
///
/// Dropping it stops the world: background tasks end and every open link ends with
/// `RadioDown`. Radios handed out stay valid but hear nothing more.
#[derive(Debug)]
pub struct Simulation {
    shared: Arc<Shared>,
    radios: Vec<Arc<dyn Radio>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Simulation {
    /// Starts `world` with `seed` on the current tokio runtime. Use a current-thread runtime
    /// with the paused clock ([`run_virtual`], `#[tokio::test(start_paused = true)]`) for
    /// virtual time and reproducible runs.
    ///
    /// # Panics
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start(world: World, seed: u64) -> Self {
        Self::launch(world, seed, false)
    }

    /// Like [`Simulation::start`], also recording a [`TraceEvent`] for every advert heard,
    /// attempt, link change and notification (memory grows with the run; for tests).
    pub fn start_traced(world: World, seed: u64) -> Self {
        Self::launch(world, seed, true)
    }

    fn launch(world: World, seed: u64, traced: bool) -> Self {
        let shared = Arc::new(Shared::new(world, seed, traced));
        let radios = (0..shared.world.radios.len())
            .map(|index| Arc::new(SimRadio::new(shared.clone(), index)) as Arc<dyn Radio>)
            .collect();
        let tasks = air::spawn(&shared);
        Self {
            shared,
            radios,
            tasks,
        }
    }

    /// One radio per world radio, in world order.
    pub fn radios(&self) -> Vec<Arc<dyn Radio>> {
        self.radios.clone()
    }

    /// The fault-injection handle.
    pub fn control(&self) -> SimControl {
        SimControl::new(self.shared.clone())
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> SimStats {
        self.shared.lock().snapshot()
    }

    /// The trace so far (empty unless started with [`Simulation::start_traced`]).
    pub fn trace(&self) -> Vec<TraceEvent> {
        self.shared.lock().trace.clone().unwrap_or_default()
    }

    /// The world being run (device names, `keep_connected`, `subscribe`, ...).
    pub fn world(&self) -> &World {
        &self.shared.world
    }
}

impl Drop for Simulation {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let mut state = self.shared.lock();
        let ids: Vec<u64> = state.links.keys().copied().collect();
        for id in ids {
            state.end_link(
                &self.shared,
                id,
                DisconnectCause::RadioDown,
                "simulation stopped",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_can_cross_threads() {
        send_sync::<Simulation>();
        send_sync::<SimControl>();
        send_sync::<SimRadio>();
        send_sync::<SimLink>();
    }

    #[test]
    fn debug_output_is_a_summary() {
        let world = World::builder()
            .radio(RadioSpec::local_controller("hci0"))
            .build()
            .unwrap();
        let text = run_virtual(async { format!("{:?}", Simulation::start(world, 3)) }).unwrap();
        assert!(text.contains("seed: 3") && text.len() < 300, "{text}");
    }
}

//! Read a characteristic on demand: bluefleet connects, reads, and lets the connection go after
//! the idle timeout. `cargo run --example read_on_demand`.

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::model::uuid_from_u16;
use bluefleet::sim::{Simulation, World};
use bluefleet::Fleet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on_virtual_time(async {
        let simulation = Simulation::start(World::load("examples/worlds/flat.toml")?, 1);
        let fleet = Fleet::builder()
            .radios(simulation.radios())
            .idle_disconnect(Duration::from_secs(5))
            .build()?;
        let fridge = fleet
            .device("A4:C1:38:00:01:01".parse()?)
            .await?
            .with_timeout(Duration::from_secs(30));
        let battery = fridge.read(uuid_from_u16(0x2A19)).await?;
        println!(
            "fridge battery: {} %",
            battery.first().copied().unwrap_or_default()
        );
        println!("state now: {}", fridge.status().state.label());
        tokio::time::sleep(Duration::from_secs(10)).await;
        println!("after the idle timeout: {}", fridge.status().state.label());
        fleet.shutdown().await?;
        Ok(())
    })
}

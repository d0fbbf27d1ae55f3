//! Embed a fleet in an ordinary multi-threaded tokio program: the fleet starts its own actor
//! thread, and its handles work from any task. Real time, so it takes a few seconds.
//! `cargo run --example embed_in_tokio`.

use std::time::Duration;

use bluefleet::model::uuid_from_u16;
use bluefleet::sim::{Simulation, World};
use bluefleet::Fleet;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let simulation = Simulation::start(World::load("examples/worlds/flat.toml")?, 1);
    let fleet = Fleet::builder().radios(simulation.radios()).build()?;
    let mut readers = Vec::new();
    for address in ["A4:C1:38:00:00:01", "A4:C1:38:00:00:02"] {
        let fleet = fleet.clone();
        readers.push(tokio::spawn(async move {
            let device = fleet
                .device(address.parse()?)
                .await?
                .with_timeout(Duration::from_secs(20));
            let value = device.read(uuid_from_u16(0x2A6E)).await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>((address, value))
        }));
    }
    for reader in readers {
        let (address, value) = reader.await?.map_err(|e| e.to_string())?;
        println!("{address}: {value:02x?}");
    }
    fleet.shutdown().await?;
    Ok(())
}

//! Keep one sensor connected and print its temperature notifications, reconnects included.
//! Runs on the simulated flat: `cargo run --example keep_connected`.

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::model::uuid_from_u16;
use bluefleet::sim::{Simulation, World};
use bluefleet::Fleet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on_virtual_time(async {
        let simulation = Simulation::start(World::load("examples/worlds/flat.toml")?, 1);
        let fleet = Fleet::builder().radios(simulation.radios()).build()?;
        let sensor = fleet.device("A4:C1:38:00:00:04".parse()?).await?; // the bathroom one drops
        sensor.keep_connected(true).await?;
        let mut temperature = sensor.subscribe(uuid_from_u16(0x2A6E)).await?;
        for _ in 0..200 {
            match temperature.recv().await {
                Some(SubscriptionEvent::Notification(v)) if v.len() >= 2 => {
                    println!(
                        "{:.2} °C",
                        f64::from(i16::from_le_bytes([v[0], v[1]])) / 100.0
                    )
                }
                Some(other) => println!("-- {other:?}"),
                None => break,
            }
        }
        fleet.shutdown().await?;
        Ok(())
    })
}

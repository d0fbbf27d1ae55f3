//! Watch beacons appear, change zone and disappear on the simulated retail floor.
//! `cargo run --example watch_beacons`.

use std::time::Duration;

use bluefleet::adverts::watch::Watched;
use bluefleet::adverts::AdvertEvent;
use bluefleet::fleet::block_on_virtual_time;
use bluefleet::sim::{Simulation, World};
use bluefleet::Fleet;
use futures::StreamExt;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on_virtual_time(async {
        let simulation = Simulation::start(World::load("examples/worlds/retail_floor.toml")?, 1);
        let fleet = Fleet::builder().radios(simulation.radios()).build()?;
        let mut events = Box::pin(fleet.advert_events());
        let stop = tokio::time::sleep(Duration::from_secs(300));
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                Some(event) = events.next() => match event {
                    Watched::Lagged(missed) => println!("(missed {missed} events)"),
                    Watched::Item(AdvertEvent::Appeared { address, radio }) => println!("+ {address} via {radio}"),
                    Watched::Item(AdvertEvent::ZoneChanged { address, from, to }) => println!("~ {address} {from:?} -> {to:?}"),
                    Watched::Item(AdvertEvent::Disappeared { address, .. }) => println!("- {address}"),
                    _ => {}
                },
            }
        }
        println!("{:?}", fleet.beacon_counts());
        fleet.shutdown().await?;
        Ok(())
    })
}

//! Periodic reads for the hub entries that ask for them (`poll = "60s"`): many characteristics
//! a hub wants (a battery level, a firmware's counters) cannot notify, so they are read on a
//! timer instead, and each read's value goes where a notification's would.
//!
//! The first read is at once, then one every period; a read that takes longer than the period
//! delays the next instead of bunching them up. A failed read is an item too (the device may
//! be out of range for a while): the caller says so and the timer carries on.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::time::{Interval, MissedTickBehavior};
use uuid::Uuid;

use crate::{Address, Fleet};

/// Reads `characteristic` of `address` every `every`, for as long as the stream is polled.
pub fn reads(
    fleet: Fleet,
    address: Address,
    characteristic: Uuid,
    every: Duration,
) -> impl Stream<Item = crate::Result<Bytes>> + 'static {
    // The timer is made on the first poll, inside whichever runtime drives the stream.
    futures::stream::unfold(
        (fleet, None::<Interval>),
        move |(fleet, timer)| async move {
            let mut timer = timer.unwrap_or_else(|| {
                let mut timer = tokio::time::interval(every);
                timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
                timer
            });
            timer.tick().await;
            let value = match fleet.device(address).await {
                Ok(device) => device.read(characteristic).await,
                Err(error) => Err(error),
            };
            Some((value, (fleet, Some(timer))))
        },
    )
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;
    use crate::fleet::block_on_virtual_time;
    use crate::model::uuid_from_u16;
    use crate::sim::world::SimGatt;
    use crate::sim::{DeviceSpec, RadioSpec, Simulation, World};

    fn sensor_world() -> (World, Address) {
        let address = Address::new([0xA4, 0xC1, 0x38, 0, 0, 1]);
        let mut sensor = DeviceSpec::new(address).at(2.0, 0.0);
        sensor.gatt = SimGatt::env_sensor();
        let mut radio = RadioSpec::local_controller("hci0").at(0.0, 0.0);
        radio.faults = Default::default();
        let world = World::builder().radio(radio).device(sensor).build();
        (world.expect("a valid world"), address)
    }

    #[test]
    fn reads_at_once_then_once_every_period_on_the_sim() {
        block_on_virtual_time(async {
            let (world, address) = sensor_world();
            let simulation = Simulation::start(world, 3);
            let fleet = Fleet::builder()
                .radios(simulation.radios())
                .seed(3)
                .build()
                .expect("fleet");
            let started = tokio::time::Instant::now();
            let temperature = uuid_from_u16(0x2A6E);
            let mut values = Box::pin(reads(
                fleet.clone(),
                address,
                temperature,
                Duration::from_secs(60),
            ));
            let mut at = Vec::new();
            for _ in 0..3 {
                let value = values.next().await.expect("a read").expect("read succeeds");
                assert_eq!(value.len(), 2, "a sint16 temperature");
                at.push(started.elapsed().as_secs());
            }
            // The first read waits for an advert and a connection; then one a minute.
            assert!(at[0] < 30, "{at:?}");
            assert_eq!((at[1] / 60, at[2] / 60), (1, 2), "{at:?}");
            let unknown = uuid_from_u16(0x2A00 + 0xFF);
            let mut failing = Box::pin(reads(
                fleet.clone(),
                address,
                unknown,
                Duration::from_secs(5),
            ));
            for _ in 0..2 {
                let error = failing
                    .next()
                    .await
                    .expect("an item")
                    .expect_err("no such characteristic");
                assert!(
                    error.to_string().contains("2aff") || error.to_string().contains("not"),
                    "{error}"
                );
            }
            fleet.shutdown().await.expect("shutdown");
        });
    }
}

//! The device actor's shell driven through its mailbox, on a virtual clock: what the machine
//! tables (`machine_tests/`) cannot see, because it lives in how the actor performs effects
//! across messages.
//!
//! The soak's seed 1001299 found a device left waiting for a slot with no ticket anywhere: it
//! left the queue and joined it again within one turn of its context, and the waiter of the old
//! ticket (cancelled, but actix removes cancelled futures only later) still ran and threw the
//! new ticket away. Two adverts in the mailbox at once reproduce it here.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use super::messages::AdvertSeen;
use super::state::{DeviceState, WaitReason};
use super::{DeviceActor, DeviceActorStopped, SharedMemory, SharedSubscribers};
use crate::backend::sim::{RadioSpec, Simulation, World};
use crate::cache::ServiceCache;
use crate::fleet::block_on_virtual_time;
use crate::model::{Address, AdvertData, Advertisement, RadioId};
use crate::shared::{FleetConfig, Shared};

/// Stands in for the Supervisor: hears that a device actor stopped, and does nothing.
struct NoSupervisor;

impl Actor for NoSupervisor {
    type Context = Context<Self>;
}

impl Handler<DeviceActorStopped> for NoSupervisor {
    type Result = ();

    fn handle(&mut self, _: DeviceActorStopped, _: &mut Self::Context) {}
}

fn device() -> Address {
    Address::new([0xA4, 0xC1, 0x38, 0, 0, 1])
}

/// A one-slot radio registered in `shared` as the Supervisor would, up.
fn register(shared: &Shared, simulation: &Simulation) -> RadioId {
    let id = shared
        .register_radio(simulation.radios().remove(0))
        .id
        .clone();
    shared.ledger.set_up(&id, true);
    id
}

fn advert(radio: &RadioId, connectable: bool) -> AdvertSeen {
    let mut advert = Advertisement::from_data(
        device(),
        radio.clone(),
        -60,
        Instant::now(),
        AdvertData::default(),
    );
    advert.connectable = Some(connectable);
    AdvertSeen(Arc::new(advert))
}

fn queued_on(shared: &Shared, radio: &RadioId) -> Vec<Address> {
    shared
        .ledger
        .usage()
        .into_iter()
        .find(|u| &u.radio == radio)
        .map(|u| u.queued)
        .unwrap_or_default()
}

/// A keep-connected device queued behind a full radio hears a non-connectable advert (it
/// leaves the queue) and a connectable one (it joins again, with its old place) in the same
/// turn: it must still hold a ticket afterwards, and get the slot once it frees.
#[test]
fn leaving_and_rejoining_the_queue_in_one_turn_keeps_the_new_ticket() {
    block_on_virtual_time(async {
        let world = World::builder()
            .radio(RadioSpec::local_controller("hci0").slots(1))
            .build()
            .expect("a valid world");
        let simulation = Simulation::start(world, 1);
        let shared = Shared::new(FleetConfig::default(), ServiceCache::in_memory());
        let radio = register(&shared, &simulation);
        let elsewhere = Address::new([0xA4, 0xC1, 0x38, 0, 0, 9]);
        let only_slot = shared.ledger.try_lease(&radio, elsewhere).expect("free");
        let mut actor = DeviceActor::new(
            device(),
            Arc::clone(&shared),
            true,
            SharedSubscribers::default(),
            SharedMemory::default(),
            NoSupervisor.start().recipient(),
        );
        actor.seed_sighting(&radio, Some(-60.0), Instant::now());
        let status = actor.status.subscribe();
        let actor = actor.start();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(queued_on(&shared, &radio), vec![device()], "queued first");

        actor.do_send(advert(&radio, false));
        actor.do_send(advert(&radio, true));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            status.borrow().state,
            DeviceState::Waiting {
                reason: WaitReason::Slot
            }
        );
        assert_eq!(
            queued_on(&shared, &radio),
            vec![device()],
            "waiting for a slot, so queued for one"
        );

        drop(only_slot);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            shared.ledger.holder(&device()),
            Some(radio),
            "the freed slot went to the waiting device"
        );
    });
}

//! The device actor: one per device the user asked about, owning its connection.
//!
//! It decides *when* to connect (the user wants it kept connected, or has a request or a
//! subscription pending), *where* (radio choice over its own sightings), and *what next* after a
//! failure (the classified error picks the wait: a fresh advert, a free slot, or a backoff). It
//! holds the slot lease inside its link state, so "one slot per device, only while connecting
//! or connected" holds by construction, and dropping the actor — even by a panic — gives the
//! slot back.
//!
//! Flow: the Supervisor forwards adverts (`AdvertSeen`); handles send `Request`s; the attempt
//! runs as a spawned future through the radio's connect gate (`attempt.rs`); the link's events
//! come back as `LinkMessage`s (`link_events.rs`); GATT requests run on the link (`ops.rs`).

#[cfg(test)]
mod actor_tests;
mod attempt;
pub mod attempt_log;
mod link_events;
mod machine;
mod machine_effects;
mod machine_io;
#[cfg(test)]
mod machine_tests;
pub mod messages;
mod ops;
pub mod radio_choice;
pub mod retry;
mod sightings;
mod slot_wait;
pub mod state;
mod subscriber_events;
pub mod subscribers;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::watch;

use crate::adapter::slots::{ConnectTurn, SlotLease};
use crate::backend::Link;
use crate::model::{Address, AddressKind, GattTable, RadioId};
use crate::shared::Shared;
use machine::{
    DeviceMachine, Effect, Event, LeaseHandle, LinkHandle, MachineConfig, MachineMemory,
};
#[cfg(feature = "testing")]
use messages::Crash;
use messages::{AdvertSeen, Request, SetAddressKind, SetKeepConnected, Shutdown};
use state::{DeviceState, DeviceStatus};
use subscribers::Subscribers;

/// Messages a device actor's mailbox holds before senders that do not wait are refused
/// (docs/architecture.md, "Backpressure").
pub(crate) const DEVICE_MAILBOX: usize = 64;

/// Subscriptions of one device, shared with the Supervisor so they survive an actor restart.
pub type SharedSubscribers = Arc<Mutex<Subscribers>>;

/// What a device actor's machine leaves for its successor (backoff, penalties, radio waits),
/// held by the Supervisor beside the subscribers: written when the actor is dropped (also by a
/// panic), taken by the next actor of the same device.
pub(crate) type SharedMemory = Arc<Mutex<Option<MachineMemory>>>;

/// The machine as the actor runs it: real leases, real links.
type Machine = DeviceMachine<SlotLease, Box<UpLink>>;

/// An open link and what discovery said of it; the machine's `Connected` phase owns it.
#[derive(Debug)]
struct UpLink {
    link: Arc<dyn Link>,
    table: Arc<GattTable>,
    from_cache: bool,
    generation: u64,
    /// Set once the link is known to be over (the backend reported `Disconnected`, or our own
    /// `disconnect()` returned): dropping it then must not call `disconnect()` again.
    ended: bool,
}

impl Drop for UpLink {
    /// A link dropped while still up (the actor crashed, or is stopping) is closed actively:
    /// otherwise the radio would keep the slot until its supervision timeout noticed.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let link = Arc::clone(&self.link);
            runtime.spawn(async move {
                let _ = link.disconnect().await;
            });
        }
    }
}

impl LinkHandle for Box<UpLink> {
    fn mark_ended(&mut self) {
        self.ended = true;
    }

    fn uses_cached_table(&self) -> bool {
        self.from_cache
    }
}

impl LeaseHandle for SlotLease {
    fn radio(&self) -> RadioId {
        SlotLease::radio(self).clone()
    }

    fn mark_link(&self) {
        SlotLease::mark_link(self);
    }
}

/// Sent to the Supervisor when a device actor stops for any reason (including a panic).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct DeviceActorStopped(pub Address);

/// Tells the Supervisor when the actor is dropped, so a crashed actor is restarted.
#[derive(Debug)]
struct StopNotice {
    address: Address,
    supervisor: Recipient<DeviceActorStopped>,
}

impl Drop for StopNotice {
    fn drop(&mut self) {
        self.supervisor.do_send(DeviceActorStopped(self.address));
    }
}

/// The device actor: the machine, and what performing its effects needs.
#[derive(Debug)]
pub struct DeviceActor {
    address: Address,
    shared: Arc<Shared>,
    machine: Machine,
    /// The device's place in the slot FIFO while the machine is queued.
    slot_queue: slot_wait::SlotQueue,
    /// The connect turn of the grant being acted on (handed to the attempt it starts).
    turn: Option<ConnectTurn>,
    /// The running attempt.
    attempt: Option<SpawnHandle>,
    /// The machine's one timer.
    timer: Option<SpawnHandle>,
    idle_timer: Option<SpawnHandle>,
    pending: VecDeque<ops::Queued>,
    ops_in_flight: usize,
    subscribers: SharedSubscribers,
    status: Arc<watch::Sender<DeviceStatus>>,
    /// Where the machine's memory goes when the actor is dropped.
    memory: SharedMemory,
    _stop_notice: StopNotice,
}

impl Drop for DeviceActor {
    /// Runs before the fields drop (so before `StopNotice` asks for a restart): the successor
    /// finds the backoff, penalties and radio waits this actor had.
    fn drop(&mut self) {
        let memory = self.machine.take_memory();
        *self.memory.lock().unwrap_or_else(|p| p.into_inner()) = Some(memory);
    }
}

impl DeviceActor {
    /// A device actor for `address`.
    pub(crate) fn new(
        address: Address,
        shared: Arc<Shared>,
        keep_connected: bool,
        subscribers: SharedSubscribers,
        memory: SharedMemory,
        supervisor: Recipient<DeviceActorStopped>,
    ) -> Self {
        let config = &shared.config;
        let mut machine = DeviceMachine::new(
            address,
            keep_connected,
            MachineConfig {
                choice: config.choice.clone(),
                retry: config.retry.clone(),
                rssi_alpha: config.rssi_alpha,
                epoch: shared.started,
                seed: config.seed ^ address.to_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15),
                idle_after: config.idle_disconnect,
            },
        );
        // A restarted actor goes on where its predecessor stopped: a crash mid-backoff must
        // not turn into an immediate retry.
        if let Some(remembered) = memory.lock().unwrap_or_else(|p| p.into_inner()).take() {
            machine.restore(remembered);
        }
        // A restarted actor publishes into the channel its predecessor used (bug 11): status
        // streams of handles live on, and the counters so far are kept.
        let status = Arc::clone(
            shared
                .device_states
                .entry(address)
                .or_insert_with(|| Arc::new(watch::channel(DeviceStatus::new(address)).0))
                .value(),
        );
        status.send_modify(|s| {
            s.keep_connected = keep_connected;
            s.state = DeviceState::Idle;
        });
        Self {
            address,
            shared,
            machine,
            slot_queue: Default::default(),
            turn: None,
            attempt: None,
            timer: None,
            idle_timer: None,
            pending: VecDeque::new(),
            ops_in_flight: 0,
            subscribers,
            status,
            memory,
            _stop_notice: StopNotice {
                address,
                supervisor,
            },
        }
    }

    /// Seeds what one radio already heard of the device (before the actor existed).
    pub fn seed_sighting(
        &mut self,
        radio: &RadioId,
        smoothed_rssi_dbm: Option<f32>,
        last_seen: tokio::time::Instant,
    ) {
        self.machine
            .sightings_mut()
            .seed(radio, smoothed_rssi_dbm, last_seen);
    }

    /// Seeds what the advert pipeline's merged advertisement says: address kind, connectable.
    pub fn seed_advertised(&mut self, address_kind: AddressKind, connectable: Option<bool>) {
        self.machine
            .sightings_mut()
            .seed_advertised(address_kind, connectable);
    }

    /// Connects with this address kind whatever the adverts say (the user knows better).
    pub fn set_address_kind(&mut self, kind: Option<AddressKind>) {
        self.machine.set_address_kind(kind);
    }

    fn subscribers(&self) -> MutexGuard<'_, Subscribers> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, state: DeviceState) {
        let subscribers = self.subscribers().count();
        let keep_connected = self.machine.keep_connected();
        let now = self.fleet_time();
        self.status.send_if_modified(|s| {
            let changed = s.state != state
                || s.subscribers != subscribers
                || s.keep_connected != keep_connected;
            if s.state != state {
                s.since = now;
            }
            s.state = state;
            s.subscribers = subscribers;
            s.keep_connected = keep_connected;
            changed
        });
    }

    /// Time since the fleet started: the clock of `DeviceStatus`'s stamps.
    fn fleet_time(&self) -> Duration {
        tokio::time::Instant::now().saturating_duration_since(self.shared.started)
    }

    fn update_status(&self, change: impl FnOnce(&mut DeviceStatus)) {
        self.status.send_modify(change);
    }

    fn cancel_timer(&mut self, ctx: &mut Context<Self>, which: TimerKind) {
        let slot = match which {
            TimerKind::Machine => &mut self.timer,
            TimerKind::Idle => &mut self.idle_timer,
        };
        if let Some(handle) = slot.take() {
            ctx.cancel_future(handle);
        }
    }
}

#[derive(Clone, Copy)]
enum TimerKind {
    Machine,
    Idle,
}

impl Actor for DeviceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Bounded for every sender that does not wait: the Supervisor's sightings are
        // refused (and counted) when this many messages wait.
        ctx.set_mailbox_capacity(DEVICE_MAILBOX);
        // Dropped subscriptions tell the current actor, also a restarted one (bug 8).
        self.subscribers().set_owner(ctx.address().recipient());
        self.step(Event::Started, ctx);
    }
}

impl Handler<AdvertSeen> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: AdvertSeen, ctx: &mut Self::Context) {
        self.step(Event::Advert(msg.0), ctx);
    }
}

impl Handler<SetKeepConnected> for DeviceActor {
    type Result = crate::Result<()>;

    fn handle(&mut self, msg: SetKeepConnected, ctx: &mut Self::Context) -> Self::Result {
        if let Some(refusal) = self.step(Event::KeepConnected(msg.0), ctx) {
            return Err(machine_effects::refusal_error(
                self.address,
                &refusal,
                "keep connected",
            ));
        }
        self.update_status(|s| s.keep_connected = msg.0);
        Ok(())
    }
}

impl Handler<SetAddressKind> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: SetAddressKind, _: &mut Self::Context) {
        self.machine.set_address_kind(msg.0);
    }
}

impl Handler<Request> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: Request, ctx: &mut Self::Context) {
        self.accept(msg, ctx);
    }
}

impl Handler<Shutdown> for DeviceActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Self::Context) -> Self::Result {
        // The disconnect is awaited here (not spawned) so the actor stops only once it is done.
        let mut closing = None;
        for effect in self.decide(Event::Disconnect) {
            match effect {
                Effect::Disconnect { generation } => closing = Some(generation),
                other => self.perform(other, ctx),
            }
        }
        let link = self.machine.link().map(|up| Arc::clone(&up.link));
        Box::pin(
            async move {
                if let Some(link) = link {
                    let _ = link.disconnect().await;
                }
            }
            .into_actor(self)
            .map(move |_, act, ctx| {
                if let Some(generation) = closing {
                    act.link_closed(generation, ctx);
                }
                act.publish(DeviceState::Idle);
                ctx.stop();
            }),
        )
    }
}

#[cfg(feature = "testing")]
impl Handler<Crash> for DeviceActor {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Self::Context) {
        panic!(
            "device actor {} crashed on request (fault injection)",
            self.address
        );
    }
}

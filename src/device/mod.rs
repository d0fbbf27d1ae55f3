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

mod attempt;
pub mod attempt_log;
mod link_events;
pub mod messages;
mod ops;
pub mod retry;
mod sightings;
pub mod state;
pub mod subscribers;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::adapter::slots::{Grant, SlotLease, SlotTicket};
use crate::backend::Link;
use crate::error::ErrorKind;
use crate::model::{Address, AddressKind, GattTable, RadioId};
use crate::supervisor::radio_choice::{considered, rank, ChoicePolicy, FailurePenalties};
use crate::supervisor::shared_view::Shared;
use attempt_log::AttemptEvent;
use messages::{AdvertSeen, Crash, Request, SetAddressKind, SetKeepConnected, Shutdown};
use retry::Backoff;
use sightings::Sightings;
use state::{DeviceState, DeviceStatus, WaitReason};
use subscribers::Subscribers;

/// Subscriptions of one device, shared with the Supervisor so they survive an actor restart.
pub type SharedSubscribers = Arc<Mutex<Subscribers>>;

/// Where the device's link stands; the lease lives inside, so it cannot outlive the state.
#[derive(Debug, Default)]
enum LinkState {
    #[default]
    Down,
    Connecting {
        radio: RadioId,
        _lease: SlotLease,
        attempt: SpawnHandle,
        generation: u64,
        started: Instant,
    },
    Up(Box<UpLink>),
}

#[derive(Debug)]
struct UpLink {
    _lease: SlotLease,
    link: Arc<dyn Link>,
    table: Arc<GattTable>,
    from_cache: bool,
    since: Instant,
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

/// A device waiting in the slot FIFO: its ticket, the future awaiting the grant, and since when.
#[derive(Debug)]
struct SlotWait {
    ticket: SlotTicket,
    waiter: SpawnHandle,
    since: Instant,
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

/// The device actor.
#[derive(Debug)]
pub struct DeviceActor {
    address: Address,
    shared: Arc<Shared>,
    keep_connected: bool,
    link: LinkState,
    generation: u64,
    backoff: Backoff,
    penalties: FailurePenalties,
    sightings: Sightings,
    retry_at: Option<Instant>,
    /// The device's place in the slot FIFO while it waits for a slot.
    slot_wait: Option<SlotWait>,
    /// The FIFO place it keeps across failed attempts (cleared once connected or idle).
    queue_place: Option<u64>,
    /// The class of the failure that set `retry_at` (`None`: a link drop).
    backoff_after: Option<ErrorKind>,
    retry_timer: Option<SpawnHandle>,
    idle_timer: Option<SpawnHandle>,
    need_advert_after: Option<Instant>,
    failures_in_row: u32,
    pending: VecDeque<Request>,
    ops_in_flight: usize,
    subscribers: SharedSubscribers,
    rediscovered: bool,
    /// An address kind the user gave explicitly (`Fleet::device_with_kind`).
    given_address_kind: Option<AddressKind>,
    status: Arc<watch::Sender<DeviceStatus>>,
    _stop_notice: StopNotice,
}

impl DeviceActor {
    /// A device actor for `address`.
    pub fn new(
        address: Address,
        shared: Arc<Shared>,
        keep_connected: bool,
        subscribers: SharedSubscribers,
        supervisor: Recipient<DeviceActorStopped>,
    ) -> Self {
        let config = &shared.config;
        let seed = config.seed ^ address.to_u64().wrapping_mul(0x9E37_79B9_7F4A_7C15);
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
            backoff: Backoff::new(config.retry.clone(), seed),
            sightings: Sightings::new(config.rssi_alpha),
            shared,
            keep_connected,
            link: LinkState::Down,
            generation: 0,
            penalties: FailurePenalties::default(),
            retry_at: None,
            slot_wait: None,
            queue_place: None,
            backoff_after: None,
            retry_timer: None,
            idle_timer: None,
            need_advert_after: None,
            failures_in_row: 0,
            pending: VecDeque::new(),
            ops_in_flight: 0,
            subscribers,
            rediscovered: false,
            given_address_kind: None,
            status,
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
        last_seen: Instant,
    ) {
        self.sightings.seed(radio, smoothed_rssi_dbm, last_seen);
    }

    /// Seeds what the advert pipeline's merged advertisement says: address kind, connectable.
    pub fn seed_advertised(&mut self, address_kind: AddressKind, connectable: Option<bool>) {
        self.sightings.seed_advertised(address_kind, connectable);
    }

    /// Connects with this address kind whatever the adverts say (the user knows better).
    pub fn set_address_kind(&mut self, kind: Option<AddressKind>) {
        self.given_address_kind = kind;
    }

    /// The address kind a connect names: the one given, else the advertised one, else public.
    fn address_kind(&self) -> AddressKind {
        self.given_address_kind
            .or(self.sightings.address_kind())
            .unwrap_or_default()
    }

    fn subscribers(&self) -> MutexGuard<'_, Subscribers> {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether anything needs a connection. Requests whose caller gave up (timed out, dropped)
    /// no longer count, so a forgotten read cannot keep a device connecting forever.
    fn wants_connection(&mut self) -> bool {
        self.pending.retain(|request| !request.reply.is_closed());
        self.keep_connected || !self.pending.is_empty() || self.subscribers().any_live()
    }

    fn publish(&self, state: DeviceState) {
        let subscribers = self.subscribers().count();
        self.status.send_if_modified(|s| {
            let changed = s.state != state
                || s.subscribers != subscribers
                || s.keep_connected != self.keep_connected;
            s.state = state;
            s.subscribers = subscribers;
            s.keep_connected = self.keep_connected;
            changed
        });
    }

    /// Publishes an attempt event, built only if someone listens.
    fn log_attempt(&self, event: impl FnOnce(std::time::Duration) -> AttemptEvent) {
        let events = &self.shared.attempt_events;
        if events.receiver_count() > 0 {
            let _ = events.send(event(self.shared.started.elapsed()));
        }
    }

    fn update_status(&self, change: impl FnOnce(&mut DeviceStatus)) {
        self.status.send_modify(change);
    }

    /// Decides what to do next; called after every change.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        if !matches!(self.link, LinkState::Down) {
            self.leave_slot_queue(ctx);
            return;
        }
        if !self.wants_connection() {
            self.leave_slot_queue(ctx);
            self.queue_place = None;
            self.publish(DeviceState::Idle);
            return;
        }
        if self.sightings.connectable() == Some(false) {
            // A beacon: refuse requests at once, hold no queue; wait for a connectable advert.
            let address = self.address;
            self.fail_pending(|_| crate::Error::NotConnectable { address });
            self.leave_slot_queue(ctx);
            self.publish(DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            });
            return;
        }
        let now = Instant::now();
        if let Some(at) = self.retry_at.filter(|at| *at > now) {
            self.leave_slot_queue(ctx);
            self.arm_retry_timer(at, ctx);
            self.publish(DeviceState::Backoff {
                remaining: at - now,
                after: self.backoff_after,
            });
            return;
        }
        self.retry_at = None;
        if let Some(after) = self.need_advert_after {
            if self
                .sightings
                .last_heard()
                .is_none_or(|heard| heard <= after)
            {
                self.leave_slot_queue(ctx);
                self.publish(DeviceState::Waiting {
                    reason: WaitReason::Advertisement,
                });
                return;
            }
            self.need_advert_after = None;
        }
        let shared = Arc::clone(&self.shared);
        let settle = shared.config.choice.first_sighting_settle;
        if let Some(settled) = self
            .sightings
            .first_heard()
            .map(|t| t + settle)
            .filter(|t| *t > now)
        {
            // Just heard for the first time: let batching radios report it too.
            self.arm_retry_timer(settled, ctx);
            self.publish(DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            });
            return;
        }
        let candidates = self.sightings.candidates(&shared, &shared.ledger);
        // Waiting long for a slot on a good radio: a weaker radio will do (the detour rule:
        // liveness beats link quality after `detour_after`; invariant 4 as docs state it).
        let waited_long = self
            .slot_wait
            .as_ref()
            .is_some_and(|wait| now >= wait.since + shared.config.choice.detour_after);
        let policy = if waited_long {
            std::borrow::Cow::Owned(ChoicePolicy {
                max_detour_db: f64::INFINITY,
                ..shared.config.choice.clone()
            })
        } else {
            std::borrow::Cow::Borrowed(&shared.config.choice)
        };
        let radios = rank(&candidates, &self.penalties, &policy, now);
        let device = self.address;
        self.log_attempt(|at| AttemptEvent::Queued {
            at,
            device,
            considered: considered(&candidates, &self.penalties, &policy, now),
        });
        if radios.is_empty() {
            self.leave_slot_queue(ctx);
            self.publish(DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            });
            return;
        }
        self.queue_for_slot(radios, ctx);
    }

    /// Joins the slot FIFO for `radios` (or changes the radios of the place already held).
    fn queue_for_slot(&mut self, radios: Vec<RadioId>, ctx: &mut Context<Self>) {
        self.publish(DeviceState::Waiting {
            reason: WaitReason::Slot,
        });
        if let Some(wait) = &self.slot_wait {
            wait.ticket.set_radios(radios);
            return;
        }
        let place = self.queue_place;
        let (ticket, granted) = match self.shared.ledger.request(self.address, radios, place) {
            Ok(queued) => queued,
            Err(refused) => {
                // Only a lease of our own can refuse us, and it dies with its link state.
                tracing::error!(address = %self.address, %refused, "slot request refused");
                return;
            }
        };
        self.queue_place = Some(ticket.number());
        let since = Instant::now();
        // Wake when the detour becomes allowed, even if no slot frees meanwhile.
        let detour_at = since + self.shared.config.choice.detour_after;
        if self.retry_timer.is_none() {
            self.arm_retry_timer(detour_at, ctx);
        }
        let waiter = async move { granted.await.ok() }
            .into_actor(self)
            .map(|grant, act, ctx| {
                act.slot_wait = None;
                if let Some(grant) = grant {
                    act.granted(grant, ctx);
                }
            });
        let waiter = ctx.spawn(waiter);
        self.slot_wait = Some(SlotWait {
            ticket,
            waiter,
            since,
        });
    }

    /// The ledger granted a slot and the radio's connect turn: connect now, unless nothing
    /// wants the connection any more (then the grant goes back at once).
    fn granted(&mut self, grant: Grant, ctx: &mut Context<Self>) {
        if !matches!(self.link, LinkState::Down) || !self.wants_connection() {
            drop(grant);
            self.drive(ctx);
            return;
        }
        let radio = grant.lease.radio().clone();
        self.start_attempt(radio, grant, ctx);
    }

    fn leave_slot_queue(&mut self, ctx: &mut Context<Self>) {
        if let Some(wait) = self.slot_wait.take() {
            ctx.cancel_future(wait.waiter);
        }
    }

    fn arm_retry_timer(&mut self, at: Instant, ctx: &mut Context<Self>) {
        self.cancel_timer(ctx, TimerKind::Retry);
        let delay = at.saturating_duration_since(Instant::now());
        self.retry_timer = Some(ctx.run_later(delay, |act, ctx| {
            act.retry_timer = None;
            act.drive(ctx);
        }));
    }

    fn cancel_timer(&mut self, ctx: &mut Context<Self>, which: TimerKind) {
        let slot = match which {
            TimerKind::Retry => &mut self.retry_timer,
            TimerKind::Idle => &mut self.idle_timer,
        };
        if let Some(handle) = slot.take() {
            ctx.cancel_future(handle);
        }
    }
}

#[derive(Clone, Copy)]
enum TimerKind {
    Retry,
    Idle,
}

impl Actor for DeviceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Dropped subscriptions tell the current actor, also a restarted one (bug 8).
        self.subscribers().set_owner(ctx.address().recipient());
        self.drive(ctx);
    }
}

impl Handler<AdvertSeen> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: AdvertSeen, ctx: &mut Self::Context) {
        self.sightings.record(&msg.0);
        // Waiting for an advert: here it is. Waiting for a slot: a radio with a free one may
        // just have heard the device for the first time (proxies deliver in batches, later).
        let act = match self.status.borrow().state {
            DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            } => true,
            DeviceState::Waiting {
                reason: WaitReason::Slot,
            } => {
                msg.0.connectable == Some(false)
                    || self
                        .slot_wait
                        .as_ref()
                        .is_some_and(|w| !w.ticket.radios().contains(&msg.0.radio))
            }
            _ => false,
        };
        if act {
            self.drive(ctx);
        }
    }
}

impl Handler<SetKeepConnected> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: SetKeepConnected, ctx: &mut Self::Context) {
        self.keep_connected = msg.0;
        self.update_status(|s| s.keep_connected = msg.0);
        if msg.0 {
            self.drive(ctx);
        } else {
            self.consider_idle(ctx);
        }
    }
}

impl Handler<SetAddressKind> for DeviceActor {
    type Result = ();

    fn handle(&mut self, msg: SetAddressKind, _: &mut Self::Context) {
        self.given_address_kind = msg.0;
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
        self.keep_connected = false;
        self.fail_pending(|op| crate::Error::Cancelled {
            operation: op.to_string(),
        });
        let link = self.close_link(ctx);
        Box::pin(
            async move {
                if let Some(link) = link {
                    let _ = link.disconnect().await;
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                if let LinkState::Up(up) = &mut act.link {
                    up.ended = true; // just disconnected above
                }
                act.link = LinkState::Down;
                act.publish(DeviceState::Idle);
                ctx.stop();
            }),
        )
    }
}

impl Handler<Crash> for DeviceActor {
    type Result = ();

    fn handle(&mut self, _: Crash, _: &mut Self::Context) {
        panic!(
            "device actor {} crashed on request (fault injection)",
            self.address
        );
    }
}

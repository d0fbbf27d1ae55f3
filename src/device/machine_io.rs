//! What goes into and comes out of the device machine: the [`Event`]s it is fed, the
//! [`Inputs`] each step reads (time, the ledger's view of the radios), the [`Effect`]s it asks
//! the actor to perform, and the handle traits that stand for a slot lease and a link.
//!
//! Why a file of its own: this vocabulary is the contract between the pure machine
//! (`machine.rs`) and the shell that performs it (`machine_effects.rs`, `mod.rs`); the tests
//! speak it too, with fake handles, so it must not depend on how the machine decides.

use std::fmt;
use std::sync::Arc;

use tokio::time::Instant;

use super::attempt_log::AttemptEvent;
use super::state::DeviceState;
use crate::adapter::slots::Place;
use crate::backend::{DisconnectCause, Failure};
use crate::error::ErrorKind;
use crate::model::{AddressKind, Advertisement, RadioId};

/// A slot lease as the machine holds it (dropping it gives the slot back).
pub(crate) trait LeaseHandle: fmt::Debug {
    /// The radio the slot is on.
    fn radio(&self) -> RadioId;
    /// The connection is made: the lease now stands for a link, not an attempt.
    fn mark_link(&self);
}

/// A link as the machine holds it (dropping one not marked ended closes it actively).
pub(crate) trait LinkHandle: fmt::Debug {
    /// The backend said the link is over: dropping it must not disconnect again (bug 5).
    fn mark_ended(&mut self);
    /// Whether the link's table is the cached one (discovery was skipped).
    fn uses_cached_table(&self) -> bool;
}

/// What the slot ledger says of one radio now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RadioFacts {
    /// Registered and up.
    pub up: bool,
    /// Slots free on it.
    pub free_slots: usize,
    /// Attempts in flight or queued on it.
    pub in_flight: usize,
}

/// The ledger's view of the radios, read at decision time (`None`: no such radio).
pub(crate) trait RadioView {
    /// Facts of one radio.
    fn facts(&self, radio: &RadioId) -> Option<RadioFacts>;
}

/// What a step may read besides the event: the time, the ledger, the actor's demand.
pub(crate) struct Inputs<'a> {
    /// Now.
    pub now: Instant,
    /// Whether requests wait for a connection.
    pub requests: bool,
    /// Whether live subscriptions want one.
    pub subscribed: bool,
    /// The ledger's view.
    pub radios: &'a dyn RadioView,
    /// Whether someone listens to attempt events (they are built only then).
    pub observed: bool,
}

/// What happens to the device.
#[derive(Debug)]
pub(crate) enum Event<L, K> {
    /// The actor started (or restarted).
    Started,
    /// A radio heard the device.
    Advert(Arc<Advertisement>),
    /// The user asked to keep it connected, or to stop.
    KeepConnected(bool),
    /// Requests or subscriptions came or went.
    DemandChanged,
    /// The machine's timer with this wait number fired (a number that is not the current
    /// wait's is a timer cancelled or replaced in the same turn: ignored).
    Timer(u64),
    /// The ledger granted a slot (and the radio's connect turn, which the actor keeps).
    Granted(L),
    /// The attempt of this generation connected and discovered the services.
    Connected {
        /// The attempt's generation.
        generation: u64,
        /// The link.
        link: K,
    },
    /// The attempt of this generation failed.
    AttemptFailed {
        /// The attempt's generation.
        generation: u64,
        /// How.
        failure: Failure,
    },
    /// The link of this generation ended (reported by the backend, or our disconnect returned).
    LinkEnded {
        /// The connection's generation.
        generation: u64,
        /// Why.
        cause: DisconnectCause,
        /// The backend's words.
        detail: String,
    },
    /// The idle timer with this wait number fired (ignored unless it is the current one).
    IdleTimer(u64),
    /// The services of the connection of this generation changed (a Service Changed
    /// indication): the cached table is wrong.
    ServicesChanged {
        /// The connection's generation.
        generation: u64,
    },
    /// An operation on the link of this generation found its cached table stale: a cached
    /// handle the device answered with ATT's Invalid Handle, or a characteristic the cached
    /// table lacks. The cache is forgotten once and the device rediscovers once; operations
    /// that ran on the stale handles run once more (the actor asks `found_stale`).
    StaleCache {
        /// The generation of the connection the operation ran on.
        generation: u64,
    },
    /// Close the connection now but keep wanting one (a removed radio).
    Close,
    /// The user (or shutdown): stop wanting a connection, fail what waits, close.
    Disconnect,
}

/// Why requests waiting for a connection fail.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Refusal {
    /// The device's adverts say it accepts no connections.
    NotConnectable,
    /// The attempt budget ran out; the last failure.
    Exhausted {
        /// Through which radio.
        radio: RadioId,
        /// Attempts made.
        attempts: u32,
        /// The last failure's class.
        kind: ErrorKind,
        /// The last failure.
        failure: Failure,
    },
    /// The user disconnected (or the fleet shut down).
    Cancelled,
}

/// What the actor must do.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Effect {
    /// Publish this state.
    Publish(DeviceState),
    /// Join the slot FIFO for these radios (best first), at this earlier place if any; the
    /// actor reports the place it got with [`DeviceMachine::hold_place`].
    JoinQueue {
        /// Acceptable radios, best first.
        radios: Vec<RadioId>,
        /// A place held before.
        place: Option<Place>,
    },
    /// Change the radios of the place already held.
    SetQueueRadios(Vec<RadioId>),
    /// Leave the slot FIFO.
    LeaveQueue,
    /// Start the attempt (the lease is in the machine, the connect turn with the actor).
    StartAttempt {
        /// Through which radio.
        radio: RadioId,
        /// Its generation (results of older ones are ignored).
        generation: u64,
        /// The address kind the connect names.
        address_kind: AddressKind,
    },
    /// Drop the running attempt (its half-made connection closes itself).
    CancelAttempt,
    /// Close the link of this generation; report `LinkEnded` when it returns.
    Disconnect {
        /// The connection's generation.
        generation: u64,
    },
    /// Wake the machine (`Event::Timer(number)`) at this instant; replaces the previous timer.
    ArmTimer {
        /// When.
        at: Instant,
        /// The wait's number, carried back by the event.
        number: u64,
    },
    /// Fail every request waiting for a connection.
    FailPending(Refusal),
    /// Refuse the keep-connected request that caused this step.
    Refuse(Refusal),
    /// Tell the radio's health gate how its attempt went (`None`: connected).
    RadioOutcome {
        /// The radio.
        radio: RadioId,
        /// The failure's class.
        failed: Option<ErrorKind>,
    },
    /// Count a failed attempt in the status.
    CountFailure {
        /// Its class.
        kind: ErrorKind,
        /// Its text.
        text: String,
    },
    /// The link is up: count it, re-enable subscriptions, tell subscribers, run requests.
    LinkUp,
    /// Tell subscribers the link dropped.
    AnnounceDisconnected {
        /// Why.
        reason: String,
    },
    /// Wake the machine (`Event::IdleTimer(number)`) at this instant; replaces the previous idle
    /// timer.
    ArmIdleTimer {
        /// When.
        at: Instant,
        /// The wait's number, carried back by the event.
        number: u64,
    },
    /// Drop the idle timer.
    CancelIdleTimer,
    /// Forget the device's cached services.
    ForgetCache,
    /// Publish an attempt event.
    Log(AttemptEvent),
}

//! One device's claim as one hub sees it: the claim it last heard ([`Known`]), its own part
//! in it ([`Mine`]), the offers, and the small rules the core applies to them (which claim
//! wins, when an offer is news, which epoch is ours to release).

use std::collections::BTreeMap;
use std::time::Duration;

use super::wire::{ClaimPayload, ClaimState, OfferPayload};

/// The claim of a device as this hub last heard it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Known {
    pub(super) hub: String,
    pub(super) epoch: u64,
    pub(super) released: bool,
    /// When the last message of this claim arrived (the lease runs from here).
    pub(super) heard_at: Duration,
}

impl Known {
    /// Whether `(epoch, hub)` beats this claim.
    pub(super) fn beaten_by(&self, epoch: u64, hub: &str) -> bool {
        epoch > self.epoch || (epoch == self.epoch && hub < self.hub.as_str())
    }
}

/// This hub's part in a device's claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Mine {
    Idle,
    /// Claim published at `sent_at`, waiting to hear it back.
    Claiming {
        epoch: u64,
        sent_at: Duration,
    },
    /// Heard back at `echo_at`: waiting for a competing claim until `until`.
    Settling {
        epoch: u64,
        echo_at: Duration,
        until: Duration,
    },
    /// Connected (or connecting) under this claim.
    Holding {
        epoch: u64,
        echo_at: Duration,
        renewed_at: Duration,
    },
    /// The shell is disconnecting it.
    Dropping {
        epoch: u64,
        echo_at: Duration,
        renewed_at: Duration,
    },
}

#[derive(Clone, Debug)]
pub(super) struct Heard {
    pub(super) offer: OfferPayload,
    pub(super) at: Duration,
}

#[derive(Debug)]
pub(super) struct DeviceView {
    pub(super) known: Option<Known>,
    pub(super) mine: Mine,
    /// Other hubs' offers.
    pub(super) offers: BTreeMap<String, Heard>,
    /// This hub's offer now, and what was last published (and when).
    pub(super) my_offer: Option<OfferPayload>,
    pub(super) published_offer: Option<(Option<OfferPayload>, Duration)>,
    /// The epoch of our own claim we already released.
    pub(super) released_epoch: Option<u64>,
    /// Since when no radio of ours hears it (a holder lets go after a lease of that).
    pub(super) unheard_since: Option<Duration>,
}

impl DeviceView {
    pub(super) fn new() -> Self {
        Self {
            known: None,
            mine: Mine::Idle,
            offers: BTreeMap::new(),
            my_offer: None,
            published_offer: None,
            released_epoch: None,
            unheard_since: None,
        }
    }
}

/// RSSI moves this much before an offer is published again ahead of its refresh.
const OFFER_RSSI_STEP: i16 = 3;

/// Whether an offer changed enough to publish it now: appeared, vanished, another radio, the
/// slot freed or filled, or the RSSI moved by [`OFFER_RSSI_STEP`] (smoothed RSSI jitters by a
/// dB or two; ranking needs no finer news than that between refreshes).
pub(super) fn changed(published: Option<&OfferPayload>, now: Option<&OfferPayload>) -> bool {
    match (published, now) {
        (Some(a), Some(b)) => {
            a.radio != b.radio || a.free != b.free || (a.rssi - b.rssi).abs() >= OFFER_RSSI_STEP
        }
        (None, None) => false,
        _ => true,
    }
}

/// The epoch of the claim of ours that a hub must release when it lets the device go.
pub(super) fn our_epoch(view: &DeviceView, me: &str) -> Option<u64> {
    match (&view.mine, &view.known) {
        (
            Mine::Claiming { epoch, .. }
            | Mine::Settling { epoch, .. }
            | Mine::Holding { epoch, .. }
            | Mine::Dropping { epoch, .. },
            _,
        ) => Some(*epoch),
        (Mine::Idle, Some(k)) if k.hub == me && !k.released => Some(k.epoch),
        _ => None,
    }
}

/// Applies a claim message to what a hub knows of the device's claim.
pub(super) fn update(known: &mut Known, claim: &ClaimPayload, now: Duration) {
    let released = claim.state == ClaimState::Released;
    if claim.epoch == known.epoch && claim.hub == known.hub {
        known.released = released;
        known.heard_at = now;
    } else if known.beaten_by(claim.epoch, &claim.hub) {
        *known = Known {
            hub: claim.hub.clone(),
            epoch: claim.epoch,
            released,
            heard_at: now,
        };
    }
}

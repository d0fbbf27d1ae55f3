//! Which clients hold which device connections, across every session of a server.
//!
//! Several clients may connect the same device: the fleet keeps one connection and each
//! client holds it. The link is let go only when the last holder releases it, and never when
//! the hub itself keeps the device connected (a `[[device]]` of `bluefleet run`): the proxy
//! only lends what the hub would hold anyway.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};

use crate::model::Address;

/// A session's id within one server.
pub(crate) type ClientId = u64;

#[derive(Debug)]
struct Hold {
    clients: BTreeSet<ClientId>,
    /// The hub kept the device connected before any client held it.
    hub_kept: bool,
}

/// The registry.
#[derive(Debug, Default)]
pub(crate) struct Holds {
    inner: Mutex<HashMap<Address, Hold>>,
}

/// What a release leaves behind.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Released {
    /// Other clients (or the hub) still want the connection.
    StillHeld,
    /// The last holder left: disconnect.
    Last,
    /// This client did not hold it.
    NotHeld,
}

impl Holds {
    /// Records that `client` holds `address`; `hub_kept` is whether the hub keeps the device
    /// connected of its own accord (only the first holder's view counts).
    pub(crate) fn acquire(&self, address: Address, client: ClientId, hub_kept: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner
            .entry(address)
            .or_insert_with(|| Hold {
                clients: BTreeSet::new(),
                hub_kept,
            })
            .clients
            .insert(client);
    }

    /// Whether any client holds `address`.
    pub(crate) fn is_held(&self, address: Address) -> bool {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.contains_key(&address)
    }

    /// `client` lets go of `address`.
    pub(crate) fn release(&self, address: Address, client: ClientId) -> Released {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(hold) = inner.get_mut(&address) else {
            return Released::NotHeld;
        };
        if !hold.clients.remove(&client) {
            return Released::NotHeld;
        }
        if !hold.clients.is_empty() {
            return Released::StillHeld;
        }
        let hub_kept = hold.hub_kept;
        inner.remove(&address);
        if hub_kept {
            Released::StillHeld
        } else {
            Released::Last
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_holder_disconnects_unless_the_hub_keeps_it() {
        let holds = Holds::default();
        let a = Address::new([1; 6]);
        holds.acquire(a, 1, false);
        holds.acquire(a, 2, true);
        assert_eq!(holds.release(a, 1), Released::StillHeld);
        assert_eq!(holds.release(a, 1), Released::NotHeld);
        assert_eq!(holds.release(a, 2), Released::Last);
        assert!(!holds.is_held(a));
        holds.acquire(a, 3, true);
        assert_eq!(holds.release(a, 3), Released::StillHeld, "the hub keeps it");
    }
}

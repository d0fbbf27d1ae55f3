//! How a hub lets devices go (a release command, a clean stop) and where commands for them
//! run: the parts of [`Cluster`] that end or route a claim rather than make one.

use std::time::Duration;

use super::{Cluster, Route};
use crate::model::Address;
use crate::mqtt::cluster::view::{our_epoch, Mine};
use crate::mqtt::cluster::wire::ClaimState;
use crate::mqtt::core::Message;

impl Cluster {
    /// Stops taking part in the claims of `address` (released by a command, after the shell
    /// disconnected it): our claim is released and our offer withdrawn.
    pub fn unmanage(&mut self, address: &Address) -> Vec<Message> {
        let me = self.me().to_string();
        let Some(view) = self.devices.remove(address) else {
            return Vec::new();
        };
        let mut out = vec![self.message(self.topics.offer(address, &me), Vec::new(), true)];
        if let Some(epoch) = our_epoch(&view, &me) {
            out.push(self.claim_message(address, epoch, ClaimState::Released));
        }
        if let Some(known) = view.known {
            self.others.insert(*address, known);
        }
        out
    }

    /// Where a command for `address` should run.
    pub fn route(&self, address: &Address, now: Duration) -> Route {
        let (known, mine) = match self.devices.get(address) {
            Some(view) => (view.known.as_ref(), Some(&view.mine)),
            None => (self.others.get(address), None),
        };
        if matches!(mine, Some(Mine::Holding { .. })) {
            return Route::Here;
        }
        match known {
            Some(k)
                if !k.released && now < k.heard_at + self.timings.lease && k.hub != self.me() =>
            {
                Route::Holder(k.hub.clone())
            }
            _ if mine.is_none() => Route::Here,
            _ => Route::Nobody,
        }
    }

    /// Leaving: the devices to disconnect first (everything we claimed).
    pub fn leaving(&mut self) -> Vec<Address> {
        self.leaving = true;
        self.devices
            .iter()
            .filter(|(_, view)| matches!(view.mine, Mine::Holding { .. } | Mine::Dropping { .. }))
            .map(|(address, _)| *address)
            .collect()
    }

    /// After the devices of [`Cluster::leaving`] were disconnected: release every claim of
    /// ours and withdraw every offer, so the other hubs take over at once.
    pub fn farewell(&mut self) -> Vec<Message> {
        self.leaving = true;
        let me = self.me().to_string();
        let mut out = Vec::new();
        let addresses: Vec<Address> = self.devices.keys().copied().collect();
        for address in addresses {
            if let Some(epoch) = our_epoch(&self.devices[&address], &me) {
                out.push(self.claim_message(&address, epoch, ClaimState::Released));
            }
            out.push(self.message(self.topics.offer(&address, &me), Vec::new(), true));
            if let Some(view) = self.devices.get_mut(&address) {
                view.mine = Mine::Idle;
                view.my_offer = None;
                view.published_offer = Some((None, Duration::ZERO));
            }
        }
        out
    }
}

//! The shell's side of the cluster: broker messages split between the cluster and the bridge,
//! commands run here or forwarded to the holder, and the cluster's decisions carried out on
//! the fleet (keep-connected and the configured follows while held; unfollow, stop and
//! disconnect when not).

use futures::FutureExt;

use super::{Done, Shell, GOODBYE_WITHIN};
use crate::mqtt::cluster::drive::{Decision, Heard, Membership, Routed};
use crate::mqtt::core::{Bridge, Inbound, Incoming};
use crate::mqtt::link::BrokerLink;

impl Shell {
    /// One message from the broker.
    pub(super) fn message(
        &mut self,
        core: &mut Bridge,
        membership: Option<&mut Membership>,
        link: &BrokerLink,
        message: &Incoming,
    ) {
        let heard = match membership {
            Some(membership) => {
                let heard = membership.incoming(message, link);
                if let Heard::NotOurs = heard {
                    return self.bridge_message(core, Some(membership), link, message);
                }
                heard
            }
            None => return self.bridge_message(core, None, link, message),
        };
        match heard {
            Heard::Handled(decisions) => self.decide(decisions),
            Heard::Forwarded(outcome) => match *outcome {
                Ok((command, reply)) => self.command(core, link, command, reply),
                Err((reply, body)) => link.publish(core.answer(&reply, body)),
            },
            Heard::NotOurs => {}
        }
    }

    fn bridge_message(
        &mut self,
        core: &mut Bridge,
        membership: Option<&mut Membership>,
        link: &BrokerLink,
        message: &Incoming,
    ) {
        match core.incoming(message) {
            Inbound::Publish(messages) => messages.into_iter().for_each(|m| link.publish(m)),
            Inbound::Command(command, reply) => {
                let verb = core
                    .topics()
                    .command_verb(&message.topic)
                    .unwrap_or_default()
                    .to_string();
                let routed = match membership {
                    Some(m) => m.route(&command, &verb, &message.payload, &reply, link),
                    None => Routed::Here,
                };
                match routed {
                    Routed::Here => self.command(core, link, command, reply),
                    Routed::Forwarded => {}
                    Routed::Refused(body) => link.publish(core.answer(&reply, body)),
                }
            }
        }
    }

    /// Carries out the cluster's decisions.
    pub(super) fn decide(&mut self, decisions: Vec<Decision>) {
        for decision in decisions {
            let fleet = self.fleet.clone();
            match decision {
                Decision::Connect(address) => {
                    self.held.insert(address);
                    for follow in self.deferred.get(&address).cloned().unwrap_or_default() {
                        self.follow(follow);
                    }
                    self.running.push(
                        async move {
                            let outcome =
                                async { fleet.device(address).await?.keep_connected(true).await };
                            if let Err(err) = outcome.await {
                                tracing::warn!("cluster: cannot keep {address} connected: {err}");
                            }
                            Done::Nothing
                        }
                        .boxed_local(),
                    );
                }
                Decision::Drop(address) => {
                    self.held.remove(&address);
                    self.cancels.retain(|(a, _), _| *a != address);
                    self.running.push(
                        async move {
                            let outcome = async {
                                let device = fleet.device(address).await?;
                                device.keep_connected(false).await?;
                                device.disconnect().await
                            };
                            if let Err(err) = outcome.await {
                                tracing::warn!("cluster: dropping {address}: {err}");
                            }
                            Done::Dropped(address)
                        }
                        .boxed_local(),
                    );
                }
            }
        }
    }

    /// A clean stop: disconnect what we hold (bounded), then release our claims and offers so
    /// the other hubs take over at once.
    pub(super) async fn leave(&mut self, membership: &mut Membership, link: &BrokerLink) {
        let leaving = membership.leaving();
        self.held.clear();
        self.cancels.retain(|(a, _), _| !leaving.contains(a));
        let fleet = self.fleet.clone();
        let drops = async {
            for address in leaving {
                if let Ok(device) = fleet.device(address).await {
                    let _ = device.keep_connected(false).await;
                    let _ = device.disconnect().await;
                }
            }
        };
        if tokio::time::timeout(GOODBYE_WITHIN, drops).await.is_err() {
            tracing::warn!(
                "cluster: devices still connected after {GOODBYE_WITHIN:?}; claims left to expire"
            );
            return;
        }
        membership.farewell(link);
    }
}

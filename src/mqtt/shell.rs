//! The thin IO shell around [`Bridge`]: samples the fleet once a second, follows the
//! configured subscriptions and the adverts, runs commands, and hands everything to the core;
//! what the core returns goes to the broker link.
//!
//! Everything runs in one task (no spawning, so it works in any runtime the fleet handle works
//! in): commands and subscription set-ups are futures polled side by side, and one `biased`
//! select decides the order, so the same inputs are handled in the same order.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::stream::{FuturesUnordered, SelectAll};
use futures::{FutureExt, Stream, StreamExt};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::cluster::drive::{Membership, TICK};
use super::cluster::ClusterConfig;
use super::commands::Command;
use super::config::MqttConfig;
use super::core::{Bridge, ReplyTo};
use super::discovery::ValueSpec;
use super::execute::{execute, failed, succeeded};
use super::link::{BrokerEvent, BrokerLink};
use super::topics::characteristic_level;
use crate::config::{DeviceConfig, ValueFormat};
use crate::fleet::{Fleet, Subscription, SubscriptionEvent};
use crate::model::{Address, RadioId};
use crate::{Device, Error};

/// How often the fleet is sampled for state.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// How long after connecting retained states are read to find devices no longer managed.
const SWEEP_FOR: Duration = Duration::from_secs(3);
/// How long a clean stop waits for `offline` to reach the broker.
const GOODBYE_WITHIN: Duration = Duration::from_secs(3);
/// Before retrying a subscription that failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(5);

/// One followed characteristic: subscribed, or read every `poll`.
#[derive(Clone, Copy, Debug)]
struct Follow {
    address: Address,
    characteristic: Uuid,
    format: ValueFormat,
    poll: Option<Duration>,
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;
type Values = Pin<Box<dyn Stream<Item = (Follow, SubscriptionEvent)>>>;

/// What a finished command asks of the shell besides publishing its answer.
enum Done {
    Answer(ReplyTo, Value),
    Subscribed(ReplyTo, Follow, Subscription, Device),
    /// A cluster device was released here: withdraw it from the cluster, then answer.
    Released(Address, ReplyTo, Value),
    /// A cluster drop finished.
    Dropped(Address),
    Nothing,
}

#[path = "shell_cluster.rs"]
mod clustered;
#[path = "shell_sample.rs"]
mod sampling;

/// Runs the bridge for `devices` until `stop` completes, then marks the hub offline (discovery
/// stays: a restart is not a release). With `cluster`, the kept-connected devices are
/// connected only while this hub holds their claim.
pub async fn serve(
    fleet: Fleet,
    config: MqttConfig,
    cluster: Option<ClusterConfig>,
    devices: Vec<DeviceConfig>,
    stop: impl Future<Output = ()>,
) -> crate::Result<()> {
    let mut core = Bridge::new(&config);
    let kept: BTreeSet<Address> = devices
        .iter()
        .filter(|d| d.keep_connected)
        .map(|d| d.address)
        .collect();
    let mut membership = cluster.map(|c| Membership::new(&c, &config, kept));
    let client = super::rumqtt::client(&config, &core.last_will())?;
    let (link, mut events) = BrokerLink::start(client).map_err(|source| Error::Io {
        path: "mqtt thread".into(),
        source,
    })?;
    let mut shell = Shell::new(fleet);
    if let Some(membership) = &membership {
        shell.gated = devices
            .iter()
            .map(|d| d.address)
            .filter(|a| membership.decides(a))
            .collect();
    }
    for device in &devices {
        let handle = shell.fleet.device(device.address).await?;
        let name = device
            .name
            .clone()
            .unwrap_or_else(|| device.address.to_string());
        let mut values = Vec::new();
        for subscription in &device.subscribe {
            let characteristic = subscription.uuid()?;
            values.push(ValueSpec::for_characteristic(
                &characteristic,
                &subscription.unit,
                subscription.decode.is_numeric(),
            ));
            let follow = Follow {
                address: device.address,
                characteristic,
                format: subscription.format(),
                poll: subscription.poll,
            };
            if shell.gated.contains(&device.address) {
                // Subscribing connects: only once the claim is ours.
                shell
                    .deferred
                    .entry(device.address)
                    .or_default()
                    .push(follow);
            } else {
                shell.follow(follow);
            }
        }
        core.manage(device.address, &name, values);
        shell.names.insert(device.address, device.name.clone());
        shell.handles.insert(device.address, handle);
    }
    // Lagged markers are skipped: a busy broker link may miss adverts, never state.
    let mut adverts = Box::pin(
        shell
            .fleet
            .adverts()
            .filter_map(|w| std::future::ready(w.item())),
    );
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    let mut cluster_tick = tokio::time::interval(TICK);
    let mut sweep_until: Option<Instant> = None;
    let mut stop = std::pin::pin!(stop);
    loop {
        tokio::select! {
            biased;
            () = &mut stop => break,
            event = events.recv() => match event {
                Some(BrokerEvent::Connected) => {
                    tracing::info!("mqtt: connected to {}:{}", config.host, config.port());
                    core.connected().into_iter().for_each(|a| link.act(a));
                    if let Some(membership) = membership.as_mut() {
                        membership.connected(&link);
                    }
                    sweep_until = Some(Instant::now() + SWEEP_FOR);
                }
                Some(BrokerEvent::Disconnected(reason)) => {
                    tracing::warn!("mqtt: {}:{}: {reason}; retrying", config.host, config.port());
                    if let Some(membership) = membership.as_mut() {
                        membership.disconnected();
                    }
                }
                Some(BrokerEvent::Message(message)) => shell.message(&mut core, membership.as_mut(), &link, &message),
                None => return Err(Error::ActorGone { what: "the MQTT connection thread".into() }),
            },
            Some(done) = shell.running.next(), if !shell.running.is_empty() => match done {
                Done::Answer(reply, body) => link.publish(core.answer(&reply, body)),
                Done::Released(address, reply, body) => {
                    if let Some(membership) = membership.as_mut() {
                        membership.forget(&address, &link);
                    }
                    shell.gated.remove(&address);
                    link.publish(core.answer(&reply, body));
                }
                Done::Dropped(address) => {
                    if let Some(membership) = membership.as_mut() {
                        let decisions = membership.dropped(&address, &link);
                        shell.decide(decisions);
                    }
                }
                Done::Nothing => {}
                Done::Subscribed(reply, follow, subscription, device) => {
                    shell.handles.insert(follow.address, device);
                    let spec = ValueSpec::for_characteristic(&follow.characteristic, "", follow.format.decode.is_numeric());
                    let name = shell.name_of(&follow.address);
                    core.manage(follow.address, &name, vec![spec]).into_iter().for_each(|m| link.publish(m));
                    shell.attach(follow, subscription);
                    link.publish(core.answer(&reply, succeeded(json!({"subscribed": characteristic_level(&follow.characteristic)}))));
                }
            },
            Some((follow, result)) = shell.subscribing.next(), if !shell.subscribing.is_empty() => match result {
                Some(subscription) if shell.may_follow(&follow.address) => shell.attach(follow, subscription),
                Some(_) => {}
                None => shell.follow_later(follow),
            },
            Some(follow) = shell.retrying.next(), if !shell.retrying.is_empty() => {
                if shell.may_follow(&follow.address) {
                    shell.follow(follow);
                }
            },
            _ = cluster_tick.tick(), if membership.is_some() => {
                if let Some(membership) = membership.as_mut() {
                    let decisions = membership.tick(&shell.fleet, &link);
                    shell.decide(decisions);
                }
            },
            Some((follow, event)) = shell.values.next(), if !shell.values.is_empty() => {
                if let SubscriptionEvent::Notification(bytes) = event {
                    let reading = serde_json::to_value(follow.format.apply(&bytes)).unwrap_or(Value::Null);
                    shell.readings.entry(follow.address).or_default().insert(characteristic_level(&follow.characteristic), reading.clone());
                    core.value(&follow.address, &follow.characteristic, &reading).into_iter().for_each(|m| link.publish(m));
                }
            },
            _ = tick.tick() => {
                if sweep_until.is_some_and(|t| Instant::now() >= t) {
                    sweep_until = None;
                    link.unsubscribe(core.topics().every_device_state());
                }
                let (devices, radios, hub) = shell.sample();
                for (address, spec) in std::mem::take(&mut shell.new_readings) {
                    let name = shell.name_of(&address);
                    core.manage(address, &name, vec![spec]).into_iter().for_each(|m| link.publish(m));
                }
                core.observe(&devices, &radios, &hub).into_iter().for_each(|m| link.publish(m));
            },
            Some(advert) = adverts.next() => {
                *shell.advert_counts.entry(advert.radio.clone()).or_default() += 1;
                shell.last_seen.insert(advert.address, advert.seen_at);
                if let Some(message) = core.advert(&advert) {
                    link.publish(message);
                }
            },
        }
    }
    if let Some(membership) = membership.as_mut() {
        shell.leave(membership, &link).await;
    }
    link.close(core.goodbye(), GOODBYE_WITHIN);
    Ok(())
}

struct Shell {
    fleet: Fleet,
    handles: BTreeMap<Address, Device>,
    names: BTreeMap<Address, Option<String>>,
    readings: BTreeMap<Address, BTreeMap<String, Value>>,
    last_seen: BTreeMap<Address, Instant>,
    advert_counts: BTreeMap<RadioId, u64>,
    sampled_at: Instant,
    running: FuturesUnordered<LocalFuture<Done>>,
    subscribing: FuturesUnordered<LocalFuture<(Follow, Option<Subscription>)>>,
    values: SelectAll<Values>,
    /// Decoded advert readings not yet in discovery.
    new_readings: Vec<(Address, ValueSpec)>,
    /// Reading keys already announced, per device.
    announced: BTreeMap<Address, std::collections::BTreeSet<String>>,
    /// Dropping a sender ends that follow's stream.
    cancels: BTreeMap<(Address, Uuid), Vec<oneshot::Sender<()>>>,
    /// Follows waiting to be retried.
    retrying: FuturesUnordered<LocalFuture<Follow>>,
    /// Devices the cluster decides for: followed only while held.
    gated: BTreeSet<Address>,
    /// Of those, the ones this hub holds now.
    held: BTreeSet<Address>,
    /// Configured follows of gated devices, started when the claim is ours.
    deferred: BTreeMap<Address, Vec<Follow>>,
}

impl Shell {
    fn new(fleet: Fleet) -> Self {
        Self {
            fleet,
            handles: BTreeMap::new(),
            names: BTreeMap::new(),
            readings: BTreeMap::new(),
            last_seen: BTreeMap::new(),
            advert_counts: BTreeMap::new(),
            sampled_at: Instant::now(),
            running: FuturesUnordered::new(),
            subscribing: FuturesUnordered::new(),
            values: SelectAll::new(),
            cancels: BTreeMap::new(),
            new_readings: Vec::new(),
            announced: BTreeMap::new(),
            retrying: FuturesUnordered::new(),
            gated: BTreeSet::new(),
            held: BTreeSet::new(),
            deferred: BTreeMap::new(),
        }
    }

    fn name_of(&self, address: &Address) -> String {
        self.names
            .get(address)
            .cloned()
            .flatten()
            .or_else(|| self.fleet.heard_device(address).and_then(|h| h.name))
            .unwrap_or_else(|| address.to_string())
    }

    fn follow(&mut self, follow: Follow) {
        let fleet = self.fleet.clone();
        if let Some(every) = follow.poll {
            // Read on a timer: each value goes where a notification would.
            let reads =
                crate::config::poll::reads(fleet, follow.address, follow.characteristic, every)
                    .filter_map(move |read| {
                        std::future::ready(match read {
                            Ok(value) => Some(SubscriptionEvent::Notification(value)),
                            Err(error) => {
                                tracing::warn!(
                                    "mqtt: cannot read {} {}: {error}",
                                    follow.address,
                                    follow.characteristic
                                );
                                None
                            }
                        })
                    });
            return self.attach(follow, reads);
        }
        self.subscribing.push(Box::pin(async move {
            let result = match fleet.device(follow.address).await {
                Ok(device) => device.subscribe(follow.characteristic).await,
                Err(e) => Err(e),
            };
            if let Err(err) = &result {
                tracing::warn!(
                    "mqtt: cannot follow {} {}: {err}",
                    follow.address,
                    follow.characteristic
                );
            }
            (follow, result.ok())
        }));
    }

    /// Retries `follow` later, if it may still be followed then.
    fn follow_later(&mut self, follow: Follow) {
        self.retrying.push(Box::pin(async move {
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
            follow
        }));
    }

    /// Whether `address` may hold a subscription (which keeps it connected) now.
    fn may_follow(&self, address: &Address) -> bool {
        !self.gated.contains(address) || self.held.contains(address)
    }

    fn attach(
        &mut self,
        follow: Follow,
        subscription: impl Stream<Item = SubscriptionEvent> + 'static,
    ) {
        let (cancel, cancelled) = oneshot::channel();
        self.cancels
            .entry((follow.address, follow.characteristic))
            .or_default()
            .push(cancel);
        self.values.push(Box::pin(
            subscription
                .take_until(cancelled)
                .map(move |event| (follow, event)),
        ));
    }

    fn command(&mut self, core: &mut Bridge, link: &BrokerLink, command: Command, reply: ReplyTo) {
        match command {
            Command::Release { address } => {
                core.release(&address)
                    .into_iter()
                    .for_each(|m| link.publish(m));
                self.cancels.retain(|(a, _), _| *a != address);
                self.readings.remove(&address);
                self.handles.remove(&address);
                self.deferred.remove(&address);
                let clustered = self.gated.contains(&address);
                let fleet = self.fleet.clone();
                self.running.push(Box::pin(async move {
                    let outcome = async {
                        let device = fleet.device(address).await?;
                        device.keep_connected(false).await?;
                        device.disconnect().await
                    };
                    let body = match outcome.await {
                        Ok(()) => succeeded(json!({"released": address.to_string()})),
                        Err(e) => failed(&e),
                    };
                    if clustered {
                        Done::Released(address, reply, body)
                    } else {
                        Done::Answer(reply, body)
                    }
                }));
            }
            Command::Subscribe {
                address,
                characteristic,
                on: false,
                ..
            } => {
                self.cancels.remove(&(address, characteristic));
                let body =
                    succeeded(json!({"unsubscribed": characteristic_level(&characteristic)}));
                link.publish(core.answer(&reply, body));
            }
            Command::Subscribe {
                address,
                characteristic,
                format,
                ..
            } => {
                let fleet = self.fleet.clone();
                let follow = Follow {
                    address,
                    characteristic,
                    format,
                    poll: None,
                };
                self.running.push(Box::pin(async move {
                    let result = async {
                        let device = fleet.device(address).await?;
                        let subscription = device.subscribe(characteristic).await?;
                        Ok::<_, Error>((device, subscription))
                    };
                    match result.await {
                        Ok((device, subscription)) => {
                            Done::Subscribed(reply, follow, subscription, device)
                        }
                        Err(e) => Done::Answer(reply, failed(&e)),
                    }
                }));
            }
            other => {
                let fleet = self.fleet.clone();
                self.running.push(
                    async move {
                        let body = execute(&fleet, &other).await;
                        Done::Answer(reply, body)
                    }
                    .boxed_local(),
                );
            }
        }
    }
}

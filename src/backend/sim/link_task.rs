//! The background life of one link: notifications, spontaneous drops, loss of range.
//!
//! Owns the per-link task `connect` spawns. It sleeps until the next thing due (a subscribed
//! characteristic's next value, a scheduled or random link drop, the next supervision check)
//! or until the link's schedule changes (`set_notify` wakes it), does what is due under the
//! state lock, and ends when the link record is gone. Notification values come from the link's
//! own random stream, so their content is reproducible per (seed, device, connection number).
//!
//! Loss of range: every supervision timeout the task checks that the device is still awake
//! and heard by the link's radio; the first check that fails ends the link with `LinkLost`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use super::faults;
use super::state::Shared;
use super::stats::Traced;
use crate::backend::{DisconnectCause, LinkEvent};

/// Never check range more often than this, whatever the supervision timeout.
const MIN_CHECK_EVERY: Duration = Duration::from_millis(100);

/// An exponential draw with the given mean.
fn exponential(mean: Duration, rng: &mut ChaCha8Rng) -> Duration {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    Duration::try_from_secs_f64(-u.ln() * mean.as_secs_f64()).unwrap_or(mean)
}

pub(crate) async fn run(shared: Arc<Shared>, id: u64, wake: Arc<Notify>, mut rng: ChaCha8Rng) {
    let Some((device, radio)) = shared.lock().links.get(&id).map(|l| (l.device, l.radio)) else {
        return;
    };
    let Some(spec) = shared.world.devices.get(device) else {
        return;
    };
    let kind = shared.radio_kind(radio);
    let since_start = shared.elapsed();
    let random_drop = spec
        .link_drop_every
        .map(|mean| Instant::now() + exponential(mean, &mut rng));
    let scheduled_drop = spec
        .link_drops_at
        .iter()
        .filter(|at| **at > since_start)
        .min()
        .map(|at| shared.started + *at);
    let drop_at = random_drop.into_iter().chain(scheduled_drop).min();
    let check_every = spec.supervision_timeout.max(MIN_CHECK_EVERY);
    let mut next_check = Instant::now() + check_every;
    loop {
        let deadline = {
            let state = shared.lock();
            let Some(link) = state.links.get(&id) else {
                return;
            };
            let next_value = link.notifying.values().map(|n| n.next_due).min();
            [Some(next_check), drop_at, next_value]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_check)
        };
        tokio::select! {
            // Fixed branch order: tokio's default random order is not seeded by us.
            biased;
            () = sleep_until(deadline) => {}
            () = wake.notified() => {}
        }
        let now = Instant::now();
        let mut state = shared.lock();
        if !state.links.contains_key(&id) {
            return;
        }
        if drop_at.is_some_and(|at| at <= now) {
            state.end_link(
                &shared,
                id,
                DisconnectCause::LinkLost,
                faults::link_lost_detail(kind),
            );
            return;
        }
        if now >= next_check {
            next_check = now + check_every;
            if !state.reachable(&shared, device, radio, shared.elapsed()) {
                state.end_link(
                    &shared,
                    id,
                    DisconnectCause::LinkLost,
                    faults::link_lost_detail(kind),
                );
                return;
            }
        }
        let mut sent = Vec::new();
        if let Some(link) = state.links.get_mut(&id) {
            for (handle, notifying) in link.notifying.iter_mut() {
                while notifying.next_due <= now {
                    notifying.step += 1;
                    notifying.next_due += notifying.generator.every;
                    let value = notifying.generator.kind.value(notifying.step, &mut rng);
                    let _ = link.events.send(LinkEvent::Notification {
                        handle: *handle,
                        value: Bytes::from(value.clone()),
                    });
                    sent.push((*handle, value));
                }
            }
        }
        for (handle, value) in sent {
            if let Some(d) = state.devices.get_mut(device) {
                d.stats.notifications_sent += 1;
                d.values.insert(handle, value.clone());
            }
            state.record(
                &shared,
                Traced::Notified {
                    device: spec.address,
                    handle,
                    value,
                },
            );
        }
    }
}

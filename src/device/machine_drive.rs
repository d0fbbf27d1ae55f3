//! Where the device machine tries next: which radios are ready (their own backoff over),
//! how they rank (radio choice, with or without the detour), and `drive`, which moves a device
//! that wants a connection towards one.
//!
//! Why apart from `machine.rs`: this is the scheduling half of the machine, the part the
//! makespan and fairness figures depend on, and the place a radio-choice change goes.

use super::*;

impl<L: LeaseHandle, K: LinkHandle> DeviceMachine<L, K> {
    /// Whether `radio` may be tried now (its backoff, if any, is over).
    pub(super) fn ready(&self, radio: &RadioId, now: Instant) -> bool {
        self.waits.get(radio).is_none_or(|w| w.until <= now)
    }

    /// The wait before some acceptable radio may be tried (`None`: one may be tried now, or
    /// none is acceptable and an advert is awaited).
    pub(super) fn next_retry_in(&self, inputs: &Inputs<'_>) -> Option<Duration> {
        let ranked = self.ranked(inputs, false);
        if ranked.iter().any(|r| self.ready(r, inputs.now)) {
            return None;
        }
        self.soonest_wait(&ranked)
            .map(|w| w.until.saturating_duration_since(inputs.now))
    }

    pub(super) fn soonest_wait(&self, radios: &[RadioId]) -> Option<RadioWait> {
        radios
            .iter()
            .filter_map(|r| self.waits.get(r).copied())
            .min_by_key(|w| w.until)
    }

    pub(super) fn ranked(&self, inputs: &Inputs<'_>, detour: bool) -> Vec<RadioId> {
        let candidates = self.sightings.candidates(inputs.radios);
        rank(
            &candidates,
            &self.penalties,
            &self.policy(detour),
            inputs.now,
        )
    }

    pub(super) fn policy(&self, detour: bool) -> ChoicePolicy {
        if detour {
            ChoicePolicy {
                max_detour_db: f64::INFINITY,
                ..self.choice.clone()
            }
        } else {
            self.choice.clone()
        }
    }

    /// Decides what to do next while no attempt runs and no link is up.
    pub(super) fn drive(&mut self, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        if matches!(
            self.phase,
            Phase::Connecting { .. } | Phase::Connected { .. }
        ) {
            return;
        }
        let now = inputs.now;
        if !self.wants(inputs) {
            self.settle_down(Phase::Idle, out);
            self.queue_place = None;
            out.push(Effect::Publish(DeviceState::Idle));
            return;
        }
        if let Err(refusal) = self.admits() {
            // A beacon: refuse requests at once, hold no queue; wait for a connectable advert.
            self.fail_pending(refusal, out);
            return self.wait_for_advert(out);
        }
        if let Some(after) = self.need_advert_after {
            if self
                .sightings
                .last_heard()
                .is_none_or(|heard| heard <= after)
            {
                return self.wait_for_advert(out);
            }
            self.need_advert_after = None;
        }
        if let Some(settled) = self
            .sightings
            .first_heard()
            .map(|t| t + self.choice.first_sighting_settle)
            .filter(|t| *t > now)
        {
            self.settle_down(Phase::Settling, out);
            self.arm(settled, out);
            out.push(Effect::Publish(DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            }));
            return;
        }
        // Waiting long for a slot on a good radio: a weaker radio will do (the detour rule:
        // liveness beats link quality after `detour_after`; docs/architecture.md).
        let queued_since = match &self.phase {
            Phase::Queued { since, .. } => Some(*since),
            _ => None,
        };
        let detour = queued_since.is_some_and(|since| now >= since + self.choice.detour_after);
        let candidates = self.sightings.candidates(inputs.radios);
        let policy = self.policy(detour);
        let ranked = rank(&candidates, &self.penalties, &policy, now);
        if inputs.observed {
            out.push(Effect::Log(AttemptEvent::Queued {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                considered: considered(&candidates, &self.penalties, &policy, now),
            }));
        }
        if ranked.is_empty() {
            return self.wait_for_advert(out);
        }
        let (ready, waiting): (Vec<RadioId>, Vec<RadioId>) =
            ranked.into_iter().partition(|r| self.ready(r, now));
        let next_ready = self.soonest_wait(&waiting);
        if ready.is_empty() {
            // Every acceptable radio backs off: wait for the soonest.
            let Some(wait) = next_ready else {
                return self.wait_for_advert(out);
            };
            self.settle_down(Phase::Backoff, out);
            self.arm(wait.until, out);
            out.push(Effect::Publish(DeviceState::Backoff {
                remaining: wait.until - now,
                after: wait.after,
            }));
            return;
        }
        out.push(Effect::Publish(DeviceState::Waiting {
            reason: WaitReason::Slot,
        }));
        let since = match &self.phase {
            Phase::Queued { radios, since } => {
                if *radios != ready {
                    out.push(Effect::SetQueueRadios(ready.clone()));
                }
                *since
            }
            _ => {
                out.push(Effect::JoinQueue {
                    radios: ready.clone(),
                    place: self.queue_place,
                });
                now
            }
        };
        // Wake when the detour becomes allowed or a backing-off radio may be tried, even if no
        // slot frees meanwhile.
        let detour_at = (!detour).then_some(since + self.choice.detour_after);
        if let Some(at) = [detour_at, next_ready.map(|w| w.until)]
            .into_iter()
            .flatten()
            .min()
        {
            self.arm(at, out);
        }
        self.phase = Phase::Queued {
            radios: ready,
            since,
        };
    }
}

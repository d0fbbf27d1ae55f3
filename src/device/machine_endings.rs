//! How an attempt or a link ends, as the device machine sees it: a failed attempt (its class
//! picks the wait: a fresh advert, a free slot, or this radio's backoff) and a link drop.
//!
//! Why apart from `machine.rs`: the endings are where bugs 5, 12 and 13 lived (a second
//! disconnect, discovery outliving the budget, one backoff for every radio); kept together they
//! read as one decision each.

use super::*;

impl<L: LeaseHandle, K: LinkHandle> DeviceMachine<L, K> {
    pub(super) fn failed(
        &mut self,
        generation: u64,
        failure: Failure,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        if self.attempt_generation() != Some(generation) {
            return;
        }
        let Phase::Connecting { radio, lease, .. } =
            std::mem::replace(&mut self.phase, Phase::Backoff)
        else {
            return;
        };
        drop(lease);
        let now = inputs.now;
        let kind = classify(&failure).kind;
        out.push(Effect::RadioOutcome {
            radio: radio.clone(),
            failed: Some(kind),
        });
        self.penalties.record(&self.choice, &radio, kind, now);
        self.failures_in_row += 1;
        let attempts = self.failures_in_row;
        out.push(Effect::CountFailure {
            kind,
            text: failure.to_string(),
        });
        if attempts >= self.backoff.policy().attempt_budget {
            let refusal = Refusal::Exhausted {
                radio: radio.clone(),
                attempts,
                kind,
                failure: failure.clone(),
            };
            self.fail_pending(refusal, out);
            self.failures_in_row = 0;
        }
        if kind == ErrorKind::NotFound {
            self.need_advert_after = Some(now);
        }
        // Backoff is per radio (bug 13): only this radio waits; others may go at once.
        let delay = self.backoff.next_delay(&radio, kind);
        self.waits.insert(
            radio.clone(),
            RadioWait {
                until: now + delay,
                after: Some(kind),
            },
        );
        if inputs.observed {
            let next_retry_in = self.next_retry_in(inputs);
            out.push(Effect::Log(AttemptEvent::Failed {
                at: now.saturating_duration_since(self.epoch),
                device: self.address,
                radio,
                class: kind,
                error: failure.to_string(),
                next_retry_in,
            }));
        }
        self.drive(inputs, out);
    }

    pub(super) fn link_ended(
        &mut self,
        generation: u64,
        cause: DisconnectCause,
        detail: String,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        let current =
            matches!(&self.phase, Phase::Connected { generation: g, .. } if *g == generation);
        if !current {
            return;
        }
        let Phase::Connected {
            radio,
            since,
            lease,
            mut link,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            return;
        };
        // The backend said it is over (or our disconnect returned): no second disconnect.
        link.mark_ended();
        drop(link);
        drop(lease);
        let now = inputs.now;
        self.backoff
            .connection_held(now.saturating_duration_since(since));
        out.push(Effect::AnnounceDisconnected {
            reason: format!("{cause}: {detail}"),
        });
        if cause != DisconnectCause::Requested && self.wants(inputs) {
            let delay = self.backoff.next_delay(&radio, ErrorKind::Aborted);
            self.waits.insert(
                radio,
                RadioWait {
                    until: now + delay,
                    after: None,
                },
            );
        }
        self.drive(inputs, out);
    }

    pub(super) fn close(&mut self, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        match &self.phase {
            Phase::Connecting { .. } => {
                // Dropping the lease here gives the slot back; the attempt's half-made
                // connection closes itself when the actor drops the attempt.
                self.phase = Phase::Backoff;
                out.push(Effect::CancelAttempt);
                self.drive(inputs, out);
            }
            // The lease stays until the backend confirms: the phase stays `Connected` until
            // `LinkEnded` arrives. One disconnect per link, however often it is asked for.
            Phase::Connected { generation, .. } if self.closing != Some(*generation) => {
                self.closing = Some(*generation);
                out.push(Effect::Disconnect {
                    generation: *generation,
                });
            }
            Phase::Connected { .. } => {}
            _ => self.drive(inputs, out),
        }
    }
}

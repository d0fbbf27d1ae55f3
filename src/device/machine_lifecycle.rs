//! The connected device's housekeeping, as the device machine sees it: the idle timer that lets
//! an on-demand link go, a services change that makes the cached table wrong, and the memory a
//! restarted actor takes over (backoff, penalties, radio waits).
//!
//! Why apart from `machine.rs`: these decisions used to sit in the actor as loose timers and
//! flags (the idle timer lived there, and a restarted actor began with empty backoff: a crash
//! mid-backoff gave an immediate retry). As events and effects they are tested like the rest,
//! with no runtime (`machine_tests/lifecycle.rs`).

use super::*;

/// What a device machine knows that must outlive its actor: a restarted actor that forgot its
/// backoff would retry at once, and one that forgot its penalties would pick the radio that
/// just failed it.
#[derive(Debug)]
pub(crate) struct MachineMemory {
    backoff: Backoff,
    penalties: FailurePenalties,
    waits: BTreeMap<RadioId, RadioWait>,
    failures_in_row: u32,
    need_advert_after: Option<Instant>,
}

impl<L: LeaseHandle, K: LinkHandle> DeviceMachine<L, K> {
    /// Hands over what a successor must know (this machine keeps fresh, empty state).
    pub fn take_memory(&mut self) -> MachineMemory {
        let fresh = Backoff::new(self.backoff.policy().clone(), 0);
        MachineMemory {
            backoff: std::mem::replace(&mut self.backoff, fresh),
            penalties: std::mem::take(&mut self.penalties),
            waits: std::mem::take(&mut self.waits),
            failures_in_row: std::mem::take(&mut self.failures_in_row),
            need_advert_after: self.need_advert_after.take(),
        }
    }

    /// Takes over a predecessor's memory (before `Event::Started`).
    pub fn restore(&mut self, memory: MachineMemory) {
        self.backoff = memory.backoff;
        self.penalties = memory.penalties;
        self.waits = memory.waits;
        self.failures_in_row = memory.failures_in_row;
        self.need_advert_after = memory.need_advert_after;
    }

    /// While connected: arms the idle timer when nothing wants the link (nor uses it: requests
    /// in flight count as requests), and cancels it when something does again.
    pub(super) fn consider_idle(&mut self, inputs: &Inputs<'_>, out: &mut Vec<Effect>) {
        let Phase::Connected { generation, .. } = self.phase else {
            return;
        };
        if self.closing == Some(generation) {
            return;
        }
        let armed = self.idle.is_some_and(|(g, _)| g == generation);
        if self.wants(inputs) {
            if self.idle.take().is_some() {
                out.push(Effect::CancelIdleTimer);
            }
        } else if !armed {
            let wait = self.next_wait(inputs.now + self.idle_after);
            self.idle = Some((generation, wait));
            out.push(Effect::ArmIdleTimer {
                at: wait.at,
                number: wait.number,
            });
        }
    }

    /// The idle timer numbered `number` fired: the link goes if still nothing wants it. A
    /// timer cancelled (or replaced) in the turn it fired carries an older number and does
    /// nothing: it belongs to a state that is gone.
    pub(super) fn idle_timer_fired(
        &mut self,
        number: u64,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        let Some((armed_for, wait)) = self.idle else {
            return;
        };
        if wait.number != number {
            return;
        }
        self.idle = None;
        let current =
            matches!(self.phase, Phase::Connected { generation, .. } if generation == armed_for);
        if current && !self.wants(inputs) {
            self.close(inputs, out);
        }
    }

    /// The device's services changed (a Service Changed indication): the cache is forgotten
    /// and the link closed; the device still wants its connection, so it reconnects with a
    /// fresh discovery, and each subscription is enabled again on the handles that discovery
    /// finds. Operations in flight on it count as run on a stale table.
    pub(super) fn services_changed(
        &mut self,
        generation: u64,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        let current =
            matches!(self.phase, Phase::Connected { generation: g, .. } if g == generation);
        if !current || self.closing == Some(generation) {
            return;
        }
        self.stale_through = Some(generation);
        out.push(Effect::ForgetCache);
        self.close(inputs, out);
    }

    /// An operation on the connection of `generation` found the cached table stale. Once per
    /// finding: the cache is forgotten, and the connection up now (or the attempt under way)
    /// closes if it used that table, so the device rediscovers once. Operations that ran on
    /// the stale handles run once more (`found_stale`); a second Invalid Handle after the
    /// fresh discovery is the device's answer and reaches the caller.
    pub(super) fn stale_cache(
        &mut self,
        generation: u64,
        inputs: &Inputs<'_>,
        out: &mut Vec<Effect>,
    ) {
        if self.found_stale(generation) {
            return; // forgotten already: the rediscovery is under way or done
        }
        if self.discovered_at.is_some_and(|fresh| fresh > generation) {
            // A later connection discovered afresh and cached what it found: nothing to forget.
            self.stale_through = Some(generation);
            return;
        }
        // Every connection since used the cached table: up to the latest attempt, all stale.
        self.stale_through = Some(self.generation);
        out.push(Effect::ForgetCache);
        if matches!(
            self.phase,
            Phase::Connecting { .. } | Phase::Connected { .. }
        ) {
            self.close(inputs, out);
        }
    }
}

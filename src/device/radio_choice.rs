//! Which radio a connection attempt should go through: one scoring function (design §5).
//!
//! Among radios that are up, heard the device within the stale window and have a free slot, the
//! highest `score = smoothed RSSI − failure penalty − 5 dB × attempts in flight` wins. The
//! failure penalty decays with a half-life, so one failure through a distant proxy never bans
//! a healthy near one for good (the third failure story of design §1), and repeated failures
//! push attempts elsewhere for a while. Ties go to the radio name, so choices are reproducible.
//!
//! Pure: the device actor calls [`choose`] with what it knows (its own sightings and
//! penalties) and what the ledger says (up, free slots, in flight).

use std::collections::BTreeMap;

use serde::Serialize;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ErrorKind;
use crate::model::RadioId;

/// Tunables of the score.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoicePolicy {
    /// A radio that has not heard the device for this long is not a candidate.
    pub stale_after: Duration,
    /// Score lost per attempt already in flight or queued on a radio.
    pub in_flight_penalty_db: f64,
    /// Penalty added per out-of-slots failure (the radio was full although the ledger thought
    /// otherwise: go elsewhere for a while).
    pub out_of_slots_penalty_db: f64,
    /// Penalty added per not-found failure.
    pub not_found_penalty_db: f64,
    /// Penalty added per aborted or generic failure.
    pub other_failure_penalty_db: f64,
    /// Half-life of the failure penalty.
    pub penalty_half_life: Duration,
    /// A free radio that hears the device more than this much worse than the best radio that
    /// hears it is not used: the device waits for a slot on a good radio instead. A marginal
    /// radio's connect attempt often runs to its timeout, and radios connect one device at a
    /// time, so one such attempt stalls every device queued behind it.
    pub max_detour_db: f64,
    /// After waiting this long for a slot on a good radio, any radio that hears the device
    /// will do: a device must not wait forever behind devices that never let go.
    pub detour_after: Duration,
    /// After a device is first heard, wait this long before the first choice, so radios that
    /// deliver adverts in batches (proxies: every 100 ms) are candidates too.
    pub first_sighting_settle: Duration,
}

impl Default for ChoicePolicy {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(60),
            in_flight_penalty_db: 5.0,
            out_of_slots_penalty_db: 30.0,
            not_found_penalty_db: 15.0,
            other_failure_penalty_db: 10.0,
            penalty_half_life: Duration::from_secs(60),
            first_sighting_settle: Duration::from_millis(300),
            max_detour_db: 12.0,
            detour_after: Duration::from_secs(20),
        }
    }
}

/// What is known of one radio for one device at choice time.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The radio.
    pub radio: RadioId,
    /// Smoothed RSSI of the device as this radio hears it.
    pub smoothed_rssi: f64,
    /// When this radio last heard the device.
    pub last_seen: Instant,
    /// Whether the radio is up.
    pub up: bool,
    /// Slots free on it for us.
    pub free_slots: usize,
    /// Attempts in flight or queued on it.
    pub in_flight: usize,
}

/// The decision of [`choose`].
#[cfg(test)]
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// Connect through this radio.
    Use(RadioId),
    /// Radios heard the device recently but none has a free slot.
    NoFreeSlot {
        /// The radios that heard it.
        heard_by: Vec<RadioId>,
    },
    /// No up radio heard the device within the stale window.
    NotHeard,
}

/// Decaying per-radio failure penalties for one device.
#[derive(Clone, Debug, Default)]
pub struct FailurePenalties {
    by_radio: BTreeMap<RadioId, (f64, Instant)>,
}

impl FailurePenalties {
    /// Records a failure of `kind` on `radio` at `now`.
    pub fn record(
        &mut self,
        policy: &ChoicePolicy,
        radio: &RadioId,
        kind: ErrorKind,
        now: Instant,
    ) {
        let current = self.penalty(policy, radio, now);
        let added = match kind {
            ErrorKind::OutOfSlots => policy.out_of_slots_penalty_db,
            ErrorKind::NotFound => policy.not_found_penalty_db,
            _ => policy.other_failure_penalty_db,
        };
        self.by_radio.insert(radio.clone(), (current + added, now));
    }

    /// The penalty on `radio` at `now`, decayed.
    pub fn penalty(&self, policy: &ChoicePolicy, radio: &RadioId, now: Instant) -> f64 {
        let Some((value, at)) = self.by_radio.get(radio) else {
            return 0.0;
        };
        let age = now.saturating_duration_since(*at).as_secs_f64();
        let half_life = policy.penalty_half_life.as_secs_f64().max(f64::EPSILON);
        value * 0.5f64.powf(age / half_life)
    }
}

/// Picks one radio with a free slot, or says why none. Test-only: the device machine queues at
/// every radio [`rank`] accepts instead; the tests below still use it to check the penalty and
/// detour rules both share.
#[cfg(test)]
pub fn choose(
    candidates: &[Candidate],
    penalties: &FailurePenalties,
    policy: &ChoicePolicy,
    now: Instant,
) -> Choice {
    let fresh: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.up && now.saturating_duration_since(c.last_seen) <= policy.stale_after)
        .collect();
    if fresh.is_empty() {
        return Choice::NotHeard;
    }
    // Judged after failure penalties: a radio that just refused must not pin the device to it.
    let heard = |c: &Candidate| c.smoothed_rssi - penalties.penalty(policy, &c.radio, now);
    let score = |c: &Candidate| heard(c) - policy.in_flight_penalty_db * c.in_flight as f64;
    let loudest = fresh
        .iter()
        .map(|c| heard(c))
        .fold(f64::NEG_INFINITY, f64::max);
    fresh
        .iter()
        .filter(|c| c.free_slots > 0 && heard(c) >= loudest - policy.max_detour_db)
        .max_by(|a, b| {
            score(a)
                .total_cmp(&score(b))
                .then_with(|| b.radio.cmp(&a.radio))
        })
        .map(|c| Choice::Use(c.radio.clone()))
        .unwrap_or_else(|| Choice::NoFreeSlot {
            heard_by: fresh.iter().map(|c| c.radio.clone()).collect(),
        })
}

/// Why radio choice passed over a radio that heard the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum SkipReason {
    /// The radio is down.
    Down,
    /// It has not heard the device within the stale window.
    Stale {
        /// How long ago it last heard it.
        heard_ago: Duration,
    },
    /// It hears the device too much worse than the best radio (the detour rule).
    TooFarBelowBest {
        /// dB under the best radio, after failure penalties.
        below_db: f64,
    },
}

/// One radio as the device judged it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConsideredRadio {
    /// The radio.
    pub radio: RadioId,
    /// Smoothed RSSI as the radio hears the device.
    pub smoothed_rssi: f64,
    /// The failure penalty on it now, in dB.
    pub penalty_db: f64,
    /// Free slots on it now.
    pub free_slots: usize,
    /// `None` if the device queued for it; otherwise why not.
    pub skipped: Option<SkipReason>,
}

/// Every radio that heard the device with the verdict [`rank`] gives it: queued for (`None`)
/// or why it was passed over. Same rules as [`rank`], spelled out for the attempt events.
pub fn considered(
    candidates: &[Candidate],
    penalties: &FailurePenalties,
    policy: &ChoicePolicy,
    now: Instant,
) -> Vec<ConsideredRadio> {
    let heard = |c: &Candidate| c.smoothed_rssi - penalties.penalty(policy, &c.radio, now);
    let fresh = |c: &Candidate| now.saturating_duration_since(c.last_seen) <= policy.stale_after;
    let loudest = candidates
        .iter()
        .filter(|c| c.up && fresh(c))
        .map(&heard)
        .fold(f64::NEG_INFINITY, f64::max);
    candidates
        .iter()
        .map(|c| {
            let skipped = if !c.up {
                Some(SkipReason::Down)
            } else if !fresh(c) {
                Some(SkipReason::Stale {
                    heard_ago: now.saturating_duration_since(c.last_seen),
                })
            } else if heard(c) < loudest - policy.max_detour_db {
                Some(SkipReason::TooFarBelowBest {
                    below_db: loudest - heard(c),
                })
            } else {
                None
            };
            ConsideredRadio {
                radio: c.radio.clone(),
                smoothed_rssi: c.smoothed_rssi,
                penalty_db: penalties.penalty(policy, &c.radio, now),
                free_slots: c.free_slots,
                skipped,
            }
        })
        .collect()
}

/// The radios a waiting device would accept, best first: every up radio that heard it within
/// the stale window and, judged after failure penalties, within `max_detour_db` of the loudest.
/// Free slots do not matter here: the device queues at all of them and the slot ledger grants
/// the first that frees. Empty when no up radio heard it.
pub fn rank(
    candidates: &[Candidate],
    penalties: &FailurePenalties,
    policy: &ChoicePolicy,
    now: Instant,
) -> Vec<RadioId> {
    let heard = |c: &Candidate| c.smoothed_rssi - penalties.penalty(policy, &c.radio, now);
    let score = |c: &Candidate| heard(c) - policy.in_flight_penalty_db * c.in_flight as f64;
    let mut fresh: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.up && now.saturating_duration_since(c.last_seen) <= policy.stale_after)
        .collect();
    let loudest = fresh
        .iter()
        .map(|c| heard(c))
        .fold(f64::NEG_INFINITY, f64::max);
    fresh.retain(|c| heard(c) >= loudest - policy.max_detour_db);
    fresh.sort_by(|a, b| {
        score(b)
            .total_cmp(&score(a))
            .then_with(|| a.radio.cmp(&b.radio))
    });
    fresh.into_iter().map(|c| c.radio.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, rssi: f64, now: Instant) -> Candidate {
        Candidate {
            radio: RadioId::new(name),
            smoothed_rssi: rssi,
            last_seen: now,
            up: true,
            free_slots: 1,
            in_flight: 0,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rank_lists_acceptable_radios_best_first_whatever_their_slots() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut near = cand("near", -55.0, now);
        near.free_slots = 0;
        let mid = cand("mid", -60.0, now);
        let marginal = cand("marginal", -80.0, now);
        let mut down = cand("down", -40.0, now);
        down.up = false;
        let ranked = rank(
            &[marginal, mid, down.clone(), near],
            &FailurePenalties::default(),
            &p,
            now,
        );
        assert_eq!(ranked, vec![RadioId::new("near"), RadioId::new("mid")]);
        let verdicts = considered(
            &[
                cand("marginal", -80.0, now),
                cand("mid", -60.0, now),
                down.clone(),
            ],
            &FailurePenalties::default(),
            &p,
            now,
        );
        assert_eq!(
            verdicts
                .iter()
                .map(|v| v.skipped.clone())
                .collect::<Vec<_>>(),
            vec![
                Some(SkipReason::TooFarBelowBest { below_db: 20.0 }),
                None,
                Some(SkipReason::Down)
            ]
        );
        assert!(rank(&[], &FailurePenalties::default(), &p, now).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn strongest_radio_with_a_free_slot_wins() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut near = cand("near", -55.0, now);
        let far = cand("far", -64.0, now); // within the detour limit
        let choice = choose(
            &[near.clone(), far.clone()],
            &FailurePenalties::default(),
            &p,
            now,
        );
        assert_eq!(choice, Choice::Use(RadioId::new("near")));
        near.free_slots = 0;
        let choice = choose(&[near, far], &FailurePenalties::default(), &p, now);
        assert_eq!(choice, Choice::Use(RadioId::new("far")));
    }

    #[tokio::test(start_paused = true)]
    async fn one_failure_through_a_distant_proxy_never_bans_the_near_one() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut penalties = FailurePenalties::default();
        penalties.record(&p, &RadioId::new("far"), ErrorKind::Aborted, now);
        penalties.record(&p, &RadioId::new("near"), ErrorKind::Aborted, now);
        let c = [cand("near", -60.0, now), cand("far", -85.0, now)];
        assert_eq!(
            choose(&c, &penalties, &p, now),
            Choice::Use(RadioId::new("near"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failure_penalties_decay_with_their_half_life() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut penalties = FailurePenalties::default();
        let r = RadioId::new("p1");
        penalties.record(&p, &r, ErrorKind::OutOfSlots, now);
        assert_eq!(penalties.penalty(&p, &r, now), 30.0);
        let later = now + Duration::from_secs(60);
        assert!((penalties.penalty(&p, &r, later) - 15.0).abs() < 1e-9);
        let c = [cand("p1", -50.0, later), cand("p2", -70.0, later)];
        assert_eq!(
            choose(&c, &penalties, &p, later),
            Choice::Use(RadioId::new("p1"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_in_flight_spread_load() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut busy = cand("busy", -60.0, now);
        busy.in_flight = 2;
        let idle = cand("idle", -65.0, now);
        assert_eq!(
            choose(&[busy, idle], &FailurePenalties::default(), &p, now),
            Choice::Use(RadioId::new("idle"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stale_or_down_radios_are_not_candidates() {
        let now = Instant::now();
        tokio::time::advance(Duration::from_secs(61)).await;
        let later = Instant::now();
        let p = ChoicePolicy::default();
        let stale = cand("stale", -40.0, now);
        let mut down = cand("down", -40.0, later);
        down.up = false;
        assert_eq!(
            choose(
                &[stale, down.clone()],
                &FailurePenalties::default(),
                &p,
                later
            ),
            Choice::NotHeard
        );
        let mut full = cand("full", -50.0, later);
        full.free_slots = 0;
        assert_eq!(
            choose(&[full, down], &FailurePenalties::default(), &p, later),
            Choice::NoFreeSlot {
                heard_by: vec![RadioId::new("full")]
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_marginal_free_radio_is_not_a_detour_worth_taking() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let mut good = cand("good", -65.0, now);
        good.free_slots = 0;
        let marginal = cand("marginal", -80.0, now);
        let close_enough = cand("close", -70.0, now);
        assert_eq!(
            choose(
                &[good.clone(), marginal.clone()],
                &FailurePenalties::default(),
                &p,
                now
            ),
            Choice::NoFreeSlot {
                heard_by: vec![RadioId::new("good"), RadioId::new("marginal")]
            }
        );
        assert_eq!(
            choose(
                &[good, marginal, close_enough],
                &FailurePenalties::default(),
                &p,
                now
            ),
            Choice::Use(RadioId::new("close"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ties_are_broken_by_name() {
        let now = Instant::now();
        let p = ChoicePolicy::default();
        let c = [cand("b", -60.0, now), cand("a", -60.0, now)];
        assert_eq!(
            choose(&c, &FailurePenalties::default(), &p, now),
            Choice::Use(RadioId::new("a"))
        );
    }
}

//! Lower bounds on the makespan of a batch of sessions (connect, discover, read, disconnect;
//! one per device, all asked for at once), whatever schedules them.
//!
//! Two bounds, both computed from the world alone, never from a run or from bluefleet's
//! scheduler:
//! - [`drawn`], the per-seed bound the makespan targets are judged against: it takes each
//!   device's connect time as that seed's run will draw it ([`World::drawn_connect_latency`]),
//!   so no schedule of that run, lucky or not, can beat it;
//! - [`expected`], the older bound at each radio's *mean* connect latency, kept as a reference
//!   row: a run with quick draws can beat it, a run with slow ones is judged harshly.
//!
//! # Why [`drawn`] is a lower bound
//! Take any schedule that finishes every session within T, counted from the moment they are
//! asked for, in which one connection serves each device's session (discovery and read), as in
//! every run of the bench: no GATT fault is injected and no link ends before its session's
//! disconnect. (A contrived schedule that discovers on one connection and reads on another
//! pays a further connect; the argument below does not cover it.) That connection goes
//! through one radio r that reaches the device ([`World::reaches`]). Nothing makes it cheaper
//! than this (a failed attempt, a refusal, a retry or a wait only adds to what follows):
//! - its connect takes c(d,r), the latency the world draws for the connection the batch makes
//!   through r (the device's first, or the n-th in a later [`Batch::Again`]); every attempt
//!   until that connection draws the same, so no order of attempts or choice of which attempt
//!   to let fail changes it;
//! - its session then takes s(d) on the link: discovery (`discovery_requests` round trips of
//!   its connection interval; nothing is cached before a device's first connection) and the
//!   read (one round trip). In a later batch the hub has the services cached, and s(d) is the
//!   read alone (taking less than a run may spend only lowers the bound);
//! - so, for every radio r, with D(r) the devices it serves:
//!   (gate) a radio that serialises attempts runs one connect at a time, so its last connect
//!   ends no earlier than Σ_{D(r)} c(d,r), and a session follows it: Σ_{D(r)} c(d,r) ≤ T − s₀,
//!   with s₀ the shortest session of all (also true when D(r) is empty, as T ≥ s₀);
//!   (slots) each device holds one of r's k(r) slots from its connect's start to its session's
//!   end: Σ_{D(r)} (c(d,r) + s(d)) ≤ k(r)·T;
//! - and T ≥ min over the radios reaching d of c(d,r) + s(d), for every device.
//!
//! Weigh each radio's gate inequality by α(r) ≥ 0 and its slot inequality by β(r) ≥ 0 and add
//! them up. Device d adds α(r)c(d,r) + β(r)(c(d,r) + s(d)) for the one radio that serves it,
//! which is at least the least of that over the radios reaching it, m(d). So every schedule
//! has Σ_d m(d) ≤ Σ_r α(r)(T − s₀) + β(r)k(r)T, that is
//!   T ≥ (Σ_d m(d) + s₀·Σ_r α(r)) / Σ_r (α(r) + β(r)k(r)),
//! for every choice of weights (the weak duality of the assignment's linear relaxation). The
//! bound is the largest right-hand side found by a deterministic search over the weights,
//! and the per-device term above. A weak search only makes it lower, never invalid. Weights
//! on the gate and slots of the radios reaching one group of devices alone give Hall's
//! condition of [`expected`]; mixed weights say that radios of one group bind differently.
//!
//! # Idle slots at both ends
//! The slot inequality above lets a radio use all k(r) slots from time 0 to T. A radio whose
//! gate runs one connect at a time cannot: its slots fill one connect after another and empty
//! one connect after another. Take a schedule that finishes within T and a serialising radio r
//! with k slots that reaches N ≥ k devices; let P_j be the sum of the j quickest connects
//! c(d,r) among those N (P_0 = 0), and Δs the largest minus the shortest session s(d) among
//! them. Say r serves n devices (n ≤ N, any n). Their slot time Σ_{D(r)} (c(d,r) + s(d)) is the
//! integral over [0, T] of occ(t), the number of them holding a slot at t (their connect
//! started, their session not ended), and occ(t) ≤ k.
//! - Start: the served connects run one after another, so the i-th to start does so no earlier
//!   than the i − 1 before it took, at least P_{i−1}. So occ(t) < j whenever t < P_{j−1}
//!   (only connects started by t count; for j > n that holds anyway, as occ ≤ n).
//! - End: order the served devices by when their connect ends, latest first. The i − 1 connects
//!   ending after the i-th lie between its end and the last one's, so the i-th ends at least
//!   P_{i−1} before the last, and the last ends by T − s of its device. Its session ends by
//!   T − P_{i−1} + Δs. So occ(t) < j whenever t ≥ T − P_{j−1} + Δs.
//! - k − min(k, occ(t)) = Σ_{j=1..k} [occ(t) < j]. When T ≥ 2·P_{k−1}, no t meets both
//!   conditions of one j (P_{j−1} ≤ T − P_{j−1} + Δs) and P_j ≤ T, so integrating each j's two
//!   over [0, T] gives P_{j−1} and (P_{j−1} − Δs)⁺: the slot time is at most
//!   k·T − idle(r), idle(r) = Σ_{j<k} P_j + Σ_{j<k} (P_j − Δs)⁺.
//!
//! That condition holds for every schedule once the plain bound (the certificate without idle)
//! is at least 2·P_{k−1}, as no schedule beats the plain bound. So [`drawn`] first finds
//! the plain bound, then subtracts that idle, `idle(r)`, from each such radio's slot
//! inequality (Σ_{D(r)} (c + s) ≤ k(r)·T − idle(r)) and searches the weights again:
//!   T ≥ (Σ_d m(d) + s₀·Σ_r α(r) + Σ_r β(r)·idle(r)) / Σ_r (α(r) + β(r)k(r)).
//! Radios without a serial gate, reaching fewer devices than they have slots, or failing the
//! condition keep idle 0. Failed attempts and waits only add to what the served connects need,
//! so they change none of this. `bound_tests.rs` checks the result against a brute-force
//! optimum on small worlds.
//!
//! What it leaves out (so a schedule may sit above it and still be perfect): that a device
//! goes to one radio whole (the relaxation is fractional), that a radio's gate and slots bind
//! together, and any time between one step and the next.

use std::collections::BTreeSet;
use std::time::Duration;

use bluefleet::sim::world::LatencyRange;
use bluefleet::sim::World;

/// One device's session: its connect time through each radio that reaches it, then its time
/// on the link.
#[derive(Clone, Debug)]
pub(super) struct Session {
    pub(super) connects: Vec<(usize, f64)>,
    pub(super) on_link: f64,
}

/// One radio's capacity.
#[derive(Clone, Copy, Debug)]
pub(super) struct Capacity {
    pub(super) slots: f64,
    pub(super) serialises: bool,
    /// Slot-seconds no schedule can use while its serial gate fills the slots at the start and
    /// empties them at the end (module docs; 0 until `unavoidable_idle` is known to hold).
    pub(super) idle: f64,
}

/// The work of a batch of sessions, one per world device, in seconds.
#[derive(Clone, Debug)]
pub(super) struct Work {
    pub(super) sessions: Vec<Session>,
    pub(super) radios: Vec<Capacity>,
}

/// Which connection of each device a batch makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Batch {
    /// Every device's first: nothing is cached, every session discovers.
    First,
    /// Device d's connection number `connections[d]` (0 for its first), with its services
    /// cached by an earlier one: the session is the read alone.
    Again {
        /// Per world device.
        connections: Vec<u64>,
    },
}

fn on_link(world: &World, device: usize, batch: &Batch) -> f64 {
    let spec = &world.devices[device];
    let discovery = match batch {
        Batch::First => spec.discovery_requests,
        Batch::Again { .. } => 0,
    };
    spec.connection_interval.as_secs_f64() * f64::from(discovery + 1)
}

fn capacities(world: &World) -> Vec<Capacity> {
    world
        .radios
        .iter()
        .map(|r| Capacity {
            slots: r.slot_limit as f64,
            serialises: r.serialises_attempts,
            idle: 0.0,
        })
        .collect()
}

/// The per-seed lower bound on the makespan of one session per world device, all asked for at
/// once, in the run of `world` with `seed` (see the module docs for why it holds). Devices are
/// reached as they stand at the start; the bench's devices neither move nor sleep.
///
/// # Panics
/// If a radio draws its latency per attempt (the draws would then depend on the schedule), a
/// device is reached by no radio (no schedule finishes), or `batch` names fewer devices than
/// the world has.
pub fn drawn(world: &World, seed: u64, batch: &Batch) -> Duration {
    let mut work = work_of(world, seed, batch);
    // Every schedule takes at least `plain`, which is what the idle of each radio needs.
    let plain = best_certificate(&work);
    let idle: Vec<f64> = (0..work.radios.len())
        .map(|r| unavoidable_idle(&work, r, plain))
        .collect();
    for (capacity, idle) in work.radios.iter_mut().zip(idle) {
        capacity.idle = idle;
    }
    Duration::from_secs_f64(best_certificate(&work).max(plain))
}

/// `batch` of `world` as the run with `seed` draws it.
pub(super) fn work_of(world: &World, seed: u64, batch: &Batch) -> Work {
    let connection = |d: usize| match batch {
        Batch::First => 0,
        Batch::Again { connections } => connections[d],
    };
    let sessions = (0..world.devices.len())
        .map(|d| Session {
            connects: (0..world.radios.len())
                .filter(|r| world.reaches(d, *r, Duration::ZERO))
                .map(|r| {
                    let connect = world
                        .drawn_connect_latency(seed, r, d, connection(d))
                        .expect("every radio of the bench draws per device connection");
                    (r, connect.as_secs_f64())
                })
                .collect(),
            on_link: on_link(world, d, batch),
        })
        .collect();
    Work {
        sessions,
        radios: capacities(world),
    }
}

/// The slot-seconds radio `r` cannot use in any schedule that takes at least `at_least`
/// (module docs, "Idle slots at both ends"): Σ_{j<k} P_j at the start and Σ_{j<k} (P_j − Δs)⁺
/// at the end, with P_j the sum of the j quickest connects through `r` and Δs the spread of
/// the sessions of the devices it reaches. 0 for a radio without a serial gate, one that
/// reaches fewer devices than it has slots, or one whose two ends might overlap.
fn unavoidable_idle(work: &Work, r: usize, at_least: f64) -> f64 {
    let capacity = work.radios[r];
    if !capacity.serialises {
        return 0.0;
    }
    let reached: Vec<&Session> = work
        .sessions
        .iter()
        .filter(|s| s.connects.iter().any(|(radio, _)| *radio == r))
        .collect();
    let slots = capacity.slots as usize;
    if slots == 0 || reached.len() < slots {
        return 0.0;
    }
    let mut connects: Vec<f64> = reached
        .iter()
        .flat_map(|s| s.connects.iter().filter(|(radio, _)| *radio == r))
        .map(|(_, c)| *c)
        .collect();
    connects.sort_by(f64::total_cmp);
    let on_link = reached.iter().map(|s| s.on_link);
    let spread =
        on_link.clone().fold(f64::NEG_INFINITY, f64::max) - on_link.fold(f64::INFINITY, f64::min);
    let prefix: Vec<f64> = connects
        .iter()
        .take(slots - 1)
        .scan(0.0, |sum, c| {
            *sum += c;
            Some(*sum)
        })
        .collect();
    let widest = prefix.last().copied().unwrap_or(0.0);
    if 2.0 * widest > at_least {
        return 0.0;
    }
    prefix.iter().map(|p| p + (p - spread).max(0.0)).sum()
}

/// The lower bound of [`drawn`] for weights (α, β) per radio (module docs).
fn certificate(work: &Work, weights: &[(f64, f64)]) -> f64 {
    let shortest = work
        .sessions
        .iter()
        .map(|s| s.on_link)
        .fold(f64::INFINITY, f64::min);
    let used: f64 = work
        .sessions
        .iter()
        .map(|s| {
            s.connects
                .iter()
                .map(|(r, c)| weights[*r].0 * c + weights[*r].1 * (c + s.on_link))
                .fold(f64::INFINITY, f64::min)
        })
        .sum();
    let gates: f64 = weights.iter().map(|w| w.0).sum();
    let idle: f64 = weights
        .iter()
        .zip(&work.radios)
        .map(|(w, r)| w.1 * r.idle)
        .sum();
    let offered: f64 = weights
        .iter()
        .zip(&work.radios)
        .map(|(w, r)| w.0 + w.1 * r.slots)
        .sum();
    if offered <= 0.0 {
        return 0.0;
    }
    (used + shortest * gates + idle) / offered
}

/// The best certificate a deterministic search finds: a climb from the gates, the slots, or
/// both, of all radios, and from both of every smaller set of radios.
fn best_certificate(work: &Work) -> f64 {
    let each_device = work
        .sessions
        .iter()
        .map(|s| {
            let quickest = s.connects.iter().map(|(_, c)| *c);
            quickest.fold(f64::INFINITY, f64::min) + s.on_link
        })
        .fold(0.0, f64::max);
    assert!(each_device.is_finite(), "a device no radio reaches");
    let radios = work.radios.len();
    let all = (1u32 << radios) - 1;
    let mut starts = vec![(all, 1.0, 0.0), (all, 0.0, 1.0)];
    starts.extend((1..=all).map(|subset| (subset, 1.0, 1.0)));
    let mut best = each_device;
    for (subset, gate, slot) in starts {
        let start: Vec<(f64, f64)> = work
            .radios
            .iter()
            .enumerate()
            .map(|(r, capacity)| match subset & (1 << r) {
                0 => (0.0, 0.0),
                _ if capacity.serialises => (gate, slot),
                _ => (0.0, slot),
            })
            .collect();
        best = best.max(climb(work, start));
    }
    best
}

/// Improves the weights one coordinate at a time (a step up, down, or to zero), at most
/// `PASSES` passes per step size, halving the step from 1 to 1/1024 of the weights' scale;
/// returns the best certificate met.
fn climb(work: &Work, mut weights: Vec<(f64, f64)>) -> f64 {
    const PASSES: usize = 12;
    let mut value = certificate(work, &weights);
    let mut step = 1.0;
    while step > 1e-3 {
        for _ in 0..PASSES {
            let scale = weights.iter().map(|w| w.0 + w.1).sum::<f64>() / weights.len() as f64;
            let mut improved = false;
            for coordinate in 0..2 * weights.len() {
                let (r, gate) = (coordinate / 2, coordinate % 2 == 0);
                if gate && !work.radios[r].serialises {
                    continue;
                }
                let now = if gate { weights[r].0 } else { weights[r].1 };
                for next in [now * (1.0 + step) + scale * step, now / (1.0 + step), 0.0] {
                    let mut trial = weights.clone();
                    if gate {
                        trial[r].0 = next;
                    } else {
                        trial[r].1 = next;
                    }
                    let tried = certificate(work, &trial);
                    if tried > value * (1.0 + 1e-9) {
                        (weights, value, improved) = (trial, tried, true);
                        break;
                    }
                }
            }
            if !improved {
                break;
            }
        }
        step /= 2.0;
    }
    value
}

fn mean(latency: &LatencyRange) -> f64 {
    ((latency.min + latency.max) / 2).as_secs_f64()
}

/// The older bound: like [`drawn`], but at each radio's mean connect latency, so a bound in
/// expectation only (a run with quick draws can beat it).
///
/// Radio r with k_r slots and mean connect time c_r that serves n_r sessions of length s
/// needs T ≥ n_r·c_r + s and T ≥ n_r·(c_r + s)/k_r, so within T it serves at most
/// cap_r(T) = min((T − s)/c_r, k_r·T/(c_r + s)) sessions, and T is possible only if every set
/// of devices fits on the radios that reach them: Σ n over the set ≤ Σ cap_r over those radios
/// (Hall's condition). The bound is the least such T (bisection).
pub fn expected(world: &World) -> Duration {
    let session = on_link(world, 0, &Batch::First);
    let radios: Vec<(f64, f64)> = world
        .radios
        .iter()
        .map(|r| (mean(&r.connect_latency), r.slot_limit as f64))
        .collect();
    let capacity = |r: usize, t: f64| {
        let (connect, slots) = radios[r];
        ((t - session) / connect)
            .min(slots * t / (connect + session))
            .max(0.0)
    };
    // Devices grouped by the radios that reach them (few groups: every subset is checked).
    let mut groups: Vec<(BTreeSet<usize>, f64)> = Vec::new();
    for d in 0..world.devices.len() {
        let reached: BTreeSet<usize> = (0..world.radios.len())
            .filter(|r| world.reaches(d, *r, Duration::ZERO))
            .collect();
        match groups.iter_mut().find(|(set, _)| *set == reached) {
            Some((_, count)) => *count += 1.0,
            None => groups.push((reached, 1.0)),
        }
    }
    let feasible = |t: f64| {
        (1u32..1 << groups.len()).all(|subset| {
            let chosen = groups
                .iter()
                .enumerate()
                .filter(|(g, _)| subset & (1 << g) != 0);
            let demand: f64 = chosen.clone().map(|(_, (_, count))| count).sum();
            let reach: BTreeSet<usize> = chosen.flat_map(|(_, (set, _))| set.clone()).collect();
            demand <= reach.iter().map(|r| capacity(*r, t)).sum::<f64>()
        })
    };
    let (mut low, mut high) = (0.0, session + world.devices.len() as f64 * 10.0);
    for _ in 0..60 {
        let middle = (low + high) / 2.0;
        if feasible(middle) {
            high = middle;
        } else {
            low = middle;
        }
    }
    Duration::from_secs_f64(high)
}

#[cfg(test)]
#[path = "bound_tests.rs"]
mod tests;

//! Online schedules of the makespan batch, as reference rows: what a scheduler that knows only
//! what a hub knows reaches, beside bluefleet's own figure and the clairvoyant schedule.
//!
//! Why: bluefleet's makespan sits 10–17 % over its seed's lower bound ([`super::bound::drawn`])
//! while the clairvoyant schedule ([`super::clairvoyant`]) comes within 2–4 % of it. The
//! clairvoyant knows every drawn connect before anything starts; a hub learns a connect's time
//! when the connect ends. These schedules run the batch under exactly the bound's constraints
//! (one connect at a time per radio, as every bench radio runs; a slot held from connect start
//! to session end; no time between steps; no actors) and decide from what a hub knows then:
//! which devices wait and which radios reach them, what each radio holds and since when, each
//! radio's connect latency range and each device's time on the link (a hub only estimates the
//! last, so the model knows a little more than a hub). The gap from these rows to the
//! clairvoyant's is the price of not knowing the draws; the gap from bluefleet's row to these
//! is what bluefleet's scheduling and its actors still lose.
//!
//! Two schedulers:
//! - balance: a radio free to start serves the group of waiting devices (those reached by the
//!   same radios) whose taking most lowers the finish of a balanced split of the rest over the
//!   radios at their paces (Hall's condition over the groups, as `bound::expected` uses it);
//! - lookahead: one step of Monte-Carlo lookahead over balance, re-decided at every event.
//!   Whenever a radio could start a connect it scores serving each group it reaches, waiting
//!   for the next event (and then choosing after the other radios), and holding off for one
//!   mean connect of its own, each on the same [`SAMPLES`] futures drawn from what it knows (a
//!   waiting device's share afresh, a running connect's given how long it has run), following
//!   balance after that. It carries out, exactly as scored, the option with the lowest mean
//!   makespan, but leaves balance's choice only for one that beats it by more than twice the
//!   standard error of the paired difference (the least of several noisy means is otherwise
//!   often luck: taking it made the figure worse than balance alone).
//!
//! Both are heuristics: what they reach is what these online schedulers reach, not a bound on
//! every online scheduler.
//!
//! Devices of a group are alike until their connect ends, so a scheduler takes them in an
//! order that cannot depend on their draws. Which order changes one seed's figure by a few per
//! cent (other draws come last), so each scheduler runs in [`ORDERS`] orders and the rows pool
//! them. Deterministic: the orders and the samples come from seeded ChaCha streams.

use std::collections::VecDeque;

use bluefleet::sim::World;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::bound::{self, work_of, Work};
use super::clairvoyant::{check, connect_table, Placement};

/// Service orders each scheduler runs in: the world's device order, then seeded shuffles
/// within each group.
pub(super) const ORDERS: u64 = 4;

/// Futures the lookahead samples per decision.
const SAMPLES: usize = 64;

/// Which scheduler runs the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scheduler {
    /// The balanced split alone.
    Balance,
    /// One step of Monte-Carlo lookahead over it.
    Lookahead,
}

/// What a radio free to start does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Choice {
    /// Start the next waiting device of this group.
    Serve(usize),
    /// Start nothing until the next event (then choose after the other radios).
    Wait,
    /// Start nothing for one mean connect of this radio.
    Hold,
}

/// Connect time of each device through each radio (`None`: that radio does not reach it).
type Table = Vec<Vec<Option<f64>>>;

/// The batch as a scheduler may see it.
pub(super) struct Batch<'a> {
    work: &'a Work,
    /// Each radio's connect latency range in seconds: a device with share u connects in
    /// min + u·(max − min), the same u on every radio.
    ranges: Vec<(f64, f64)>,
    /// The radios of each group, and each device's group.
    groups: Vec<Vec<usize>>,
    group_of: Vec<usize>,
    /// Devices per second each radio sustains at its mean connect and the mean session.
    paces: Vec<f64>,
}

impl<'a> Batch<'a> {
    /// # Panics
    /// If a radio does not serialise its connects (a [`State`] tracks one connect in flight
    /// per radio; every bench radio serialises).
    pub(super) fn new(work: &'a Work, ranges: Vec<(f64, f64)>) -> Self {
        assert!(
            work.radios.iter().all(|r| r.serialises),
            "the online model runs radios that connect one device at a time"
        );
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let group_of = work
            .sessions
            .iter()
            .map(|session| {
                let mut radios: Vec<usize> = session.connects.iter().map(|(r, _)| *r).collect();
                radios.sort_unstable();
                match groups.iter().position(|g| *g == radios) {
                    Some(known) => known,
                    None => {
                        groups.push(radios);
                        groups.len() - 1
                    }
                }
            })
            .collect();
        let sessions = work.sessions.len().max(1) as f64;
        let on_link = work.sessions.iter().map(|s| s.on_link).sum::<f64>() / sessions;
        let paces = work
            .radios
            .iter()
            .zip(&ranges)
            .map(|(capacity, (min, max))| {
                let connect = (min + max) / 2.0;
                (capacity.slots / (connect + on_link)).min(1.0 / connect)
            })
            .collect();
        Self {
            work,
            ranges,
            groups,
            group_of,
            paces,
        }
    }

    /// When a balanced split of `counts` waiting devices per group over the radios ends: the
    /// largest of Σ counts over Σ paces of the radios they reach, over every set of groups.
    fn finish(&self, counts: &[usize]) -> f64 {
        let mut worst = 0.0_f64;
        for set in 1..(1usize << self.groups.len()) {
            let members = (0..self.groups.len()).filter(|g| set & (1 << g) != 0);
            let waiting: usize = members.clone().map(|g| counts[g]).sum();
            if waiting == 0 {
                continue;
            }
            let mut reached = vec![false; self.paces.len()];
            for g in members {
                for r in &self.groups[g] {
                    reached[*r] = true;
                }
            }
            let pace: f64 = (0..self.paces.len())
                .filter(|r| reached[*r])
                .map(|r| self.paces[r])
                .sum();
            worst = worst.max(waiting as f64 / pace.max(f64::EPSILON));
        }
        worst
    }
}

/// One moment of a run. The ends of the connects in flight (`gate_free`, and their entries in
/// `held`) are the truth a scheduler must not read; the lookahead draws them afresh.
#[derive(Clone)]
struct State {
    now: f64,
    /// Waiting devices of each group, in service order.
    queues: Vec<VecDeque<usize>>,
    /// Per radio: the connect in flight, as (device, start).
    running: Vec<Option<(usize, f64)>>,
    /// Per radio: when the connect in flight ends.
    gate_free: Vec<f64>,
    /// Per radio: (session end, device) of every slot held.
    held: Vec<Vec<(f64, usize)>>,
    /// Per radio: it starts nothing before this (a hold).
    idle_until: Vec<f64>,
    /// Per radio: when it chose to wait. It starts nothing for the rest of that moment, and
    /// at the next one it chooses after the other radios.
    waited_at: Vec<Option<f64>>,
    placements: Vec<Placement>,
}

impl State {
    fn start(batch: &Batch<'_>, order: &[usize]) -> Self {
        let radios = batch.work.radios.len();
        let mut queues = vec![VecDeque::new(); batch.groups.len()];
        for device in order {
            queues[batch.group_of[*device]].push_back(*device);
        }
        Self {
            now: 0.0,
            queues,
            running: vec![None; radios],
            gate_free: vec![0.0; radios],
            held: vec![Vec::new(); radios],
            idle_until: vec![0.0; radios],
            waited_at: vec![None; radios],
            placements: Vec::new(),
        }
    }

    fn counts(&self) -> Vec<usize> {
        self.queues.iter().map(VecDeque::len).collect()
    }
}

/// Decides for `radio`, free to start, among the `groups` it reaches that have waiters.
type Decide<'d> = dyn FnMut(&State, usize, &[usize], bool) -> Choice + 'd;

/// Runs `state` to the end with connect times from `table`; returns the makespan.
fn run(batch: &Batch<'_>, table: &Table, state: &mut State, decide: &mut Decide<'_>) -> f64 {
    let radios = batch.work.radios.len();
    let mut may_wait = true;
    loop {
        let mut started = true;
        while started {
            started = false;
            for (radio, capacity) in batch.work.radios.iter().enumerate() {
                let now = state.now;
                state.held[radio].retain(|(end, _)| *end > now);
                let gate_busy = state.gate_free[radio] > now;
                let full = state.held[radio].len() as f64 >= capacity.slots;
                let skip = state.waited_at[radio].is_some() || state.idle_until[radio] > now;
                if gate_busy || full || skip {
                    continue;
                }
                let groups: Vec<usize> = (0..batch.groups.len())
                    .filter(|g| batch.groups[*g].contains(&radio) && !state.queues[*g].is_empty())
                    .collect();
                if groups.is_empty() {
                    continue;
                }
                let group = match decide(state, radio, &groups, may_wait) {
                    Choice::Wait => {
                        state.waited_at[radio] = Some(now);
                        continue;
                    }
                    Choice::Hold => {
                        let (min, max) = batch.ranges[radio];
                        state.idle_until[radio] = now + (min + max) / 2.0;
                        continue;
                    }
                    Choice::Serve(group) => group,
                };
                let Some(device) = state.queues[group].pop_front() else {
                    continue;
                };
                let connect = table[device][radio].expect("a group's radios reach its devices");
                let end = now + connect + batch.work.sessions[device].on_link;
                state.running[radio] = Some((device, now));
                state.gate_free[radio] = now + connect;
                state.held[radio].push((end, device));
                state.placements.push(Placement {
                    device,
                    radio,
                    start: now,
                });
                started = true;
            }
            // The radios that waited get their turn once no other radio starts anything.
            let now = state.now;
            for waited in &mut state.waited_at {
                if waited.is_some_and(|at| at < now) {
                    *waited = None;
                    started = true;
                }
            }
        }
        let next = (0..radios)
            .flat_map(|r| {
                [state.gate_free[r], state.idle_until[r]]
                    .into_iter()
                    .chain(state.held[r].iter().map(|(e, _)| *e))
            })
            .filter(|t| *t > state.now)
            .fold(f64::INFINITY, f64::min);
        if state.queues.iter().all(VecDeque::is_empty) {
            return state
                .held
                .iter()
                .flatten()
                .map(|(end, _)| *end)
                .fold(state.now, f64::max);
        }
        // Every free radio waited and nothing is in flight: waiting again would never end, so
        // they choose again at this moment, without waiting.
        assert!(
            may_wait || next.is_finite(),
            "devices wait that no radio can serve"
        );
        may_wait = next.is_finite();
        if may_wait {
            state.now = next;
        } else {
            state.waited_at.iter_mut().for_each(|w| *w = None);
        }
    }
}

/// The balance's choice: the group whose taking leaves the soonest balanced finish (the one
/// whose next device comes first in the service order on equal finishes).
fn balance(batch: &Batch<'_>, state: &State, groups: &[usize], rank: &[usize]) -> Choice {
    let counts = state.counts();
    let after = |g: usize| {
        let mut left = counts.clone();
        left[g] -= 1;
        batch.finish(&left)
    };
    let head = |g: usize| state.queues[g].front().map_or(usize::MAX, |d| rank[*d]);
    let best = groups.iter().copied().min_by(|a, b| {
        after(*a)
            .total_cmp(&after(*b))
            .then(head(*a).cmp(&head(*b)))
    });
    best.map_or(Choice::Wait, Choice::Serve)
}

/// A future consistent with what a hub knows in `state`: every waiting device's share drawn
/// afresh, every connect in flight's drawn given that it has run since its start.
fn sample(batch: &Batch<'_>, truth: &Table, state: &State, rng: &mut ChaCha8Rng) -> (Table, State) {
    let mut table = truth.clone();
    let mut future = state.clone();
    let connect_of = |share: f64, radio: usize| {
        let (min, max) = batch.ranges[radio];
        min + share * (max - min)
    };
    for device in state.queues.iter().flatten() {
        let share: f64 = rng.gen_range(0.0..=1.0);
        for (radio, slot) in table[*device].iter_mut().enumerate() {
            if slot.is_some() {
                *slot = Some(connect_of(share, radio));
            }
        }
    }
    for radio in 0..state.running.len() {
        let Some((device, start)) = state.running[radio] else {
            continue;
        };
        if state.gate_free[radio] <= state.now {
            continue; // ended: its time is known
        }
        let (min, max) = batch.ranges[radio];
        let spread = (max - min).max(f64::EPSILON);
        let least = ((state.now - start - min) / spread).clamp(0.0, 1.0);
        let share = least + rng.gen_range(0.0..=1.0) * (1.0 - least);
        let connect = connect_of(share, radio);
        future.gate_free[radio] = start + connect;
        let end = start + connect + batch.work.sessions[device].on_link;
        for held in future.held[radio].iter_mut().filter(|(_, d)| *d == device) {
            held.0 = end;
        }
    }
    (table, future)
}

/// The lookahead: what it reads besides the moment it decides at.
struct Lookahead<'b> {
    batch: &'b Batch<'b>,
    /// The run's real draws; [`sample`] overwrites every one a hub does not know yet.
    truth: &'b Table,
    rank: &'b [usize],
    rng: ChaCha8Rng,
}

impl Lookahead<'_> {
    /// Its choice for `radio` (module docs): balance's, unless another option beats it on the
    /// sampled futures by more than twice the standard error of the paired difference.
    fn choose(&mut self, state: &State, radio: usize, groups: &[usize], may_wait: bool) -> Choice {
        let (batch, rank) = (self.batch, self.rank);
        let base = balance(batch, state, groups, rank);
        let mut options = vec![base];
        options.extend(
            groups
                .iter()
                .map(|g| Choice::Serve(*g))
                .filter(|c| *c != base),
        );
        if may_wait {
            options.extend([Choice::Wait, Choice::Hold]);
        }
        // Per option: the sum and the sum of squares of its makespan minus the base's, paired
        // on each sampled future.
        let mut gains = vec![(0.0_f64, 0.0_f64); options.len()];
        for _ in 0..SAMPLES {
            let (table, future) = sample(batch, self.truth, state, &mut self.rng);
            let mut makespans = options.iter().map(|option| {
                let mut first = Some((radio, future.now, *option));
                let mut then = |s: &State, r: usize, gs: &[usize], _: bool| match first {
                    Some((at_radio, at, choice)) if at_radio == r && at == s.now => {
                        first = None;
                        choice
                    }
                    _ => balance(batch, s, gs, rank),
                };
                run(batch, &table, &mut future.clone(), &mut then)
            });
            let base_makespan = makespans.next().unwrap_or(0.0);
            for ((sum, squares), makespan) in gains.iter_mut().skip(1).zip(makespans) {
                let difference = makespan - base_makespan;
                *sum += difference;
                *squares += difference * difference;
            }
        }
        // The option that beats the base by the most, counted only where it does so by more
        // than twice the standard error of the paired mean: picking the least of several noisy
        // means would otherwise trade the base's choice for luck.
        let n = SAMPLES as f64;
        let mut best = (0, 0.0_f64);
        for (i, (sum, squares)) in gains.iter().enumerate().skip(1) {
            let mean = sum / n;
            let variance = ((squares / n) - mean * mean).max(0.0) * n / (n - 1.0);
            let error = (variance / n).sqrt();
            if mean + 2.0 * error < 0.0 && mean < best.1 {
                best = (i, mean);
            }
        }
        options[best.0]
    }
}

/// The schedule `scheduler` makes of `batch` serving each group in `order`; every placement
/// comes from a decision made with what was known at its start. `seed` feeds the lookahead.
pub(super) fn schedule(
    batch: &Batch<'_>,
    order: &[usize],
    scheduler: Scheduler,
    seed: u64,
) -> Vec<Placement> {
    let truth = connect_table(batch.work);
    let mut rank = vec![0; order.len()];
    for (place, device) in order.iter().enumerate() {
        rank[*device] = place;
    }
    let mut lookahead = Lookahead {
        batch,
        truth: &truth,
        rank: &rank,
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    let mut decide = |s: &State, radio: usize, groups: &[usize], may_wait: bool| match scheduler {
        Scheduler::Balance => balance(batch, s, groups, lookahead.rank),
        Scheduler::Lookahead => lookahead.choose(s, radio, groups, may_wait),
    };
    let mut state = State::start(batch, order);
    run(batch, &truth, &mut state, &mut decide);
    state.placements
}

/// Makespans in seconds of `scheduler` on the batch of `world` in the run with `seed`, one per
/// service order ([`ORDERS`]), each schedule checked against the bound's constraints.
///
/// # Panics
/// As [`super::bound::drawn`] does, or if a schedule fails [`check`] (a bug here).
pub fn makespans(world: &World, seed: u64, scheduler: Scheduler) -> Vec<f64> {
    let work = work_of(world, seed, &bound::Batch::First);
    let batch = Batch::new(&work, ranges_of(world));
    (0..ORDERS)
        .map(|o| {
            let order = service_order(&batch, seed, o);
            let placements = schedule(&batch, &order, scheduler, seed.wrapping_mul(31) ^ o);
            check(&work, &placements).expect("an online schedule is feasible")
        })
        .collect()
}

/// Each radio's connect latency range in seconds.
pub(super) fn ranges_of(world: &World) -> Vec<(f64, f64)> {
    world
        .radios
        .iter()
        .map(|r| {
            let range = r.connect_latency;
            (range.min.as_secs_f64(), range.max.as_secs_f64())
        })
        .collect()
}

/// Order 0 is the world's device order; order `o` is a seeded shuffle of it (within each group
/// that is a shuffle of the group; across groups it only changes whose head counts as older
/// on equal finishes).
fn service_order(batch: &Batch<'_>, seed: u64, o: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..batch.group_of.len()).collect();
    if o > 0 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000) + o);
        order.shuffle(&mut rng);
    }
    order
}

#[cfg(test)]
#[path = "online_tests.rs"]
mod tests;

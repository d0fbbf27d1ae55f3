//! A clairvoyant offline schedule of the makespan batch, as a reference figure: how close any
//! schedule comes to the per-seed lower bound ([`super::bound::drawn`]).
//!
//! bluefleet's ratio to that bound mixes two gaps: what its online scheduler loses, and the
//! bound's own slack (it relaxes each device's radio to a fraction and lets a radio's gate and
//! slots bind apart). No schedule can go below the optimum, and the optimum is unknown; this one
//! sits above it. It knows, before anything starts, every device's drawn connect time through
//! every radio that reaches it and its time on the link, and plans the batch offline under
//! exactly the constraints the bound's module docs state: each device on one radio that reaches
//! it; per radio, one connect at a time when the radio serialises attempts, and at most k(r)
//! sessions holding a slot from their connect's start to their session's end. Its makespan over
//! the bound is then an upper limit on the bound's slack, and bluefleet's over it an upper limit
//! on what a better online scheduler could still gain.
//!
//! How: a radio's sequence of devices fixes its schedule (each starts as soon as its gate is
//! free and one of its slots is, in sequence order), so the search is over assignments and
//! sequences. A greedy start (the slowest devices first, each to the radio on which its session
//! ends soonest), then a local search of moves (a device to any place on any radio that reaches
//! it) and swaps (two devices trade places), each kept when it lowers the radios' finishing
//! times sorted latest first (compared in that order), until a pass keeps none or the pass
//! budget is spent. Fixed orders, no randomness: a seed gives one schedule. [`check`] verifies
//! every schedule before its makespan is used.

use std::time::Duration;

use bluefleet::sim::World;

use super::bound::{work_of, Batch, Work};

/// Passes of the local search at most (a pass tries every move and every swap once).
const PASSES: usize = 30;

/// One device's place in a schedule: the radio it connects through and when its connect
/// starts, in seconds after the batch was asked for. Its connect and session times come from
/// the [`Work`], never from the schedule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Placement {
    pub(super) device: usize,
    pub(super) radio: usize,
    pub(super) start: f64,
}

/// The makespan of the clairvoyant schedule of `batch` of `world` in the run with `seed`.
///
/// # Panics
/// As [`super::bound::drawn`] does (a radio drawing per attempt, a device no radio reaches), or
/// if the schedule fails [`check`] (a bug here).
pub fn makespan(world: &World, seed: u64, batch: &Batch) -> Duration {
    let work = work_of(world, seed, batch);
    let placements = schedule(&work);
    let seconds = check(&work, &placements).expect("the clairvoyant schedule is feasible");
    Duration::from_secs_f64(seconds)
}

/// Connect time of each device through each radio (`None`: that radio does not reach it).
pub(super) fn connect_table(work: &Work) -> Vec<Vec<Option<f64>>> {
    work.sessions
        .iter()
        .map(|session| {
            let mut row = vec![None; work.radios.len()];
            for (radio, connect) in &session.connects {
                row[*radio] = Some(*connect);
            }
            row
        })
        .collect()
}

/// The search state: each radio's sequence and the table it is scheduled from.
struct Plan<'a> {
    work: &'a Work,
    connects: Vec<Vec<Option<f64>>>,
    sequences: Vec<Vec<usize>>,
    finishes: Vec<f64>,
}

impl<'a> Plan<'a> {
    /// The greedy start: devices by their quickest connect, slowest first (index breaks ties),
    /// each appended to the radio on which its session would end soonest (lowest index on ties).
    fn greedy(work: &'a Work) -> Self {
        let connects = connect_table(work);
        let quickest = |d: usize| {
            connects[d]
                .iter()
                .flatten()
                .copied()
                .fold(f64::INFINITY, f64::min)
        };
        let mut order: Vec<usize> = (0..work.sessions.len()).collect();
        order.sort_by(|a, b| quickest(*b).total_cmp(&quickest(*a)).then(a.cmp(b)));
        let mut plan = Plan {
            work,
            sequences: vec![Vec::new(); work.radios.len()],
            finishes: vec![0.0; work.radios.len()],
            connects,
        };
        for device in order {
            let mut best: Option<(f64, usize)> = None;
            for radio in 0..work.radios.len() {
                if plan.connects[device][radio].is_none() {
                    continue;
                }
                let mut trial = plan.sequences[radio].clone();
                trial.push(device);
                let ends = plan.device_end(radio, &trial);
                if best.is_none_or(|(soonest, _)| ends < soonest) {
                    best = Some((ends, radio));
                }
            }
            let (_, radio) = best.expect("every device is reached by some radio");
            plan.sequences[radio].push(device);
            plan.finishes[radio] = plan.finish(radio, &plan.sequences[radio]);
        }
        plan
    }

    /// The list schedule of `sequence` on `radio`: each device's connect start, in order.
    fn starts(&self, radio: usize, sequence: &[usize]) -> Vec<f64> {
        let capacity = self.work.radios[radio];
        let mut slots_free = vec![0.0_f64; capacity.slots as usize];
        let mut gate_free = 0.0_f64;
        sequence
            .iter()
            .map(|device| {
                let connect = self.connects[*device][radio].expect("placed on a reaching radio");
                let (slot, free) = slots_free
                    .iter()
                    .copied()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((usize::MAX, f64::INFINITY));
                let start = if capacity.serialises {
                    free.max(gate_free)
                } else {
                    free
                };
                if capacity.serialises {
                    gate_free = start + connect;
                }
                if let Some(slot) = slots_free.get_mut(slot) {
                    *slot = start + connect + self.work.sessions[*device].on_link;
                }
                start
            })
            .collect()
    }

    /// When the last session of `sequence` on `radio` ends (0 for none): the end of
    /// [`Self::starts`] without its list, as the search calls it for every trial.
    fn finish(&self, radio: usize, sequence: &[usize]) -> f64 {
        let capacity = self.work.radios[radio];
        let mut slots = vec![0.0_f64; capacity.slots as usize];
        let (mut gate_free, mut last) = (0.0_f64, 0.0_f64);
        for device in sequence {
            let connect = self.connects[*device][radio].expect("placed on a reaching radio");
            let Some(slot) = (0..slots.len()).min_by(|a, b| slots[*a].total_cmp(&slots[*b])) else {
                return f64::INFINITY;
            };
            let start = if capacity.serialises {
                slots[slot].max(gate_free)
            } else {
                slots[slot]
            };
            gate_free = start + connect;
            slots[slot] = start + connect + self.work.sessions[*device].on_link;
            last = last.max(slots[slot]);
        }
        last
    }

    /// When the last device of `sequence` ends its session on `radio`.
    fn device_end(&self, radio: usize, sequence: &[usize]) -> f64 {
        let starts = self.starts(radio, sequence);
        match (sequence.last(), starts.last()) {
            (Some(d), Some(start)) => self.end(*d, radio, *start),
            _ => 0.0,
        }
    }

    fn end(&self, device: usize, radio: usize, start: f64) -> f64 {
        let connect = self.connects[device][radio].expect("placed on a reaching radio");
        start + connect + self.work.sessions[device].on_link
    }

    /// Radios' finishing times, latest first: the order a change must lower.
    fn score(finishes: &[f64]) -> Vec<f64> {
        let mut sorted = finishes.to_vec();
        sorted.sort_by(|a, b| b.total_cmp(a));
        sorted
    }

    fn better(trial: &[f64], current: &[f64]) -> bool {
        let (trial, current) = (Self::score(trial), Self::score(current));
        for (t, c) in trial.iter().zip(&current) {
            if t != c {
                return t < c;
            }
        }
        false
    }

    /// Keeps new sequences for the radios in `changed` if they lower the score.
    fn try_change(&mut self, changed: &[(usize, Vec<usize>)]) -> bool {
        let mut finishes = self.finishes.clone();
        for (radio, sequence) in changed {
            finishes[*radio] = self.finish(*radio, sequence);
        }
        if !Self::better(&finishes, &self.finishes) {
            return false;
        }
        for (radio, sequence) in changed {
            self.sequences[*radio] = sequence.clone();
        }
        self.finishes = finishes;
        true
    }

    fn place_of(&self, device: usize) -> (usize, usize) {
        self.sequences
            .iter()
            .enumerate()
            .find_map(|(r, s)| s.iter().position(|d| *d == device).map(|p| (r, p)))
            .expect("every device is placed")
    }

    /// Each device's radio and place in its sequence.
    fn places(&self) -> Vec<(usize, usize)> {
        let mut places = vec![(0, 0); self.work.sessions.len()];
        for (radio, sequence) in self.sequences.iter().enumerate() {
            for (place, device) in sequence.iter().enumerate() {
                places[*device] = (radio, place);
            }
        }
        places
    }

    /// Tries each device at every other place on every radio reaching it; true if one was kept.
    fn moves(&mut self) -> bool {
        let mut kept = false;
        for device in 0..self.work.sessions.len() {
            let (from, at) = self.place_of(device);
            let mut without = self.sequences[from].clone();
            without.remove(at);
            'radios: for to in 0..self.work.radios.len() {
                if self.connects[device][to].is_none() {
                    continue;
                }
                let base = if to == from {
                    without.clone()
                } else {
                    self.sequences[to].clone()
                };
                for place in 0..=base.len() {
                    if to == from && place == at {
                        continue;
                    }
                    let mut with = base.clone();
                    with.insert(place, device);
                    let changed = if to == from {
                        vec![(to, with)]
                    } else {
                        vec![(from, without.clone()), (to, with)]
                    };
                    if self.try_change(&changed) {
                        kept = true;
                        break 'radios;
                    }
                }
            }
        }
        kept
    }

    /// Tries every pair of devices trading places; true if one was kept.
    fn swaps(&mut self) -> bool {
        let mut kept = false;
        let devices = self.work.sessions.len();
        let mut places = self.places();
        for a in 0..devices {
            for b in a + 1..devices {
                let ((ra, pa), (rb, pb)) = (places[a], places[b]);
                if self.connects[a][rb].is_none() || self.connects[b][ra].is_none() {
                    continue;
                }
                let changed = if ra == rb {
                    let mut sequence = self.sequences[ra].clone();
                    sequence.swap(pa, pb);
                    vec![(ra, sequence)]
                } else {
                    let (mut first, mut second) =
                        (self.sequences[ra].clone(), self.sequences[rb].clone());
                    first[pa] = b;
                    second[pb] = a;
                    vec![(ra, first), (rb, second)]
                };
                if self.try_change(&changed) {
                    kept = true;
                    places = self.places();
                }
            }
        }
        kept
    }

    fn placements(&self) -> Vec<Placement> {
        let mut placements: Vec<Placement> = self
            .sequences
            .iter()
            .enumerate()
            .flat_map(|(radio, sequence)| {
                let starts = self.starts(radio, sequence);
                sequence
                    .iter()
                    .zip(starts)
                    .map(move |(device, start)| Placement {
                        device: *device,
                        radio,
                        start,
                    })
            })
            .collect();
        placements.sort_by_key(|p| p.device);
        placements
    }
}

/// The clairvoyant schedule of `work`: one placement per device, in device order.
pub(super) fn schedule(work: &Work) -> Vec<Placement> {
    let mut plan = Plan::greedy(work);
    for _ in 0..PASSES {
        let moved = plan.moves();
        let swapped = plan.swaps();
        if !moved && !swapped {
            break;
        }
    }
    plan.placements()
}

/// Checks `placements` against the constraints of the bound's module docs and returns their
/// makespan in seconds, or what is wrong: every device placed once, on a radio that reaches it,
/// starting at or after 0; per radio that serialises attempts, no two connects at once; per
/// radio, never more than its slots held (a slot is held from connect start to session end;
/// one freed at t may be taken at t).
pub(super) fn check(work: &Work, placements: &[Placement]) -> Result<f64, String> {
    let mut placed = vec![false; work.sessions.len()];
    let mut per_radio: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); work.radios.len()];
    let mut makespan = 0.0_f64;
    for p in placements {
        let session = work
            .sessions
            .get(p.device)
            .ok_or(format!("device {} does not exist", p.device))?;
        if std::mem::replace(&mut placed[p.device], true) {
            return Err(format!("device {} is placed twice", p.device));
        }
        let connect = session
            .connects
            .iter()
            .find(|(radio, _)| *radio == p.radio)
            .map(|(_, c)| *c)
            .ok_or(format!(
                "radio {} does not reach device {}",
                p.radio, p.device
            ))?;
        if !(p.start >= 0.0 && p.start.is_finite()) {
            return Err(format!("device {} starts at {}", p.device, p.start));
        }
        let end = p.start + connect + session.on_link;
        makespan = makespan.max(end);
        per_radio[p.radio].push((p.start, p.start + connect, end));
    }
    if let Some(missing) = placed.iter().position(|p| !p) {
        return Err(format!("device {missing} is not placed"));
    }
    for (radio, intervals) in per_radio.iter_mut().enumerate() {
        intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
        if work.radios[radio].serialises {
            if let Some(w) = intervals.windows(2).find(|w| w[1].0 < w[0].1) {
                return Err(format!(
                    "radio {radio} starts a connect at {} while one runs until {}",
                    w[1].0, w[0].1
                ));
            }
        }
        // Slot holders over time: at equal times a release comes before a take.
        let mut events: Vec<(f64, i32)> = intervals
            .iter()
            .flat_map(|(start, _, end)| [(*start, 1), (*end, -1)])
            .collect();
        events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut held = 0;
        for (at, change) in events {
            held += change;
            if f64::from(held) > work.radios[radio].slots {
                return Err(format!("radio {radio} holds {held} slots at {at}"));
            }
        }
    }
    Ok(makespan)
}

#[cfg(test)]
#[path = "clairvoyant_tests.rs"]
mod tests;

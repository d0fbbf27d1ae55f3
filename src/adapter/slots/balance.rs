//! Which waiter a freed radio serves: the one that depends on it most, within a fairness bound.
//!
//! Why not plain FIFO: radios overlap. In a row of radios where each device is heard by two
//! neighbours, the shared middle radios taking devices oldest-first also take devices an edge
//! radio could serve alone, and the edge radios finish up to a session later than the rest
//! (the makespan figure's end imbalance). So the ledger plans a balanced split of everything
//! still waiting over the radios each waiter accepts, and a freed radio serves the group of
//! waiters that the split leans on it most for (slowest first among those that queued
//! together, below).
//!
//! The split: waiters with the same set of acceptable radios form a group. Each group's work
//! (its waiters, each weighed by how slow it was to connect last time, `connect_times.rs`; a
//! device never connected weighs 1) is spread over its radios, starting evenly, then
//! repeatedly re-spread in proportion to each radio's pace over its planned load (a few
//! damped rounds of water filling), so a radio that other groups load heavily is leaned on
//! less. Pace is the inverse of the radio's mean connect turn, measured by the ledger; radios
//! not measured yet count as average.
//!
//! Within the group, among the devices that queued together (within [`TOGETHER`] of the
//! group's earliest waiter: one proxy reboot, one hub restart; a place kept across retries
//! keeps its time), the slowest to connect goes first, by the device's last connect time
//! (`connect_times.rs`): the batch then ends on quick connects that fill the radios evenly,
//! not on a slow one that keeps its radio busy while the rest idle. Devices never connected
//! count as average, and equals keep FIFO order. A device that queued later never goes before
//! one that has been waiting longer for being slow, so a starved radio still serves its
//! keep-connected devices in turn (bug 15).
//!
//! Fairness (bug 15: no device waits for ever): a waiter passed over by a younger one on a
//! radio it accepts is *overtaken*. Overtaken [`MAX_OVERTAKES`] times it goes first on its best
//! radio, twice that on any radio it accepts (overdue waiters among themselves oldest first).
//! So at most `2 × MAX_OVERTAKES` younger devices are served before it on its radios, and it is
//! not pushed onto a marginal radio after a few passes.
//!
//! Pure and deterministic: maps are `BTreeMap`s, arithmetic runs in one fixed order, ties go to
//! the older ticket.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::model::RadioId;

/// How many younger waiters may be granted ahead of a waiter before it is served strictly
/// first-come.
pub const MAX_OVERTAKES: u32 = 6;

/// Waiters that queued within this of a group's earliest form one batch, served slowest first.
pub const TOGETHER: Duration = Duration::from_secs(1);

/// Water-filling rounds of the split (enough to settle a row of radios; more change little).
const ROUNDS: usize = 12;

/// One waiter as the balance sees it: its ticket number and the radios it accepts that are up.
pub struct Waiting {
    /// Ticket number (FIFO place).
    pub number: u64,
    /// Acceptable radios that are up, in the waiter's order of preference.
    pub radios: Vec<RadioId>,
    /// Times a younger waiter was granted a radio this one accepts.
    pub overtaken: u32,
    /// When it first joined the queue (a place kept across retries keeps it).
    pub queued_at: Instant,
    /// Its last connect time against the average device's (`connect_times.rs`); `None`: never
    /// connected, taken as average.
    pub slowness: Option<f64>,
}

/// The planned split of the waiters over their radios.
pub struct Split {
    /// For each group (sorted radio set), the work of it planned on each of its radios.
    lean: BTreeMap<Vec<RadioId>, BTreeMap<RadioId, f64>>,
}

impl Split {
    /// Plans the split of `waiting` given each radio's pace (connects per second; missing: the
    /// mean of the known paces, or 1).
    pub fn plan(waiting: &[Waiting], pace: &BTreeMap<RadioId, f64>) -> Self {
        let mut groups: BTreeMap<Vec<RadioId>, f64> = BTreeMap::new();
        for w in waiting {
            *groups.entry(group_of(&w.radios)).or_default() += w.slowness.unwrap_or(1.0);
        }
        let known: Vec<f64> = pace.values().copied().filter(|p| *p > 0.0).collect();
        let average = if known.is_empty() {
            1.0
        } else {
            known.iter().sum::<f64>() / known.len() as f64
        };
        let pace_of = |r: &RadioId| pace.get(r).copied().filter(|p| *p > 0.0).unwrap_or(average);
        // share[g][r]: work of group g planned on radio r.
        let mut share: BTreeMap<&Vec<RadioId>, BTreeMap<&RadioId, f64>> = groups
            .iter()
            .map(|(set, count)| {
                let even = count / set.len() as f64;
                (set, set.iter().map(|r| (r, even)).collect())
            })
            .collect();
        for _ in 0..ROUNDS {
            let mut load: BTreeMap<&RadioId, f64> = BTreeMap::new();
            for radios in share.values() {
                for (r, n) in radios {
                    *load.entry(r).or_default() += n / pace_of(r);
                }
            }
            for (set, radios) in share.iter_mut() {
                let count = groups.get(*set).copied().unwrap_or(0.0);
                let weight = |r: &RadioId| {
                    pace_of(r) / load.get(r).copied().unwrap_or(0.0).max(f64::EPSILON)
                };
                let total: f64 = set.iter().map(weight).sum();
                for (r, n) in radios.iter_mut() {
                    let target = count * weight(r) / total;
                    *n = (*n + target) / 2.0;
                }
            }
        }
        let lean = share
            .into_iter()
            .map(|(set, radios)| {
                let fractions = radios.into_iter().map(|(r, n)| (r.clone(), n)).collect();
                (set.clone(), fractions)
            })
            .collect();
        Self { lean }
    }

    /// The work of `radios`' group planned on `radio`.
    pub fn lean_on(&self, radios: &[RadioId], radio: &RadioId) -> f64 {
        self.lean
            .get(&group_of(radios))
            .and_then(|fractions| fractions.get(radio))
            .copied()
            .unwrap_or(0.0)
    }
}

fn group_of(radios: &[RadioId]) -> Vec<RadioId> {
    let mut set = radios.to_vec();
    set.sort();
    set.dedup();
    set
}

/// Which of `waiting` (oldest first) the free `radio` serves: an overdue waiter accepting it
/// (the oldest), else one of the groups that lean on it most (several if their leans tie): of
/// their waiters that queued within [`TOGETHER`] of the earliest of them, the slowest to
/// connect as last time (the oldest of equals; a device never connected counts as average).
/// `None` if nobody accepts it.
pub fn pick(waiting: &[Waiting], split: &Split, radio: &RadioId) -> Option<usize> {
    let accepting = || {
        waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| w.radios.contains(radio))
    };
    if let Some((i, _)) = accepting().find(|(_, w)| overdue_on(w, radio)) {
        return Some(i);
    }
    let lean = |w: &Waiting| split.lean_on(&w.radios, radio);
    let most = accepting().map(|(_, w)| lean(w)).reduce(f64::max)?;
    let leaning = || accepting().filter(|(_, w)| lean(w) > most - 1e-9);
    let batch_until = leaning().map(|(_, w)| w.queued_at).min()? + TOGETHER;
    let mut best: Option<(usize, f64)> = None;
    for (i, w) in leaning().filter(|(_, w)| w.queued_at <= batch_until) {
        let slowness = w.slowness.unwrap_or(1.0);
        // Strictly slower: equals keep the older waiter.
        if best.is_none_or(|(_, s)| slowness > s + 1e-9) {
            best = Some((i, slowness));
        }
    }
    best.map(|(i, _)| i)
}

/// Whether `w` goes first on `radio`: overtaken [`MAX_OVERTAKES`] times and `radio` is its best,
/// or twice that many times (then any radio it accepts will do).
fn overdue_on(w: &Waiting, radio: &RadioId) -> bool {
    w.overtaken >= 2 * MAX_OVERTAKES
        || (w.overtaken >= MAX_OVERTAKES && w.radios.first() == Some(radio))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<RadioId> {
        names.iter().copied().map(RadioId::new).collect()
    }

    fn waiting(sets: &[Vec<RadioId>]) -> Vec<Waiting> {
        sets.iter()
            .enumerate()
            .map(|(n, radios)| Waiting {
                number: n as u64 + 1,
                radios: radios.clone(),
                overtaken: 0,
                queued_at: Instant::now(),
                slowness: None,
            })
            .collect()
    }

    #[test]
    fn a_shared_radio_serves_the_group_whose_other_radio_is_loaded() {
        // Two older devices that `a` could serve alone, then four that only `b` or `c` can,
        // where `c` also has six devices nobody else can serve: `b` should take from the
        // second group, not the oldest.
        let mut sets = vec![ids(&["a", "b"]); 2];
        sets.extend(vec![ids(&["b", "c"]); 4]);
        sets.extend(vec![ids(&["c"]); 6]);
        let w = waiting(&sets);
        let split = Split::plan(&w, &BTreeMap::new());
        assert!(
            split.lean_on(&sets[2], &RadioId::new("b"))
                > split.lean_on(&sets[0], &RadioId::new("b"))
        );
        assert_eq!(pick(&w, &split, &RadioId::new("b")), Some(2));
        // `a` is wanted by the first group only.
        assert_eq!(pick(&w, &split, &RadioId::new("a")), Some(0));
        assert_eq!(pick(&w, &split, &RadioId::new("d")), None);
    }

    #[test]
    fn a_group_of_slow_devices_weighs_more_in_the_split() {
        // Three devices for `a`/`b` and three for `b`/`c`: alike, `b` leans on both the same.
        let mut sets = vec![ids(&["a", "b"]); 3];
        sets.extend(vec![ids(&["b", "c"]); 3]);
        let b = RadioId::new("b");
        let alike = waiting(&sets);
        let split = Split::plan(&alike, &BTreeMap::new());
        assert!((split.lean_on(&sets[0], &b) - split.lean_on(&sets[3], &b)).abs() < 1e-9);
        assert_eq!(pick(&alike, &split, &b), Some(0), "equals: the oldest");
        // The younger three took twice the average to connect last time: more work to spread,
        // so `b` takes from them.
        let mut slow = waiting(&sets);
        for w in &mut slow[3..] {
            w.slowness = Some(2.0);
        }
        let split = Split::plan(&slow, &BTreeMap::new());
        assert!(split.lean_on(&sets[3], &b) > split.lean_on(&sets[0], &b) + 0.5);
        assert_eq!(pick(&slow, &split, &b), Some(3));
    }

    #[test]
    fn a_slower_radio_is_leaned_on_less() {
        let sets = vec![ids(&["fast", "slow"]); 6];
        let w = waiting(&sets);
        let pace = [(RadioId::new("fast"), 3.0), (RadioId::new("slow"), 1.0)]
            .into_iter()
            .collect();
        let split = Split::plan(&w, &pace);
        let fast = split.lean_on(&sets[0], &RadioId::new("fast"));
        let slow = split.lean_on(&sets[0], &RadioId::new("slow"));
        assert!(fast > 2.0 * slow, "fast {fast}, slow {slow}");
        assert!(
            (fast + slow - 6.0).abs() < 1e-6,
            "the whole group is planned"
        );
    }

    #[test]
    fn equals_are_served_oldest_first() {
        let sets = vec![ids(&["a", "b"]); 3];
        let w = waiting(&sets);
        let split = Split::plan(&w, &BTreeMap::new());
        assert_eq!(pick(&w, &split, &RadioId::new("b")), Some(0));
    }

    #[test]
    fn an_overdue_waiter_goes_first_on_its_best_radio_then_on_any() {
        let mut sets = vec![ids(&["a", "b"])];
        sets.extend(vec![ids(&["b", "c"]); 4]);
        sets.extend(vec![ids(&["c"]); 6]);
        let mut w = waiting(&sets);
        let split = Split::plan(&w, &BTreeMap::new());
        assert_eq!(pick(&w, &split, &RadioId::new("b")), Some(1));
        w[0].overtaken = MAX_OVERTAKES;
        // `b` is not its best radio: not yet.
        assert_eq!(pick(&w, &split, &RadioId::new("b")), Some(1));
        w[0].overtaken = 2 * MAX_OVERTAKES;
        assert_eq!(pick(&w, &split, &RadioId::new("b")), Some(0));
        // Its best radio, once overtaken MAX_OVERTAKES times.
        let mut best_b = waiting(&sets);
        let reordered = ids(&["b", "a"]);
        best_b[0].radios = reordered;
        best_b[0].overtaken = MAX_OVERTAKES;
        assert_eq!(pick(&best_b, &split, &RadioId::new("b")), Some(0));
    }
}

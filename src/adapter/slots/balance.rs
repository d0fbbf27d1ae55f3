//! Which waiter a freed radio serves: the one that depends on it most, within a fairness bound.
//!
//! Why not plain FIFO: radios overlap. In a row of radios where each device is heard by two
//! neighbours, the shared middle radios taking devices oldest-first also take devices an edge
//! radio could serve alone, and the edge radios finish up to a session later than the rest
//! (the makespan figure's end imbalance). So the ledger plans a balanced split of everything
//! still waiting over the radios each waiter accepts, and a freed radio serves the group of
//! waiters that the split leans on it most for (oldest first within the group).
//!
//! The split: waiters with the same set of acceptable radios form a group. Each group's count
//! is spread over its radios, starting evenly, then repeatedly re-spread in proportion to
//! each radio's pace over its planned load (a few damped rounds of water filling), so a radio
//! that other groups load heavily is leaned on less. Pace is the inverse of the radio's mean
//! connect turn, measured by the ledger; radios not measured yet count as average.
//!
//! Fairness: a waiter passed over by a younger one on a radio it accepts is *overtaken*; after
//! [`MAX_OVERTAKES`] it goes before every non-overdue waiter (overdue ones among themselves
//! oldest first). So no device waits more than that many extra grants beyond its FIFO turn.
//!
//! Pure and deterministic: maps are `BTreeMap`s, arithmetic runs in one fixed order, ties go to
//! the older ticket.

use std::collections::BTreeMap;

use crate::model::RadioId;

/// How many younger waiters may be granted ahead of a waiter before it is served strictly
/// first-come.
pub const MAX_OVERTAKES: u32 = 6;

/// Water-filling rounds of the split (enough to settle a row of radios; more change little).
const ROUNDS: usize = 12;

/// One waiter as the balance sees it: its ticket number and the radios it accepts that are up.
pub struct Waiting<'a> {
    /// Ticket number (FIFO place).
    pub number: u64,
    /// Acceptable radios that are up, in the waiter's order of preference.
    pub radios: &'a [RadioId],
    /// Times a younger waiter was granted a radio this one accepts.
    pub overtaken: u32,
}

/// The planned split of the waiters over their radios.
pub struct Split {
    /// For each group (sorted radio set), the fraction of it planned on each of its radios.
    lean: BTreeMap<Vec<RadioId>, BTreeMap<RadioId, f64>>,
}

impl Split {
    /// Plans the split of `waiting` given each radio's pace (connects per second; missing: the
    /// mean of the known paces, or 1).
    pub fn plan(waiting: &[Waiting<'_>], pace: &BTreeMap<RadioId, f64>) -> Self {
        let mut groups: BTreeMap<Vec<RadioId>, f64> = BTreeMap::new();
        for w in waiting {
            *groups.entry(group_of(w.radios)).or_default() += 1.0;
        }
        let known: Vec<f64> = pace.values().copied().filter(|p| *p > 0.0).collect();
        let average = if known.is_empty() {
            1.0
        } else {
            known.iter().sum::<f64>() / known.len() as f64
        };
        let pace_of = |r: &RadioId| pace.get(r).copied().filter(|p| *p > 0.0).unwrap_or(average);
        // share[g][r]: waiters of group g planned on radio r.
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

    /// The fraction of `radios`' group planned on `radio`.
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
/// (the oldest), else the one whose group leans on it most (the oldest of equals). `None` if
/// nobody accepts it.
pub fn pick(waiting: &[Waiting<'_>], split: &Split, radio: &RadioId) -> Option<usize> {
    let accepting = || {
        waiting
            .iter()
            .enumerate()
            .filter(|(_, w)| w.radios.contains(radio))
    };
    if let Some((i, _)) = accepting().find(|(_, w)| overdue_on(w, radio)) {
        return Some(i);
    }
    let mut best: Option<(usize, f64)> = None;
    for (i, w) in accepting() {
        let lean = split.lean_on(w.radios, radio);
        // Strictly more: an equal lean keeps the older waiter.
        if best.is_none_or(|(_, b)| lean > b + 1e-9) {
            best = Some((i, lean));
        }
    }
    best.map(|(i, _)| i)
}

/// Whether `w` goes first on `radio`: overtaken [`MAX_OVERTAKES`] times and `radio` is its best,
/// or twice that many times (then any radio it accepts will do).
fn overdue_on(w: &Waiting<'_>, radio: &RadioId) -> bool {
    w.overtaken >= 2 * MAX_OVERTAKES
        || (w.overtaken >= MAX_OVERTAKES && w.radios.first() == Some(radio))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> Vec<RadioId> {
        names.iter().copied().map(RadioId::new).collect()
    }

    fn waiting(sets: &[Vec<RadioId>]) -> Vec<Waiting<'_>> {
        sets.iter()
            .enumerate()
            .map(|(n, radios)| Waiting {
                number: n as u64 + 1,
                radios,
                overtaken: 0,
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
        best_b[0].radios = &reordered;
        best_b[0].overtaken = MAX_OVERTAKES;
        assert_eq!(pick(&best_b, &split, &RadioId::new("b")), Some(0));
    }
}

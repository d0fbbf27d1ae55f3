use super::super::bound::{self, drawn, Capacity, Session};
use super::super::sessions::line_world;
use super::*;

fn capacity(slots: f64) -> Capacity {
    Capacity {
        slots,
        serialises: true,
        idle: 0.0,
    }
}

/// Both schedulers make feasible schedules ([`makespans`] checks each) that never beat the
/// seed's lower bound, in every service order.
#[test]
fn online_schedules_are_feasible_and_never_beat_the_bound() {
    let world = line_world(60, false);
    for seed in 1..=2 {
        let bound = drawn(&world, seed, &bound::Batch::First).as_secs_f64();
        for scheduler in [Scheduler::Balance, Scheduler::Lookahead] {
            let runs = makespans(&world, seed, scheduler);
            assert_eq!(runs.len() as u64, ORDERS);
            for makespan in runs {
                assert!(
                    makespan >= bound,
                    "{scheduler:?} seed {seed}: {makespan} < {bound}"
                );
            }
        }
    }
}

/// No decision reads a draw before its connect ends: changing one device's draw changes
/// nothing decided before the earlier of its two possible connect ends, for devices started
/// early, midway and late (decisions are made while their connects run).
#[test]
fn a_draw_changes_nothing_decided_before_its_connect_ends() {
    let world = line_world(60, false);
    let work = work_of(&world, 3, &bound::Batch::First);
    let ranges = ranges_of(&world);
    let order: Vec<usize> = (0..work.sessions.len()).collect();
    for scheduler in [Scheduler::Balance, Scheduler::Lookahead] {
        let before = schedule(&Batch::new(&work, ranges.clone()), &order, scheduler, 9);
        let mut by_start = before.clone();
        by_start.sort_by(|a, b| a.start.total_cmp(&b.start));
        for place in [12, 30, 48] {
            let changed_one = by_start[place];
            let mut changed = work.clone();
            let mut connect_before = f64::INFINITY;
            for (radio, connect) in &mut changed.sessions[changed_one.device].connects {
                let (min, max) = ranges[*radio];
                let other = if *connect > (min + max) / 2.0 {
                    min
                } else {
                    max
                };
                if *radio == changed_one.radio {
                    connect_before = connect.min(other);
                }
                *connect = other;
            }
            let after = schedule(&Batch::new(&changed, ranges.clone()), &order, scheduler, 9);
            let known_by = changed_one.start + connect_before;
            let decided = |placements: &[Placement]| {
                let mut known: Vec<Placement> = placements
                    .iter()
                    .copied()
                    .filter(|p| p.start < known_by)
                    .collect();
                known.sort_by_key(|p| p.device);
                known
            };
            assert_eq!(
                decided(&before),
                decided(&after),
                "{scheduler:?}, device started {place}th"
            );
            assert!(decided(&after).contains(&changed_one), "{scheduler:?}");
        }
    }
}

/// One device left that a slow radio could start now and a quick one a little later: the
/// lookahead waits for the quick radio, the balance (which never waits) takes the slow one.
#[test]
fn the_lookahead_waits_for_a_quicker_radio() {
    // Radio 0 connects in 1 s, radio 1 in 0.1 s with two slots. Device 0 only radio 1 reaches,
    // device 1 both.
    let work = Work {
        sessions: vec![
            Session {
                connects: vec![(1, 0.1)],
                on_link: 0.5,
            },
            Session {
                connects: vec![(0, 1.0), (1, 0.1)],
                on_link: 0.5,
            },
        ],
        radios: vec![capacity(1.0), capacity(2.0)],
    };
    let ranges = vec![(1.0, 1.0), (0.1, 0.1)];
    let batch = Batch::new(&work, ranges);
    let makespan = |scheduler| {
        let placements = schedule(&batch, &[0, 1], scheduler, 1);
        let device_1 = placements.iter().find(|p| p.device == 1).map(|p| p.radio);
        (check(&work, &placements).expect("feasible"), device_1)
    };
    let (waited, radio) = makespan(Scheduler::Lookahead);
    assert_eq!(radio, Some(1));
    assert!((waited - 0.7).abs() < 1e-9, "{waited}");
    let (greedy, radio) = makespan(Scheduler::Balance);
    assert_eq!(radio, Some(0));
    assert!((greedy - 1.5).abs() < 1e-9, "{greedy}");
}

/// The balanced finish is Hall's condition: the worst set of groups over the paces of the
/// radios they reach.
#[test]
fn the_balanced_finish_is_the_tightest_set_of_groups() {
    // Radio 0 alone serves group 0; radio 1 serves groups 0 and 1. Pace 1 each.
    let work = Work {
        sessions: vec![
            Session {
                connects: vec![(0, 0.5), (1, 0.5)],
                on_link: 0.5,
            },
            Session {
                connects: vec![(1, 0.5)],
                on_link: 0.5,
            },
        ],
        radios: vec![capacity(1.0), capacity(1.0)],
    };
    let batch = Batch::new(&work, vec![(0.5, 0.5), (0.5, 0.5)]);
    // Group 1 (radio 1 only) with 3 waiting binds: 3 / 1; both groups: 4 / 2.
    assert!((batch.finish(&[1, 3]) - 3.0).abs() < 1e-9);
    assert!((batch.finish(&[5, 1]) - 3.0).abs() < 1e-9);
    assert_eq!(batch.finish(&[0, 0]), 0.0);
}

/// What the lookahead samples does not depend on what a hub cannot know: two moments that
/// differ only in the true ends of the connects in flight and the draws of the waiting devices
/// give the same futures, and each redrawn end lies between now and the radio's slowest.
#[test]
fn sampled_futures_depend_only_on_what_is_known() {
    let world = line_world(60, false);
    let work = work_of(&world, 5, &bound::Batch::First);
    let ranges = ranges_of(&world);
    let batch = Batch::new(&work, ranges.clone());
    let order: Vec<usize> = (0..work.sessions.len()).collect();
    let rank = order.clone();
    let (mut decisions, mut moment) = (0, None);
    let mut decide = |s: &State, _: usize, groups: &[usize], _: bool| {
        decisions += 1;
        if decisions == 25 {
            moment = Some(s.clone());
        }
        balance(&batch, s, groups, &rank)
    };
    let truth = connect_table(batch.work);
    run(
        &batch,
        &truth,
        &mut State::start(&batch, &order),
        &mut decide,
    );
    let moment = moment.expect("25 decisions");
    let in_flight: Vec<usize> = (0..moment.running.len())
        .filter(|r| moment.running[*r].is_some() && moment.gate_free[*r] > moment.now)
        .collect();
    assert!(
        !in_flight.is_empty(),
        "a connect is in flight at the 25th decision"
    );
    // The other truth: every connect in flight ends at its slowest, every waiting draw flipped.
    let mut other = moment.clone();
    let mut other_truth = truth.clone();
    for radio in &in_flight {
        let (device, start) = moment.running[*radio].expect("in flight");
        let end = start + ranges[*radio].1;
        other.gate_free[*radio] = end;
        for held in other.held[*radio].iter_mut().filter(|(_, d)| *d == device) {
            held.0 = end + work.sessions[device].on_link;
        }
    }
    for device in moment.queues.iter().flatten() {
        for (radio, connect) in other_truth[*device].iter_mut().enumerate() {
            if let Some(c) = connect {
                *c = ranges[radio].0 + ranges[radio].1 - *c;
            }
        }
    }
    let (table, future) = sample(&batch, &truth, &moment, &mut ChaCha8Rng::seed_from_u64(5));
    let (other_table, other_future) = sample(
        &batch,
        &other_truth,
        &other,
        &mut ChaCha8Rng::seed_from_u64(5),
    );
    for device in moment.queues.iter().flatten() {
        assert_eq!(table[*device], other_table[*device], "device {device}");
    }
    assert_eq!(future.gate_free, other_future.gate_free);
    assert_eq!(future.held, other_future.held);
    for radio in &in_flight {
        let (_, start) = moment.running[*radio].expect("in flight");
        let end = future.gate_free[*radio];
        assert!(
            end > moment.now && end <= start + ranges[*radio].1 + 1e-9,
            "radio {radio}: {end}"
        );
    }
}

use super::super::bound::{drawn, Capacity, Session};
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
        let bound = drawn(&world, seed).as_secs_f64();
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

/// No decision reads a draw before its connect ends: changing the draw of the device started
/// last changes nothing before its start, nor where and when it starts.
#[test]
fn a_draw_changes_nothing_decided_before_its_connect_started() {
    let world = line_world(60, false);
    let work = work_of(&world, 3);
    let ranges = ranges_of(&world);
    let order: Vec<usize> = (0..work.sessions.len()).collect();
    for scheduler in [Scheduler::Balance, Scheduler::Lookahead] {
        let before = schedule(&Batch::new(&work, ranges.clone()), &order, scheduler, 9);
        let last = before
            .iter()
            .max_by(|a, b| a.start.total_cmp(&b.start))
            .copied()
            .expect("placements");
        let mut changed = work.clone();
        for (radio, connect) in &mut changed.sessions[last.device].connects {
            let (min, max) = ranges[*radio];
            *connect = if *connect > (min + max) / 2.0 {
                min
            } else {
                max
            };
        }
        let after = schedule(&Batch::new(&changed, ranges.clone()), &order, scheduler, 9);
        let upto = |placements: &[Placement]| {
            let mut known: Vec<Placement> = placements
                .iter()
                .copied()
                .filter(|p| p.start <= last.start)
                .collect();
            known.sort_by_key(|p| p.device);
            known
        };
        assert_eq!(upto(&before), upto(&after), "{scheduler:?}");
        assert!(upto(&after).contains(&last), "{scheduler:?}");
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

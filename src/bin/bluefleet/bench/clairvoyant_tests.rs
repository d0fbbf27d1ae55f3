//! The checker against schedules broken one constraint at a time, and the clairvoyant schedule
//! against known optima and against each seed's lower bound.

use std::time::Duration;

use bluefleet::sim::world::{LatencyDraw, LatencyRange};
use bluefleet::sim::{DeviceSpec, RadioSpec, World};
use bluefleet::Address;

use super::super::bound::{drawn, Batch, Capacity, Session, Work};
use super::super::sessions::line_world;
use super::{check, makespan, schedule, Placement};

/// Two radios: radio 0 serialises with 2 slots, radio 1 does not and has 1; device 2 is
/// reached by radio 0 only. Connects 1 s, sessions 2 s.
fn small_work() -> Work {
    let session = |connects: Vec<(usize, f64)>| Session {
        connects,
        on_link: 2.0,
    };
    Work {
        sessions: vec![
            session(vec![(0, 1.0), (1, 1.0)]),
            session(vec![(0, 1.0), (1, 1.0)]),
            session(vec![(0, 1.0)]),
        ],
        radios: vec![
            Capacity {
                slots: 2.0,
                serialises: true,
                idle: 0.0,
            },
            Capacity {
                slots: 1.0,
                serialises: false,
                idle: 0.0,
            },
        ],
    }
}

fn at(device: usize, radio: usize, start: f64) -> Placement {
    Placement {
        device,
        radio,
        start,
    }
}

#[test]
fn the_checker_accepts_a_feasible_schedule_and_returns_its_makespan() {
    let placements = [at(0, 0, 0.0), at(1, 1, 0.0), at(2, 0, 1.0)];
    assert_eq!(check(&small_work(), &placements), Ok(4.0));
}

#[test]
fn the_checker_rejects_each_broken_constraint() {
    let work = small_work();
    // Each schedule breaks one constraint; the error must name that one.
    let broken: [(&str, Vec<Placement>); 7] = [
        (
            "starts a connect at 0.5",
            vec![at(0, 0, 0.0), at(1, 1, 0.0), at(2, 0, 0.5)],
        ),
        (
            "radio 0 holds 3 slots",
            vec![at(0, 0, 0.0), at(1, 0, 1.0), at(2, 0, 2.0)],
        ),
        (
            "radio 1 holds 2 slots",
            vec![at(0, 1, 0.0), at(1, 1, 2.5), at(2, 0, 0.0)],
        ),
        (
            "radio 1 does not reach device 2",
            vec![at(0, 0, 0.0), at(1, 0, 1.0), at(2, 1, 0.0)],
        ),
        (
            "device 0 is placed twice",
            vec![at(0, 0, 0.0), at(0, 1, 0.0), at(2, 0, 1.0)],
        ),
        ("device 1 is not placed", vec![at(0, 0, 0.0), at(2, 0, 1.0)]),
        (
            "device 1 starts at -1",
            vec![at(0, 0, 0.0), at(1, 1, -1.0), at(2, 0, 1.0)],
        ),
    ];
    for (error, placements) in broken {
        let found = check(&work, &placements);
        assert!(
            found.as_ref().is_err_and(|e| e.contains(error)),
            "expected {error:?}, got {found:?}"
        );
    }
    // A slot freed at t may be taken at t: back to back on the one-slot radio is fine.
    let back_to_back = [at(0, 1, 0.0), at(1, 1, 3.0), at(2, 0, 0.0)];
    assert_eq!(check(&work, &back_to_back), Ok(6.0));
}

#[test]
fn the_schedule_of_the_small_work_is_optimal() {
    let work = small_work();
    assert_eq!(check(&work, &schedule(&work)), Ok(4.0));
}

fn fixed_radio(slots: usize, ms: u64) -> RadioSpec {
    let mut spec = RadioSpec::esphome_proxy("p1").slots(slots).at(0.0, 0.0);
    let latency = Duration::from_millis(ms);
    spec.connect_latency = LatencyRange {
        min: latency,
        max: latency,
    };
    spec.latency_draw = LatencyDraw::PerDeviceConnection { jitter_percent: 30 };
    spec
}

fn one_radio_world(slots: usize, devices: usize) -> World {
    (0..devices)
        .fold(World::builder().radio(fixed_radio(slots, 400)), |b, n| {
            b.device(DeviceSpec::new(Address::new([0xB0, 0, 0, 0, 0, n as u8])).at(0.5, 0.0))
        })
        .build()
        .unwrap()
}

/// Where the optimum is known (bound_tests.rs proves both by brute force), the schedule meets
/// it: one slot runs three sessions back to back; two slots take 2.76 s for four.
#[test]
fn the_schedule_meets_known_optima() {
    let session = Duration::from_millis(26 * 30);
    let cases = [
        (
            one_radio_world(1, 3),
            (Duration::from_millis(400) + session) * 3,
        ),
        (one_radio_world(2, 4), Duration::from_millis(2760)),
    ];
    for (world, optimum) in cases {
        let found = makespan(&world, 1, &Batch::First);
        assert!(
            found.abs_diff(optimum) < Duration::from_millis(1),
            "{found:?} against {optimum:?}"
        );
    }
}

/// On the bench's own world, every seed's schedule passes the checker (inside `makespan`) and
/// none beats its seed's lower bound; and the search is not idle: it ends within 10 % of it.
#[test]
fn no_clairvoyant_schedule_beats_its_seeds_lower_bound() {
    let world = line_world(60, false);
    for seed in 1..=4 {
        let (found, bound) = (
            makespan(&world, seed, &Batch::First),
            drawn(&world, seed, &Batch::First),
        );
        assert!(found >= bound, "seed {seed}: {found:?} below {bound:?}");
        let ratio = found.as_secs_f64() / bound.as_secs_f64();
        assert!(ratio < 1.10, "seed {seed}: {ratio}");
    }
}

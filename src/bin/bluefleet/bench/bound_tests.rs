//! Both bounds on worlds whose optimum is known by hand, and the search of [`drawn`] against
//! the exact bound where the two must agree.

use std::time::Duration;

use bluefleet::sim::world::{LatencyDraw, LatencyRange};
use bluefleet::sim::{DeviceSpec, RadioSpec, World};
use bluefleet::Address;

use super::{best_certificate, drawn, expected, on_link, work_of, Batch};

/// Discovery (25 round trips of 30 ms) and one read.
const SESSION: Duration = Duration::from_millis(26 * 30);

fn radio(name: &str, slots: usize, connect: LatencyRange, x: f64) -> RadioSpec {
    let mut spec = RadioSpec::esphome_proxy(name).slots(slots).at(x, 0.0);
    spec.connect_latency = connect;
    spec.latency_draw = LatencyDraw::PerDeviceConnection { jitter_percent: 30 };
    spec
}

fn fixed(ms: u64) -> LatencyRange {
    let latency = Duration::from_millis(ms);
    LatencyRange {
        min: latency,
        max: latency,
    }
}

/// `devices` sensors beside the radio at x = 0 (heard by radios within ~10 m of it only).
fn world(radios: Vec<RadioSpec>, devices: usize) -> World {
    let rf = bluefleet::sim::world::RfModel {
        hearing_threshold_dbm: -80,
        ..Default::default()
    };
    let builder = radios
        .into_iter()
        .fold(World::builder().rf(rf), |b, r| b.radio(r));
    (0..devices)
        .fold(builder, |b, n| {
            b.device(DeviceSpec::new(Address::new([0xB0, 0, 0, 0, 0, n as u8])).at(0.5, 0.0))
        })
        .build()
        .unwrap()
}

fn close(a: Duration, b: Duration) -> bool {
    a.abs_diff(b) < Duration::from_millis(1)
}

/// One slot, 400 ms connects, three devices: the best schedule runs them back to back, and
/// both bounds are exactly that.
#[test]
fn one_radio_with_one_slot_runs_the_sessions_back_to_back() {
    let world = world(vec![radio("p1", 1, fixed(400), 0.0)], 3);
    let optimum = (Duration::from_millis(400) + SESSION) * 3;
    for bound in [drawn(&world, 1, &Batch::First), expected(&world)] {
        assert!(close(bound, optimum), "{bound:?} against {optimum:?}");
    }
}

/// Ten slots: the three connects run one after another and the last session follows them.
#[test]
fn many_slots_leave_the_serial_connects_as_the_bound() {
    let world = world(vec![radio("p1", 10, fixed(400), 0.0)], 3);
    let optimum = Duration::from_millis(1200) + SESSION;
    for bound in [drawn(&world, 1, &Batch::First), expected(&world)] {
        assert!(close(bound, optimum), "{bound:?} against {optimum:?}");
    }
}

/// Two one-slot radios: four devices only the near one reaches do not use the far one; four
/// that both reach split two and two.
#[test]
fn devices_only_one_radio_reaches_cannot_use_the_others() {
    let one = Duration::from_millis(400) + SESSION;
    let apart = world(
        vec![
            radio("p1", 1, fixed(400), 0.0),
            radio("p2", 1, fixed(400), 500.0),
        ],
        4,
    );
    assert!(
        close(drawn(&apart, 1, &Batch::First), one * 4),
        "{:?}",
        drawn(&apart, 1, &Batch::First)
    );
    let beside = world(
        vec![
            radio("p1", 1, fixed(400), 0.0),
            radio("p2", 1, fixed(400), 1.0),
        ],
        4,
    );
    assert!(
        close(drawn(&beside, 1, &Batch::First), one * 2),
        "{:?}",
        drawn(&beside, 1, &Batch::First)
    );
}

/// Five devices beside a one-slot proxy that draws its connects (150–600 ms) per device.
fn five_beside_one_drawing_proxy() -> World {
    let range = LatencyRange {
        min: Duration::from_millis(150),
        max: Duration::from_millis(600),
    };
    world(vec![radio("p1", 1, range, 0.0)], 5)
}

/// With drawn connect times the bound follows each seed's draws: the 1-slot radio's bound is
/// the sum of that seed's connects plus the sessions, whatever order they run in.
#[test]
fn the_drawn_bound_adds_up_the_seeds_own_connects() {
    let world = five_beside_one_drawing_proxy();
    for seed in 1..=3 {
        let connects: Duration = (0..5)
            .map(|d| world.drawn_connect_latency(seed, 0, d, 0).unwrap())
            .sum();
        let bound = drawn(&world, seed, &Batch::First);
        assert!(
            close(bound, connects + SESSION * 5),
            "seed {seed}: {bound:?}"
        );
    }
    assert_ne!(
        drawn(&world, 1, &Batch::First),
        drawn(&world, 2, &Batch::First)
    );
}

/// A later batch draws the connection each device makes then (here: device d's d-th), and its
/// sessions are the read alone (services cached): on one slot, those connects plus one read
/// each.
#[test]
fn a_later_batch_draws_its_own_connections_with_cached_sessions() {
    let world = five_beside_one_drawing_proxy();
    let read = Duration::from_millis(30);
    let connections: Vec<u64> = (0..5).collect();
    let connects: Duration = (0..5)
        .map(|d| world.drawn_connect_latency(4, 0, d, d as u64).unwrap())
        .sum();
    let again = drawn(&world, 4, &Batch::Again { connections });
    assert!(close(again, connects + read * 5), "{again:?}");
    assert!(again < drawn(&world, 4, &Batch::First));
}

/// Where every device's draw is its radio's mean (min = max), the two bounds are the same
/// linear programme on the bench's own shape (four radios, three groups, two kinds of radio),
/// so the search must find the exact bound.
#[test]
fn the_search_finds_the_exact_bound_where_draws_are_the_mean() {
    let mut radios = super::super::sessions::line_radios(false);
    for r in &mut radios {
        r.connect_latency = fixed(mean_ms(&r.connect_latency));
        r.latency_draw = LatencyDraw::PerDeviceConnection { jitter_percent: 30 };
    }
    let world = super::super::sessions::line_world_of(radios, 60);
    // The plain certificate (no idle slots at the ends) is the programme `expected` solves.
    let search = Duration::from_secs_f64(best_certificate(&work_of(&world, 1, &Batch::First)));
    let exact = expected(&world);
    let gap = (search.as_secs_f64() / exact.as_secs_f64() - 1.0).abs();
    assert!(gap < 1e-3, "search {search:?}, exact {exact:?}");
}

fn mean_ms(range: &LatencyRange) -> u64 {
    ((range.min + range.max) / 2).as_millis() as u64
}

/// Two slots, 400 ms connects, four devices: the second slot starts a connect late and the
/// last connect leaves the other slot idle for a connect; the best schedule is 2.76 s, the
/// plain certificate only 2.38 s, and the idle of both ends makes the bound exact.
#[test]
fn a_serial_gate_leaves_slots_idle_at_both_ends() {
    let world = world(vec![radio("p1", 2, fixed(400), 0.0)], 4);
    let optimum = Duration::from_millis(2760);
    assert!(close(brute_force_optimum(&world, 1), optimum));
    let plain = Duration::from_secs_f64(best_certificate(&work_of(&world, 1, &Batch::First)));
    assert!(plain < optimum - Duration::from_millis(300), "{plain:?}");
    let bound = drawn(&world, 1, &Batch::First);
    assert!(close(bound, optimum), "{bound:?} against {optimum:?}");
}

/// On small worlds with drawn connects (one or two radios, up to three slots, one radio
/// without a serial gate), the bound never exceeds the best schedule found by trying every
/// assignment and every order, also where the idle of both ends raises it.
#[test]
fn the_bound_never_exceeds_the_optimum_of_small_worlds() {
    let quick = LatencyRange {
        min: Duration::from_millis(150),
        max: Duration::from_millis(600),
    };
    let slow = LatencyRange {
        min: Duration::from_millis(200),
        max: Duration::from_millis(1000),
    };
    let mut parallel = radio("p3", 2, quick, 1.0);
    parallel.serialises_attempts = false;
    let worlds = [
        world(vec![radio("p1", 2, quick, 0.0)], 4),
        world(vec![radio("p1", 3, slow, 0.0)], 5),
        world(
            vec![radio("p1", 2, quick, 0.0), radio("p2", 3, slow, 1.0)],
            5,
        ),
        world(
            vec![radio("p1", 3, quick, 0.0), radio("p2", 2, quick, 1.0)],
            5,
        ),
        world(vec![radio("p1", 2, slow, 0.0), parallel], 4),
    ];
    let mut tight = 0;
    let mut raised = 0;
    for (w, world) in worlds.iter().enumerate() {
        for seed in 1..=12 {
            let (bound, optimum) = (
                drawn(world, seed, &Batch::First),
                brute_force_optimum(world, seed),
            );
            assert!(
                bound <= optimum + Duration::from_micros(1),
                "world {w}, seed {seed}: bound {bound:?} above the optimum {optimum:?}"
            );
            tight += usize::from(optimum.as_secs_f64() / bound.as_secs_f64() < 1.05);
            let plain = best_certificate(&work_of(world, seed, &Batch::First));
            raised += usize::from(bound.as_secs_f64() > plain + 1e-6);
        }
    }
    // Not vacuous: mostly within 5 % of the optimum, and the idle at both ends raised the
    // bound above the plain certificate in 12 of the 60.
    assert!(tight > 30, "{tight} of 60 within 5 %");
    assert!(raised >= 10, "the idle raised {raised} of 60");
}

/// The shortest makespan of one session per device (one connection each, no failure), by
/// trying every assignment of devices to the radios that reach them and every order on each
/// radio. For one order, starting each connect as early as its radio's gate and slots allow is
/// best, so the search is exact.
fn brute_force_optimum(world: &World, seed: u64) -> Duration {
    let devices = world.devices.len();
    let reach: Vec<Vec<usize>> = (0..devices)
        .map(|d| {
            (0..world.radios.len())
                .filter(|r| world.reaches(d, *r, Duration::ZERO))
                .collect()
        })
        .collect();
    let mut best = f64::INFINITY;
    let mut choice = vec![0usize; devices];
    loop {
        let makespan = (0..world.radios.len())
            .map(|r| {
                let served: Vec<usize> = (0..devices)
                    .filter(|d| reach[*d][choice[*d]] == r)
                    .collect();
                best_order(world, seed, r, &served)
            })
            .fold(0.0, f64::max);
        best = best.min(makespan);
        // The next assignment (an odometer over each device's radios).
        let mut d = 0;
        while d < devices {
            choice[d] += 1;
            if choice[d] < reach[d].len() {
                break;
            }
            choice[d] = 0;
            d += 1;
        }
        if d == devices {
            return Duration::from_secs_f64(best);
        }
    }
}

/// The best makespan of radio `r` serving `served`, over every order.
fn best_order(world: &World, seed: u64, r: usize, served: &[usize]) -> f64 {
    let spec = &world.radios[r];
    let asap = |order: &[usize]| {
        let (mut gate, mut slots) = (0.0f64, vec![0.0f64; spec.slot_limit]);
        let mut end = 0.0f64;
        for &d in order {
            let connect = world
                .drawn_connect_latency(seed, r, d, 0)
                .unwrap()
                .as_secs_f64();
            let slot = (0..slots.len())
                .min_by(|a, b| slots[*a].total_cmp(&slots[*b]))
                .unwrap();
            let start = slots[slot].max(if spec.serialises_attempts { gate } else { 0.0 });
            gate = start + connect;
            slots[slot] = gate + on_link(world, d, &Batch::First);
            end = end.max(slots[slot]);
        }
        end
    };
    let mut order = served.to_vec();
    let mut best = f64::INFINITY;
    permutations(&mut order, 0, &mut |o| best = best.min(asap(o)));
    best
}

fn permutations(items: &mut [usize], from: usize, visit: &mut impl FnMut(&[usize])) {
    if from == items.len() {
        visit(items);
        return;
    }
    for i in from..items.len() {
        items.swap(from, i);
        permutations(items, from + 1, visit);
        items.swap(from, i);
    }
}

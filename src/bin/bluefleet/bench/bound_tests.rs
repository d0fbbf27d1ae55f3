//! Both bounds on worlds whose optimum is known by hand, and the search of [`drawn`] against
//! the exact bound where the two must agree.

use std::time::Duration;

use bluefleet::sim::world::{LatencyDraw, LatencyRange};
use bluefleet::sim::{DeviceSpec, RadioSpec, World};
use bluefleet::Address;

use super::{drawn, expected};

/// Discovery (25 round trips of 30 ms) and one read.
const SESSION: Duration = Duration::from_millis(26 * 30);

fn radio(name: &str, slots: usize, connect: LatencyRange, x: f64) -> RadioSpec {
    let mut spec = RadioSpec::esphome_proxy(name).slots(slots).at(x, 0.0);
    spec.connect_latency = connect;
    spec.latency_draw = LatencyDraw::PerDeviceConnection;
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
    for bound in [drawn(&world, 1), expected(&world)] {
        assert!(close(bound, optimum), "{bound:?} against {optimum:?}");
    }
}

/// Ten slots: the three connects run one after another and the last session follows them.
#[test]
fn many_slots_leave_the_serial_connects_as_the_bound() {
    let world = world(vec![radio("p1", 10, fixed(400), 0.0)], 3);
    let optimum = Duration::from_millis(1200) + SESSION;
    for bound in [drawn(&world, 1), expected(&world)] {
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
    assert!(close(drawn(&apart, 1), one * 4), "{:?}", drawn(&apart, 1));
    let beside = world(
        vec![
            radio("p1", 1, fixed(400), 0.0),
            radio("p2", 1, fixed(400), 1.0),
        ],
        4,
    );
    assert!(close(drawn(&beside, 1), one * 2), "{:?}", drawn(&beside, 1));
}

/// With drawn connect times the bound follows each seed's draws: the 1-slot radio's bound is
/// the sum of that seed's connects plus the sessions, whatever order they run in.
#[test]
fn the_drawn_bound_adds_up_the_seeds_own_connects() {
    let range = LatencyRange {
        min: Duration::from_millis(150),
        max: Duration::from_millis(600),
    };
    let world = world(vec![radio("p1", 1, range, 0.0)], 5);
    for seed in 1..=3 {
        let connects: Duration = (0..5)
            .map(|d| world.drawn_connect_latency(seed, 0, d, 0).unwrap())
            .sum();
        let bound = drawn(&world, seed);
        assert!(
            close(bound, connects + SESSION * 5),
            "seed {seed}: {bound:?}"
        );
    }
    assert_ne!(drawn(&world, 1), drawn(&world, 2));
}

/// Where every device's draw is its radio's mean (min = max), the two bounds are the same
/// linear programme on the bench's own shape (four radios, three groups, two kinds of radio),
/// so the search must find the exact bound.
#[test]
fn the_search_finds_the_exact_bound_where_draws_are_the_mean() {
    let mut radios = super::super::sessions::line_radios(false);
    for r in &mut radios {
        r.connect_latency = fixed(mean_ms(&r.connect_latency));
        r.latency_draw = LatencyDraw::PerDeviceConnection;
    }
    let world = super::super::sessions::line_world_of(radios, 60);
    let (search, exact) = (drawn(&world, 1), expected(&world));
    let gap = (search.as_secs_f64() / exact.as_secs_f64() - 1.0).abs();
    assert!(gap < 1e-3, "search {search:?}, exact {exact:?}");
}

fn mean_ms(range: &LatencyRange) -> u64 {
    ((range.min + range.max) / 2).as_millis() as u64
}

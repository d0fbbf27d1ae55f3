//! What a run of a world will draw and allow, asked of the world alone, before or without
//! running it: a device's connect latency under [`LatencyDraw::PerDeviceConnection`], and
//! whether a radio can reach a device at a moment.
//!
//! The connect path asks these same functions, so whatever is computed from them outside (the
//! makespan bench's per-seed lower bound) sees exactly the numbers the run sees, and cannot
//! drift from them.

use std::time::Duration;

use rand::Rng;

use super::rf;
use super::state::{domain, stream};
use super::world::{LatencyDraw, World};

impl World {
    /// The latency device `device`'s connection number `connection` (0 for its first) takes
    /// through radio `radio` in a run with `seed`, on every attempt until that connection is
    /// made, when the radio draws [`LatencyDraw::PerDeviceConnection`]; `None` when it draws
    /// per attempt (or either index is out of range).
    ///
    /// One share of the radio's range per (seed, device, connection), the same on every such
    /// radio: a device that is quick to connect is quick everywhere. The share is the device's
    /// own moved by the connection's offset (the variant's docs).
    pub fn drawn_connect_latency(
        &self,
        seed: u64,
        radio: usize,
        device: usize,
        connection: u64,
    ) -> Option<Duration> {
        let spec = self.radios.get(radio)?;
        let LatencyDraw::PerDeviceConnection { jitter_percent } = spec.latency_draw else {
            return None;
        };
        if device >= self.devices.len() {
            return None;
        }
        let own: f64 = stream(seed, domain::DEVICE_LATENCY, device as u64).gen_range(0.0..=1.0);
        let mut rng = stream(seed, domain::CONNECT, ((device as u64) << 24) | connection);
        let offset: f64 = rng.gen_range(-0.5..=0.5) * f64::from(jitter_percent.min(100)) / 100.0;
        let range = spec.connect_latency;
        Some(range.min + (range.max - range.min).mul_f64(reflect_into_unit(own + offset)))
    }

    /// Whether radio `radio` can reach device `device` at `at` (virtual time since start) as
    /// the world describes it: awake, not out of range by a window, its mean RSSI at the
    /// radio at or above the hearing threshold. Run-time controls (`SimControl`) and the
    /// radio being down are not part of the world, so not part of the answer.
    pub fn reaches(&self, device: usize, radio: usize, at: Duration) -> bool {
        let (Some(spec), Some(radio)) = (self.devices.get(device), self.radios.get(radio)) else {
            return false;
        };
        if spec
            .sleeps
            .iter()
            .chain(&spec.out_of_range)
            .any(|w| w.contains(at))
        {
            return false;
        }
        let here = rf::position_at(&spec.route, at);
        let rssi = rf::mean_rssi(
            &self.rf,
            spec.tx_power_dbm,
            here.distance_to(radio.position),
        );
        rssi >= f64::from(self.rf.hearing_threshold_dbm)
    }
}

/// `x` folded into [0, 1] by reflection at both ends. A uniform share plus an independent
/// offset symmetric about zero, reflected so, is uniform again: as the fold is even and the
/// offset symmetric, share + offset folds like ±share + offset, and ±share is uniform over a
/// whole period of the fold, which any independent offset leaves uniform.
fn reflect_into_unit(x: f64) -> f64 {
    let folded = x.rem_euclid(2.0);
    if folded > 1.0 {
        2.0 - folded
    } else {
        folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Address;
    use crate::sim::{DeviceSpec, RadioSpec};

    fn world(draw: LatencyDraw) -> World {
        let mut proxy = RadioSpec::esphome_proxy("p1");
        proxy.latency_draw = draw;
        let mut far = RadioSpec::local_controller("hci0").at(500.0, 0.0);
        far.latency_draw = draw;
        World::builder()
            .radio(proxy)
            .radio(far)
            .device(DeviceSpec::new(Address::new([1, 0, 0, 0, 0, 1])).at(1.0, 0.0))
            .build()
            .unwrap()
    }

    #[test]
    fn a_per_device_draw_is_one_share_of_each_radios_range() {
        let world = world(LatencyDraw::PerDeviceConnection { jitter_percent: 30 });
        let proxy = world.drawn_connect_latency(7, 0, 0, 0).unwrap();
        let local = world.drawn_connect_latency(7, 1, 0, 0).unwrap();
        let share = |d: Duration, min: u64, max: u64| {
            (d.as_secs_f64() * 1e3 - min as f64) / (max - min) as f64
        };
        assert!((share(proxy, 150, 600) - share(local, 200, 1000)).abs() < 1e-6);
        assert_eq!(world.drawn_connect_latency(7, 0, 0, 0), Some(proxy));
        assert_ne!(world.drawn_connect_latency(7, 0, 0, 1), Some(proxy));
        assert_ne!(world.drawn_connect_latency(8, 0, 0, 0), Some(proxy));
        assert_eq!(
            world.drawn_connect_latency(7, 0, 1, 0),
            None,
            "no such device"
        );
        let per_attempt = self::world(LatencyDraw::PerAttempt);
        assert_eq!(per_attempt.drawn_connect_latency(7, 0, 0, 0), None);
    }

    /// The run takes exactly the drawn latency, and an aborted attempt (which takes it too)
    /// leaves the next attempt's draw unchanged; the second connection draws anew.
    #[test]
    fn the_run_takes_the_drawn_latency_whatever_failed_before() {
        use crate::backend::ConnectRequest;
        use crate::model::AddressKind;
        use crate::sim::{run_virtual, Simulation};
        use crate::ErrorKind;
        let world = world(LatencyDraw::PerDeviceConnection { jitter_percent: 30 });
        let first = world.drawn_connect_latency(5, 0, 0, 0).unwrap();
        let second = world.drawn_connect_latency(5, 0, 0, 1).unwrap();
        let taken = run_virtual(async move {
            let sim = Simulation::start(world, 5);
            let radio = sim.radios()[0].clone();
            let request = || ConnectRequest {
                address: Address::new([1, 0, 0, 0, 0, 1]),
                address_kind: AddressKind::Public,
                cached_services: None,
                timeout: Duration::from_secs(20),
            };
            sim.control()
                .fail_next_connects("p1", 1, ErrorKind::Aborted)
                .unwrap();
            let mut taken = Vec::new();
            for _ in 0..3 {
                let started = tokio::time::Instant::now();
                let outcome = radio.connect(request()).await;
                taken.push((started.elapsed(), outcome.is_ok()));
                if let Ok(connection) = outcome {
                    connection.link.disconnect().await.unwrap();
                }
            }
            taken
        })
        .unwrap();
        // tokio's timer runs in whole milliseconds: a wait ends within 1 ms after its draw.
        let within = |taken: Duration, drawn: Duration| {
            taken >= drawn && taken - drawn < Duration::from_millis(1)
        };
        let outcomes: Vec<bool> = taken.iter().map(|(_, ok)| *ok).collect();
        assert_eq!(outcomes, [false, true, true], "aborted, connected, again");
        assert!(
            within(taken[0].0, first) && within(taken[1].0, first) && within(taken[2].0, second),
            "{taken:?} against {first:?}, {second:?}"
        );
    }

    /// A device keeps its own share from connection to connection, within the jitter, and
    /// over many devices the shares still cover the range evenly.
    #[test]
    fn a_device_keeps_its_share_within_the_jitter_and_shares_stay_uniform() {
        let share = |world: &World, seed: u64, connection: u64| {
            let d = world.drawn_connect_latency(seed, 0, 0, connection).unwrap();
            (d.as_secs_f64() * 1e3 - 150.0) / 450.0
        };
        let fixed = world(LatencyDraw::PerDeviceConnection { jitter_percent: 0 });
        let jittered = world(LatencyDraw::PerDeviceConnection { jitter_percent: 30 });
        let free = world(LatencyDraw::PerDeviceConnection {
            jitter_percent: 100,
        });
        let mut quarters = [0usize; 4];
        let mut edges = [0usize; 2];
        let (mut near, mut far) = (0.0_f64, 0.0_f64);
        for seed in 0..4000 {
            assert!((share(&fixed, seed, 0) - share(&fixed, seed, 5)).abs() < 1e-6);
            let (first, later) = (share(&jittered, seed, 0), share(&jittered, seed, 1));
            assert!(
                (first - later).abs() <= 0.3 + 1e-6,
                "seed {seed}: {first} {later}"
            );
            near += (first - later).abs();
            far += (share(&free, seed, 0) - share(&free, seed, 1)).abs();
            quarters[((later * 4.0) as usize).min(3)] += 1;
            if later < 0.05 {
                edges[0] += 1;
            } else if later > 0.95 {
                edges[1] += 1;
            }
        }
        // 5 % within 0.05 of each end (200 of 4000), as anywhere else: no pile-up as clamping
        // would make (about 6.7 %, 267), none missing as no folding would leave.
        for count in edges {
            assert!((155..=245).contains(&count), "{edges:?}");
        }
        for count in quarters {
            assert!((900..=1100).contains(&count), "{quarters:?}");
        }
        assert!(
            near < far / 2.0,
            "jitter 30 % strays less: {near} against {far}"
        );
        let mut bad = jittered.clone();
        bad.radios[0].latency_draw = LatencyDraw::PerDeviceConnection {
            jitter_percent: 101,
        };
        let refused = bad.validate().unwrap_err().to_string();
        assert!(
            refused.contains("radios[0].latency_draw.jitter_percent"),
            "{refused}"
        );
    }

    #[test]
    fn reflection_folds_back_at_both_ends() {
        for (x, folded) in [(-0.3, 0.3), (1.2, 0.8), (1.0, 1.0), (0.0, 0.0), (0.4, 0.4)] {
            assert!((reflect_into_unit(x) - folded).abs() < 1e-12, "{x}");
        }
    }

    #[test]
    fn a_radio_reaches_a_device_within_hearing_only() {
        let world = world(LatencyDraw::PerAttempt);
        assert!(world.reaches(0, 0, Duration::ZERO));
        assert!(!world.reaches(0, 1, Duration::ZERO), "500 m away");
    }
}

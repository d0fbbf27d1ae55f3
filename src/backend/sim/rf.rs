//! Radio physics: where a device is at a given moment, and how loud a radio hears it.
//!
//! Owns the log-distance path-loss model `rssi = tx + rssi₁ₘ − 10·n·log₁₀(d) + noise`, with
//! Gaussian noise drawn from the caller's seeded stream (Box–Muller over two uniforms, so no
//! extra crate), and movement along a device's waypoints. Pure functions: the advert loop and
//! the connect path call them with the virtual time since start.

use std::time::Duration;

use rand::Rng;

use super::world::{Position, RfModel, Route};

/// Closest distance the model uses, so a radio on top of a device does not divide by zero.
const MIN_DISTANCE_M: f64 = 0.1;

/// Where a device on `route` is at `at` since start.
pub(crate) fn position_at(route: &Route, at: Duration) -> Position {
    match route {
        Route::Fixed(p) => *p,
        Route::Path { waypoints, repeat } => {
            let (Some(first), Some(last)) = (waypoints.first(), waypoints.last()) else {
                return Position::default();
            };
            let mut t = at;
            if *repeat && last.at > first.at && t > last.at {
                let span = (last.at - first.at).as_secs_f64();
                let offset = (t - first.at).as_secs_f64() % span;
                t = first.at + Duration::from_secs_f64(offset);
            }
            if t <= first.at {
                return first.position;
            }
            for pair in waypoints.windows(2) {
                let [a, b] = pair else { continue };
                if t <= b.at {
                    let share = (t - a.at).as_secs_f64() / (b.at - a.at).as_secs_f64();
                    return Position::new(
                        a.position.x + (b.position.x - a.position.x) * share,
                        a.position.y + (b.position.y - a.position.y) * share,
                    );
                }
            }
            last.position
        }
    }
}

/// The mean RSSI (no noise) at `distance_m` from a transmitter of `tx_power_dbm`.
pub(crate) fn mean_rssi(rf: &RfModel, tx_power_dbm: i16, distance_m: f64) -> f64 {
    let d = distance_m.max(MIN_DISTANCE_M);
    f64::from(tx_power_dbm) + f64::from(rf.rssi_at_1m_dbm)
        - 10.0 * rf.path_loss_exponent * d.log10()
}

/// One noisy RSSI sample, rounded to whole dBm and clamped to the i16 range radios report.
pub(crate) fn sample_rssi(rf: &RfModel, mean_dbm: f64, rng: &mut impl Rng) -> i16 {
    let noisy = mean_dbm + rf.noise_sigma_db * standard_normal(rng);
    noisy.round().clamp(-127.0, 20.0) as i16
}

/// A standard normal draw (Box–Muller); always consumes exactly two uniforms.
fn standard_normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::world::Waypoint;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn signal_falls_with_distance() {
        let rf = RfModel::default();
        assert_eq!(mean_rssi(&rf, 0, 1.0), -59.0);
        assert!(mean_rssi(&rf, 0, 10.0) < -80.0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let samples: Vec<i16> = (0..200)
            .map(|_| sample_rssi(&rf, -70.0, &mut rng))
            .collect();
        let mean = samples.iter().map(|&s| f64::from(s)).sum::<f64>() / 200.0;
        assert!((mean + 70.0).abs() < 1.5, "mean {mean}");
        assert!(samples.iter().any(|&s| s != -70));
    }

    #[test]
    fn paths_interpolate_and_repeat() {
        let at = |s: u64, x: f64| Waypoint {
            at: Duration::from_secs(s),
            position: Position::new(x, 0.0),
        };
        let route = Route::Path {
            waypoints: vec![at(0, 0.0), at(10, 10.0)],
            repeat: true,
        };
        assert_eq!(position_at(&route, Duration::from_secs(5)).x, 5.0);
        assert_eq!(position_at(&route, Duration::from_secs(15)).x, 5.0);
        let once = Route::Path {
            waypoints: vec![at(0, 0.0), at(10, 10.0)],
            repeat: false,
        };
        assert_eq!(position_at(&once, Duration::from_secs(15)).x, 10.0);
    }
}

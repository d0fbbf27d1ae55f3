//! Invariant 4 as bluefleet keeps it (docs/architecture.md, "Liveness and the detour rule"):
//! a waiting keep-connected device takes a free slot on any radio that hears it within
//! `max_detour_db` of its best radio at once (one connect time), and a free slot on a weaker
//! radio only after `detour_after` (20 s) of waiting — never later.

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::fleet::DeviceState;
use bluefleet::sim::RadioSpec;
use bluefleet::RadioId;
use tokio::time::Instant;

use crate::support::*;

/// The near proxy's only slot is held by a device that never lets go; `other` is where the
/// second device can go instead. Returns how long the second device waited and where it went.
async fn second_device_connects(other_at: f64) -> (Duration, RadioId) {
    let radios = vec![
        RadioSpec::esphome_proxy("near").at(0.0, 0.0).slots(1),
        RadioSpec::esphome_proxy("other").at(other_at, 0.0).slots(3),
    ];
    let devices = vec![env_sensor(1, 0.5, 0.0), env_sensor(2, 1.0, 0.0)];
    let (_simulation, fleet) = start(world(radios, devices), 4);
    run_for(Duration::from_secs(5)).await;
    let holder = fleet.device(addr(1)).await.unwrap();
    holder.keep_connected(true).await.unwrap();
    run_for(Duration::from_secs(5)).await;
    assert_eq!(
        holder.status().state,
        DeviceState::Connected {
            radio: RadioId::new("near")
        }
    );
    let waiter = fleet.device(addr(2)).await.unwrap();
    let asked = Instant::now();
    waiter.keep_connected(true).await.unwrap();
    loop {
        if let DeviceState::Connected { radio } = waiter.status().state {
            return (asked.elapsed(), radio);
        }
        assert!(asked.elapsed() < Duration::from_secs(60), "never connected");
        run_for(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_free_radio_within_the_detour_limit_is_taken_within_one_connect_time() {
    // 2.5 m from the second device: about 9 dB under the near proxy.
    let (waited, radio) = block_on_virtual_time(second_device_connects(3.5));
    assert_eq!(radio, RadioId::new("other"));
    // One connect (≤ 600 ms on a proxy) plus discovery (25 × 30 ms), with margin.
    assert!(waited <= Duration::from_millis(2_000), "waited {waited:?}");
}

#[test]
fn a_weaker_free_radio_is_taken_after_the_detour_wait_and_not_before() {
    // 19 m from the second device: about 28 dB under the near proxy.
    let (waited, radio) = block_on_virtual_time(second_device_connects(20.0));
    assert_eq!(radio, RadioId::new("other"));
    assert!(
        waited >= Duration::from_secs(20),
        "detoured early: {waited:?}"
    );
    assert!(
        waited <= Duration::from_secs(20) + Duration::from_millis(2_000),
        "detour wait + one connect time exceeded: {waited:?}"
    );
}

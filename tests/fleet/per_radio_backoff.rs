//! Bug 13 of issue 13: a backoff grown by failures through a far proxy also delayed the attempt
//! through the near, healthy one (recovery after the near proxy was back: median 2.2 s, p99
//! 52 s). Backoff is per radio now: the near proxy's wait is its own.

use std::time::Duration;

use bluefleet::fleet::block_on_virtual_time;
use bluefleet::fleet::DeviceState;
use bluefleet::sim::RadioSpec;
use bluefleet::{ErrorKind, RadioId};
use tokio::time::Instant;

use crate::support::*;

/// The near proxy goes down for a minute; meanwhile every attempt through the far one fails
/// (its backoff grows towards the cap). Returns how long after the near proxy is back the
/// device is connected through it again.
async fn recovery_after_the_near_proxy_is_back(seed: u64) -> Duration {
    let radios = vec![
        RadioSpec::esphome_proxy("near").at(0.0, 0.0),
        RadioSpec::esphome_proxy("far").at(6.0, 0.0),
    ];
    let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), seed);
    run_for(Duration::from_secs(3)).await;
    let device = fleet.device(addr(1)).await.unwrap();
    device.keep_connected(true).await.unwrap();
    run_for(Duration::from_secs(5)).await;
    let near = DeviceState::Connected {
        radio: RadioId::new("near"),
    };
    assert_eq!(device.status().state, near);
    let control = simulation.control();
    control
        .fail_next_connects("far", 1_000, ErrorKind::Aborted)
        .unwrap();
    control.radio_down("near").unwrap();
    run_for(Duration::from_secs(60)).await;
    let failed = device.status().failed_attempts;
    assert!(failed >= 5, "the far proxy was tried only {failed} times");
    control.radio_up("near").unwrap();
    let back = Instant::now();
    while device.status().state != near {
        assert!(back.elapsed() < Duration::from_secs(120), "never came back");
        run_for(Duration::from_millis(50)).await;
    }
    back.elapsed()
}

#[test]
fn a_far_proxys_backoff_does_not_delay_the_near_one_when_it_is_back() {
    for seed in [13, 14, 15] {
        let recovery = block_on_virtual_time(recovery_after_the_near_proxy_is_back(seed));
        eprintln!("seed {seed}: back through the near proxy after {recovery:?}");
        // Adverts from the proxy come in 100 ms batches; one connect plus discovery on a proxy
        // takes about 1.5 s.
        assert!(
            recovery <= Duration::from_secs(3),
            "seed {seed}: connected through the near proxy {recovery:?} after it was back"
        );
    }
}

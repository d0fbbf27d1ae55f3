//! The radio watchdog against the BlueZ double: discovery stops delivering (the double
//! swallows every advert until the adapter is power-cycled); the watchdog restarts discovery,
//! then power-cycles the adapter through `Powered`, and adverts flow again. Real clock, a
//! 1 s quiet time, bounded waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::{Radio, RecoveryStep};
use bluefleet::fleet::block_on_real_time;
use bluefleet::fleet::{RecoveryEntry, RecoveryReport};
use bluefleet::Fleet;

use crate::bed::{BluezMockProxy, MockBluez};
use crate::radio;

const QUIET: Duration = Duration::from_secs(1);

async fn report(fleet: &Fleet) -> RecoveryReport {
    let diagnostics = fleet.diagnostics().await.unwrap();
    diagnostics.radios[0]
        .recovery
        .clone()
        .expect("a watched radio")
}

/// Waits (bounded) until the radio's report satisfies `done`.
async fn until(
    fleet: &Fleet,
    what: &str,
    done: impl Fn(&RecoveryReport) -> bool,
) -> RecoveryReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = report(fleet).await;
        if done(&now) {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The device advertises every 100 ms with a changing RSSI, as a real sensor would.
fn advertise_forever(mock: BluezMockProxy<'static>, device: String) {
    tokio::spawn(async move {
        for i in 0u32.. {
            let rssi = -60 - i16::try_from(i % 8).unwrap();
            if mock
                .advertise(&device, rssi, HashMap::from([(0x0499, vec![1])]))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn a_stalled_discovery_is_recovered_by_a_power_cycle() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        let adapter = mock.add_adapter("hci0", "hub").await.unwrap();
        let device = mock
            .add_le_device("hci0", "D4:00:00:00:00:07", "Thermo", -60)
            .await
            .unwrap();
        let fleet = Fleet::builder()
            .radio(Arc::new(radio(&bed, "hci0").await) as Arc<dyn Radio>)
            .radio_watchdog(QUIET)
            .build()
            .unwrap();
        advertise_forever(bed.control().await, device);
        let mut adverts = fleet.adverts();
        tokio::time::timeout(
            Duration::from_secs(10),
            futures::StreamExt::next(&mut adverts),
        )
        .await
        .expect("an advert before the stall");
        drop(adverts);

        // Only a power cycle cures this stall: restarting discovery must not be enough.
        mock.stall_discovery(&adapter, "power").await.unwrap();
        let report = until(&fleet, "recovered", |r| r.recoveries == 1).await;

        let steps: Vec<RecoveryStep> = report
            .history
            .iter()
            .filter_map(|e| match e {
                RecoveryEntry::Step {
                    step, error: None, ..
                } => Some(*step),
                _ => None,
            })
            .collect();
        assert_eq!(
            steps,
            [RecoveryStep::RestartDiscovery, RecoveryStep::PowerCycle],
            "{report:?}"
        );
        assert!(
            matches!(
                report.history.last(),
                Some(RecoveryEntry::Recovered {
                    after_steps: 2,
                    last_step: RecoveryStep::PowerCycle,
                    ..
                })
            ),
            "{report:?}"
        );
        let (starts, power_offs) = mock.get_recovery_counts(&adapter).await.unwrap();
        assert_eq!(power_offs, 1, "the adapter was power-cycled once");
        assert!(
            starts >= 2,
            "discovery restarted, then started again on power-up: {starts}"
        );
        fleet.shutdown().await.unwrap();
    });
}

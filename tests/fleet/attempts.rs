//! The attempt event stream: what a hub sees of every connection attempt.

use std::time::Duration;

use bluefleet::fleet::{AttemptEvent, SkipReason};
use bluefleet::sim::RadioSpec;
use bluefleet::{ErrorKind, RadioId};
use futures::StreamExt;

use bluefleet::fleet::block_on_virtual_time;

use crate::support::*;

#[test]
fn attempts_are_observable_with_candidates_outcomes_classes_and_retries() {
    block_on_virtual_time(async {
        let radios = vec![
            RadioSpec::esphome_proxy("near").at(0.0, 0.0),
            RadioSpec::esphome_proxy("far").at(40.0, 0.0),
        ];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 31);
        let mut events = Box::pin(fleet.attempt_events());
        run_for(Duration::from_secs(3)).await;
        simulation
            .control()
            .fail_next_connects("near", 1, ErrorKind::Aborted)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        assert!(device.status().state.is_connected());
        let mut seen = Vec::new();
        while let Some(Some(event)) = futures::FutureExt::now_or_never(events.next()) {
            seen.push(event);
        }
        let near = RadioId::new("near");
        let Some(AttemptEvent::Queued { considered, .. }) = seen.first() else {
            panic!("first a queue entry: {seen:?}");
        };
        let verdict = |name: &str| {
            considered
                .iter()
                .find(|c| c.radio == RadioId::new(name))
                .map(|c| c.skipped.clone())
        };
        assert_eq!(verdict("near"), Some(None), "{considered:?}");
        assert!(
            matches!(
                verdict("far"),
                Some(Some(SkipReason::TooFarBelowBest { .. }))
            ),
            "{considered:?}"
        );
        let steps: Vec<_> = seen
            .iter()
            .filter(|e| !matches!(e, AttemptEvent::Queued { .. }))
            .collect();
        assert!(
            matches!(steps.as_slice(), [
                AttemptEvent::Started { radio: r1, attempt: 1, .. },
                AttemptEvent::Failed { class: ErrorKind::Aborted, next_retry_in: Some(_), radio: r2, .. },
                AttemptEvent::Started { attempt: 2, .. },
                AttemptEvent::Connected { .. },
            ] if *r1 == near && *r2 == near),
            "{steps:#?}"
        );
        let json = serde_json::to_string(&seen).unwrap();
        assert!(json.contains("\"event\":\"failed\""), "{json}");
    });
}

#[test]
fn a_status_says_since_when_its_state_holds_and_when_it_last_failed() {
    block_on_virtual_time(async {
        let radios = vec![RadioSpec::esphome_proxy("near").at(0.0, 0.0)];
        let (simulation, fleet) = start(world(radios, vec![env_sensor(1, 1.0, 0.0)]), 32);
        let begun = tokio::time::Instant::now();
        run_for(Duration::from_secs(3)).await;
        simulation
            .control()
            .fail_next_connects("near", 1, ErrorKind::Aborted)
            .unwrap();
        let device = fleet.device(addr(1)).await.unwrap();
        assert_eq!(device.status().last_error_at, None);
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        let status = device.status();
        assert!(status.state.is_connected(), "{status:?}");
        let failed = status
            .last_error_at
            .expect("the aborted attempt is stamped");
        assert!(failed >= Duration::from_secs(3), "{status:?}");
        assert!(
            failed <= status.since,
            "connected after it failed: {status:?}"
        );
        assert!(status.since <= begun.elapsed(), "{status:?}");
        let connected_since = status.since;

        run_for(Duration::from_secs(5)).await;
        assert_eq!(
            device.status().since,
            connected_since,
            "still the same state"
        );
        simulation.control().drop_link(addr(1)).unwrap();
        run_for(Duration::from_secs(10)).await;
        let again = device.status();
        assert!(again.state.is_connected(), "{again:?}");
        assert!(
            again.since >= connected_since + Duration::from_secs(5),
            "{again:?}"
        );
        assert_eq!(
            again.last_error_at,
            Some(failed),
            "a link drop is not a failed attempt"
        );
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["since"].as_f64(), Some(again.since.as_secs_f64()));
    })
}

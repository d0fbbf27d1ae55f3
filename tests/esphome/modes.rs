//! Scan modes and the watchdog's steps against the fake proxy: the mode is asked with the
//! scanner set-mode request and reported from the proxy's scanner-state answer, never assumed;
//! a restart of discovery re-subscribes, a reconnect opens a new session.

use bluefleet::backend::{RecoveryStep, ScanMode, ScanModeReport};

use super::*;

/// Polls the radio's scan-mode report until `done` (real peer: bounded).
async fn mode_until(
    radio: &EsphomeRadio,
    what: &str,
    done: impl Fn(&ScanModeReport) -> bool,
) -> ScanModeReport {
    for _ in 0..250 {
        let report = radio.scan_mode().unwrap();
        if done(&report) {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: still {:?}", radio.scan_mode());
}

#[tokio::test]
async fn the_wanted_mode_is_asked_at_session_start_and_the_reported_one_shown() {
    let mut fake = FakeProxy::start(json!({"active_scan": true})).await;
    let radio = EsphomeRadio::new(fake.config());
    radio.set_scan_mode(ScanMode::Passive).unwrap();
    let mut events = radio.events();
    next_event(&mut events, "up", |e| matches!(e, RadioEvent::Up)).await;
    let report = mode_until(&radio, "passive", |r| r.actual == Some(ScanMode::Passive)).await;
    assert_eq!(report.wanted, ScanMode::Passive);
    assert_eq!(report.note, None);
    assert_eq!(fake.count("BluetoothScannerSetModeRequest").await, 1);

    // Switching while up goes out at once.
    radio.set_scan_mode(ScanMode::Active).unwrap();
    let report = mode_until(&radio, "active", |r| r.actual == Some(ScanMode::Active)).await;
    assert_eq!(report.in_words(), "active");
    assert_eq!(fake.count("BluetoothScannerSetModeRequest").await, 2);
}

#[tokio::test]
async fn a_proxy_without_scanner_state_is_reported_as_unknown_not_as_asked() {
    // Every feature but STATE_AND_MODE (bit 6).
    let mut fake = FakeProxy::start(json!({"feature_flags": 0xff & !(1 << 6)})).await;
    let radio = EsphomeRadio::new(fake.config());
    radio.set_scan_mode(ScanMode::Passive).unwrap();
    let mut events = radio.events();
    next_event(&mut events, "up", |e| matches!(e, RadioEvent::Up)).await;
    next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    let report = radio.scan_mode().unwrap();
    assert_eq!(report.actual, None, "{report:?}");
    assert!(
        report
            .in_words()
            .starts_with("unknown (wanted passive: this proxy cannot"),
        "{}",
        report.in_words()
    );
    assert_eq!(fake.count("BluetoothScannerSetModeRequest").await, 0);
}

#[tokio::test]
async fn recovery_steps_resubscribe_or_reconnect() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    assert_eq!(
        radio.recovery_steps(),
        [RecoveryStep::RestartDiscovery, RecoveryStep::Reconnect]
    );
    let mut events = radio.events();
    next_event(&mut events, "up", |e| matches!(e, RadioEvent::Up)).await;
    radio.recover(RecoveryStep::RestartDiscovery).await.unwrap();
    fake_count_reaches(&mut fake, "UnsubscribeBluetoothLEAdvertisementsRequest", 1).await;
    fake_count_reaches(&mut fake, "SubscribeBluetoothLEAdvertisementsRequest", 2).await;
    next_event(&mut events, "adverts after the restart", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;

    radio.recover(RecoveryStep::Reconnect).await.unwrap();
    let down = next_event(&mut events, "down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    assert!(format!("{down:?}").contains("radio watchdog"), "{down:?}");
    next_event(&mut events, "up again", |e| matches!(e, RadioEvent::Up)).await;
    next_event(&mut events, "adverts again", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    assert!(radio.recover(RecoveryStep::PowerCycle).await.is_err());
}

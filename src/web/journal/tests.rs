use super::*;
use crate::adapter::gate::GateStats;
use crate::backend::RadioKind;
use crate::device::radio_choice::{ConsideredRadio, SkipReason};
use crate::device::state::{DeviceState, DeviceStatus};
use crate::supervisor::diagnostics::RadioDiagnostics;
use crate::ErrorKind;
use std::time::Duration;

fn address(n: u8) -> Address {
    format!("A4:C1:38:00:00:{n:02X}").parse().expect("address")
}

fn radio(name: &str, up: bool, held_by: Vec<Address>, connects: GateStats) -> RadioDiagnostics {
    RadioDiagnostics {
        radio: RadioId::new(name),
        kind: RadioKind::EsphomeProxy,
        up,
        slot_limit: 3,
        held_by,
        foreign: 0,
        connects,
        scan_mode: None,
        recovery: None,
        adverts_dropped: 0,
    }
}

fn status(n: u8, state: DeviceState, connections: u64, failed: u64) -> DeviceStatus {
    let mut status = DeviceStatus::new(address(n));
    status.state = state;
    status.connections = connections;
    status.failed_attempts = failed;
    status
}

fn diagnostics(radios: Vec<RadioDiagnostics>, devices: Vec<DeviceStatus>) -> Diagnostics {
    Diagnostics {
        radios,
        devices,
        devices_heard: 0,
        adverts_ingested: 0,
        advert_totals: Default::default(),
        watchers: Default::default(),
        feed_lost: 0,
        notifications_dropped: 0,
        device_adverts_dropped: 0,
    }
}

fn connected(n: u8, radio: &str, connections: u64) -> DeviceStatus {
    status(
        n,
        DeviceState::Connected {
            radio: RadioId::new(radio),
        },
        connections,
        0,
    )
}

#[test]
fn a_lease_opens_when_a_radio_lists_a_holder_and_closes_when_it_stops() {
    let mut journal = Journal::new([(address(1), "Kitchen".to_string())]);
    let empty = diagnostics(
        vec![radio("p1", true, vec![], GateStats::default())],
        vec![],
    );
    journal.observe(1.0, &empty, &[]);
    let held = diagnostics(
        vec![radio("p1", true, vec![address(1)], GateStats::default())],
        vec![connected(1, "p1", 1)],
    );
    journal.observe(2.0, &held, &[]);
    journal.observe(3.0, &held, &[]);
    journal.observe(4.0, &empty, &[]);
    let leases = journal.leases(900.0);
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].start_s, leases[0].end_s), (2.0, Some(4.0)));
    assert_eq!(journal.radios()[0].holders.len(), 0);
}

#[test]
fn ticks_follow_the_gate_counters_growth_by_class() {
    let mut journal = Journal::default();
    let gate = |successes, failures| GateStats {
        successes,
        failures,
        ..GateStats::default()
    };
    journal.observe(
        1.0,
        &diagnostics(
            vec![radio("p1", true, vec![], gate(1, [0, 2, 0, 0]))],
            vec![],
        ),
        &[],
    );
    journal.observe(
        2.0,
        &diagnostics(
            vec![radio("p1", true, vec![], gate(3, [0, 2, 1, 0]))],
            vec![],
        ),
        &[],
    );
    let classes: Vec<_> = journal.ticks(900.0).iter().map(|t| t.class).collect();
    assert_eq!(
        classes,
        ["ok", "out-of-slots", "out-of-slots", "ok", "ok", "aborted"]
    );
}

#[test]
fn a_slot_held_with_no_connection_behind_it_raises_a_stuck_slot_alarm_after_a_while() {
    let mut journal = Journal::default();
    let stuck = diagnostics(
        vec![radio("p1", true, vec![address(1)], GateStats::default())],
        vec![status(1, DeviceState::Idle, 0, 0)],
    );
    for t in 0..=40 {
        journal.observe(f64::from(t), &stuck, &[]);
    }
    let alarms = journal.alarms(900.0);
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        (alarms[0].kind, alarms[0].since_s, alarms[0].until_s),
        ("stuck-slot", 0.0, None)
    );
    let freed = diagnostics(
        vec![radio("p1", true, vec![], GateStats::default())],
        vec![],
    );
    journal.observe(41.0, &freed, &[]);
    assert_eq!(journal.alarms(900.0)[0].until_s, Some(41.0));
}

#[test]
fn a_device_holding_slots_on_two_radios_raises_a_double_holder_alarm_at_once() {
    let mut journal = Journal::default();
    let double = diagnostics(
        vec![
            radio("p1", true, vec![address(1)], GateStats::default()),
            radio("p2", true, vec![address(1)], GateStats::default()),
        ],
        vec![connected(1, "p1", 1)],
    );
    journal.observe(5.0, &double, &[]);
    let alarms = journal.alarms(900.0);
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        (alarms[0].kind, alarms[0].radio.as_str()),
        ("double-holder", "p2")
    );
}

fn considered(name: &str, rssi: f64, skipped: Option<SkipReason>) -> ConsideredRadio {
    ConsideredRadio {
        radio: RadioId::new(name),
        smoothed_rssi: rssi,
        penalty_db: 0.0,
        free_slots: 2,
        skipped,
    }
}

#[test]
fn attempts_come_from_the_fleets_events_with_the_devices_own_reasons() {
    let mut journal = Journal::new([(address(1), "Kitchen".to_string())]);
    let at = Duration::from_secs;
    journal.attempt(&AttemptEvent::Queued {
        at: at(1),
        device: address(1),
        considered: vec![
            considered("p1", -60.0, None),
            considered(
                "p2",
                -80.0,
                Some(SkipReason::TooFarBelowBest { below_db: 20.0 }),
            ),
            considered("p3", -70.0, Some(SkipReason::Down)),
        ],
    });
    journal.attempt(&AttemptEvent::Started {
        at: at(1),
        device: address(1),
        radio: RadioId::new("p1"),
        attempt: 2,
    });
    journal.attempt(&AttemptEvent::Failed {
        at: at(2),
        device: address(1),
        radio: RadioId::new("p1"),
        class: ErrorKind::OutOfSlots,
        error: "no free connection slot".into(),
        next_retry_in: Some(at(4)),
    });
    let attempts = journal.attempts();
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!((attempt.outcome, attempt.class), ("failed", "out-of-slots"));
    assert_eq!((attempt.name.as_str(), attempt.attempt), ("Kitchen", 2));
    assert_eq!(attempt.radio.as_ref().map(RadioId::as_str), Some("p1"));
    assert_eq!(attempt.at_s, 2.0);
    assert_eq!(attempt.next_retry_s, Some(6.0));
    assert_eq!(attempt.error.as_deref(), Some("no free connection slot"));
    assert!(
        attempt.explanation.contains("tries another radio"),
        "{}",
        attempt.explanation
    );
    let verdicts: Vec<_> = attempt
        .considered
        .iter()
        .map(|c| c.verdict.as_str())
        .collect();
    assert_eq!(
        verdicts,
        [
            "chosen (-60 dBm, 2 free)",
            "20 dB below the best radio (-80 dBm, 2 free)",
            "down"
        ]
    );

    journal.attempt(&AttemptEvent::Connected {
        at: at(7),
        device: address(1),
        radio: RadioId::new("p2"),
        took: at(1),
    });
    let connected = &journal.attempts()[1];
    assert_eq!((connected.outcome, connected.class), ("connected", "ok"));
    assert_eq!(
        connected.considered[0].verdict, "chosen",
        "no queue event: only the radio"
    );
    let seq = journal.seq();
    journal.attempt(&AttemptEvent::Missed { count: 3 });
    assert!(journal.seq() > seq);
    assert_eq!(journal.header().attempt_events_missed, 3);
}

#[test]
fn an_update_carries_only_what_changed_since_the_given_sequence() {
    let mut journal = Journal::default();
    let held = diagnostics(
        vec![radio("p1", true, vec![address(1)], GateStats::default())],
        vec![connected(1, "p1", 1)],
    );
    journal.observe(1.0, &held, &[]);
    let first = journal.update(0);
    assert_eq!((first.leases.len(), first.devices.len()), (1, 1));
    journal.observe(2.0, &held, &[]);
    let second = journal.update(first.seq);
    assert!(second.seq > first.seq);
    assert_eq!((second.leases.len(), second.devices.len()), (0, 0));
    assert_eq!(
        second.radios.as_ref().map(Vec::len),
        None,
        "radios that did not change are not sent"
    );
    assert_eq!(first.radios.as_ref().map(Vec::len), Some(1));
}

#[test]
fn a_radio_the_watchdog_is_recovering_says_so_with_its_step() {
    use crate::backend::recovery::RecoveryStep;
    use crate::watchdog::RecoveryReport;
    let mut journal = Journal::default();
    let mut silent = radio("p1", true, vec![], GateStats::default());
    let report = |steps_this_episode| RecoveryReport {
        quiet_after_s: 90.0,
        ladder: vec![RecoveryStep::RestartDiscovery, RecoveryStep::Reconnect],
        steps_taken: 3,
        recoveries: 1,
        steps_this_episode,
        history: vec![],
    };
    silent.recovery = Some(report(2));
    journal.observe(1.0, &diagnostics(vec![silent.clone()], vec![]), &[]);
    let row = &journal.radios()[0];
    assert_eq!(row.state, "recovering");
    let words = row.recovery.clone().unwrap_or_default();
    assert!(words.starts_with("step 2 of 2 ("), "{words}");
    silent.recovery = Some(report(0));
    journal.observe(2.0, &diagnostics(vec![silent], vec![]), &[]);
    let row = &journal.radios()[0];
    assert_eq!(row.state, "scanning");
    let words = row.recovery.clone().unwrap_or_default();
    assert!(words.starts_with("3 steps, 1 recoveries"), "{words}");
}

#[test]
fn the_scan_mode_wanted_and_actual_is_what_diagnostics_report() {
    use crate::backend::{ScanMode, ScanModeReport};
    let mut journal = Journal::default();
    let mut passive_asked = radio("p1", true, vec![], GateStats::default());
    passive_asked.scan_mode = Some(ScanModeReport {
        wanted: ScanMode::Passive,
        actual: Some(ScanMode::Active),
        note: Some("no monitor manager".into()),
    });
    let silent = radio("p2", true, vec![], GateStats::default());
    journal.observe(1.0, &diagnostics(vec![passive_asked, silent], vec![]), &[]);
    let rows = journal.radios();
    assert_eq!(
        rows[0].scan_mode_words.as_deref(),
        Some("active (wanted passive: no monitor manager)")
    );
    assert_eq!(
        rows[0].scan_mode.as_ref().map(|m| (m.wanted, m.actual)),
        Some((ScanMode::Passive, Some(ScanMode::Active)))
    );
    assert_eq!(
        rows[1].scan_mode, None,
        "a radio that says nothing shows nothing"
    );
}

#[test]
fn what_the_bounded_queues_dropped_reaches_the_header_and_the_radio_rows() {
    let mut journal = Journal::default();
    let quiet = diagnostics(
        vec![radio("p1", true, vec![], GateStats::default())],
        vec![],
    );
    journal.observe(1.0, &quiet, &[]);
    assert_eq!(journal.header().losses, Losses::default());
    let mut p1 = radio("p1", true, vec![], GateStats::default());
    p1.adverts_dropped = 7;
    let mut p2 = radio("p2", true, vec![], GateStats::default());
    p2.adverts_dropped = 5;
    let mut lossy = diagnostics(vec![p1, p2], vec![]);
    lossy.notifications_dropped = 3;
    lossy.device_adverts_dropped = 2;
    lossy.watchers.lost = 11;
    lossy.feed_lost = 13;
    journal.observe(2.0, &lossy, &[]);
    assert_eq!(
        journal.header().losses,
        Losses {
            adverts_dropped: 12,
            notifications_dropped: 3,
            device_adverts_dropped: 2,
            watcher_adverts_lost: 11,
            feed_lost: 13,
        }
    );
    let dropped: Vec<u64> = journal.radios().iter().map(|r| r.adverts_dropped).collect();
    assert_eq!(dropped, [7, 5]);
}

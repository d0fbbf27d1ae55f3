//! The connect path: slot limits, busy radios, each failure class in its real words, cancel
//! safety, radios going down, proxies reporting their slots.

use std::time::Duration;

use bluefleet::backend::*;
use bluefleet::classify::classify;
use bluefleet::sim::world::*;
use bluefleet::sim::*;
use bluefleet::ErrorKind;
use futures::StreamExt;
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn a_proxy_enforces_its_slot_limit_with_error_zero() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("proxy"), 4), 1);
    let radio = &sim.radios()[0];
    let mut held = Vec::new();
    for n in 1..=3 {
        held.push(connect(radio, n).await);
    }
    let failure = radio
        .connect(request(addr(4), Duration::from_secs(20)))
        .await
        .unwrap_err();
    assert_eq!(
        (failure.source, failure.stage, failure.code),
        (FailureSource::Esphome, FailureStage::Connect, Some(0))
    );
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots);
    let stats = sim.stats();
    let proxy = stats.radio("proxy").unwrap();
    assert_eq!(
        (proxy.slots_in_use, proxy.max_slots_in_use, proxy.successes),
        (3, 3, 3)
    );
    assert_eq!(proxy.failures.out_of_slots, 1);
}

#[tokio::test(start_paused = true)]
async fn a_local_controller_refuses_beyond_its_limit_with_the_kernel_text() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0").slots(2), 3), 1);
    let radio = &sim.radios()[0];
    let first = connect(radio, 1).await;
    let _b = connect(radio, 2).await;
    let failure = radio
        .connect(request(addr(3), Duration::from_secs(20)))
        .await
        .unwrap_err();
    assert_eq!(failure.name.as_deref(), Some("org.bluez.Error.Failed"));
    assert_eq!(failure.text, "le-connection-concurrent-connection-limit");
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots);
    // It reports no slots to the fleet, but the simulation names who holds them.
    let holders = |sim: &Simulation| sim.stats().radio("hci0").unwrap().slot_holders.clone();
    assert_eq!(holders(&sim), vec![addr(1), addr(2)]);
    first.link.disconnect().await.unwrap();
    assert_eq!(holders(&sim), vec![addr(2)]);
}

#[tokio::test(start_paused = true)]
async fn a_second_concurrent_attempt_is_refused_as_busy_and_counted() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 2), 1);
    let radio = sim.radios()[0].clone();
    let first = radio.connect(request(addr(1), Duration::from_secs(20)));
    let second = radio.connect(request(addr(2), Duration::from_secs(20)));
    let (first, second) = tokio::join!(first, second);
    assert!(first.is_ok());
    let busy = second.unwrap_err();
    assert_eq!(busy.name.as_deref(), Some("org.bluez.Error.InProgress"));
    assert_eq!(busy.text, "Operation already in progress");
    let stats = sim.stats();
    let hci0 = stats.radio("hci0").unwrap();
    assert_eq!(
        (
            hci0.concurrent_rejections,
            hci0.max_concurrent_attempts,
            hci0.connect_attempts
        ),
        (1, 2, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn each_injected_class_fails_with_its_real_words_and_classifies_back() {
    for (radio_spec, words) in [
        (
            RadioSpec::local_controller("r"),
            [
                "UnknownObject",
                "Limited Resources",
                "le-connection-abort-by-local",
                "NoReply",
            ],
        ),
        (
            RadioSpec::esphome_proxy("r"),
            [
                "Timeout waiting for connect response",
                "ESP_GATT_CONN_CONN_CANCEL",
                "ESP_GATT_CONN_FAIL_ESTABLISH",
                "ESP_GATT_CONN_LMP_TIMEOUT",
            ],
        ),
    ] {
        let sim = Simulation::start(world(radio_spec, 1), 1);
        let radio = &sim.radios()[0];
        let control = sim.control();
        for (class, word) in [
            ErrorKind::NotFound,
            ErrorKind::OutOfSlots,
            ErrorKind::Aborted,
            ErrorKind::Generic,
        ]
        .into_iter()
        .zip(words)
        {
            control.fail_next_connects("r", 1, class).unwrap();
            let failure = radio
                .connect(request(addr(1), Duration::from_secs(5)))
                .await
                .unwrap_err();
            assert!(failure.to_string().contains(word), "{failure} lacks {word}");
            assert_eq!(classify(&failure).kind, class, "{failure}");
        }
        let link = connect(radio, 1).await;
        assert_eq!(link.link.address(), addr(1));
        let stats = sim.stats();
        let r = stats.radio("r").unwrap();
        assert_eq!(
            (r.failures.total(), r.failures.aborted, r.slots_in_use),
            (4, 1, 1)
        );
        assert_eq!(r.failures_by_text.len(), 4);
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_device_fails_not_found_after_the_timeout() {
    let sim = Simulation::start(world(RadioSpec::local_controller("hci0"), 1), 1);
    sim.control().set_out_of_range(addr(1), true).unwrap();
    let started = Instant::now();
    let failure = sim.radios()[0]
        .connect(request(addr(1), Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(failure.timed_out);
    assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn a_radio_going_down_ends_its_links_and_frees_its_slots() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p"), 2), 1);
    let radio = &sim.radios()[0];
    let mut events = radio.events();
    assert_eq!(events.next().await, Some(RadioEvent::Up));
    let mut a = connect(radio, 1).await;
    let mut b = connect(radio, 2).await;
    sim.control().radio_down("p").unwrap();
    assert_eq!(next_disconnect(&mut a).await, DisconnectCause::RadioDown);
    assert_eq!(next_disconnect(&mut b).await, DisconnectCause::RadioDown);
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
    let mut saw_down = false;
    while let Some(event) = events.next().await {
        if matches!(event, RadioEvent::Down { .. }) {
            saw_down = true;
            break;
        }
    }
    assert!(saw_down);
    assert!(radio
        .connect(request(addr(1), Duration::from_secs(20)))
        .await
        .is_err());
    sim.control().radio_up("p").unwrap();
    let mut report = None;
    while let Some(event) = events.next().await {
        if let RadioEvent::SlotsReported(r) = event {
            report = Some(r);
            break;
        }
    }
    assert_eq!(report.map(|r| (r.free, r.limit)), Some((3, 3)));
    assert!(radio
        .connect(request(addr(1), Duration::from_secs(20)))
        .await
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connect_future_does_not_leak_the_slot() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p").slots(1), 1), 1);
    let radio = &sim.radios()[0];
    let attempt = radio.connect(request(addr(1), Duration::from_secs(20)));
    assert!(tokio::time::timeout(Duration::from_millis(50), attempt)
        .await
        .is_err());
    assert_eq!(sim.stats().radios[0].slots_in_use, 0);
    let _link = connect(radio, 1).await;
    assert_eq!(sim.stats().radios[0].concurrent_rejections, 0);
}

#[tokio::test(start_paused = true)]
async fn a_proxy_reports_its_slots_whenever_they_change() {
    let sim = Simulation::start(world(RadioSpec::esphome_proxy("p"), 1), 1);
    let radio = &sim.radios()[0];
    let mut events = radio.events();
    let mut reports = Vec::new();
    let connection = connect(radio, 1).await;
    connection.link.disconnect().await.unwrap();
    while reports.len() < 3 {
        if let Some(RadioEvent::SlotsReported(report)) = events.next().await {
            reports.push((report.free, report.allocated));
        }
    }
    assert_eq!(reports, vec![(3, vec![]), (2, vec![addr(1)]), (3, vec![])]);
}

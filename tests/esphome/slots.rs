//! Connection slots: the proxy's reports, exhaustion, and slots given back.

use super::*;

#[tokio::test]
async fn the_fourth_device_on_a_three_slot_proxy_is_out_of_slots() {
    let fake = FakeProxy::start(json!({ "slots": 3 })).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut events = up(&radio).await;
    let mut links = Vec::new();
    for n in 1..=3 {
        links.push(radio.connect(request(sensor(n), None)).await.unwrap());
    }
    let report = slot_report(&mut events, 0).await;
    assert_eq!(report.limit, 3);
    let failure = radio.connect(request(sensor(4), None)).await.unwrap_err();
    assert_eq!(failure.code, Some(0), "{failure}");
    assert_eq!(classify(&failure).kind, ErrorKind::OutOfSlots, "{failure}");
    drop(links.pop());
    let report = slot_report(&mut events, 1).await;
    assert_eq!(
        report.allocated.len(),
        2,
        "a dropped link gives its slot back"
    );
    assert!(radio.connect(request(sensor(4), None)).await.is_ok());
}

#[tokio::test]
async fn slot_reports_always_match_the_proxys_own_accounting() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut events = up(&radio).await;
    slot_report(&mut events, 3).await;
    let a = radio.connect(request(sensor(1), None)).await.unwrap();
    let report = slot_report(&mut events, 2).await;
    assert_eq!(report.allocated, vec![sensor(1)]);
    let b = radio.connect(request(sensor(2), None)).await.unwrap();
    let report = slot_report(&mut events, 1).await;
    assert_eq!(report.allocated.len() + report.free, report.limit);
    a.link.disconnect().await.unwrap();
    let report = slot_report(&mut events, 2).await;
    assert_eq!(
        report.allocated,
        vec![sensor(2)],
        "one disconnect, counted once"
    );

    assert_eq!(fake.command("slots 5").await, "OK");
    let report = next_event(
        &mut events,
        "limit 5",
        |e| matches!(e, RadioEvent::SlotsReported(r) if r.limit == 5),
    )
    .await;
    assert_eq!(
        report,
        RadioEvent::SlotsReported(SlotReport {
            free: 4,
            limit: 5,
            allocated: vec![sensor(2)]
        })
    );
    assert_eq!(radio.info().slot_limit, 5);
    drop(b);
}

#[tokio::test]
async fn a_connect_that_times_out_or_is_cancelled_gives_its_slot_back() {
    let scenario = json!({ "devices": [
        { "address": "A4:C1:38:00:00:03", "address_type": 0, "name": "silent", "never_answer": true },
    ]});
    let fake = FakeProxy::start(scenario).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut events = up(&radio).await;
    slot_report(&mut events, 3).await;
    let mut silent = request(sensor(3), None);
    silent.timeout = Duration::from_millis(300);
    let failure = radio.connect(silent.clone()).await.unwrap_err();
    assert!(failure.timed_out, "{failure}");
    assert_eq!(classify(&failure).kind, ErrorKind::NotFound);
    let report = slot_report(&mut events, 3).await;
    assert!(
        report.allocated.is_empty(),
        "the abandoned attempt was released"
    );

    // Dropping the connect future (a cancelled attempt) releases the slot the same way.
    silent.timeout = WAIT;
    assert!(timeout(Duration::from_millis(200), radio.connect(silent))
        .await
        .is_err());
    slot_report(&mut events, 2).await;
    let report = slot_report(&mut events, 3).await;
    assert!(
        report.allocated.is_empty(),
        "the cancelled attempt was released"
    );
}

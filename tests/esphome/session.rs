//! The session with a proxy: plaintext and Noise, adverts, restarts, hostile bytes.

use super::*;

#[tokio::test]
async fn a_plaintext_proxy_comes_up_reports_slots_and_streams_adverts() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    assert_eq!(radio.info().kind, RadioKind::EsphomeProxy);
    assert_eq!(radio.info().slot_limit, 3);
    let mut events = radio.events();
    assert_eq!(
        timeout(WAIT, events.next()).await.unwrap(),
        Some(RadioEvent::Up),
        "the stream starts with the first contact's outcome, no placeholder Down"
    );
    let report = slot_report(&mut events, 3).await;
    assert_eq!((report.limit, report.allocated.len()), (3, 0));
    let event = next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    let RadioEvent::Adverts(batch) = event else {
        unreachable!()
    };
    let advert = batch
        .iter()
        .find(|a| a.address == sensor(1))
        .expect("sensor 1 advertises");
    assert_eq!(advert.local_name(), Some("fake-sensor-1"));
    assert_eq!(advert.radio, radio.id());
    assert!(
        (-70..=-50).contains(&advert.rssi_dbm),
        "{}",
        advert.rssi_dbm
    );
    let beacon = batch
        .iter()
        .find(|a| a.address == Address::new([0xA4, 0xC1, 0x38, 0, 0, 0x0F]))
        .unwrap();
    assert_eq!(beacon.address_kind, AddressKind::Random);
    assert!(beacon.data.manufacturer_data.contains_key(&0x004C));
}

#[tokio::test]
async fn a_noise_proxy_works_with_its_key_and_a_wrong_key_is_a_clear_error() {
    let fake = FakeProxy::start(json!({ "noise_psk": KEY })).await;
    let radio = EsphomeRadio::new(fake.config().with_key(KEY).unwrap());
    let mut events = up(&radio).await;
    next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;

    let wrong = EsphomeRadio::new(fake.config().with_key(WRONG_KEY).unwrap());
    let mut events = wrong.events();
    let event = next_event(
        &mut events,
        "Down with the reason",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("encryption key")),
    )
    .await;
    assert!(
        format!("{event:?}").contains("invalid encryption key"),
        "{event:?}"
    );
    let plaintext = EsphomeRadio::new(fake.config());
    let mut events = plaintext.events();
    next_event(
        &mut events,
        "Down: needs a key",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("requires encryption")),
    )
    .await;
    // The right-key radio is untouched by the others' failures.
    assert!(radio.connect(request(sensor(1), None)).await.is_ok());
}

#[tokio::test]
async fn a_noise_client_against_a_plaintext_proxy_is_told_to_remove_the_key() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config().with_key(KEY).unwrap());
    let mut events = radio.events();
    next_event(
        &mut events,
        "Down: plaintext",
        |e| matches!(e, RadioEvent::Down { reason } if reason.contains("speaks plaintext")),
    )
    .await;
}

#[tokio::test]
async fn a_proxy_restart_ends_every_link_then_the_radio_comes_back_up() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut radio_events = up(&radio).await;
    let mut first = radio.connect(request(sensor(1), None)).await.unwrap();
    let mut second = radio.connect(request(sensor(2), None)).await.unwrap();
    slot_report(&mut radio_events, 1).await;

    assert_eq!(fake.command("close").await, "OK");
    assert_eq!(
        disconnected(&mut first.events).await,
        DisconnectCause::RadioDown
    );
    assert_eq!(
        disconnected(&mut second.events).await,
        DisconnectCause::RadioDown
    );
    next_event(&mut radio_events, "Down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    next_event(&mut radio_events, "Up again", |e| {
        matches!(e, RadioEvent::Up)
    })
    .await;
    let report = slot_report(&mut radio_events, 3).await;
    assert!(
        report.allocated.is_empty(),
        "the proxy freed every slot when the session ended"
    );
    assert!(first.link.read(0x03).await.is_err(), "old links stay ended");
    let again = radio.connect(request(sensor(1), None)).await.unwrap();
    assert_eq!(&again.link.read(0x03).await.unwrap()[..], b"fake-sensor-1");
}

#[tokio::test]
async fn hostile_bytes_close_only_that_proxys_connection() {
    let mut hostile = FakeProxy::start(json!({})).await;
    let healthy = FakeProxy::start(json!({})).await;
    let bad_radio = EsphomeRadio::new(hostile.config());
    let good_radio = EsphomeRadio::new(healthy.config());
    let mut bad_events = up(&bad_radio).await;
    let mut good_events = up(&good_radio).await;
    let good_link = good_radio.connect(request(sensor(1), None)).await.unwrap();

    for (bytes, words) in [
        ("02ff00", "preamble"),
        ("00808004", "limit"),
        ("00ffffffff01", "varint"),
        ("0003450a0501", "does not decode"),
    ] {
        assert_eq!(hostile.command(&format!("raw {bytes}")).await, "OK");
        let event = next_event(&mut bad_events, "Down", |e| {
            matches!(e, RadioEvent::Down { .. })
        })
        .await;
        assert!(format!("{event:?}").contains(words), "{bytes}: {event:?}");
        next_event(&mut bad_events, "Up after reconnecting", |e| {
            matches!(e, RadioEvent::Up)
        })
        .await;
    }
    assert_eq!(hostile.command("raw 000d4508 close").await, "OK");
    let event = next_event(&mut bad_events, "Down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    assert!(format!("{event:?}").contains("truncated"), "{event:?}");

    next_event(&mut good_events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    assert_eq!(
        &good_link.link.read(0x03).await.unwrap()[..],
        b"fake-sensor-1"
    );
    let mut quiet =
        good_events.filter(|e| futures::future::ready(matches!(e, RadioEvent::Down { .. })));
    assert!(
        timeout(Duration::from_millis(200), quiet.next())
            .await
            .is_err(),
        "the healthy proxy never went down"
    );
}

#[tokio::test]
async fn dropping_the_radio_says_goodbye_and_ends_its_links() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let mut connection = radio.connect(request(sensor(1), None)).await.unwrap();
    drop(radio);
    assert_eq!(
        disconnected(&mut connection.events).await,
        DisconnectCause::RadioDown
    );
    fake_count_reaches(&mut fake, "DisconnectRequest", 1).await;
    assert!(connection.link.read(0x03).await.is_err());
}

#[tokio::test]
async fn the_proxys_pings_are_answered_so_it_keeps_the_session() {
    let mut fake = FakeProxy::start(json!({ "server_ping_s": 0.3 })).await;
    let radio = EsphomeRadio::new(fake.config());
    let events = up(&radio).await;
    // The fake drops a client that stays silent for 2.5 pings (0.75 s); wait well beyond that.
    let mut downs = events.filter(|e| futures::future::ready(matches!(e, RadioEvent::Down { .. })));
    assert!(
        timeout(Duration::from_secs(2), downs.next()).await.is_err(),
        "the session stayed up"
    );
    assert!(fake.count("PingResponse").await >= 2, "pings were answered");
}

/// Answers hello and device info, then reads and never writes again.
async fn silent_proxy() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut reply = encode_frame(2, &[]);
        reply.extend(encode_frame(10, &[0x78, 0xff, 0x01])); // feature flags 255
        socket.write_all(&reply).await.unwrap();
        let mut sink = [0u8; 256];
        while socket.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    port
}

#[tokio::test]
async fn a_proxy_that_stops_answering_is_declared_down_by_the_keepalive() {
    let mut config = EsphomeConfig::new("127.0.0.1", silent_proxy().await);
    config.keepalive = Duration::from_millis(50);
    config.reconnect_min = Duration::from_secs(60);
    let radio = EsphomeRadio::new(config);
    let mut events = up(&radio).await;
    let event = next_event(&mut events, "Down", |e| {
        matches!(e, RadioEvent::Down { .. })
    })
    .await;
    assert!(
        format!("{event:?}").contains("no answer to keepalive pings"),
        "{event:?}"
    );
}

#[tokio::test]
async fn a_legacy_password_is_sent_and_a_wrong_one_is_reported() {
    let fake = FakeProxy::start(json!({ "password": "secret" })).await;
    let radio = EsphomeRadio::new(fake.config().with_password("secret"));
    let mut events = up(&radio).await;
    next_event(&mut events, "adverts", |e| {
        matches!(e, RadioEvent::Adverts(_))
    })
    .await;
    let wrong = EsphomeRadio::new(fake.config().with_password("guess"));
    let mut events = wrong.events();
    next_event(&mut events, "Down: password", |e| {
        matches!(e, RadioEvent::Down { reason } if reason.contains("rejected the API password"))
    })
    .await;
}

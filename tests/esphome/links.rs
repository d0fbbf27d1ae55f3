//! Connections through a proxy: GATT operations, notifications, drops, the remote cache, errors.

use super::*;

#[tokio::test]
async fn connect_discover_read_write_and_notify_through_the_proxy() {
    let fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    assert_eq!((link.address(), link.mtu()), (sensor(1), 247));
    let table = link.services().await.unwrap();
    assert_eq!(table.services.len(), 4);
    let battery = table.characteristic_by_handle(0x12).unwrap();
    assert_eq!(battery.descriptors[0].handle, 0x13);
    assert_eq!(&link.read(0x03).await.unwrap()[..], b"fake-sensor-1");

    link.set_notify(0x22, true).await.unwrap();
    assert_eq!(
        &link.read_descriptor(0x23).await.unwrap()[..],
        &[1, 0],
        "the CCCD was written"
    );
    link.write(0x25, Bytes::from_static(b"hello"), WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"hello");
    link.write(
        0x25,
        Bytes::from_static(b"quiet"),
        WriteMode::WithoutResponse,
    )
    .await
    .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"quiet");

    link.set_notify(0x32, true).await.unwrap();
    assert_eq!(
        &link.read_descriptor(0x33).await.unwrap()[..],
        &[2, 0],
        "indicate-only gets 02 00"
    );
    let first = notification(&mut events, 0x32).await;
    let second = notification(&mut events, 0x32).await;
    assert_ne!(first, second, "the temperature keeps changing");

    link.disconnect().await.unwrap();
    assert_eq!(disconnected(&mut events).await, DisconnectCause::Requested);
}

#[tokio::test]
async fn a_dropped_link_ends_once_frees_its_slot_and_can_be_resubscribed() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let mut radio_events = up(&radio).await;
    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    link.set_notify(0x12, true).await.unwrap();
    notification(&mut events, 0x12).await;
    slot_report(&mut radio_events, 2).await;

    assert_eq!(fake.command("drop A4:C1:38:00:00:01 0x08").await, "OK");
    assert_eq!(disconnected(&mut events).await, DisconnectCause::LinkLost);
    slot_report(&mut radio_events, 3).await;
    let err = link.read(0x12).await.unwrap_err();
    assert!(err.text.contains("already ended"), "{err}");

    let Connection { link, mut events } = radio.connect(request(sensor(1), None)).await.unwrap();
    link.set_notify(0x12, true).await.unwrap();
    notification(&mut events, 0x12).await;
}

#[tokio::test]
async fn a_cached_reconnect_skips_discovery_and_still_enables_notifications() {
    let mut fake = FakeProxy::start(json!({})).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let first = radio.connect(request(sensor(1), None)).await.unwrap();
    let table = first.link.services().await.unwrap();
    first.link.disconnect().await.unwrap();

    let Connection { link, mut events } = radio
        .connect(request(sensor(1), Some(table.clone())))
        .await
        .unwrap();
    assert_eq!(link.services().await.unwrap(), table);
    link.set_notify(0x22, true).await.unwrap();
    link.write(0x25, Bytes::from_static(b"cached"), WriteMode::WithResponse)
        .await
        .unwrap();
    assert_eq!(&notification(&mut events, 0x22).await[..], b"cached");
    assert_eq!(
        fake.count("BluetoothGATTGetServicesRequest").await,
        1,
        "only the first connection discovered"
    );
    assert_eq!(
        fake.count("BluetoothDeviceRequest/4").await,
        1,
        "the second used v3 with cache"
    );
    assert_eq!(fake.count("BluetoothDeviceRequest/5").await, 1);
    radio.clear_cache(sensor(1)).await.unwrap();
    assert_eq!(
        fake.count("BluetoothDeviceRequest/6").await,
        1,
        "the proxy was told to forget"
    );
}

#[tokio::test]
async fn esp_idf_errors_keep_their_names_and_classes() {
    let scenario = json!({ "devices": [
        { "address": "A4:C1:38:00:00:02", "address_type": 0, "name": "refuses", "connect_error": 62 },
        { "address": "A4:C1:38:00:00:05", "address_type": 0, "name": "grumpy", "gatt_errors": { "0x0012": 5 } },
    ]});
    let fake = FakeProxy::start(scenario).await;
    let radio = EsphomeRadio::new(fake.config());
    let _events = up(&radio).await;
    let failure = radio.connect(request(sensor(2), None)).await.unwrap_err();
    assert_eq!(
        failure.name.as_deref(),
        Some("ESP_GATT_CONN_FAIL_ESTABLISH")
    );
    assert_eq!(classify(&failure).kind, ErrorKind::Aborted);
    let grumpy = radio.connect(request(sensor(5), None)).await.unwrap();
    let failure = grumpy.link.read(0x12).await.unwrap_err();
    assert_eq!((failure.code, failure.att_status), (Some(5), Some(5)));
    assert_eq!(
        failure.name.as_deref(),
        Some("ESP_GATT_INSUF_AUTHENTICATION")
    );
}

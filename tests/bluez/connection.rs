//! Open connections: services, reads, writes, notifications, and how links end.

use std::time::Duration;

use bluefleet::backend::bluez::{BluezConfig, BluezRadio};
use bluefleet::backend::{Connection, DisconnectCause, LinkEvent, Radio, WriteMode};
use bluefleet::model::{uuid_from_u16, CharProps};
use bytes::Bytes;
use futures::StreamExt;

use crate::bed::{thermometer, within, MockBluez};
use crate::discovery::connect_outside_bluefleet;
use crate::{connected, request, THERMO};

async fn disconnected(connection: &mut Connection) -> DisconnectCause {
    within(
        &mut connection.events,
        "Disconnected",
        |event| match event {
            LinkEvent::Disconnected { cause, .. } => Some(cause),
            _ => None,
        },
    )
    .await
}

#[tokio::test]
async fn connect_discovers_services_then_reads_writes_and_notifies() {
    let (_bed, mock, thermo, mut connection) = connected().await;
    let link = &connection.link;
    assert_eq!(link.address().to_string(), THERMO);
    assert_eq!(link.mtu(), 247);
    let table = link.services().await.unwrap();
    assert_eq!(table.services.len(), 1);
    let service = &table.services[0];
    assert_eq!(
        (service.uuid, service.handle),
        (uuid_from_u16(0x181A), 0x10)
    );
    let handles: Vec<u16> = service.characteristics.iter().map(|c| c.handle).collect();
    assert_eq!(handles, [0x11, 0x13]);
    let temperature = &service.characteristics[0];
    let expected =
        CharProps::READ | CharProps::WRITE | CharProps::WRITE_WITHOUT_RESPONSE | CharProps::NOTIFY;
    assert_eq!(temperature.properties, expected);
    assert_eq!(temperature.descriptors[0].handle, 0x12);

    link.write(
        0x11,
        Bytes::from_static(&[0x2a, 0x09]),
        WriteMode::WithResponse,
    )
    .await
    .unwrap();
    assert_eq!(
        mock.get_last_write_type(&thermo.temperature).await.unwrap(),
        "request"
    );
    assert_eq!(
        link.read(0x11).await.unwrap(),
        Bytes::from_static(&[0x2a, 0x09])
    );
    link.write(
        0x11,
        Bytes::from_static(&[0x01]),
        WriteMode::WithoutResponse,
    )
    .await
    .unwrap();
    assert_eq!(
        mock.get_last_write_type(&thermo.temperature).await.unwrap(),
        "command"
    );
    assert_eq!(link.read_descriptor(0x12).await.unwrap(), Bytes::new());
    assert!(link
        .read(0x99)
        .await
        .unwrap_err()
        .text
        .contains("no characteristic with handle 0x0099"));

    // A value change before notifications are on is not a notification.
    mock.notify(&thermo.temperature, &[0xEE]).await.unwrap();
    link.set_notify(0x11, true).await.unwrap();
    mock.notify(&thermo.temperature, &[1, 2]).await.unwrap();
    mock.notify(&thermo.temperature, &[3]).await.unwrap();
    mock.notify(&thermo.battery, &[77]).await.unwrap();
    let mut values = Vec::new();
    while values.len() < 2 {
        let event = within(&mut connection.events, "a notification", Some).await;
        match event {
            LinkEvent::Notification { handle, value } => values.push((handle, value.to_vec())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(values, [(0x11, vec![1, 2]), (0x11, vec![3])]);

    connection.link.set_notify(0x11, false).await.unwrap();
    mock.notify(&thermo.temperature, &[4]).await.unwrap();
    connection.link.disconnect().await.unwrap();
    // The next event is the end: the value sent after StopNotify was not delivered.
    let end = within(&mut connection.events, "the end", Some).await;
    assert!(
        matches!(
            end,
            LinkEvent::Disconnected {
                cause: DisconnectCause::Requested,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(
        connection.events.next().await.is_none(),
        "Disconnected is the last event"
    );
    assert_eq!(
        mock.get_max_connects_in_flight("/org/bluez/hci0")
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_link_drop_ends_the_stream_with_link_lost() {
    let (_bed, mock, thermo, mut connection) = connected().await;
    connection.link.set_notify(0x11, true).await.unwrap();
    mock.drop_connection(&thermo.device).await.unwrap();
    assert_eq!(
        disconnected(&mut connection).await,
        DisconnectCause::LinkLost
    );
    assert!(connection.events.next().await.is_none());
    // The link is gone; asking to disconnect again is harmless.
    connection.link.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_dropped_link_gives_its_connection_back() {
    let (bed, _mock, thermo, connection) = connected().await;
    let conn = bed.connection().await;
    let props = zbus::fdo::PropertiesProxy::builder(&conn)
        .destination("org.bluez")
        .path(thermo.device.as_str())
        .build()
        .await
        .unwrap();
    let mut changes = props.receive_properties_changed().await.unwrap();
    drop(connection);
    within(&mut changes, "Connected=false", |signal| {
        let args = signal.args().ok()?;
        let connected = args.changed_properties().get("Connected")?;
        (!bool::try_from(connected).ok()?).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_device_left_connected_is_disconnected_before_connecting() {
    let bed = MockBluez::start().await;
    let mock = bed.control().await;
    mock.add_adapter("hci0", "hub").await.unwrap();
    let thermo = thermometer(&mock, "hci0", THERMO).await;
    connect_outside_bluefleet(&bed, &thermo.device).await;
    let leave_them = BluezConfig {
        close_stale_connections: false,
        ..BluezConfig::default()
    };
    let radio = BluezRadio::open(bed.connection().await, "hci0", &leave_them)
        .await
        .unwrap();
    // The mock answers a Connect to a connected device with AlreadyConnected.
    let mut connection = radio
        .connect(request(THERMO, Duration::from_secs(5)))
        .await
        .unwrap();
    assert_eq!(connection.link.read(0x13).await.unwrap(), Bytes::new());
    connection.link.disconnect().await.unwrap();
    assert_eq!(
        disconnected(&mut connection).await,
        DisconnectCause::Requested
    );
}

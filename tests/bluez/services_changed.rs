//! Service Changed through BlueZ: BlueZ handles the indication itself and shows the result as
//! GATT objects of the connected device removed and added; the link reports that as one
//! `ServicesChanged`, and the fleet rediscovers, recaches and resubscribes (issue 13).

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::bluez::BluezConfig;
use bluefleet::backend::{LinkEvent, Radio};
use bluefleet::cache::ServiceCache;
use bluefleet::fleet::{block_on_real_time, SubscriptionEvent};
use bluefleet::model::{parse_uuid, Address};
use bluefleet::Fleet;

use crate::bed::{expect_reconnect, next, thermometer, within, MockBluez, TEMPERATURE};
use crate::{connected, radios, THERMO};

#[tokio::test]
async fn objects_replaced_under_a_connected_device_are_one_services_changed() {
    let (_bed, mock, thermo, mut connection) = connected().await;
    // Four objects go and four come: one report, once the burst is over.
    let service = format!("{}/service0010", thermo.device);
    mock.shift_gatt_service(&service, 0x20).await.unwrap();
    let first = within(&mut connection.events, "ServicesChanged", Some).await;
    assert_eq!(first, LinkEvent::ServicesChanged);
    connection.link.disconnect().await.unwrap();
    let next = within(&mut connection.events, "the end", Some).await;
    assert!(
        matches!(next, LinkEvent::Disconnected { .. }),
        "one report per change, then the end: {next:?}"
    );
}

#[test]
fn the_fleet_rediscovers_recaches_and_resubscribes_after_a_change() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        mock.add_adapter("hci0", "hub").await.unwrap();
        let thermo = thermometer(&mock, "hci0", THERMO).await;
        let dir = tempfile::tempdir().unwrap();
        let radios = radios(&bed, &BluezConfig::default()).await;
        let fleet = Fleet::builder()
            .radios(radios.into_iter().map(|r| Arc::new(r) as Arc<dyn Radio>))
            .connect_timeout(Duration::from_secs(5))
            .cache_dir(dir.path())
            .build()
            .unwrap();
        let address = Address::parse(THERMO).unwrap();
        let temperature = parse_uuid(TEMPERATURE).unwrap();
        let cached_handle = || {
            let table = ServiceCache::persistent(dir.path())
                .unwrap()
                .get(&address)?;
            table
                .find_characteristic(None, &temperature)
                .map(|c| c.handle)
        };
        let device = fleet.device(address).await.unwrap();
        let mut subscription = device.subscribe(temperature).await.unwrap();
        // An intent: `Waiting` until the device is connected, then notify is on.
        assert_eq!(next(&mut subscription).await, SubscriptionEvent::Waiting);
        assert_eq!(
            next(&mut subscription).await,
            SubscriptionEvent::Reconnected
        );
        assert_eq!(cached_handle(), Some(0x11));

        let service = mock
            .shift_gatt_service(&format!("{}/service0010", thermo.device), 0x20)
            .await
            .unwrap();
        expect_reconnect(&mut subscription).await;
        assert_eq!(cached_handle(), Some(0x21));
        // Notify is on at the new object: its values arrive.
        mock.notify(&format!("{service}/char0021"), &[7])
            .await
            .unwrap();
        assert_eq!(
            next(&mut subscription).await,
            SubscriptionEvent::Notification(vec![7].into())
        );
        let table = device.services().await.unwrap();
        assert_eq!(
            table
                .find_characteristic(None, &temperature)
                .map(|c| c.handle),
            Some(0x21)
        );
        fleet.shutdown().await.unwrap();
    });
}

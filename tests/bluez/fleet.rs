//! The BlueZ backend under the public `Fleet` API: what a hub sees.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::bluez::BluezConfig;
use bluefleet::backend::{Radio, WriteMode};
use bluefleet::fleet::block_on_real_time;
use bluefleet::fleet::SubscriptionEvent;
use bluefleet::model::{parse_uuid, Address};
use bluefleet::Fleet;

use crate::bed::{expect_reconnect, next, thermometer, MockBluez, TEMPERATURE};
use crate::radios;

pub async fn fleet_over(bed: &MockBluez) -> Fleet {
    let radios = radios(bed, &BluezConfig::default()).await;
    Fleet::builder()
        .radios(radios.into_iter().map(|r| Arc::new(r) as Arc<dyn Radio>))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn a_subscription_through_the_fleet_survives_a_link_drop() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        mock.add_adapter("hci0", "hub").await.unwrap();
        mock.add_adapter("hci1", "hub-2").await.unwrap();
        let thermo = thermometer(&mock, "hci0", "D4:00:00:00:00:01").await;
        let fleet = fleet_over(&bed).await;
        let device = fleet
            .device(Address::parse("D4:00:00:00:00:01").unwrap())
            .await
            .unwrap();
        let temperature = parse_uuid(TEMPERATURE).unwrap();

        device
            .write(temperature, vec![0x2a, 0x09], WriteMode::WithResponse)
            .await
            .unwrap();
        assert_eq!(
            device.read(temperature).await.unwrap().as_ref(),
            [0x2a, 0x09]
        );
        assert_eq!(device.mtu().await.unwrap(), 247);
        device.keep_connected(true).await.unwrap();
        let mut subscription = device.subscribe(temperature).await.unwrap();
        // An intent: values flow once it says notify is on.
        assert_eq!(
            next(&mut subscription).await,
            SubscriptionEvent::Reconnected
        );
        mock.notify(&thermo.temperature, &[1]).await.unwrap();
        assert_eq!(
            next(&mut subscription).await,
            SubscriptionEvent::Notification(vec![1].into())
        );

        mock.drop_connection(&thermo.device).await.unwrap();
        expect_reconnect(&mut subscription).await;
        mock.notify(&thermo.temperature, &[2]).await.unwrap();
        assert_eq!(
            next(&mut subscription).await,
            SubscriptionEvent::Notification(vec![2].into())
        );
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn devices_connecting_at_once_reach_bluez_one_attempt_at_a_time() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        mock.add_adapter("hci0", "hub").await.unwrap();
        let mut addresses = Vec::new();
        for n in 1..=4 {
            let address = format!("D4:00:00:00:00:0{n}");
            let thermo = thermometer(&mock, "hci0", &address).await;
            mock.set_connect_delay(&thermo.device, 150).await.unwrap();
            addresses.push(Address::parse(&address).unwrap());
        }
        let fleet = fleet_over(&bed).await;
        let mut devices = Vec::new();
        for address in addresses {
            devices.push(fleet.device(address).await.unwrap());
        }
        let connects = devices.iter().map(|device| device.connect());
        for result in futures::future::join_all(connects).await {
            result.unwrap();
        }
        assert_eq!(
            mock.get_max_connects_in_flight("/org/bluez/hci0")
                .await
                .unwrap(),
            1
        );
        fleet.shutdown().await.unwrap();
    });
}

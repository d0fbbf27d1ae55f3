//! Scan modes against the BlueZ double: passive only through an advertisement monitor BlueZ
//! accepted (ours is exported on the bus, well-formed, and registered; no discovery session is
//! started), and where the double has no AdvertisementMonitorManager1, active discovery with
//! the reason said, never "passive".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::bluez::{BluezConfig, BluezRadio};
use bluefleet::backend::{Radio, ScanMode, ScanModeReport};
use bluefleet::fleet::block_on_real_time;
use bluefleet::Fleet;
use zbus::OwnedVariant;

use crate::bed::MockBluez;

async fn mode_until(
    fleet: &Fleet,
    what: &str,
    done: impl Fn(&ScanModeReport) -> bool,
) -> ScanModeReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let diagnostics = fleet.diagnostics().await.unwrap();
        let report = diagnostics.radios[0]
            .scan_mode
            .clone()
            .expect("bluez reports its mode");
        if done(&report) {
            return report;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {report:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fleet over hci0 (reached through `conn`), asked to scan passively.
async fn passive_fleet(conn: zbus::Connection) -> Fleet {
    let radio = BluezRadio::open(conn, "hci0", &BluezConfig::default())
        .await
        .unwrap();
    radio.set_scan_mode(ScanMode::Passive).unwrap();
    Fleet::builder()
        .radio(Arc::new(radio) as Arc<dyn Radio>)
        .build()
        .unwrap()
}

async fn discovering(bed: &MockBluez, adapter: &str) -> bool {
    let conn = bed.connection().await;
    let props = zbus::fdo::PropertiesProxy::builder(&conn)
        .destination("org.bluez")
        .path(adapter.to_string())
        .build()
        .await
        .unwrap();
    let value: OwnedVariant = props
        .get("org.bluez.Adapter1".try_into().unwrap(), "Discovering")
        .await
        .unwrap();
    bool::try_from(value).unwrap()
}

#[test]
fn passive_runs_through_a_registered_monitor_and_no_discovery() {
    block_on_real_time(async {
        let bed = MockBluez::start().await;
        let mock = bed.control().await;
        let adapter = mock.add_adapter("hci0", "hub").await.unwrap();
        let device = mock
            .add_le_device("hci0", "D4:00:00:00:00:09", "Thermo", -60)
            .await
            .unwrap();
        let conn = bed.connection().await;
        let fleet = passive_fleet(conn.clone()).await;
        let report = mode_until(&fleet, "passive", |r| r.actual == Some(ScanMode::Passive)).await;
        assert_eq!(
            (report.wanted, report.note.as_deref()),
            (ScanMode::Passive, None)
        );

        let root = "/org/bluefleet/monitor/hci0";
        assert_eq!(mock.get_monitors(&adapter).await.unwrap(), [root]);
        assert!(
            !discovering(&bed, &adapter).await,
            "passive must not start (active) discovery"
        );
        // BlueZ finds the monitors through our ObjectManager: check what it would read.
        let other = bed.connection().await;
        let manager = zbus::fdo::ObjectManagerProxy::builder(&other)
            .destination(conn.unique_name().unwrap().to_owned())
            .path(root)
            .build()
            .await
            .unwrap();
        let objects = manager.get_managed_objects().await.unwrap();
        let monitor = objects
            .iter()
            .find(|(path, _)| path.as_str() == format!("{root}/all"))
            .map(|(_, interfaces)| interfaces)
            .expect("the monitor object under the root");
        let props = monitor
            .iter()
            .find(|(name, _)| name.as_str() == "org.bluez.AdvertisementMonitor1")
            .map(|(_, props)| props)
            .expect("AdvertisementMonitor1");
        let kind = props.get("Type").unwrap().try_clone().unwrap();
        assert_eq!(String::try_from(kind).unwrap(), "or_patterns");
        let patterns = props.get("Patterns").unwrap().try_clone().unwrap();
        let patterns: Vec<(u8, u8, Vec<u8>)> = patterns.try_into().unwrap();
        assert!(patterns.contains(&(0, 0x01, vec![0x06])), "{patterns:?}");

        // Devices BlueZ reports still become adverts.
        let mut adverts = fleet.adverts();
        mock.advertise(&device, -61, HashMap::from([(0x0499, vec![2])]))
            .await
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(10),
            futures::StreamExt::next(&mut adverts),
        )
        .await
        .expect("an advert in passive mode");
        fleet.shutdown().await.unwrap();
    });
}

#[test]
fn without_a_monitor_manager_passive_is_reported_unavailable_and_discovery_runs() {
    block_on_real_time(async {
        let bed = MockBluez::start_with(r#"{"enable_monitor_api": false}"#).await;
        let mock = bed.control().await;
        let adapter = mock.add_adapter("hci0", "hub").await.unwrap();
        let fleet = passive_fleet(bed.connection().await).await;
        let report = mode_until(&fleet, "a mode", |r| r.actual.is_some()).await;
        assert_eq!(report.actual, Some(ScanMode::Active), "{report:?}");
        let words = report.in_words();
        assert!(
            words.starts_with("active (wanted passive: passive not available: BlueZ offers no AdvertisementMonitorManager1"),
            "{words}"
        );
        assert!(
            discovering(&bed, &adapter).await,
            "active discovery runs instead"
        );
        fleet.shutdown().await.unwrap();
    });
}

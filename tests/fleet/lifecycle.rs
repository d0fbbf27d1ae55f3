//! Ending things (issue 13 bug 4 and lifecycle): `Fleet::shutdown` stops every actor and drops
//! every radio stream, `Device::release` stops managing a device, `Fleet::remove_radio` forgets
//! a radio.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bluefleet::backend::{ConnectRequest, Connection, Radio, RadioEvent, RadioInfo};
use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::{RadioSpec, Simulation};
use bluefleet::{Failure, Fleet, RadioId};
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::support::*;

/// A radio that counts how many of its event streams were dropped.
#[derive(Debug)]
struct CountedRadio {
    inner: Arc<dyn Radio>,
    streams_dropped: Arc<AtomicUsize>,
}

/// Sets the count when the stream it travels with is dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Radio for CountedRadio {
    fn id(&self) -> RadioId {
        self.inner.id()
    }

    fn info(&self) -> RadioInfo {
        self.inner.info()
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let guard = DropCount(Arc::clone(&self.streams_dropped));
        self.inner
            .events()
            .map(move |event| {
                let _ = &guard; // lives as long as the stream
                event
            })
            .boxed()
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        self.inner.connect(request).await
    }
}

/// A fleet over the simulation's radios, each counting its dropped streams.
fn counted_fleet(simulation: &Simulation, seed: u64) -> (Fleet, Arc<AtomicUsize>) {
    let dropped = Arc::new(AtomicUsize::new(0));
    let radios = simulation.radios().into_iter().map(|inner| {
        Arc::new(CountedRadio {
            inner,
            streams_dropped: Arc::clone(&dropped),
        }) as Arc<dyn Radio>
    });
    let fleet = Fleet::builder().radios(radios).seed(seed).build().unwrap();
    (fleet, dropped)
}

/// The radio whose slot the device holds.
fn holder(fleet: &Fleet) -> Option<RadioId> {
    fleet
        .slot_usage()
        .into_iter()
        .find(|u| u.held_by.contains(&addr(1)))
        .map(|u| u.radio)
}

fn two_radio_world() -> bluefleet::sim::World {
    world(
        vec![
            RadioSpec::esphome_proxy("near").at(0.0, 0.0),
            RadioSpec::esphome_proxy("far").at(8.0, 0.0),
        ],
        vec![env_sensor(1, 1.0, 0.0)],
    )
}

/// Bug 4: `Fleet::shutdown()` left the adapter actors and their radio streams running (BlueZ
/// discovery or an ESPHome session kept going).
#[test]
fn shutdown_drops_every_radio_stream() {
    block_on_virtual_time(async {
        let simulation = Simulation::start(two_radio_world(), 4);
        let (fleet, dropped) = counted_fleet(&simulation, 4);
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(5)).await;
        assert!(device.status().state.is_connected());
        assert_eq!(dropped.load(Ordering::SeqCst), 0);
        fleet.shutdown().await.unwrap();
        run_for(Duration::from_secs(1)).await;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            2,
            "both radios' streams dropped"
        );
        assert!(simulation
            .stats()
            .radios
            .iter()
            .all(|r| r.slots_in_use == 0));
        assert!(fleet.device(addr(1)).await.is_err(), "the fleet is gone");
    });
}

#[test]
fn a_released_device_is_disconnected_and_its_subscriptions_end() {
    block_on_virtual_time(async {
        let (simulation, fleet) = start(two_radio_world(), 5);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        let mut subscription = device.subscribe(temperature()).await.unwrap();
        let mut got_value = false;
        while !got_value {
            got_value = matches!(
                subscription.recv().await,
                Some(SubscriptionEvent::Notification(_))
            );
        }
        device.release().await.unwrap();
        run_for(Duration::from_secs(2)).await;
        assert!(simulation
            .stats()
            .radios
            .iter()
            .all(|r| r.slots_in_use == 0));
        assert!(fleet.slot_usage().iter().all(|u| u.held_by.is_empty()));
        let rest: Vec<_> = std::iter::from_fn(|| subscription.try_recv_event().ok()).collect();
        assert!(
            rest.iter()
                .all(|e| !matches!(e, SubscriptionEvent::Notification(_))),
            "{rest:?}"
        );
        assert_eq!(subscription.recv().await, None, "the stream ended");
        assert_eq!(device.status().connections, 0, "its status is forgotten");
        let diagnostics = fleet.diagnostics().await.unwrap();
        assert!(diagnostics.devices.is_empty(), "{:?}", diagnostics.devices);
        run_for(Duration::from_secs(30)).await;
        assert_eq!(
            simulation.stats().device(addr(1)).unwrap().connects,
            1,
            "not kept connected"
        );
    });
}

#[test]
fn a_removed_radio_stops_and_its_devices_move_to_another() {
    block_on_virtual_time(async {
        let simulation = Simulation::start(two_radio_world(), 6);
        let (fleet, dropped) = counted_fleet(&simulation, 6);
        run_for(Duration::from_secs(3)).await;
        let device = fleet.device(addr(1)).await.unwrap();
        device.keep_connected(true).await.unwrap();
        run_for(Duration::from_secs(5)).await;
        let near = RadioId::new("near");
        assert_eq!(holder(&fleet), Some(near.clone()));
        fleet.remove_radio(&near).await.unwrap();
        run_for(Duration::from_secs(10)).await;
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "the near radio's stream dropped"
        );
        assert!(
            device.status().state.is_connected(),
            "{:?}",
            device.status()
        );
        assert_eq!(holder(&fleet), Some(RadioId::new("far")));
        let stats = simulation.stats();
        assert_eq!(stats.radio("near").unwrap().slots_in_use, 0);
        let error = fleet.remove_radio(&near).await.unwrap_err();
        assert!(
            matches!(&error, bluefleet::Error::UnknownRadio { name } if name == "near"),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "no radio named 'near'");
    });
}

/// A radio that goes down hears nothing: the advert pipeline forgets its sightings, so
/// `Fleet::heard` stops listing it and the device's best radio moves to the one still up
/// (without this the dead radio stayed the best, at its last RSSI, for good). Back up, it
/// counts again from its next adverts.
#[test]
fn a_radio_that_goes_down_no_longer_counts_as_hearing_its_devices() {
    block_on_virtual_time(async {
        let (simulation, fleet) = start(two_radio_world(), 8);
        let (near, far) = (RadioId::new("near"), RadioId::new("far"));
        let lists = |heard: &bluefleet::fleet::HeardDevice, radio: &RadioId| {
            heard.radios.iter().any(|(r, _)| r == radio)
        };
        run_for(Duration::from_secs(5)).await;
        let heard = fleet.heard_device(&addr(1)).unwrap();
        assert_eq!(heard.best_radio.as_ref(), Some(&near), "{heard:?}");
        assert!(lists(&heard, &far), "{heard:?}");

        simulation.control().radio_down("near").unwrap();
        run_for(Duration::from_secs(2)).await;
        let heard = fleet.heard_device(&addr(1)).unwrap();
        assert_eq!(heard.best_radio.as_ref(), Some(&far), "{heard:?}");
        assert!(!lists(&heard, &near), "{heard:?}");

        simulation.control().radio_up("near").unwrap();
        run_for(Duration::from_secs(10)).await;
        let heard = fleet.heard_device(&addr(1)).unwrap();
        assert!(lists(&heard, &near), "heard again once up: {heard:?}");
    });
}

/// A radio whose stream says, all at once: up, one advert, down, up, another advert (a proxy
/// whose session dropped and came back within one coalescing window); then nothing more.
#[derive(Debug)]
struct BouncedRadio;

#[async_trait]
impl Radio for BouncedRadio {
    fn id(&self) -> RadioId {
        RadioId::new("bounced")
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: bluefleet::backend::RadioKind::EsphomeProxy,
            slot_limit: 3,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let heard = |rssi_dbm| {
            RadioEvent::Adverts(vec![bluefleet::Advertisement::from_data(
                addr(1),
                self.id(),
                rssi_dbm,
                tokio::time::Instant::now(),
                bluefleet::model::AdvertData::default(),
            )])
        };
        let script = vec![
            RadioEvent::Up,
            heard(-70),
            RadioEvent::Down {
                reason: "session lost".into(),
            },
            RadioEvent::Up,
            heard(-60),
        ];
        futures::stream::iter(script)
            .chain(futures::stream::pending())
            .boxed()
    }

    async fn connect(&self, _: ConnectRequest) -> Result<Connection, Failure> {
        Err(Failure::new(
            bluefleet::FailureSource::Fleet,
            bluefleet::FailureStage::Connect,
            "not connectable in this test",
        ))
    }
}

/// Bug 2 of the lifecycle review: a `Down` and an `Up` within one batch window while a batch
/// was in flight. The forget owed to the `Down` ran once every batch was ingested, so it also
/// wiped what the radio heard after coming back up; now it is ordered among the batches.
#[test]
fn a_radio_down_and_up_within_one_window_keeps_what_it_heard_once_up() {
    block_on_virtual_time(async {
        let fleet = Fleet::builder()
            .radios([Arc::new(BouncedRadio) as Arc<dyn Radio>])
            .seed(9)
            .build()
            .unwrap();
        run_for(Duration::from_secs(1)).await;
        let heard = fleet.heard_device(&addr(1));
        let radios = heard.as_ref().map(|h| h.radios.clone()).unwrap_or_default();
        assert_eq!(
            radios.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
            vec![RadioId::new("bounced")],
            "heard after the radio came back: {heard:?}"
        );
        assert_eq!(
            heard.and_then(|h| h.smoothed_rssi_dbm),
            Some(-60.0),
            "only the advert heard once up counts"
        );
    });
}

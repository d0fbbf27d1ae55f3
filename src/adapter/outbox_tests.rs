//! The order the Supervisor takes an adapter actor's messages in, when its mailbox is full.
//!
//! A window that says "advert, down, up, advert" makes three messages: the first batch, the
//! `Forget` owed to the `Down`, the second batch. With the mailbox full, actix holds a message
//! that does not fit inside its request, and it polls an actor's waits newest first: when each
//! message had its own wait, the second batch went in before the `Forget`, which then wiped
//! what the radio heard once it was up again.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::time::Instant;

use super::{AdapterActor, AdapterActorStopped, AdvertBatch};
use crate::backend::{
    ConnectRequest, Connection, Failure, FailureSource, FailureStage, Radio, RadioEvent, RadioInfo,
    RadioKind,
};
use crate::cache::ServiceCache;
use crate::fleet::block_on_virtual_time;
use crate::model::{Address, AdvertData, Advertisement, RadioId};
use crate::shared::{FleetConfig, Shared};

/// A radio that says, in one window: an advert at -70, down, up, an advert at -60.
#[derive(Debug)]
struct BouncingRadio;

fn heard(rssi_dbm: i16) -> RadioEvent {
    RadioEvent::Adverts(vec![Advertisement::from_data(
        Address::new([0xA4, 0xC1, 0x38, 0, 0, 1]),
        RadioId::new("bouncing"),
        rssi_dbm,
        Instant::now(),
        AdvertData::default(),
    )])
}

#[async_trait]
impl Radio for BouncingRadio {
    fn id(&self) -> RadioId {
        RadioId::new("bouncing")
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: RadioKind::EsphomeProxy,
            slot_limit: 1,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let window = vec![
            heard(-70),
            RadioEvent::Down {
                reason: "session lost".into(),
            },
            RadioEvent::Up,
            heard(-60),
        ];
        futures::stream::iter(window)
            .chain(futures::stream::pending())
            .boxed()
    }

    async fn connect(&self, _: ConnectRequest) -> Result<Connection, Failure> {
        Err(Failure::new(
            FailureSource::Fleet,
            FailureStage::Connect,
            "never connected in this test",
        ))
    }
}

/// Stands in for the Supervisor, with a mailbox of one: writes down what it is sent, in order.
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Actor for Recorder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1);
    }
}

impl Handler<AdvertBatch> for Recorder {
    type Result = ();

    fn handle(&mut self, batch: AdvertBatch, _: &mut Self::Context) {
        let said = match batch {
            AdvertBatch::Decoded(adverts) => adverts
                .iter()
                .map(|a| format!("heard {}", a.rssi_dbm))
                .collect::<Vec<_>>()
                .join(", "),
            AdvertBatch::Raw { adverts, .. } => format!("{} raw", adverts.len()),
            AdvertBatch::Forget(entry) => format!("forget {}", entry.id),
        };
        self.0.lock().unwrap().push(said);
    }
}

impl Handler<AdapterActorStopped> for Recorder {
    type Result = ();

    fn handle(&mut self, _: AdapterActorStopped, _: &mut Self::Context) {}
}

#[test]
fn a_full_supervisor_mailbox_takes_a_window_in_the_order_heard() {
    block_on_virtual_time(async {
        let shared = Shared::new(FleetConfig::default(), ServiceCache::in_memory());
        let entry = shared.register_radio(Arc::new(BouncingRadio));
        let said = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder(Arc::clone(&said)).start();
        let _adapter = AdapterActor::new(
            entry,
            Arc::clone(&shared),
            recorder.clone().recipient(),
            recorder.recipient(),
        )
        .start();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            *said.lock().unwrap(),
            ["heard -70", "forget bouncing", "heard -60"]
        );
    });
}

//! The four spec-v1 radios: each replays its scanner's records as raw adverts, one per event
//! for the local controllers and batches of 16 for the proxies, once the start gate opens.
//! After its last record a radio notes when it was asked for more: the adapter actor asks only
//! after the Supervisor ingested the previous batch, so that instant is "this radio's adverts
//! are all in".

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bluefleet::backend::{
    ConnectRequest, Connection, Failure, FailureSource, FailureStage, Radio, RadioEvent, RadioInfo,
    RadioKind,
};
use bluefleet::model::RawAdvert;
use bluefleet::{Address, RadioId};
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::oneshot;

use super::workload::{device_address, Record};

/// The replay of one scanner.
pub struct Replay {
    pub records: Vec<Record>,
    pub payloads: Arc<Vec<Bytes>>,
    pub batch: usize,
    pub epoch: tokio::time::Instant,
    pub start: oneshot::Receiver<()>,
    pub drained_at: Arc<Mutex<Option<Instant>>>,
}

/// One spec-v1 radio.
pub struct SpecRadio {
    id: RadioId,
    kind: RadioKind,
    slots: usize,
    replay: Mutex<Option<Replay>>,
}

impl std::fmt::Debug for SpecRadio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecRadio")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SpecRadio {
    pub fn new(name: &str, kind: RadioKind, slots: usize, replay: Replay) -> Self {
        Self {
            id: RadioId::new(name),
            kind,
            slots,
            replay: Mutex::new(Some(replay)),
        }
    }
}

fn raw_advert(record: &Record, payloads: &[Bytes], epoch: tokio::time::Instant) -> RawAdvert {
    let payload = payloads
        .get(record.payload as usize)
        .cloned()
        .unwrap_or_default();
    let seen_at = epoch + std::time::Duration::from_micros(u64::from(record.t_us));
    let address = Address::new(device_address(usize::from(record.device)));
    RawAdvert::new(address, i16::from(record.rssi), seen_at, payload)
}

#[async_trait]
impl Radio for SpecRadio {
    fn id(&self) -> RadioId {
        self.id.clone()
    }

    fn info(&self) -> RadioInfo {
        RadioInfo {
            kind: self.kind,
            slot_limit: self.slots,
            reports_slots: false,
        }
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let Some(replay) = self.replay.lock().ok().and_then(|mut r| r.take()) else {
            return stream::pending().boxed();
        };
        let Replay {
            records,
            payloads,
            batch,
            epoch,
            start,
            drained_at,
        } = replay;
        let chunks = stream::unfold((records, 0usize), move |(records, next)| {
            let payloads = Arc::clone(&payloads);
            let drained_at = Arc::clone(&drained_at);
            async move {
                if next >= records.len() {
                    if let Ok(mut at) = drained_at.lock() {
                        at.get_or_insert_with(Instant::now);
                    }
                    return None;
                }
                let end = (next + batch).min(records.len());
                let adverts = records
                    .get(next..end)
                    .unwrap_or_default()
                    .iter()
                    .map(|record| raw_advert(record, &payloads, epoch))
                    .collect();
                Some((RadioEvent::RawAdverts(adverts), (records, end)))
            }
        });
        stream::once(async { RadioEvent::Up })
            .chain(
                stream::once(async move {
                    let _ = start.await;
                })
                .filter_map(|()| async { None }),
            )
            .chain(chunks)
            .chain(stream::pending())
            .boxed()
    }

    async fn connect(&self, _: ConnectRequest) -> Result<Connection, Failure> {
        Err(Failure::new(
            FailureSource::Fleet,
            FailureStage::Connect,
            "the spec-v1 replay does not connect",
        ))
    }
}

//! Watchers over a real pipeline: one test per matcher criterion, copies, replay, `Lagged`,
//! and de-duplication before decoding.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use tokio::time::Instant;

use super::queue::WatchReceiver;
use super::*;
use crate::adverts::{AdvertPipeline, PipelineConfig};
use crate::model::{uuid_from_u16, Address, RadioId, RawAdvert};

fn addr(n: u8) -> Address {
    Address::new([0xAA, 0, 0, 0, 0, n])
}

fn raw(n: u8, rssi: i16, bytes: &[u8]) -> RawAdvert {
    RawAdvert::new(addr(n), rssi, Instant::now(), Bytes::copy_from_slice(bytes))
}

const NAME_TEMP: &[u8] = &[0x05, 0x09, b'T', b'e', b'm', b'p'];
const IBEACON: &[u8] = &[0x07, 0xFF, 0x4C, 0x00, 0x02, 0x15, 0x01, 0x02];
const APPLE_NOISE: &[u8] = &[0x07, 0xFF, 0x4C, 0x00, 0x0C, 0x0E, 0x01, 0x02];
const ESS_LIST: &[u8] = &[0x03, 0x03, 0x1A, 0x18];
const BTHOME_DATA: &[u8] = &[0x05, 0x16, 0xD2, 0xFC, 0x40, 0x01];

type WatchItem = Watched<Arc<crate::model::Advertisement>>;
type Receiver = WatchReceiver<Arc<crate::model::Advertisement>>;

#[derive(Default)]
struct Bed {
    pipeline: AdvertPipeline,
    watchers: Watchers,
}

impl Bed {
    fn new() -> Self {
        Self {
            pipeline: AdvertPipeline::new(PipelineConfig::default()),
            watchers: Watchers::default(),
        }
    }

    fn watch(&mut self, matcher: AdvertMatcher, capacity: usize) -> Receiver {
        self.watchers.add(matcher, capacity, &self.pipeline)
    }

    /// What the Supervisor does with a batch, watchers only.
    fn hear(&mut self, radio: &str, batch: &[RawAdvert]) {
        let radio = RadioId::new(radio);
        let (pipeline, watchers) = (&mut self.pipeline, &mut self.watchers);
        let every = watchers.wants_every_copy();
        pipeline.ingest_raw(&radio, batch, &mut Vec::new(), |index, ingested| {
            if !(ingested.new_content || every) {
                return;
            }
            let advert = &batch[index];
            let mut decoded = ingested.decoded;
            let mut make = || {
                Arc::new(match decoded.take() {
                    Some(data) => advert.with_data(&radio, data),
                    None => advert.decode(&radio).0,
                })
            };
            watchers.route(
                ingested.view,
                ingested.rssi_dbm,
                ingested.new_content,
                &mut make,
            );
        });
    }
}

fn drain(receiver: &mut Receiver) -> Vec<WatchItem> {
    let mut items = Vec::new();
    while let Some(item) = receiver.try_recv() {
        items.push(item);
    }
    items
}

fn addresses(items: &[WatchItem]) -> Vec<Address> {
    items
        .iter()
        .filter_map(|item| match item {
            Watched::Item(advert) => Some(advert.address),
            Watched::Lagged(_) => None,
        })
        .collect()
}

/// Three devices: 1 named Temp (ESS list), 2 an iBeacon, 3 Apple noise with BTHome data.
fn three_devices(bed: &mut Bed) {
    let mut named = raw(1, -60, &[NAME_TEMP, ESS_LIST].concat());
    named.connectable = Some(true);
    let mut beacon = raw(2, -80, IBEACON);
    beacon.connectable = Some(false);
    let noise = raw(3, -40, &[APPLE_NOISE, BTHOME_DATA].concat());
    bed.hear("hci0", &[named, beacon, noise]);
}

fn matched(matcher: AdvertMatcher) -> Vec<Address> {
    let mut bed = Bed::new();
    let mut watch = bed.watch(matcher, 16);
    three_devices(&mut bed);
    addresses(&drain(&mut watch))
}

#[test]
fn each_criterion_selects_its_devices() {
    assert_eq!(matched(AdvertMatcher::address(addr(2))), [addr(2)]);
    assert_eq!(matched(AdvertMatcher::any().local_name("Temp")), [addr(1)]);
    assert!(matched(AdvertMatcher::any().local_name("Tem")).is_empty());
    assert_eq!(
        matched(AdvertMatcher::any().local_name_prefix("Te")),
        [addr(1)]
    );
    assert_eq!(
        matched(AdvertMatcher::any().service_uuid(uuid_from_u16(0x181A))),
        [addr(1)]
    );
    assert_eq!(
        matched(AdvertMatcher::any().service_data_uuid(uuid_from_u16(0xFCD2))),
        [addr(3)]
    );
    assert_eq!(
        matched(AdvertMatcher::any().manufacturer_id(0x004C)),
        [addr(2), addr(3)]
    );
    assert_eq!(
        matched(AdvertMatcher::any().manufacturer_data_prefix(0x004C, &[0x02, 0x15])),
        [addr(2)]
    );
    assert_eq!(matched(AdvertMatcher::any().connectable(true)), [addr(1)]);
    assert_eq!(matched(AdvertMatcher::any().connectable(false)), [addr(2)]);
    assert_eq!(
        matched(AdvertMatcher::any().min_rssi_dbm(-60)),
        [addr(1), addr(3)]
    );
    assert_eq!(
        matched(AdvertMatcher::address(addr(1)).min_rssi_dbm(-50)),
        Vec::<Address>::new()
    );
    assert_eq!(matched(AdvertMatcher::any()), [addr(1), addr(2), addr(3)]);
}

#[test]
fn by_default_only_changes_arrive_and_every_copy_gets_repeats() {
    let mut bed = Bed::new();
    let mut changes = bed.watch(AdvertMatcher::address(addr(1)), 64);
    let mut copies = bed.watch(AdvertMatcher::address(addr(1)).every_copy(), 64);
    for _ in 0..5 {
        bed.hear("hci0", &[raw(1, -60, NAME_TEMP)]);
        bed.hear("hci1", &[raw(1, -70, NAME_TEMP)]);
    }
    bed.hear("hci0", &[raw(1, -60, IBEACON)]);
    assert_eq!(
        drain(&mut changes).len(),
        2,
        "first advert, then one change"
    );
    let every = drain(&mut copies);
    assert_eq!(every.len(), 11);
    let radios: Vec<_> = every
        .iter()
        .filter_map(|i| i.clone().item())
        .map(|a| a.radio.to_string())
        .collect();
    assert_eq!(radios[..2], ["hci0".to_string(), "hci1".to_string()]);
}

#[test]
fn an_advert_alternating_with_its_scan_response_arrives_only_while_it_adds_something() {
    let mut bed = Bed::new();
    let mut changes = bed.watch(AdvertMatcher::address(addr(1)), 64);
    for _ in 0..5 {
        bed.hear("hci0", &[raw(1, -60, IBEACON)]);
        bed.hear("hci0", &[raw(1, -60, NAME_TEMP)]);
    }
    let items = drain(&mut changes);
    assert_eq!(
        items.len(),
        2,
        "the advert, then the name it adds: {items:?}"
    );
    assert_eq!(
        bed.pipeline.totals().decoded,
        3,
        "decoded until the merged view settled"
    );
    bed.hear(
        "hci0",
        &[raw(1, -60, &[0x05, 0x09, b'T', b'e', b'm', b'q'])],
    );
    assert_eq!(drain(&mut changes).len(), 1, "a new name is a change");
}

#[test]
fn a_new_watcher_first_gets_the_latest_advert_of_devices_already_heard() {
    let mut bed = Bed::new();
    three_devices(&mut bed);
    let mut watch = bed.watch(AdvertMatcher::address(addr(1)), 4);
    let items = drain(&mut watch);
    let [Watched::Item(advert)] = items.as_slice() else {
        panic!("{items:?}");
    };
    assert_eq!(advert.local_name(), Some("Temp"));
    assert_eq!(advert.rssi_dbm, -60);
    bed.hear("hci0", &[raw(1, -61, &[NAME_TEMP, ESS_LIST].concat())]);
    assert!(drain(&mut watch).is_empty(), "a repeat is not a change");
}

#[test]
fn a_stalled_watcher_is_told_exactly_how_many_it_missed_and_others_lose_nothing() {
    let mut bed = Bed::new();
    let mut keeping_up = bed.watch(AdvertMatcher::address(addr(1)), 4);
    let mut stalled = bed.watch(AdvertMatcher::address(addr(1)), 4);
    let mut received = 0;
    for n in 0..10u8 {
        bed.hear("hci0", &[raw(1, -60, &[0x04, 0xFF, 0x99, 0x09, n])]);
        received += drain(&mut keeping_up).len();
    }
    assert_eq!(received, 10);
    assert_eq!(drain(&mut stalled).len(), 4);
    bed.hear("hci0", &[raw(1, -60, &[0x04, 0xFF, 0x99, 0x09, 200])]);
    let after = drain(&mut stalled);
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0], Watched::Lagged(6));
    assert!(matches!(&after[1], Watched::Item(a) if a.data.manufacturer_data[&0x0999] == [200]));
    assert_eq!(drain(&mut keeping_up).len(), 1);
    let counters = bed.watchers.counters();
    assert_eq!(counters.lost, 6);
    assert_eq!(counters.delivered, 10 + 4 + 1 + 1);
}

#[test]
fn dropped_watches_are_removed() {
    let mut bed = Bed::new();
    let watch = bed.watch(AdvertMatcher::any(), 4);
    let _kept = bed.watch(AdvertMatcher::address(addr(9)), 4);
    drop(watch);
    bed.watchers.prune();
    assert_eq!(bed.watchers.counters().watchers, 1);
}

#[test]
fn repeats_are_dropped_before_decoding_and_a_malformed_payload_is_reported_once() {
    let mut bed = Bed::new();
    let mut watch = bed.watch(AdvertMatcher::address(addr(1)), 64);
    // A name structure claiming 9 bytes where 3 remain, after a valid flags structure.
    let malformed = [0x02, 0x01, 0x06, 0x09, 0x09, b'x'];
    for _ in 0..50 {
        bed.hear("hci0", &[raw(1, -60, &malformed)]);
    }
    bed.hear("hci1", &[raw(1, -65, &malformed)]);
    let totals = bed.pipeline.totals();
    assert_eq!(totals.adverts, 51);
    assert_eq!(
        totals.decoded, 1,
        "decoded once, repeats stopped at the fingerprint"
    );
    assert_eq!(totals.malformed, 1);
    assert_eq!(totals.deduplicated, 50);
    let items = drain(&mut watch);
    let [Watched::Item(advert)] = items.as_slice() else {
        panic!("{items:?}");
    };
    assert_eq!(
        advert.data.flags,
        Some(0x06),
        "fields before the fault are kept"
    );
    for n in 0..3u8 {
        bed.hear("hci0", &[raw(1, -60, &[0x02, 0x01, n])]);
    }
    assert_eq!(bed.pipeline.totals().decoded, 4);
}

#[test]
fn a_radio_running_behind_does_not_roll_the_content_back() {
    let mut bed = Bed::new();
    let mut changes = bed.watch(AdvertMatcher::address(addr(1)), 64);
    let start = Instant::now();
    let version = |n: u8| [0x04, 0xFF, 0x99, 0x09, n];
    let heard = |ms: u64, n: u8| {
        RawAdvert::new(
            addr(1),
            -60,
            start + std::time::Duration::from_millis(ms),
            Bytes::copy_from_slice(&version(n)),
        )
    };
    for (ms, n) in [(0, 1), (100, 2), (200, 3)] {
        bed.hear("hci0", &[heard(ms, n)]);
    }
    // hci1 hands over its copies of versions 1 and 2 only now (a proxy's batch, a replay).
    bed.hear("hci1", &[heard(5, 1), heard(105, 2)]);
    let items = drain(&mut changes);
    assert_eq!(items.len(), 3, "versions 1, 2, 3 once each: {items:?}");
    let totals = bed.pipeline.totals();
    assert_eq!((totals.stale, totals.decoded), (2, 3));
    let view = bed.pipeline.device(&addr(1)).unwrap();
    assert_eq!(view.advert().manufacturer_data(0x0999), Some(&[3][..]));
    let radios: Vec<String> = bed
        .pipeline
        .radios_heard(&addr(1))
        .map(|r| r.radio.to_string())
        .collect();
    assert_eq!(
        radios,
        ["hci0", "hci1"],
        "the late radio's signal still counts"
    );
    bed.hear("hci1", &[heard(300, 4)]);
    assert_eq!(
        drain(&mut changes).len(),
        1,
        "newer content from it is a change"
    );
}

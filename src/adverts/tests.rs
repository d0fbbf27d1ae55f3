//! Behaviour of the whole pipeline: merge, dedup, best radio, availability, proximity, beacons.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use tokio::time::Instant;

use super::*;
use crate::adverts::beacon::tests::hex;
use crate::model::AdvertData;

const SENSOR: [u8; 6] = [0xA4, 0xC1, 0x38, 0x00, 0x00, 0x01];
/// Flags + manufacturer 0x0499 with one value byte.
const PAYLOAD_A: &[u8] = &[0x02, 0x01, 0x06, 0x04, 0xFF, 0x99, 0x04, 0x01];
const PAYLOAD_B: &[u8] = &[0x02, 0x01, 0x06, 0x04, 0xFF, 0x99, 0x04, 0x02];

fn advert(radio: &str, rssi: i16, at: Instant, raw: &[u8]) -> Advertisement {
    let raw = Bytes::copy_from_slice(raw);
    Advertisement::from_raw(Address::new(SENSOR), radio.into(), rssi, at, raw).unwrap()
}

fn address() -> Address {
    Address::new(SENSOR)
}

struct Harness {
    pipeline: AdvertPipeline,
    events: Vec<AdvertEvent>,
    t0: Instant,
}

impl Harness {
    fn new() -> Self {
        Self {
            pipeline: AdvertPipeline::new(PipelineConfig::default()),
            events: Vec::new(),
            t0: Instant::now(),
        }
    }

    fn at(&self, seconds: f64) -> Instant {
        self.t0 + Duration::from_secs_f64(seconds)
    }

    /// Ingests one advert and returns the events it caused.
    fn hear(&mut self, radio: &str, rssi: i16, seconds: f64, raw: &[u8]) -> Vec<AdvertEvent> {
        let advert = advert(radio, rssi, self.at(seconds), raw);
        self.events.clear();
        self.pipeline.ingest(&[advert], &mut self.events);
        std::mem::take(&mut self.events)
    }

    fn tick(&mut self, seconds: f64) -> Vec<AdvertEvent> {
        self.events.clear();
        self.pipeline.tick(self.at(seconds), &mut self.events);
        std::mem::take(&mut self.events)
    }

    fn best(&self) -> &str {
        self.pipeline.best_radio(&address()).unwrap().as_str()
    }
}

#[test]
fn worked_example_smooths_to_minus_67_8_near_at_2_25_metres() {
    let mut h = Harness::new();
    let mut zone_events = Vec::new();
    for (i, rssi) in [-68, -72, -65, -70, -66].into_iter().enumerate() {
        for event in h.hear("hci0", rssi, i as f64, PAYLOAD_A) {
            if let AdvertEvent::ZoneChanged { from, to, .. } = event {
                zone_events.push((i, from, to));
            }
        }
    }
    let device = h.pipeline.device(&address()).unwrap();
    assert!((device.smoothed_rssi_dbm().unwrap() + 67.79).abs() < 0.01);
    assert_eq!(device.zone(), Some(Zone::Near));
    // The zone is assigned at the third sample (the default minimum) and never changes after.
    assert_eq!(zone_events, vec![(2, None, Zone::Near)]);
    let distance = h.pipeline.distance_m(&address()).unwrap();
    assert!((distance - 2.25).abs() < 0.01, "{distance}");
    let stats = device.rssi_stats();
    assert_eq!(
        (stats.count(), stats.min_dbm(), stats.max_dbm()),
        (5, Some(-72), Some(-65))
    );
}

#[test]
fn unchanged_payloads_take_the_dedup_path_and_changes_are_reported() {
    let mut h = Harness::new();
    let first = h.hear("proxy-1", -60, 0.0, PAYLOAD_A);
    assert!(matches!(first.as_slice(), [AdvertEvent::Appeared { .. }]));
    assert!(h.hear("proxy-1", -61, 1.0, PAYLOAD_A).is_empty());
    // The third reading assigns a zone; the payload itself is not reported again.
    let third = h.hear("proxy-1", -62, 2.0, PAYLOAD_A);
    assert!(matches!(
        third.as_slice(),
        [AdvertEvent::ZoneChanged { .. }]
    ));
    assert_eq!(
        h.hear("proxy-1", -60, 3.0, PAYLOAD_B),
        vec![AdvertEvent::Changed { address: address() }]
    );
    let totals = h.pipeline.totals();
    assert_eq!(
        (totals.adverts, totals.deduplicated, totals.changed),
        (4, 2, 2)
    );
    let merged = h.pipeline.device(&address()).unwrap().advert();
    assert_eq!(merged.manufacturer_data(0x0499), Some(&[0x02u8][..]));
}

#[test]
fn an_advert_alternating_with_its_scan_response_settles_on_the_dedup_path() {
    let mut h = Harness::new();
    let scan_response = hex("0409415443");
    h.hear("proxy-1", -60, 0.0, PAYLOAD_A);
    let named = h.hear("proxy-1", -60, 0.1, &scan_response);
    assert_eq!(named, vec![AdvertEvent::Changed { address: address() }]);
    // The first repeat of the advert is merged (and changes nothing); after that both
    // payloads are recognised without merging.
    for i in 1..6 {
        h.hear("proxy-1", -60, f64::from(i), PAYLOAD_A);
        h.hear("proxy-1", -60, f64::from(i) + 0.1, &scan_response);
    }
    let totals = h.pipeline.totals();
    assert_eq!(
        (totals.adverts, totals.changed, totals.deduplicated),
        (12, 2, 9)
    );
    // A real change is still seen, and the settled pair is forgotten after it.
    let changed = h.hear("proxy-1", -60, 7.0, PAYLOAD_B);
    assert_eq!(changed, vec![AdvertEvent::Changed { address: address() }]);
    let merged = h.pipeline.device(&address()).unwrap().advert();
    assert_eq!(merged.local_name(), Some("ATC"));
    assert_eq!(merged.manufacturer_data(0x0499), Some(&[0x02u8][..]));
}

#[test]
fn decoded_only_adverts_are_deduplicated_by_their_fields() {
    let mut pipeline = AdvertPipeline::default();
    let mut events = Vec::new();
    let mut advert = advert("hci0", -50, Instant::now(), PAYLOAD_A);
    advert.raw = None;
    pipeline.ingest(&[advert.clone(), advert.clone()], &mut events);
    assert_eq!(pipeline.totals().deduplicated, 1);
}

#[test]
fn a_scan_response_name_is_kept_when_later_adverts_lack_it() {
    let mut h = Harness::new();
    h.hear("proxy-1", -60, 0.0, &hex("020106 0409415443"));
    h.hear("proxy-1", -60, 0.1, PAYLOAD_A);
    let merged = h.pipeline.device(&address()).unwrap().advert();
    assert_eq!(merged.local_name(), Some("ATC"));
    assert_eq!(merged.manufacturer_data(0x0499), Some(&[0x01u8][..]));
}

#[test]
fn two_radios_a_few_db_apart_do_not_flap() {
    let mut h = Harness::new();
    let mut switches = 0;
    for i in 0..40 {
        let t = f64::from(i);
        let (a, b) = if i % 2 == 0 { (-70, -64) } else { (-66, -68) };
        for event in h.hear("proxy-a", a, t, PAYLOAD_A).into_iter().chain(h.hear(
            "proxy-b",
            b,
            t + 0.01,
            PAYLOAD_A,
        )) {
            switches += usize::from(matches!(event, AdvertEvent::BestRadioChanged { .. }));
        }
    }
    assert_eq!((switches, h.best()), (0, "proxy-a"));
}

#[test]
fn a_much_stronger_radio_takes_over_and_the_old_one_cannot_win_back_at_a_small_margin() {
    let mut h = Harness::new();
    for i in 0..5 {
        h.hear("proxy-a", -80, f64::from(i), PAYLOAD_A);
    }
    let mut switch_at = None;
    for i in 5..10 {
        let events = h.hear("proxy-b", -55, f64::from(i), PAYLOAD_A);
        if events.iter().any(|e| {
            matches!(e, AdvertEvent::BestRadioChanged { from, to, .. }
            if from.as_str() == "proxy-a" && to.as_str() == "proxy-b")
        }) {
            switch_at.get_or_insert(i);
        }
        h.hear("proxy-a", -80, f64::from(i) + 0.5, PAYLOAD_A);
    }
    // Three readings are needed before a challenger's RSSI can win.
    assert_eq!(switch_at, Some(7));
    for i in 10..20 {
        h.hear("proxy-a", -58, f64::from(i), PAYLOAD_A);
        h.hear("proxy-b", -55, f64::from(i) + 0.5, PAYLOAD_A);
    }
    assert_eq!(h.best(), "proxy-b");
}

#[test]
fn a_silent_best_radio_hands_over_to_whoever_still_hears_the_device() {
    let mut h = Harness::new();
    for i in 0..5 {
        h.hear("proxy-a", -50, f64::from(i), PAYLOAD_A);
    }
    // Learned 1 s interval: timeout 15 s, so the best radio is stale after 7.5 s.
    assert!(h.hear("proxy-b", -90, 10.0, PAYLOAD_A).is_empty());
    assert_eq!(h.best(), "proxy-a");
    let events = h.hear("proxy-b", -90, 12.0, PAYLOAD_A);
    assert!(matches!(
        events.as_slice(),
        [AdvertEvent::BestRadioChanged { .. }, ..]
    ));
    assert_eq!(h.best(), "proxy-b");
}

#[test]
fn a_ten_second_beacon_is_not_gone_after_three_seconds() {
    let mut h = Harness::new();
    for i in 0..5 {
        h.hear("hci0", -70, f64::from(i) * 10.0, PAYLOAD_A);
    }
    assert_eq!(
        h.pipeline.learned_interval(&address()),
        Some(Duration::from_secs(10))
    );
    assert!(h.tick(43.0).is_empty());
    assert!(h.tick(74.0).is_empty()); // 34 s of silence, timeout 35 s
    let events = h.tick(76.0);
    assert_eq!(
        events,
        vec![AdvertEvent::Disappeared {
            address: address(),
            last_seen: h.at(40.0)
        }]
    );
    assert!(h.pipeline.is_empty());
    let back = h.hear("hci0", -70, 80.0, PAYLOAD_A);
    assert!(matches!(back.as_slice(), [AdvertEvent::Appeared { .. }]));
}

#[test]
fn a_fast_sensor_disappears_after_the_floor_and_an_unlearned_one_after_the_fallback() {
    let mut h = Harness::new();
    for i in 0..10 {
        h.hear("hci0", -70, f64::from(i) * 0.5, PAYLOAD_A);
    }
    assert!(h.tick(4.5 + 14.9).is_empty());
    assert_eq!(h.tick(4.5 + 15.1).len(), 1);
    h.hear("hci0", -70, 100.0, PAYLOAD_A);
    assert!(h.tick(219.0).is_empty());
    assert_eq!(h.tick(221.0).len(), 1);
}

#[test]
fn radios_heard_lists_smoothed_rssi_and_last_seen_per_radio() {
    let mut h = Harness::new();
    h.hear("proxy-a", -60, 0.0, PAYLOAD_A);
    h.hear("proxy-a", -70, 1.0, PAYLOAD_A);
    h.hear("proxy-b", -80, 1.500_000_007, PAYLOAD_A);
    // A copy that lagged behind leaves the radio's last time alone.
    h.hear("proxy-b", -80, 1.2, PAYLOAD_A);
    let heard: Vec<_> = h.pipeline.radios_heard(&address()).collect();
    assert_eq!(heard.len(), 2);
    assert_eq!(heard[0].radio.as_str(), "proxy-a");
    assert!((heard[0].smoothed_rssi_dbm.unwrap() + 63.0).abs() < 1e-4);
    assert_eq!(heard[0].last_seen, h.at(1.0));
    assert!(heard[0].is_best && !heard[1].is_best);
    assert_eq!(heard[1].last_rssi_dbm, Some(-80));
    // Kept to the nanosecond (as an offset from the device's first time).
    assert_eq!(heard[1].last_seen, h.at(1.500_000_007));
    // A radio that went down is forgotten and the other one takes over.
    let mut events = Vec::new();
    h.pipeline
        .forget_radio(&RadioId::new("proxy-a"), &mut events);
    assert_eq!(h.best(), "proxy-b");
    assert_eq!(events.len(), 1);
    assert_eq!(h.pipeline.radios_heard(&address()).count(), 1);
}

#[test]
fn placeholder_rssi_counts_as_seen_but_not_as_a_reading() {
    let mut h = Harness::new();
    h.hear("hci0", 0, 0.0, PAYLOAD_A);
    h.hear("hci0", -60, 1.0, PAYLOAD_A);
    let device = h.pipeline.device(&address()).unwrap();
    assert_eq!(device.rssi_stats().count(), 1);
    assert_eq!(device.smoothed_rssi_dbm(), Some(-60.0));
    assert_eq!(device.last_seen(), h.at(1.0));
}

#[test]
fn beacons_are_registered_and_calibrate_the_distance() {
    let mut h = Harness::new();
    let ibeacon = hex("020106 1AFF4C000215 E2C56DB5DFFB48D2B060D0F5A71096E0 0001 0002 C5");
    for i in 0..3 {
        h.hear("hci0", -59, f64::from(i), &ibeacon);
    }
    assert_eq!(h.pipeline.beacons().counts().ibeacon, 1);
    assert!((h.pipeline.distance_m(&address()).unwrap() - 1.0).abs() < 1e-6);
    let filter = AdvertFilter::new()
        .manufacturer_id(0x004C)
        .min_rssi_dbm(-60);
    assert_eq!(h.pipeline.matching(&filter).count(), 1);
    h.tick(1000.0);
    assert_eq!(h.pipeline.beacons().counts().ibeacon, 0);
}

#[test]
fn an_advertising_device_costs_under_512_bytes() {
    let mut pipeline = AdvertPipeline::default();
    let mut events = Vec::new();
    let t0 = Instant::now();
    for i in 0..10_000u64 {
        let raw = Bytes::copy_from_slice(&hex(
            "020106 0DFF9904 0102030405060708 0C64 0B0973656E736F722D303031",
        ));
        let advert =
            Advertisement::from_raw(Address::from_u64(i), "proxy-1".into(), -70, t0, raw).unwrap();
        pipeline.ingest(&[advert], &mut events);
    }
    let per_device = pipeline.accounted_bytes() / pipeline.len();
    assert!(per_device < 512, "{per_device} bytes per device");
}

proptest! {
    #[test]
    fn hostile_adverts_never_panic_the_pipeline(
        frames in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..64), any::<i16>(), 0u8..4, 0u64..100_000),
            1..40,
        )
    ) {
        let mut pipeline = AdvertPipeline::default();
        let mut events = Vec::new();
        let t0 = Instant::now();
        for (bytes, rssi, device, millis) in frames {
            let (data, _) = AdvertData::parse_lenient(&bytes);
            let mut advert = Advertisement::from_data(
                Address::new([0, 0, 0, 0, 0, device]),
                RadioId::new(format!("radio-{}", millis % 3)),
                rssi,
                t0 + Duration::from_millis(millis),
                data,
            );
            advert.raw = Some(Bytes::from(bytes));
            pipeline.ingest(&[advert], &mut events);
        }
        pipeline.tick(t0 + Duration::from_secs(50), &mut events);
        pipeline.tick(t0 + Duration::from_secs(5_000), &mut events);
        prop_assert!(pipeline.is_empty());
    }
}

#[test]
fn a_device_view_stays_small_enough_for_the_memory_budget() {
    // 192 bytes (224 while its four lists were `Vec`s): a 208-byte block of glibc's, not 240;
    // the budget per advertising device is 512 with payload and maps.
    let size = std::mem::size_of::<DeviceView>();
    assert!(size <= 192, "{size} bytes");
    // 24 for signal and time (the time as u64 nanoseconds, not a 16-byte `Instant`), 8 for the
    // radio's last payload fingerprint (dedup before decode).
    assert_eq!(std::mem::size_of::<device::RadioSighting>(), 32);
}

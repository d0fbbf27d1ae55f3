//! Throughput workloads in wall-clock time on the bench radio: advert ingestion through the
//! whole actor path, notification fan-out, and added notification latency.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bluefleet::adverts::bench::{IngestGenerator, IngestWorkload};
use bluefleet::backend::{LinkEvent, Radio, RadioEvent};
use bluefleet::fleet::{block_on_real_time, SubscriptionEvent};
use bluefleet::model::uuid_from_u16;
use bluefleet::{Advertisement, Fleet, Subscription};
use bytes::Bytes;

use super::bench_radio::{BenchRadio, VALUE_HANDLE};

/// Adverts per second through radio → adapter actor → Supervisor → pipeline.
pub fn whole_path_ingestion(changed_percent: u8, rounds: usize) -> f64 {
    let workload = IngestWorkload {
        changed_percent,
        rounds,
        ..IngestWorkload::default()
    };
    let mut generator = IngestGenerator::new(&workload, tokio::time::Instant::now());
    let mut left = generator.batches_per_round() * rounds;
    // What the radio handed over, and whether it is done: the last batch of a round is partial.
    let produced = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let (count, done) = (Arc::clone(&produced), Arc::clone(&finished));
    let radio = BenchRadio::new("bench", move || {
        if left == 0 {
            done.store(true, Ordering::Release);
            return None;
        }
        left -= 1;
        let batch = generator.next_batch();
        count.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Some(RadioEvent::Adverts(batch))
    });
    block_on_real_time(async move {
        let started = Instant::now();
        let fleet = Fleet::builder()
            .radio(Arc::new(radio))
            .build()
            .expect("fleet");
        loop {
            let done = fleet.diagnostics().await.map_or(0, |d| d.adverts_ingested);
            if finished.load(Ordering::Acquire) && done >= produced.load(Ordering::Relaxed) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let rate = produced.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        fleet.shutdown().await.ok();
        rate
    })
}

/// A fleet over a bench radio with `devices` connected devices and `per_device` subscribers on
/// each; returns the fleet, the radio, and the subscriptions by device.
async fn connected(
    devices: usize,
    per_device: usize,
    capacity: usize,
) -> (Fleet, Arc<BenchRadio>, Vec<Vec<Subscription>>) {
    let adverts: Vec<Advertisement> = (0..devices)
        .map(|n| {
            let address = bluefleet::Address::new([0xBE, 0, 0, 0, (n >> 8) as u8, n as u8]);
            Advertisement::from_data(
                address,
                "bench".into(),
                -50,
                tokio::time::Instant::now(),
                Default::default(),
            )
        })
        .collect();
    let mut once = Some(RadioEvent::Adverts(adverts.clone()));
    let radio = Arc::new(BenchRadio::new("bench", move || once.take()));
    let fleet = Fleet::builder()
        .radio(Arc::clone(&radio) as Arc<dyn Radio>)
        .subscription_capacity(capacity)
        .build()
        .expect("fleet");
    tokio::time::sleep(Duration::from_millis(400)).await; // adverts in, first-sighting settle over
    let mut subscriptions = Vec::new();
    for advert in &adverts {
        let device = fleet.device(advert.address).await.expect("device");
        let mut mine = Vec::new();
        for _ in 0..per_device {
            mine.push(
                device
                    .subscribe(uuid_from_u16(0x2A6E))
                    .await
                    .expect("subscribe"),
            );
        }
        subscriptions.push(mine);
    }
    (fleet, radio, subscriptions)
}

fn push(radio: &BenchRadio, value: &Bytes) {
    for (_, feed) in radio.links() {
        let _ = feed.send(LinkEvent::Notification {
            handle: VALUE_HANDLE,
            value: value.clone(),
        });
    }
}

/// Deliveries per second with 100 devices × 8 subscribers that keep up, and how many values a
/// keeping-up subscriber lost (must be 0).
pub fn fan_out(rounds: u32) -> (f64, u64) {
    block_on_real_time(async move {
        let (fleet, radio, subscriptions) = connected(100, 8, 256).await;
        let received = Rc::new(RefCell::new(0u64));
        let lost = Rc::new(RefCell::new(0u64));
        for subscription in subscriptions.into_iter().flatten() {
            let (received, lost) = (Rc::clone(&received), Rc::clone(&lost));
            actix::spawn(async move {
                let mut subscription = subscription;
                let mut expected = 0u32;
                while let Some(event) = subscription.recv().await {
                    match event {
                        SubscriptionEvent::Notification(value) => {
                            let n = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                            if n != expected {
                                *lost.borrow_mut() += u64::from(n.saturating_sub(expected));
                            }
                            expected = n + 1;
                            *received.borrow_mut() += 1;
                        }
                        SubscriptionEvent::Lagged(n) => *lost.borrow_mut() += n,
                        _ => {}
                    }
                }
            });
        }
        let per_round = 100 * 8 * 100u64;
        let started = Instant::now();
        let mut value = 0u32;
        for round in 1..=u64::from(rounds) {
            for _ in 0..100 {
                push(&radio, &Bytes::copy_from_slice(&value.to_le_bytes()));
                value += 1;
            }
            while *received.borrow() < round * per_round && *lost.borrow() == 0 {
                tokio::task::yield_now().await;
            }
        }
        let rate = *received.borrow() as f64 / started.elapsed().as_secs_f64();
        let lost = *lost.borrow();
        fleet.shutdown().await.ok();
        (rate, lost)
    })
}

/// Added latency (backend event → subscriber) at 10 k notifications/s: p50, p99, p99.9 in
/// microseconds, with `stalled` extra subscribers that never read.
pub fn latency(samples: usize, stalled: usize) -> [f64; 3] {
    block_on_real_time(async move {
        let (fleet, radio, mut subscriptions) = connected(1, 1 + stalled, 64).await;
        let epoch = Instant::now();
        let mut live = subscriptions[0].remove(0);
        let _stalled = subscriptions; // held, never read
        let latencies = Rc::new(RefCell::new(Vec::with_capacity(samples)));
        let sink = Rc::clone(&latencies);
        actix::spawn(async move {
            while let Some(event) = live.recv().await {
                if let SubscriptionEvent::Notification(value) = event {
                    let sent = u64::from_le_bytes(value[..8].try_into().unwrap_or([0; 8]));
                    let now = epoch.elapsed().as_nanos() as u64;
                    sink.borrow_mut()
                        .push(now.saturating_sub(sent) as f64 / 1000.0);
                }
            }
        });
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        while latencies.borrow().len() < samples {
            tick.tick().await;
            for _ in 0..10 {
                push(
                    &radio,
                    &Bytes::copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes()),
                );
            }
        }
        fleet.shutdown().await.ok();
        let mut sorted = latencies.borrow().clone();
        sorted.sort_by(f64::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
        [at(0.5), at(0.99), at(0.999)]
    })
}

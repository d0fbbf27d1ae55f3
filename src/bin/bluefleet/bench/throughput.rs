//! Throughput workloads in wall-clock time on the bench radio: advert ingestion through the
//! whole actor path, notification fan-out, and added notification latency.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::workload::{IngestGenerator, IngestWorkload};
use bluefleet::backend::{LinkEvent, Radio, RadioEvent};
use bluefleet::fleet::{block_on_real_time, SubscriptionEvent};
use bluefleet::model::uuid_from_u16;
use bluefleet::{Advertisement, Fleet, Subscription};
use bytes::Bytes;
use tokio::sync::oneshot;

use super::bench_radio::{BenchRadio, VALUE_HANDLE};

/// Adverts per CPU-second through radio → adapter actor → Supervisor → pipeline (all on this
/// one thread, so its CPU time is the path's whole cost and other load on the machine does not
/// count). The batches are generated and the fleet built before the clock starts.
pub fn whole_path_ingestion(changed_percent: u8, rounds: usize) -> f64 {
    let workload = IngestWorkload {
        changed_percent,
        rounds,
        ..IngestWorkload::default()
    };
    let mut generator = IngestGenerator::new(&workload, tokio::time::Instant::now());
    let batches: Vec<Vec<Advertisement>> = (0..generator.batches_per_round() * rounds)
        .map(|_| generator.next_batch())
        .collect();
    let total: u64 = batches.iter().map(|b| b.len() as u64).sum();
    let mut batches = batches.into_iter();
    let (open, gate) = oneshot::channel();
    let radio = BenchRadio::gated("bench", gate, move || {
        batches.next().map(RadioEvent::Adverts)
    });
    block_on_real_time(async move {
        let fleet = Fleet::builder()
            .radio(Arc::new(radio))
            .build()
            .expect("fleet");
        tokio::time::sleep(Duration::from_millis(20)).await; // the radio is up, waiting
        let started = super::spec_v1::thread_cpu_seconds().unwrap_or(0.0);
        let _ = open.send(());
        loop {
            let done = fleet.diagnostics().await.map_or(0, |d| d.adverts_ingested);
            if done >= total {
                break;
            }
            tokio::task::yield_now().await;
        }
        let cpu = super::spec_v1::thread_cpu_seconds().unwrap_or(f64::NAN) - started;
        let rate = total as f64 / cpu;
        fleet.shutdown().await.ok();
        rate
    })
}

/// The process's resident set size in bytes.
fn resident_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

/// Bytes of resident memory per managed device: `devices` devices heard, then each made
/// managed (`Fleet::device`) with one subscription (so connected), RSS before and after.
/// `while_held` runs while those devices are still held, so a second measurement can grow
/// the heap afresh instead of reusing what this one would have freed.
pub fn managed_device_memory<T>(
    devices: usize,
    while_held: impl FnOnce() -> T,
) -> (Option<f64>, T) {
    block_on_real_time(async move {
        let (fleet, _radio, before, after, other) = {
            let (fleet, radio) = listening(devices, 16).await;
            let before = resident_bytes();
            let mut held = Vec::with_capacity(devices);
            for n in 0..devices {
                let device = fleet.device(bench_address(n)).await.expect("device");
                let subscription = device
                    .subscribe(uuid_from_u16(0x2A6E))
                    .await
                    .expect("subscribe");
                held.push((device, subscription));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let after = resident_bytes();
            let other = while_held();
            drop(held);
            (fleet, radio, before, after, other)
        };
        fleet.shutdown().await.ok();
        let per_device = before
            .zip(after)
            .map(|(before, after)| (after - before) / devices as f64);
        (per_device, other)
    })
}

fn bench_address(n: usize) -> bluefleet::Address {
    bluefleet::Address::new([0xBE, 0, 0, 0, (n >> 8) as u8, n as u8])
}

/// A fleet over a bench radio that has heard `devices` devices (none managed yet).
async fn listening(devices: usize, capacity: usize) -> (Fleet, Arc<BenchRadio>) {
    let adverts: Vec<Advertisement> = (0..devices)
        .map(|n| {
            Advertisement::from_data(
                bench_address(n),
                "bench".into(),
                -50,
                tokio::time::Instant::now(),
                Default::default(),
            )
        })
        .collect();
    let mut once = Some(RadioEvent::Adverts(adverts));
    let radio = Arc::new(BenchRadio::new("bench", move || once.take()));
    let fleet = Fleet::builder()
        .radio(Arc::clone(&radio) as Arc<dyn Radio>)
        .subscription_capacity(capacity)
        .build()
        .expect("fleet");
    tokio::time::sleep(Duration::from_millis(400)).await; // adverts in, first-sighting settle over
    (fleet, radio)
}

/// A fleet over a bench radio with `devices` connected devices and `per_device` subscribers on
/// each; returns the fleet, the radio, and the subscriptions by device.
async fn connected(
    devices: usize,
    per_device: usize,
    capacity: usize,
) -> (Fleet, Arc<BenchRadio>, Vec<Vec<Subscription>>) {
    let (fleet, radio) = listening(devices, capacity).await;
    let mut subscriptions = Vec::new();
    for n in 0..devices {
        let device = fleet.device(bench_address(n)).await.expect("device");
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

/// One run of [`latency`].
pub struct LatencyRun {
    /// Added latency of each notification the live subscriber received, microseconds.
    pub samples: Vec<f64>,
    /// CPU time this thread (the whole path: radio, actors, subscribers) spent per
    /// notification pushed, microseconds.
    pub cpu_us_per_notification: f64,
    /// Notifications the live subscriber was told it lost (`Lagged`).
    pub lost: u64,
}

/// Values pushed before the clock of [`latency`]: more than a stalled subscriber's queue holds
/// (64 values and 3 marker places), so it is full, and so stalled, when the clock starts.
const WARM_UP: u64 = 100;

/// Added latency (backend event → subscriber) at 10 k notifications/s, one sample per
/// notification in microseconds, with `stalled` extra subscribers that never read; and the
/// thread's CPU time per notification over the same span. The clock starts once every
/// subscriber has notify on and [`WARM_UP`] values have reached the live one, so a stalled
/// subscriber is measured stalled (its queue full), not while it still accepts values, and the
/// connection's setup is outside the span on both sides.
pub fn latency(samples: usize, stalled: usize) -> LatencyRun {
    block_on_real_time(async move {
        let (fleet, radio, mut subscriptions) = connected(1, 1 + stalled, 64).await;
        let epoch = Instant::now();
        let mut live = subscriptions[0].remove(0);
        let mut stalled = subscriptions.remove(0); // held; read only until notify is on
        let measuring = Rc::new(Cell::new(false));
        let received = Rc::new(Cell::new(0u64));
        let latencies = Rc::new(RefCell::new(Vec::with_capacity(samples)));
        let lost = Rc::new(Cell::new(0u64));
        {
            let (measuring, received) = (Rc::clone(&measuring), Rc::clone(&received));
            let (sink, lost) = (Rc::clone(&latencies), Rc::clone(&lost));
            actix::spawn(async move {
                while let Some(event) = live.recv().await {
                    match event {
                        SubscriptionEvent::Notification(value) => {
                            received.set(received.get() + 1);
                            if !measuring.get() {
                                continue;
                            }
                            let sent = u64::from_le_bytes(value[..8].try_into().unwrap_or([0; 8]));
                            let now = epoch.elapsed().as_nanos() as u64;
                            sink.borrow_mut()
                                .push(now.saturating_sub(sent) as f64 / 1000.0);
                        }
                        SubscriptionEvent::Lagged(n) => lost.set(lost.get() + n),
                        _ => {}
                    }
                }
            });
        }
        let stamp = || Bytes::copy_from_slice(&(epoch.elapsed().as_nanos() as u64).to_le_bytes());
        // Every subscriber's notify on: each stalled one has taken a value.
        let mut on = vec![false; stalled.len()];
        while !on.iter().all(|on| *on) || received.get() == 0 {
            push(&radio, &stamp());
            tokio::time::sleep(Duration::from_millis(1)).await;
            for (subscription, on) in stalled.iter_mut().zip(&mut on) {
                while let Ok(event) = subscription.try_recv_event() {
                    *on |= matches!(event, SubscriptionEvent::Notification(_));
                }
            }
        }
        // At the measured pace (10 a tick), so the live subscriber keeps up.
        let before_warm_up = received.get() + lost.get();
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        // A thread descheduled by other load must not come back to a burst of ticks (values
        // pushed faster than the live subscriber's turns, lost as `Lagged`).
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        for _ in 0..WARM_UP / 10 {
            tick.tick().await;
            for _ in 0..10 {
                push(&radio, &stamp());
            }
        }
        while received.get() + lost.get() < before_warm_up + WARM_UP {
            tokio::task::yield_now().await;
        }
        measuring.set(true);
        let cpu_before = super::spec_v1::thread_cpu_seconds();
        let mut pushed = 0u64;
        while latencies.borrow().len() < samples && (pushed as usize) < samples * 2 {
            tick.tick().await;
            for _ in 0..10 {
                push(&radio, &stamp());
                pushed += 1;
            }
        }
        let cpu = cpu_before
            .zip(super::spec_v1::thread_cpu_seconds())
            .map_or(f64::NAN, |(before, after)| after - before);
        fleet.shutdown().await.ok();
        drop(stalled);
        let samples = latencies.borrow().clone();
        LatencyRun {
            samples,
            cpu_us_per_notification: cpu * 1e6 / pushed.max(1) as f64,
            lost: lost.get(),
        }
    })
}

//! `bluefleet bench spec-v1`: workload spec v1 of the habluetooth anchor through the public API.
//!
//! Four radios as the spec has them (hci0/hci1: local, 5 slots, one advert per event;
//! esp-proxy-a/b: proxies, 3 slots, batches of 16), 750 per-address watchers (every device that
//! is neither iBeacon nor Apple noise) and one iBeacon watcher (company 0x004C, data starting
//! `02 15`). The input is generated and SHA-256-checked first; the clock starts when the radios
//! are released and stops when the last radio's adverts are all ingested and the last watcher
//! holds its last advert. Decoding the raw AD bytes is inside the clock. Everything (radios,
//! actors, watchers) runs on this one thread, so the figure is one core's.

pub mod fresh_process;
mod radio;
pub mod workload;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bluefleet::adverts::watch::{AdvertMatcher, Watched};
use bluefleet::backend::{Radio, RadioKind};
use bluefleet::fleet::block_on_real_time;
use bluefleet::{Address, Fleet};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use radio::{Replay, SpecRadio};
use workload::{device_address, Class, Workload, DEVICES};

const RADIOS: [(&str, RadioKind, usize, usize); 4] = [
    ("hci0", RadioKind::LocalController, 5, 1),
    ("hci1", RadioKind::LocalController, 5, 1),
    ("esp-proxy-a", RadioKind::EsphomeProxy, 3, 16),
    ("esp-proxy-b", RadioKind::EsphomeProxy, 3, 16),
];

/// What one run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SpecReport {
    pub advertisements: usize,
    pub sha256: String,
    /// Whether a digest for this length was known (built in, or the anchor README's) and
    /// matched; a mismatch refuses to run, so this is never a recorded disagreement.
    pub sha256_verified: bool,
    pub adverts_per_second: f64,
    pub us_per_advert: f64,
    pub ingest_seconds: f64,
    /// CPU time the ingesting thread used over the same span (less sensitive to other load
    /// on the machine than the wall clock).
    pub cpu_seconds: Option<f64>,
    pub peak_rss_mib: f64,
    pub rss_before_ingest_mib: f64,
    pub threads: usize,
    pub watchers: usize,
    /// How the watchers take their adverts.
    pub consumers: Consumers,
    /// Adverts the watchers received (habluetooth's "callbacks dispatched").
    pub delivered: u64,
    /// Adverts watchers lost to full queues (must be 0).
    pub lost: u64,
    pub devices_heard: usize,
    /// Devices heard by two or more radios (habluetooth's smoothed-RSSI buckets).
    pub heard_by_several_radios: usize,
    /// Adverts dropped as repeats before decoding.
    pub deduplicated: u64,
    /// Adverts heard before the content already merged (a radio replaying behind the others),
    /// dropped before decoding.
    pub stale: u64,
    /// Raw payloads decoded.
    pub decoded: u64,
    pub malformed: u64,
}

fn status_kib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// Whether device `d` gets its own watcher (neither iBeacon nor Apple noise).
fn watched_alone(d: usize) -> bool {
    !matches!(Class::of(d), Class::IBeacon | Class::AppleNoise)
}

/// Each watcher's queue: the replay floods faster than any radio, and everything runs on one
/// thread, so a watcher of every device must be able to hold what arrives between two of its
/// turns (per-address watchers hold a few at most; tokio allocates the queue lazily).
const WATCH_QUEUE: usize = 1 << 16;

/// The most adverts a run takes: record times are kept as `u32` microseconds.
pub const MAX_ADVERTS: usize = 5_000_000;

/// Who watches during a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WatcherSet {
    /// The spec's: 750 per-address watchers and one iBeacon watcher.
    Spec,
    /// One per-address watcher (device 0).
    One,
    /// A per-address watcher for every one of the 1,000 devices.
    EveryDevice,
    /// One watcher of every device (`AdvertMatcher::any()`): the adverts `every-device`
    /// delivers, through one queue.
    Any,
}

/// How each watcher takes its adverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Consumers {
    /// `Fleet::watch`: a stream each, read by a task of its own.
    Streams,
    /// `Fleet::register_callback`: a callback each, called by the fleet.
    Callbacks,
}

/// Generates the first `n` records of spec v1 (before any clock), refusing when the stream's
/// digest disagrees with `digests` (from `source`: the built-in table or the anchor's README).
pub fn prepare(
    n: usize,
    digests: &[(usize, String)],
    source: &str,
) -> Result<(Workload, bool), String> {
    if n == 0 || n > MAX_ADVERTS {
        return Err(format!(
            "--adverts must be between 1 and {MAX_ADVERTS}, not {n}"
        ));
    }
    let workload = Workload::generate(n);
    let verified = workload.check(digests, source)?;
    Ok((workload, verified))
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds).
pub fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// Replays `workload` once through a fresh fleet with `set` watching, as `consumers`. Taken
/// by value so a single run holds the records once (its peak RSS is compared with
/// habluetooth's).
pub fn run(
    workload: Workload,
    sha256_verified: bool,
    set: WatcherSet,
    consumers: Consumers,
) -> SpecReport {
    let Workload {
        by_scanner,
        payloads,
        sha256,
        records,
    } = workload;
    let payloads = Arc::new(payloads);
    block_on_real_time(async move {
        let epoch = tokio::time::Instant::now();
        let drained: Vec<Arc<Mutex<Option<Instant>>>> =
            (0..RADIOS.len()).map(|_| Arc::default()).collect();
        let mut gates = Vec::new();
        let mut radios: Vec<Arc<dyn Radio>> = Vec::new();
        for ((records, (name, kind, slots, batch)), drained_at) in
            by_scanner.into_iter().zip(RADIOS).zip(&drained)
        {
            let (open, start) = oneshot::channel();
            gates.push(open);
            let replay = Replay {
                records,
                payloads: Arc::clone(&payloads),
                batch,
                epoch,
                start,
                drained_at: Arc::clone(drained_at),
            };
            radios.push(Arc::new(SpecRadio::new(name, kind, slots, replay)));
        }
        let fleet = Fleet::builder()
            .radios(radios)
            .subscription_capacity(WATCH_QUEUE)
            .build()
            .expect("fleet");
        let received = Arc::new(AtomicU64::new(0));
        let per_address = |d: usize| AdvertMatcher::address(Address::new(device_address(d)));
        let matchers: Vec<AdvertMatcher> = match set {
            WatcherSet::Spec => (0..DEVICES)
                .filter(|d| watched_alone(*d))
                .map(per_address)
                .chain([AdvertMatcher::any().manufacturer_data_prefix(0x004C, &[0x02, 0x15])])
                .collect(),
            WatcherSet::One => vec![per_address(0)],
            WatcherSet::EveryDevice => (0..DEVICES).map(per_address).collect(),
            WatcherSet::Any => vec![AdvertMatcher::any()],
        };
        let watchers = matchers.len();
        let mut callbacks = Vec::new();
        for matcher in matchers {
            let received = Arc::clone(&received);
            match consumers {
                Consumers::Streams => {
                    let mut watch = fleet.watch(matcher);
                    actix::spawn(async move {
                        while let Some(item) = watch.recv().await {
                            if let Watched::Item(advert) = item {
                                std::hint::black_box(advert.rssi_dbm);
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    });
                }
                Consumers::Callbacks => {
                    callbacks.push(fleet.register_callback(matcher, move |advert| {
                        std::hint::black_box(advert.rssi_dbm);
                        received.fetch_add(1, Ordering::Relaxed);
                    }))
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // radios up, watchers parked
        let rss_before = status_kib("VmRSS:").unwrap_or(0.0);
        let started = Instant::now();
        let cpu_before = thread_cpu_seconds();
        for gate in gates {
            let _ = gate.send(());
        }
        // Until every radio has handed over its last record, check now and then; from there
        // on (at most one coalesced batch per radio left) ask the Supervisor after each turn,
        // so the stop is precise to one message round trip.
        while !drained
            .iter()
            .all(|d| d.lock().map(|at| at.is_some()).unwrap_or(false))
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let (diagnostics, all_in) = loop {
            let diagnostics = fleet.diagnostics().await.expect("diagnostics");
            let now = Instant::now();
            let queued = diagnostics.watchers.delivered;
            if diagnostics.adverts_ingested >= records as u64
                && received.load(Ordering::Relaxed) >= queued
            {
                break (diagnostics, now);
            }
            tokio::task::yield_now().await;
        };
        // The first instant both were seen true: at most one round trip after the true end.
        let elapsed = all_in.duration_since(started).as_secs_f64();
        let cpu_seconds = cpu_before
            .zip(thread_cpu_seconds())
            .map(|(before, after)| after - before);
        let heard = fleet.heard();
        let report = SpecReport {
            advertisements: records,
            sha256,
            sha256_verified,
            adverts_per_second: records as f64 / elapsed,
            us_per_advert: elapsed * 1e6 / records as f64,
            ingest_seconds: elapsed,
            cpu_seconds,
            peak_rss_mib: status_kib("VmHWM:").unwrap_or(0.0) / 1024.0,
            rss_before_ingest_mib: rss_before / 1024.0,
            threads: threads(),
            watchers,
            consumers,
            delivered: received.load(Ordering::Relaxed),
            lost: diagnostics.watchers.lost,
            devices_heard: heard.len(),
            heard_by_several_radios: heard.iter().filter(|d| d.radios.len() > 1).count(),
            deduplicated: diagnostics.advert_totals.deduplicated,
            stale: diagnostics.advert_totals.stale,
            decoded: diagnostics.advert_totals.decoded,
            malformed: diagnostics.advert_totals.malformed,
        };
        drop(callbacks);
        fleet.shutdown().await.ok();
        report
    })
}

/// Prints one run.
pub fn print(report: &SpecReport) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bluefleet spec-v1: {} adverts (sha256 {} {}), 4 radios, {} watchers ({:?}), {cores} core(s), ingestion on {} thread(s)",
        report.advertisements,
        &report.sha256[..16],
        if report.sha256_verified {
            "= README"
        } else {
            "(no digest for this length)"
        },
        report.watchers,
        report.consumers,
        report.threads,
    );
    println!(
        "{:.0} adverts/s ({:.3} us/advert), ingest {:.3} s (CPU {}), peak RSS {:.1} MiB (before ingest {:.1} MiB)",
        report.adverts_per_second,
        report.us_per_advert,
        report.ingest_seconds,
        report
            .cpu_seconds
            .map_or_else(|| "unknown".to_owned(), |s| format!("{s:.3} s")),
        report.peak_rss_mib,
        report.rss_before_ingest_mib
    );
    println!(
        "delivered to watchers {}, lost {}, devices heard {}, heard by 2+ radios {}, repeats dropped before decoding {}, older copies dropped {}, decoded {}, malformed {}",
        report.delivered,
        report.lost,
        report.devices_heard,
        report.heard_by_several_radios,
        report.deduplicated,
        report.stale,
        report.decoded,
        report.malformed
    );
}

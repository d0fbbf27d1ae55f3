//! Each figure of `bluefleet bench`: its workloads measured once, then its rows.
//!
//! Every value is measured once and its row made from it ([`super::rows`]), so value and verdict
//! always come from the same run. A/B comparisons alternate A B A B, so both sides see the same
//! machine: the stalled subscriber inside this one process, the watcher arms (1 against 1,000
//! watchers) each in a fresh process of its own ([`spec_v1::fresh_process`]), so no arm starts
//! in the heap another arm left.

use super::workload::{measure_device_memory, run_ingest_workload, IngestWorkload};

use super::rows::{median, percentile, Row, Target};
use super::{bound, clairvoyant, online, sessions, spec_v1, throughput, Figure};

/// What a managed device (its actor, handle, link and one subscription) may cost. Design goal
/// G5 claimed 4 KiB; a first measurement (7.1 KiB, taken after other figures had freed memory
/// these devices then reused) suggested 8 KiB as a guard; measured in a fresh heap it was
/// 10.8 KiB (2026-12-01), ~1.8 KB of it the subscription's tokio channel and ~1.8 KB the bench
/// radio's link channel. With both on the crate's own queue (no buffer until a value waits)
/// it measured 5.8–6.0 KB (2026-12-01, release): under this guard, not yet under G5's 4 KiB.
const MANAGED_DEVICE_BYTES: f64 = 8192.0;

/// A check that a count is zero (nothing lost, no collision, no request).
fn none(figure: &str, count: u64) -> Row {
    Row::check(figure, count as f64, "count", Target::Equal(0.0))
}

/// A performance ratio (`x`) that must stay at or below `max`.
fn ratio_at_most(figure: &str, value: f64, max: f64) -> Row {
    Row::performance(figure, value, "x", Target::AtMost(max))
}

/// A rate (`1/s`) that must reach `min`.
fn rate_at_least(figure: &str, value: f64, min: f64) -> Row {
    Row::performance(figure, value, "1/s", Target::AtLeast(min))
}

/// A cost (`unit`) that must stay at or below `max`.
fn cost_at_most(figure: &str, value: f64, unit: &'static str, max: f64) -> Row {
    Row::performance(figure, value, unit, Target::AtMost(max))
}

/// The rows of `figure`.
pub fn measure(figure: Figure, quick: bool) -> Result<Vec<Row>, String> {
    let seeds: u64 = if quick { 5 } else { 50 };
    Ok(match figure {
        Figure::Adverts => adverts(quick),
        Figure::Watchers => watchers(quick)?,
        Figure::Fanout => {
            let (rate, lost) = throughput::fan_out(if quick { 2 } else { 20 });
            vec![
                rate_at_least(
                    "fan-out deliveries/s, 100 devices x 8 subscribers",
                    rate,
                    1e6,
                ),
                none("fan-out values lost by subscribers that keep up", lost),
            ]
        }
        Figure::Latency => latency(quick),
        Figure::Memory => memory(quick),
        Figure::Makespan => makespan(seeds),
        Figure::Storm => storm(seeds.min(20)),
        Figure::Cached => cached(seeds.min(20)),
        Figure::SpecV1 => Vec::new(),
    })
}

fn adverts(quick: bool) -> Vec<Row> {
    let rounds = if quick { 20 } else { 400 };
    let pipeline = |changed| {
        run_ingest_workload(&IngestWorkload {
            changed_percent: changed,
            rounds,
            ..IngestWorkload::default()
        })
        .adverts_per_second
    };
    let (pipeline_10, pipeline_all) = (pipeline(10), pipeline(100));
    let whole_10 = throughput::whole_path_ingestion(10, rounds);
    let whole_all = throughput::whole_path_ingestion(100, rounds);
    vec![
        rate_at_least(
            "adverts/s, pipeline, 10% changed (1 core)",
            pipeline_10,
            2e6,
        ),
        rate_at_least(
            "adverts/s, pipeline, all changed (1 core)",
            pipeline_all,
            1e6,
        ),
        rate_at_least(
            "adverts per CPU-second, whole actor path, 10% changed",
            whole_10,
            2e6,
        ),
        rate_at_least(
            "adverts per CPU-second, whole actor path, all changed",
            whole_all,
            1e6,
        ),
    ]
}

/// One arm of the watcher comparison: who watches, and how they take their adverts.
struct WatcherArm {
    set: spec_v1::WatcherSet,
    consumers: spec_v1::Consumers,
    /// CPU microseconds per advert, one per round.
    costs: Vec<f64>,
    delivered: u64,
}

/// Spec v1 with the spec's watchers once (throughput, loss), then 1 and 1,000 per-address
/// watchers, as streams and as callbacks, alternated round after round, every run in a fresh
/// process: CPU time per advert, medians compared. Eleven rounds (a run takes ~0.6 s), because
/// one run's CPU time moved by up to ±25 % from run to run of the same code on this 2-core VM
/// (the same instructions: callgrind's counts agree to 0.1 %), and with seven the median ratio
/// of two arms doing the same work (1 callback, 1 stream) still differed by 9 %.
fn watchers(quick: bool) -> Result<Vec<Row>, String> {
    use spec_v1::{fresh_process, Consumers, WatcherSet};
    let n = if quick { 50_000 } else { 1_000_000 };
    let rounds = if quick { 3 } else { 11 };
    let spec = fresh_process::run(n, WatcherSet::Spec, Consumers::Streams)?;
    let mut lost = spec.lost;
    let mut arms: Vec<WatcherArm> = [
        (WatcherSet::One, Consumers::Streams),
        (WatcherSet::EveryDevice, Consumers::Streams),
        (WatcherSet::Any, Consumers::Streams),
        (WatcherSet::One, Consumers::Callbacks),
        (WatcherSet::EveryDevice, Consumers::Callbacks),
    ]
    .into_iter()
    .map(|(set, consumers)| WatcherArm {
        set,
        consumers,
        costs: Vec::new(),
        delivered: 0,
    })
    .collect();
    for round in 0..rounds {
        // A B C … then … C B A: no arm always runs right after the same other arm.
        let mut order: Vec<&mut WatcherArm> = arms.iter_mut().collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for arm in order {
            let report = fresh_process::run(n, arm.set, arm.consumers)?;
            lost += report.lost;
            arm.delivered = report.delivered;
            let seconds = report.cpu_seconds.unwrap_or(report.ingest_seconds);
            arm.costs.push(seconds * 1e6 / report.advertisements as f64);
        }
    }
    let cost = |i: usize| arms.get(i).map_or(f64::NAN, |a| median(a.costs.clone()));
    let delivered = |i: usize| arms.get(i).map_or(0, |a| a.delivered) as f64;
    let (one, thousand, any) = (cost(0), cost(1), cost(2));
    let (one_called, thousand_called) = (cost(3), cost(4));
    Ok(vec![
        Row::reference(
            format!("spec-v1 adverts/s, {n} adverts, 751 watchers, one thread"),
            spec.adverts_per_second,
            "1/s",
        ),
        Row::reference(
            "spec-v1 CPU per advert, 751 watchers",
            spec.cpu_seconds.unwrap_or(spec.ingest_seconds) * 1e6 / spec.advertisements as f64,
            "us",
        ),
        Row::reference(
            "spec-v1 CPU per advert, 1 per-address callback",
            one_called,
            "us",
        ),
        Row::reference(
            "spec-v1 CPU per advert, 1,000 per-address callbacks",
            thousand_called,
            "us",
        ),
        ratio_at_most(
            "per-advert cost, 1,000 per-address callbacks / 1 per-address callback",
            thousand_called / one_called,
            1.10,
        ),
        Row::reference("spec-v1 CPU per advert, 1 per-address stream", one, "us"),
        Row::reference(
            "spec-v1 CPU per advert, 1,000 per-address streams",
            thousand,
            "us",
        ),
        Row::reference(
            "spec-v1 CPU per advert, 1 stream of every device",
            any,
            "us",
        ),
        // A stream per watcher is a task woken per delivery: its cost is the consumer's
        // design (one task each), shown against one stream and against one stream of the
        // same deliveries; the 10 % target is the callbacks' above.
        Row::reference(
            "per-advert cost, 1,000 per-address streams / 1 per-address stream",
            thousand / one,
            "x",
        ),
        ratio_at_most(
            "per-advert cost, 1,000 per-address streams / 1 stream of all (same deliveries)",
            thousand / any,
            1.10,
        ),
        Row::reference(
            "spec-v1 adverts delivered, 751 watchers (habluetooth: 41,871 per 1M)",
            spec.delivered as f64,
            "count",
        ),
        Row::reference(
            "spec-v1 adverts delivered, 1,000 per-address streams",
            delivered(1),
            "count",
        ),
        Row::reference(
            "spec-v1 adverts delivered, 1 stream of every device",
            delivered(2),
            "count",
        ),
        Row::reference(
            "spec-v1 adverts delivered, 1,000 per-address callbacks",
            delivered(4),
            "count",
        ),
        none(
            "spec-v1 deliveries, 1,000 callbacks against 1,000 streams (difference)",
            (delivered(4) - delivered(1)).abs() as u64,
        ),
        none("spec-v1 adverts lost by watchers", lost),
    ])
}

/// p50/p99/p99.9 alone; then what a stalled subscriber beside the live one costs it, in
/// alternating chunks (alone, beside, alone, …) so both sides share the machine's load. The
/// verdict on the stalled subscriber is the path's CPU time per notification (the thread's own
/// time, which other processes on a shared machine barely move) and a count (the live
/// subscriber loses nothing); the wall-clock p99 change is shown for context only: under load
/// it moved from −24 % to +58 % between two runs of the same code.
fn latency(quick: bool) -> Vec<Row> {
    let samples = if quick { 2_000 } else { 20_000 };
    let chunks = if quick { 4 } else { 10 };
    let (mut alone, mut beside) = (Vec::new(), Vec::new());
    let (mut cpu_alone, mut cpu_beside) = (Vec::new(), Vec::new());
    let mut lost = 0;
    for _ in 0..chunks {
        for (stalled, latencies, cpu) in [
            (0, &mut alone, &mut cpu_alone),
            (1, &mut beside, &mut cpu_beside),
        ] {
            let run = throughput::latency(samples / chunks, stalled);
            latencies.extend(run.samples);
            cpu.push(run.cpu_us_per_notification);
            lost += run.lost;
        }
    }
    let (p50, p99, p999) = (
        percentile(alone.clone(), 0.5),
        percentile(alone.clone(), 0.99),
        percentile(alone, 0.999),
    );
    let change = (percentile(beside, 0.99) - p99) / p99;
    let (cpu_alone, cpu_beside) = (median(cpu_alone), median(cpu_beside));
    vec![
        cost_at_most("latency p50 at 10k/s", p50, "us", 50.0),
        cost_at_most("latency p99 at 10k/s", p99, "us", 500.0),
        cost_at_most("latency p99.9 at 10k/s", p999, "us", 2000.0),
        Row::reference(
            "p99 change beside a stalled subscriber (interleaved, wall clock)",
            change * 100.0,
            "%",
        ),
        Row::reference(
            "CPU per notification, live subscriber alone",
            cpu_alone,
            "us",
        ),
        ratio_at_most(
            "CPU per notification beside a stalled subscriber / alone (interleaved)",
            cpu_beside / cpu_alone,
            1.10,
        ),
        none(
            "notifications lost by the live subscriber beside a stalled one",
            lost,
        ),
    ]
}

/// Per managed device: RSS growth with one subscription (connected), measured first. Per
/// advertising device, while those managed devices are still held (so its heap grows afresh
/// rather than reusing what they would free): the pipeline's own state (counted) and the
/// RSS growth of sensors whose decoded readings are kept too.
fn memory(quick: bool) -> Vec<Row> {
    let (managed, sensors) = throughput::managed_device_memory(1_000, || {
        measure_device_memory(if quick { 2_000 } else { 10_000 }, true)
    });
    let mut rows = vec![cost_at_most(
        "bytes per advertising device, pipeline state (counted)",
        sensors.accounted_bytes_per_device as f64,
        "B",
        512.0,
    )];
    if let Some(resident) = sensors.resident_bytes_per_device {
        rows.push(cost_at_most(
            "bytes per advertising sensor, decoded readings kept (RSS growth)",
            resident,
            "B",
            512.0,
        ));
    }
    if let Some(managed) = managed {
        rows.push(cost_at_most(
            "bytes per managed device, 1,000 with one subscription (RSS growth)",
            managed,
            "B",
            MANAGED_DEVICE_BYTES,
        ));
    }
    rows
}

/// The makespan rows: judged against each seed's own lower bound (`bound::drawn`, from that
/// seed's drawn connect times), for the first batch (every device new to the hub) and the
/// second (the same devices again, services cached and connect times learned), with the older
/// bound at mean connect latencies, the clairvoyant offline schedule ([`clairvoyant`]: how much
/// of the ratio is the bound's slack), online model schedulers and the second batch without
/// the learned connect times beside them as reference rows.
fn makespan(seeds: u64) -> Vec<Row> {
    use sessions::Memory;
    let seed_list = || 1..=seeds;
    let runs = |faults: bool, memory: Memory| -> Vec<sessions::Batches> {
        seed_list()
            .map(|seed| sessions::bluefleet_makespan(seed, faults, memory))
            .collect()
    };
    let (clean, faulty, cache_only) = (
        runs(false, Memory::Kept),
        runs(true, Memory::Kept),
        runs(false, Memory::CacheOnly),
    );
    let baseline: Vec<_> = seed_list()
        .map(|seed| sessions::baseline_makespan(seed, false))
        .collect();
    let first =
        |runs: &[sessions::Batches]| -> Vec<f64> { runs.iter().map(|r| r.first.ratio).collect() };
    let again =
        |runs: &[sessions::Batches]| -> Vec<f64> { runs.iter().map(|r| r.again.ratio).collect() };
    // What the hub remembers changes nothing before the second batch: the first batches agree.
    let first_batches_differing = clean
        .iter()
        .zip(&cache_only)
        .filter(|(kept, forgotten)| kept.first.seconds != forgotten.first.seconds)
        .count() as u64;
    // The clairvoyant offline schedule of each seed's clean batches, under bluefleet's makespan
    // and (through bluefleet's ratio, so the bound is not searched twice) over the bound.
    let world = sessions::line_world(60, false);
    let clairvoyant_of = |again: bool| -> (Vec<f64>, Vec<f64>) {
        seed_list()
            .zip(&clean)
            .map(|(seed, run)| {
                let (ours, batch) = if again {
                    (&run.again, run.again_batch.clone())
                } else {
                    (&run.first, bound::Batch::First)
                };
                let schedule = clairvoyant::makespan(&world, seed, &batch).as_secs_f64();
                let over = ours.seconds / schedule;
                (over, ours.ratio / over)
            })
            .unzip()
    };
    let (over_clairvoyant, clairvoyant) = clairvoyant_of(false);
    let (again_over_clairvoyant, again_clairvoyant) = clairvoyant_of(true);
    // Online schedules of the same first batches (draws hidden until each connect ends), every
    // service order of every seed pooled, over the seed's bound (from bluefleet's ratio).
    let online = |scheduler: online::Scheduler| -> Vec<f64> {
        seed_list()
            .zip(&clean)
            .flat_map(|(seed, run)| {
                let bound = run.first.seconds / run.first.ratio;
                online::makespans(&world, seed, scheduler)
                    .into_iter()
                    .map(move |m| m / bound)
            })
            .collect()
    };
    let spread = |name: &str, ratios: Vec<f64>| {
        [
            Row::reference(format!("{name}, median"), median(ratios.clone()), "x"),
            Row::reference(format!("{name}, p90"), percentile(ratios, 0.9), "x"),
        ]
    };
    let online_rows = |name: &str, scheduler| {
        spread(
            &format!("online model, {name} / this seed's LB"),
            online(scheduler),
        )
    };
    let clean_median = median(first(&clean));
    let baseline_median = median(baseline.iter().map(|(m, _)| m.ratio).collect());
    let over_expected = |runs: &[sessions::Batches]| -> Vec<f64> {
        runs.iter().map(|r| r.first_over_expected).collect()
    };
    let mean_bound = |what: &str, value: f64| {
        Row::reference(
            format!("makespan / LB at mean connect latency (not per seed), {what}"),
            value,
            "x",
        )
    };
    let collisions: u64 = clean.iter().chain(&faulty).map(|r| r.collisions).sum();
    let baseline_collisions: u64 = baseline.iter().map(|(_, c)| c).sum();
    let again_figure = "again (services cached, connect times learned) / its LB";
    vec![
        ratio_at_most(
            "makespan / this seed's LB (its drawn connects), median",
            clean_median,
            1.10,
        ),
        ratio_at_most(
            "makespan / this seed's LB (its drawn connects), p90",
            percentile(first(&clean), 0.9),
            1.15,
        ),
        ratio_at_most(
            "makespan / this seed's LB, 10% aborted/out-of-slots, median",
            median(first(&faulty)),
            1.30,
        ),
        ratio_at_most(
            &format!("{again_figure}, median"),
            median(again(&clean)),
            1.10,
        ),
        ratio_at_most(
            &format!("{again_figure}, p90"),
            percentile(again(&clean), 0.9),
            1.15,
        ),
        ratio_at_most(
            &format!("{again_figure}, 10% aborted/out-of-slots, median"),
            median(again(&faulty)),
            1.30,
        ),
        none(
            "first batches that differ with and without memory (same seeds: determinism)",
            first_batches_differing,
        ),
    ]
    .into_iter()
    .chain(spread(
        "again, connect times forgotten (cache only) / its LB",
        again(&cache_only),
    ))
    .chain(spread(
        "again, learned / forgotten, paired per seed",
        clean
            .iter()
            .zip(&cache_only)
            .map(|(kept, forgotten)| kept.again.seconds / forgotten.again.seconds)
            .collect(),
    ))
    .chain(spread("clairvoyant schedule / this seed's LB", clairvoyant))
    .chain(spread(
        "bluefleet makespan / clairvoyant schedule",
        over_clairvoyant,
    ))
    .chain(spread(
        "again, clairvoyant schedule / its LB",
        again_clairvoyant,
    ))
    .chain(spread(
        "again, bluefleet / clairvoyant schedule",
        again_over_clairvoyant,
    ))
    .chain(online_rows("balance", online::Scheduler::Balance))
    .chain(online_rows(
        "one-step lookahead",
        online::Scheduler::Lookahead,
    ))
    .chain([
        mean_bound("median", median(over_expected(&clean))),
        mean_bound("p90", percentile(over_expected(&clean), 0.9)),
        mean_bound("10% faults, median", median(over_expected(&faulty))),
        Row::performance(
            "shorter than the per-device retry baseline",
            (1.0 - clean_median / baseline_median) * 100.0,
            "%",
            Target::AtLeast(12.0),
        ),
        Row::reference(
            "baseline makespan / this seed's LB, median",
            baseline_median,
            "x",
        ),
        none("concurrent attempts on one radio (bluefleet)", collisions),
        Row::reference(
            "concurrent attempts refused (baseline)",
            baseline_collisions as f64,
            "count",
        ),
    ])
    .collect()
}

fn storm(seeds: u64) -> Vec<Row> {
    let results: Vec<_> = (1..=seeds).map(sessions::restart_storm).collect();
    let bound = median(results.iter().map(|m| m.over_bound).collect());
    let expected = median(results.iter().map(|m| m.over_expected).collect());
    let collisions: u64 = results.iter().map(|m| m.collisions).sum();
    vec![
        Row::reference(
            "restart storm / lower bound (busiest radio, fastest connects), median",
            bound,
            "x",
        ),
        Row::check(
            "restart storm / busiest radio's serial mean connect time, median",
            expected,
            "x",
            Target::AtMost(1.15),
        ),
        none("restart storm concurrent attempts on one radio", collisions),
    ]
}

fn cached(seeds: u64) -> Vec<Row> {
    let results: Vec<_> = (1..=seeds).map(sessions::cached_reconnect).collect();
    let requests: u64 = results.iter().map(|r| r.requests).sum();
    let beyond = results.iter().map(|r| r.beyond_link_ms).fold(0.0, f64::max);
    vec![
        none("discovery requests on a cache hit", requests),
        Row::check(
            "cached reconnect time beyond opening the link, worst",
            beyond,
            "ms",
            Target::Below(30.0),
        ),
    ]
}

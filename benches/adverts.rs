//! Advert ingestion benchmarks (issue 9, performance goals G1 and G5).
//!
//! First prints the whole-workload figures of `bluefleet bench adverts`' workload (500 devices on 3
//! proxies, batches of 16, 10 % and 100 % changed payloads, with and without decoding the raw
//! bytes; median of 5 runs) and the memory per advertising device; then runs divan's
//! per-batch micro-benchmarks. `cargo bench --bench adverts` runs it all.

use std::time::Duration;

// The workload `bluefleet bench adverts` runs, from the binary's sources (not library API).
#[allow(dead_code, unused_imports)] // the bench uses part of it, and none of its unit tests
#[path = "../src/bin/bluefleet/bench/workload.rs"]
mod workload;

use bluefleet::adverts::{AdvertPipeline, PipelineConfig};
use divan::counter::ItemsCount;
use divan::Bencher;
use tokio::time::Instant;
use workload::{measure_device_memory, run_ingest_workload, IngestGenerator, IngestWorkload};

const RUNS: usize = 5;

fn main() {
    let memory = measure_device_memory(100_000, true);
    println!(
        "memory: {} devices, {} B/device accounted, {} B/device resident (target <= 512)",
        memory.devices,
        memory.accounted_bytes_per_device,
        memory
            .resident_bytes_per_device
            .map_or("n/a".to_string(), |bytes| format!("{bytes:.0}"))
    );
    for (changed_percent, parse_raw) in [(10, false), (100, false), (10, true), (100, true)] {
        let workload = IngestWorkload {
            changed_percent,
            parse_raw,
            ..IngestWorkload::default()
        };
        let mut rates: Vec<f64> = (0..RUNS)
            .map(|_| run_ingest_workload(&workload).adverts_per_second)
            .collect();
        rates.sort_by(f64::total_cmp);
        println!(
            "ingest: {changed_percent:>3} % changed, {}: median {:.2} M adverts/s (runs: {})",
            if parse_raw {
                "parse + ingest"
            } else {
                "ingest        "
            },
            rates[RUNS / 2] / 1e6,
            rates
                .iter()
                .map(|rate| format!("{:.2}", rate / 1e6))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    divan::main();
}

fn bench_batches(bencher: Bencher<'_, '_>, changed_percent: u8, parse_raw: bool) {
    let workload = IngestWorkload {
        changed_percent,
        ..IngestWorkload::default()
    };
    let mut generator = IngestGenerator::new(&workload, Instant::now());
    let mut pipeline = AdvertPipeline::new(PipelineConfig::default());
    let mut events = Vec::with_capacity(64);
    for _ in 0..generator.batches_per_round() {
        pipeline.ingest(&generator.next_batch(), &mut events);
    }
    let bencher = bencher.counter(ItemsCount::new(workload.batch_size));
    if parse_raw {
        bencher
            .with_inputs(|| generator.next_raw_batch())
            .bench_local_refs(|raw| {
                let batch: Vec<_> = raw.iter().map(|frame| frame.to_advert()).collect();
                events.clear();
                pipeline.ingest(&batch, &mut events)
            });
    } else {
        bencher
            .with_inputs(|| generator.next_batch())
            .bench_local_refs(|batch| {
                events.clear();
                pipeline.ingest(batch, &mut events)
            });
    }
}

/// One batch of 16 through `AdvertPipeline::ingest`.
#[divan::bench(args = [10, 100], min_time = Duration::from_millis(500))]
fn ingest_batch_of_16(bencher: Bencher<'_, '_>, changed_percent: u8) {
    bench_batches(bencher, changed_percent, false);
}

/// One batch of 16 decoded from raw bytes, then ingested.
#[divan::bench(args = [10, 100], min_time = Duration::from_millis(500))]
fn parse_and_ingest_batch_of_16(bencher: Bencher<'_, '_>, changed_percent: u8) {
    bench_batches(bencher, changed_percent, true);
}

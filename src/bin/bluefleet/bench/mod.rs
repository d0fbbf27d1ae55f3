//! `bluefleet bench`: the performance figures of issue 9 on fixed, seeded workloads, each
//! against its target, printed as a table (or one JSON object) with the machine's core count.
//!
//! Slot scheduling (makespan, restart storm, cached reconnect, collisions) runs on the
//! simulated radio in virtual time, so it measures decisions, not this machine's speed.
//! Throughput (ingestion, fan-out, latency) runs in wall-clock time on an in-memory bench
//! radio, so it measures bluefleet's own cost. Micro-benchmarks of the pipeline alone are in
//! `cargo bench --bench adverts`.
//!
//! The workloads are fixed in code: a world that does not build or a fleet that does not start
//! is a bug in the benchmark itself, so those steps `expect` rather than thread errors through.
#![allow(clippy::expect_used)]

mod bench_radio;
mod sessions;
mod spec_v1;
mod throughput;

use bluefleet::adverts::bench::{measure_device_memory, run_ingest_workload, IngestWorkload};
use clap::ValueEnum;
use serde::Serialize;

use crate::output::print_json;

/// Which figure to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Figure {
    /// Advert ingestion: pipeline alone and through the whole actor path.
    Adverts,
    /// Notification fan-out to 100 devices × 8 subscribers.
    Fanout,
    /// Added notification latency at 10 k/s, alone and beside a stalled subscriber.
    Latency,
    /// Bytes per advertising device.
    Memory,
    /// Connection makespan against its lower bound and a per-device retry baseline.
    Makespan,
    /// Every keep-connected device dropped at once.
    Storm,
    /// Cached reconnect of the reference device.
    Cached,
    /// Workload spec v1 of the habluetooth anchor (1,000,000 adverts, 4 radios, 751
    /// watchers), printed on its own (not part of the default set).
    SpecV1,
}

/// Arguments of `bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One figure (all when omitted).
    figure: Option<Figure>,
    /// Smaller workloads (for tests and a quick look).
    #[arg(long)]
    quick: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Adverts replayed by `spec-v1`.
    #[arg(long, default_value_t = 1_000_000)]
    adverts: usize,
    /// The habluetooth anchor's README.md: `spec-v1` checks its stream against the digests
    /// there (else against the built-in copy of them) and refuses to run on a mismatch.
    #[arg(long)]
    anchor: Option<std::path::PathBuf>,
}

#[derive(Debug, Serialize)]
struct Row {
    figure: String,
    value: f64,
    unit: &'static str,
    target: String,
    pass: bool,
}

fn row(
    figure: impl Into<String>,
    value: f64,
    unit: &'static str,
    target: impl Into<String>,
    pass: bool,
) -> Row {
    Row {
        figure: figure.into(),
        value,
        unit,
        target: target.into(),
        pass,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn percentile(mut values: Vec<f64>, q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values
        .get(((values.len().max(1) - 1) as f64 * q) as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

pub fn run(args: Args) -> Result<(), String> {
    let all = [
        Figure::Memory,
        Figure::Adverts,
        Figure::Fanout,
        Figure::Latency,
        Figure::Makespan,
        Figure::Storm,
        Figure::Cached,
    ];
    if args.figure == Some(Figure::SpecV1) {
        let (digests, source) = match &args.anchor {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--anchor {}: {e}", path.display()))?;
                let digests = spec_v1::workload::readme_digests(&text);
                if digests.is_empty() {
                    return Err(format!(
                        "--anchor {}: no SHA-256 table (rows `| N | `<hex>` |`)",
                        path.display()
                    ));
                }
                (digests, path.display().to_string())
            }
            None => (
                spec_v1::workload::known_digests(),
                "the built-in spec-v1 table".to_owned(),
            ),
        };
        let report = spec_v1::run(args.adverts, &digests, &source)?;
        if args.json {
            return print_json(&report);
        }
        spec_v1::print(&report);
        return Ok(());
    }
    let figures: Vec<Figure> = args.figure.map_or(all.to_vec(), |f| vec![f]);
    let mut rows = Vec::new();
    for figure in figures {
        rows.extend(measure(figure, args.quick));
        if !args.json {
            eprint!(".");
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if args.json {
        return print_json(
            &serde_json::json!({ "cores": cores, "quick": args.quick, "figures": rows }),
        );
    }
    println!(
        "\nbluefleet bench — {cores} core(s){}\n",
        if args.quick { ", quick workloads" } else { "" }
    );
    println!(
        "{:<52} {:>14} {:<8} {:<22} result",
        "figure", "value", "unit", "target"
    );
    for r in &rows {
        println!(
            "{:<52} {:>14.3} {:<8} {:<22} {}",
            r.figure,
            r.value,
            r.unit,
            r.target,
            if r.pass { "pass" } else { "MISS" }
        );
    }
    Ok(())
}

fn measure(figure: Figure, quick: bool) -> Vec<Row> {
    let seeds: u64 = if quick { 5 } else { 50 };
    match figure {
        Figure::Adverts => {
            let rounds = if quick { 20 } else { 400 };
            let pipeline = |changed| {
                run_ingest_workload(&IngestWorkload {
                    changed_percent: changed,
                    rounds,
                    ..IngestWorkload::default()
                })
                .adverts_per_second
            };
            let whole = |changed| throughput::whole_path_ingestion(changed, rounds);
            vec![
                row(
                    "adverts/s, pipeline, 10% changed (1 core)",
                    pipeline(10),
                    "1/s",
                    ">= 2e6",
                    pipeline(10) >= 2e6,
                ),
                row(
                    "adverts/s, pipeline, all changed (1 core)",
                    pipeline(100),
                    "1/s",
                    ">= 1e6",
                    pipeline(100) >= 1e6,
                ),
                row(
                    "adverts/s, whole actor path, 10% changed",
                    whole(10),
                    "1/s",
                    ">= 2e6",
                    whole(10) >= 2e6,
                ),
                row(
                    "adverts/s, whole actor path, all changed",
                    whole(100),
                    "1/s",
                    ">= 1e6",
                    whole(100) >= 1e6,
                ),
            ]
        }
        Figure::Fanout => {
            let (rate, lost) = throughput::fan_out(if quick { 2 } else { 20 });
            vec![
                row(
                    "fan-out deliveries/s, 100 devices x 8 subscribers",
                    rate,
                    "1/s",
                    ">= 1e6",
                    rate >= 1e6,
                ),
                row(
                    "fan-out values lost by subscribers that keep up",
                    lost as f64,
                    "count",
                    "== 0",
                    lost == 0,
                ),
            ]
        }
        Figure::Latency => {
            let samples = if quick { 2_000 } else { 20_000 };
            let alone = throughput::latency(samples, 0);
            let beside = throughput::latency(samples, 1);
            let change = (beside[1] - alone[1]) / alone[1];
            vec![
                row(
                    "latency p50 at 10k/s",
                    alone[0],
                    "us",
                    "<= 50",
                    alone[0] <= 50.0,
                ),
                row(
                    "latency p99 at 10k/s",
                    alone[1],
                    "us",
                    "<= 500",
                    alone[1] <= 500.0,
                ),
                row(
                    "latency p99.9 at 10k/s",
                    alone[2],
                    "us",
                    "<= 2000",
                    alone[2] <= 2000.0,
                ),
                row(
                    "p99 change beside a stalled subscriber",
                    change * 100.0,
                    "%",
                    "< 10",
                    change < 0.10,
                ),
            ]
        }
        Figure::Memory => {
            let report = measure_device_memory(if quick { 2_000 } else { 10_000 });
            let counted = report.accounted_bytes_per_device as f64;
            // RSS growth can read low when earlier figures left freed memory to reuse; the
            // pipeline's own count is the floor.
            let resident = report
                .resident_bytes_per_device
                .unwrap_or(counted)
                .max(counted);
            vec![
                row(
                    "bytes per advertising device (counted)",
                    counted,
                    "B",
                    "<= 512",
                    counted <= 512.0,
                ),
                row(
                    "bytes per advertising device (RSS growth)",
                    resident,
                    "B",
                    "<= 512",
                    resident <= 512.0,
                ),
            ]
        }
        Figure::Makespan => {
            let run = |faults: bool, baseline: bool| -> (Vec<f64>, u64) {
                let results: Vec<_> = (1..=seeds)
                    .map(|seed| {
                        if baseline {
                            sessions::baseline_makespan(seed, faults)
                        } else {
                            sessions::bluefleet_makespan(seed, faults)
                        }
                    })
                    .collect();
                (
                    results.iter().map(|m| m.ratio).collect(),
                    results.iter().map(|m| m.collisions).sum(),
                )
            };
            let (clean, clean_collisions) = run(false, false);
            let (faulty, faulty_collisions) = run(true, false);
            let (baseline, baseline_collisions) = run(false, true);
            let gain = 1.0 - median(clean.clone()) / median(baseline.clone());
            vec![
                row(
                    "makespan / lower bound, median",
                    median(clean.clone()),
                    "x",
                    "<= 1.10",
                    median(clean.clone()) <= 1.10,
                ),
                row(
                    "makespan / lower bound, p90",
                    percentile(clean.clone(), 0.9),
                    "x",
                    "<= 1.15",
                    percentile(clean, 0.9) <= 1.15,
                ),
                row(
                    "makespan / LB, 10% aborted/out-of-slots, median",
                    median(faulty.clone()),
                    "x",
                    "<= 1.30",
                    median(faulty) <= 1.30,
                ),
                row(
                    "shorter than the per-device retry baseline",
                    gain * 100.0,
                    "%",
                    ">= 12",
                    gain >= 0.12,
                ),
                row(
                    "baseline makespan / lower bound, median",
                    median(baseline),
                    "x",
                    "(reference)",
                    true,
                ),
                row(
                    "concurrent attempts on one radio (bluefleet)",
                    (clean_collisions + faulty_collisions) as f64,
                    "count",
                    "== 0",
                    clean_collisions + faulty_collisions == 0,
                ),
                row(
                    "concurrent attempts refused (baseline)",
                    baseline_collisions as f64,
                    "count",
                    "(reference)",
                    true,
                ),
            ]
        }
        Figure::Storm => {
            let results: Vec<_> = (1..=seeds.min(20)).map(sessions::restart_storm).collect();
            let ratio = median(results.iter().map(|m| m.ratio).collect());
            let collisions: u64 = results.iter().map(|m| m.collisions).sum();
            vec![
                row(
                    "restart storm / serialisation bound, median",
                    ratio,
                    "x",
                    "<= 1.15",
                    ratio <= 1.15,
                ),
                row(
                    "restart storm concurrent attempts on one radio",
                    collisions as f64,
                    "count",
                    "== 0",
                    collisions == 0,
                ),
            ]
        }
        Figure::SpecV1 => Vec::new(),
        Figure::Cached => {
            let results: Vec<_> = (1..=seeds.min(20))
                .map(sessions::cached_reconnect)
                .collect();
            let requests: u64 = results.iter().map(|r| r.0).sum();
            let speedup = median(results.iter().map(|r| r.1).collect());
            vec![
                row(
                    "discovery requests on a cache hit",
                    requests as f64,
                    "count",
                    "== 0",
                    requests == 0,
                ),
                row(
                    "cached reconnect speed-up over uncached",
                    speedup,
                    "x",
                    ">= 4.5",
                    speedup >= 4.5,
                ),
            ]
        }
    }
}

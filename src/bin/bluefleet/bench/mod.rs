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
mod bound;
mod clairvoyant;
mod figures;
mod online;
mod rows;
mod sessions;
mod spec_v1;
mod throughput;
mod workload;

use clap::ValueEnum;

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
    /// Bytes per advertising device and per managed device.
    Memory,
    /// Connection makespan against its lower bound and a per-device retry baseline.
    Makespan,
    /// Every keep-connected device dropped at once.
    Storm,
    /// Cached reconnect of the reference device.
    Cached,
    /// Workload spec v1 replayed with 1 and with 1,000 per-address watchers, interleaved.
    Watchers,
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
    /// Exit non-zero when any figure misses its target (after printing them all).
    #[arg(long)]
    check: bool,
    /// Adverts replayed by `spec-v1`.
    #[arg(long, default_value_t = 1_000_000)]
    adverts: usize,
    /// The habluetooth anchor's README.md: `spec-v1` checks its stream against the digests
    /// there (else against the built-in copy of them) and refuses to run on a mismatch.
    #[arg(long)]
    anchor: Option<std::path::PathBuf>,
    /// Who watches during `spec-v1` (the spec's 751 watchers unless told).
    #[arg(long, value_enum, default_value = "spec")]
    watchers: spec_v1::WatcherSet,
    /// How `spec-v1`'s watchers take their adverts.
    #[arg(long, value_enum, default_value = "streams")]
    consumers: spec_v1::Consumers,
}

fn anchor_digests(
    anchor: Option<&std::path::Path>,
) -> Result<(Vec<(usize, String)>, String), String> {
    let Some(path) = anchor else {
        return Ok((
            spec_v1::workload::known_digests(),
            "the built-in spec-v1 table".to_owned(),
        ));
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--anchor {}: {e}", path.display()))?;
    let digests = spec_v1::workload::readme_digests(&text);
    if digests.is_empty() {
        return Err(format!(
            "--anchor {}: no SHA-256 table (rows `| N | `<hex>` |`)",
            path.display()
        ));
    }
    Ok((digests, path.display().to_string()))
}

/// CPUs the machine has online (`available_parallelism` counts only those this process may
/// use, which `taskset` narrows).
fn machine_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|text| text.lines().filter(|l| l.starts_with("processor")).count())
        .ok()
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Today's UTC date, `YYYY-MM-DD`.
fn today() -> String {
    civil_date(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// The UTC date of a Unix time (days to civil date, proleptic Gregorian).
fn civil_date(secs: u64) -> String {
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

pub fn run(args: Args) -> Result<(), String> {
    let all = [
        Figure::Memory,
        Figure::Adverts,
        Figure::Watchers,
        Figure::Fanout,
        Figure::Latency,
        Figure::Makespan,
        Figure::Storm,
        Figure::Cached,
    ];
    if args.figure == Some(Figure::SpecV1) {
        let (digests, source) = anchor_digests(args.anchor.as_deref())?;
        let (workload, verified) = spec_v1::prepare(args.adverts, &digests, &source)?;
        let report = spec_v1::run(workload, verified, args.watchers, args.consumers);
        if args.json {
            return print_json(&report);
        }
        spec_v1::print(&report);
        return Ok(());
    }
    let figures: Vec<Figure> = args.figure.map_or(all.to_vec(), |f| vec![f]);
    let mut rows = Vec::new();
    for figure in figures {
        rows.extend(figures::measure(figure, args.quick)?);
        if !args.json {
            eprint!(".");
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    if args.json {
        print_json(&serde_json::json!({
            "date": today(),
            "cores": cores,
            "machine_cores": machine_cores(),
            "quick": args.quick,
            "figures": rows,
        }))?;
    } else {
        print_table(&rows, cores, args.quick);
    }
    if args.check {
        rows::check(&rows)?;
    }
    Ok(())
}

fn print_table(rows: &[rows::Row], cores: usize, quick: bool) {
    println!(
        "\nbluefleet bench — {} ({cores} core(s) usable of {}){}\n",
        today(),
        machine_cores(),
        if quick { ", quick workloads" } else { "" }
    );
    println!(
        "{:<58} {:<11} {:>14} {:<8} {:<12} result",
        "figure", "kind", "value", "unit", "target"
    );
    for r in rows {
        let kind = match r.kind {
            rows::Kind::Performance => "performance",
            rows::Kind::Check => "check",
            rows::Kind::Reference => "reference",
        };
        println!(
            "{:<58} {:<11} {:>14.3} {:<8} {:<12} {}",
            r.figure,
            kind,
            r.value,
            r.unit,
            r.target.as_deref().unwrap_or("—"),
            match r.pass {
                Some(true) => "pass",
                Some(false) => "MISS",
                None => "",
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::civil_date;

    #[test]
    fn unix_times_give_their_calendar_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(951_868_740), "2000-02-29");
        assert_eq!(civil_date(1_796_083_200), "2026-12-01");
    }
}

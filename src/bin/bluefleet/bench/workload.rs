//! A fixed, seeded advert workload and a timer for it: what `cargo bench` and
//! `bluefleet bench adverts` both run. It lives with the binary (and `benches/adverts.rs`
//! includes this file) rather than in the library: it is a benchmark, not part of the API.
//!
//! Owns [`IngestWorkload`] (500 devices on 3 proxies, ESPHome-style batches of 16 sharing one
//! timestamp, 1 s advertising interval, a given share of adverts whose payload changed),
//! [`IngestGenerator`] (makes the batches, deterministic for a seed) and
//! [`run_ingest_workload`] (times only [`AdvertPipeline::ingest`], or parse plus ingest when
//! `parse_raw` is set, and reports adverts per second).
//!
//! Batches are generated outside the timed section, so the figure is the pipeline's own cost
//! (issue 9's "whole path to device state"); with `parse_raw` the figure also includes
//! `Advertisement::from_raw`, the cost a raw-bytes backend pays before the pipeline sees the
//! advert. Wall-clock timing is right here and nowhere else: this is a benchmark, not a test.

use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use bluefleet::adverts::{AdvertPipeline, IngestSummary, PipelineConfig};
use bluefleet::model::{Address, Advertisement, RadioId};

/// The workload's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestWorkload {
    /// Advertising devices (default 500).
    pub devices: usize,
    /// Proxies; device `i` is heard by proxy `i % radios` (default 3).
    pub radios: usize,
    /// Adverts per batch (default 16, what an ESPHome proxy sends).
    pub batch_size: usize,
    /// Percentage of adverts whose payload differs from the device's previous one (default 10).
    pub changed_percent: u8,
    /// Advertising rounds timed (each device once per round; default 200, 100 000 adverts).
    pub rounds: usize,
    /// Also time decoding the raw bytes (`Advertisement::from_raw`) (default false).
    pub parse_raw: bool,
    /// RNG seed (default 7).
    pub seed: u64,
}

impl Default for IngestWorkload {
    fn default() -> Self {
        Self {
            devices: 500,
            radios: 3,
            batch_size: 16,
            changed_percent: 10,
            rounds: 200,
            parse_raw: false,
            seed: 7,
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct IngestReport {
    /// Adverts timed.
    pub adverts: u64,
    /// Time spent in the timed section.
    pub elapsed: Duration,
    /// `adverts / elapsed`.
    pub adverts_per_second: f64,
    /// The pipeline's counts for the timed adverts.
    pub summary: IngestSummary,
    /// Events produced by the timed adverts.
    pub events: u64,
    /// Devices known at the end.
    pub devices: usize,
    /// [`AdvertPipeline::accounted_bytes`] divided by the device count.
    pub accounted_bytes_per_device: usize,
}

/// One advert as a raw-bytes backend delivers it, before parsing.
#[derive(Clone, Debug, PartialEq)]
pub struct RawFrame {
    /// Advertiser.
    pub address: Address,
    /// Radio that heard it.
    pub radio: RadioId,
    /// Signal strength.
    pub rssi_dbm: i16,
    /// Batch timestamp.
    pub seen_at: Instant,
    /// AD structures.
    pub raw: Bytes,
}

impl RawFrame {
    /// Decodes it; the generator only makes well-formed payloads, so a malformed one is kept
    /// as its partial decode.
    pub fn to_advert(&self) -> Advertisement {
        Advertisement::from_raw(
            self.address,
            self.radio.clone(),
            self.rssi_dbm,
            self.seen_at,
            self.raw.clone(),
        )
        .unwrap_or_else(|err| {
            Advertisement::from_data(
                self.address,
                self.radio.clone(),
                self.rssi_dbm,
                self.seen_at,
                *err.partial,
            )
        })
    }
}

/// Makes the workload's batches, round after round, deterministically.
#[derive(Debug)]
pub struct IngestGenerator {
    workload: IngestWorkload,
    rng: ChaCha8Rng,
    radios: Vec<RadioId>,
    /// Per device: payload counter (bumped on a change) and base RSSI.
    devices: Vec<(u32, i16)>,
    origin: Instant,
    round: u32,
    pending: std::collections::VecDeque<Vec<RawFrame>>,
}

impl IngestGenerator {
    /// A generator whose clock starts at `origin`.
    pub fn new(workload: &IngestWorkload, origin: Instant) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(workload.seed);
        let devices = (0..workload.devices)
            .map(|_| (0, rng.gen_range(-90..=-40)))
            .collect();
        let radios = (0..workload.radios.max(1))
            .map(|k| RadioId::new(format!("proxy-{k}")))
            .collect();
        Self {
            workload: workload.clone(),
            rng,
            radios,
            devices,
            origin,
            round: 0,
            pending: Default::default(),
        }
    }

    /// The next batch of raw frames.
    pub fn next_raw_batch(&mut self) -> Vec<RawFrame> {
        if self.pending.is_empty() {
            self.generate_round();
        }
        self.pending.pop_front().unwrap_or_default()
    }

    /// The next batch, decoded.
    pub fn next_batch(&mut self) -> Vec<Advertisement> {
        self.next_raw_batch()
            .iter()
            .map(RawFrame::to_advert)
            .collect()
    }

    /// Batches in one round (every device advertises once).
    pub fn batches_per_round(&self) -> usize {
        let radios = self.radios.len();
        let batch = self.workload.batch_size.max(1);
        (0..radios)
            .map(|k| {
                self.workload
                    .devices
                    .saturating_sub(k)
                    .div_ceil(radios)
                    .div_ceil(batch)
            })
            .sum()
    }

    fn generate_round(&mut self) {
        let round_start = self.origin + Duration::from_secs(u64::from(self.round));
        let change = f64::from(self.workload.changed_percent.min(100)) / 100.0;
        let first_round = self.round == 0;
        for (k, radio) in self.radios.iter().enumerate() {
            let mut batch = Vec::with_capacity(self.workload.batch_size);
            let mut batch_index = 0u64;
            for (i, device) in self.devices.iter_mut().enumerate() {
                if i % self.radios.len() != k {
                    continue;
                }
                if !first_round && self.rng.gen_bool(change) {
                    device.0 = device.0.wrapping_add(1);
                }
                let seen_at = round_start + Duration::from_millis(batch_index * 10 + k as u64 * 3);
                batch.push(RawFrame {
                    address: Address::from_u64(0xA4C1_3800_0000 + i as u64),
                    radio: radio.clone(),
                    rssi_dbm: device.1 + self.rng.gen_range(-3..=3),
                    seen_at,
                    raw: payload(i, device.0),
                });
                if batch.len() == self.workload.batch_size.max(1) {
                    self.pending.push_back(std::mem::take(&mut batch));
                    batch_index += 1;
                }
            }
            if !batch.is_empty() {
                self.pending.push_back(batch);
            }
        }
        self.round += 1;
    }
}

/// A thermometer-like payload: flags, 10 bytes of manufacturer data holding a counter, and a
/// name on every fourth device.
fn payload(device: usize, counter: u32) -> Bytes {
    let mut raw = Vec::with_capacity(31);
    raw.extend_from_slice(&[0x02, 0x01, 0x06, 0x0B, 0xFF, 0x99, 0x04]);
    raw.extend_from_slice(&counter.to_le_bytes());
    raw.extend_from_slice(&(device as u16).to_le_bytes());
    raw.extend_from_slice(&[0x0C, 0x64]);
    if device.is_multiple_of(4) {
        let name = format!("sensor-{device:03}");
        raw.push(name.len() as u8 + 1);
        raw.push(0x09);
        raw.extend_from_slice(name.as_bytes());
    }
    Bytes::from(raw)
}

/// Runs the workload: one untimed round so every device has appeared, then `rounds` timed.
pub fn run_ingest_workload(workload: &IngestWorkload) -> IngestReport {
    let mut generator = IngestGenerator::new(workload, Instant::now());
    let mut pipeline = AdvertPipeline::new(PipelineConfig::default());
    let mut events = Vec::with_capacity(256);
    let per_round = generator.batches_per_round();
    for _ in 0..per_round {
        pipeline.ingest(&generator.next_batch(), &mut events);
        events.clear();
    }
    let mut elapsed = Duration::ZERO;
    let mut summary = IngestSummary::default();
    let mut event_count = 0u64;
    let mut decoded: Vec<Advertisement> = Vec::with_capacity(workload.batch_size);
    for _ in 0..workload.rounds {
        for _ in 0..per_round {
            let raw = generator.next_raw_batch();
            let start;
            if workload.parse_raw {
                start = std::time::Instant::now();
                decoded.extend(raw.iter().map(RawFrame::to_advert));
            } else {
                decoded.extend(raw.iter().map(RawFrame::to_advert));
                start = std::time::Instant::now();
            }
            summary.add(&pipeline.ingest(&decoded, &mut events));
            if workload.parse_raw {
                // Freeing the decoded adverts is part of the raw path's cost.
                decoded.clear();
                elapsed += start.elapsed();
            } else {
                elapsed += start.elapsed();
                decoded.clear();
            }
            event_count += events.len() as u64;
            events.clear();
        }
    }
    let devices = pipeline.len();
    IngestReport {
        adverts: summary.adverts,
        elapsed,
        adverts_per_second: summary.adverts as f64 / elapsed.as_secs_f64().max(1e-9),
        summary,
        events: event_count,
        devices,
        accounted_bytes_per_device: pipeline.accounted_bytes() / devices.max(1),
    }
}

/// What an advertising-only device costs in memory.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MemoryReport {
    /// Devices ingested.
    pub devices: usize,
    /// [`AdvertPipeline::accounted_bytes`] per device (requested sizes, map buckets included).
    pub accounted_bytes_per_device: usize,
    /// Growth of the process's resident memory per device, allocator overhead included
    /// (Linux only; `None` elsewhere or when `/proc/self/status` cannot be read). Meaningful
    /// only in a process that does little else, such as the benchmark.
    pub resident_bytes_per_device: Option<f64>,
}

/// Feeds `devices` distinct devices (the workload's payloads, one advert each) into a fresh
/// pipeline and reports the memory they hold. With `sensor_readings` the payloads carry
/// Ruuvi's company id, so the Ruuvi decoder (src/decode) keeps its last result per device (for
/// these short frames a decode error, not readings); without, the same frames under company
/// 0xFFFF (reserved for tests, which no decoder knows), so the figure is the pipeline's own
/// per-device state.
pub fn measure_device_memory(devices: usize, sensor_readings: bool) -> MemoryReport {
    let before = resident_bytes();
    let pipeline = heard_once(devices, sensor_readings);
    let after = resident_bytes();
    let count = pipeline.len().max(1);
    MemoryReport {
        devices: pipeline.len(),
        accounted_bytes_per_device: pipeline.accounted_bytes() / count,
        resident_bytes_per_device: before
            .zip(after)
            .map(|(before, after)| after.saturating_sub(before) as f64 / count as f64),
    }
}

/// A pipeline that heard `devices` devices once each (see [`measure_device_memory`]).
fn heard_once(devices: usize, sensor_readings: bool) -> AdvertPipeline {
    let origin = Instant::now();
    let radio = RadioId::new("proxy-0");
    let mut pipeline = AdvertPipeline::new(PipelineConfig::default());
    let mut events = Vec::with_capacity(4);
    for i in 0..devices {
        let mut raw = payload(i, 0).to_vec();
        if !sensor_readings {
            raw[5..7].copy_from_slice(&0xFFFFu16.to_le_bytes());
        }
        let frame = RawFrame {
            address: Address::from_u64(0xA4C1_3800_0000 + i as u64),
            radio: radio.clone(),
            rssi_dbm: -70,
            seen_at: origin,
            raw: Bytes::from(raw),
        };
        pipeline.ingest(&[frame.to_advert()], &mut events);
        events.clear();
    }
    pipeline
}

/// The process's resident set size, from `/proc/self/status` (`VmRSS: … kB`).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workload_changes_the_requested_share_of_payloads() {
        let workload = IngestWorkload {
            rounds: 20,
            ..IngestWorkload::default()
        };
        let report = run_ingest_workload(&workload);
        assert_eq!(report.adverts, 500 * 20);
        assert_eq!(report.devices, 500);
        assert_eq!(report.summary.appeared, 0);
        let changed = report.summary.changed as f64 / report.adverts as f64;
        assert!((0.08..0.12).contains(&changed), "{changed}");
        assert_eq!(
            report.summary.changed + report.summary.deduplicated,
            report.adverts
        );
        assert!(report.accounted_bytes_per_device < 512, "{report:?}");
    }

    #[test]
    fn memory_is_measured_per_device() {
        let report = measure_device_memory(2_000, true);
        assert_eq!(report.devices, 2_000);
        let first = Address::from_u64(0xA4C1_3800_0000);
        let claimed = |sensors| {
            let pipeline = heard_once(3, sensors);
            let readings = pipeline.readings();
            readings.get(&first).is_some() || readings.error(&first).is_some()
        };
        assert!(
            claimed(true),
            "Ruuvi's company id: its decoder keeps a result"
        );
        assert!(!claimed(false), "company 0xFFFF: no decoder, nothing kept");
        let without = measure_device_memory(2_000, false);
        assert!(
            without.accounted_bytes_per_device <= report.accounted_bytes_per_device,
            "{without:?}"
        );
        assert!(
            (200..512).contains(&report.accounted_bytes_per_device),
            "{report:?}"
        );
    }

    #[test]
    fn every_advert_changes_when_asked_and_generation_is_seeded() {
        let workload = IngestWorkload {
            rounds: 3,
            changed_percent: 100,
            devices: 50,
            ..IngestWorkload::default()
        };
        let report = run_ingest_workload(&workload);
        assert_eq!(report.summary.changed, report.adverts);
        let origin = Instant::now();
        let mut a = IngestGenerator::new(&workload, origin);
        let mut b = IngestGenerator::new(&workload, origin);
        assert_eq!(a.batches_per_round(), 5); // 17, 17, 16 devices: 2 + 2 + 1 batches of 16
        for _ in 0..10 {
            assert_eq!(a.next_raw_batch(), b.next_raw_batch());
        }
    }
}

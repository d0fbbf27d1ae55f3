//! `bluefleet proximity ADDRESS`: live RSSI → smoothed → distance → zone, with zone changes.
//!
//! Follows the device through whichever radio hears it best, smoothing with the given α, and
//! uses the library's zone rules (minimum samples, hysteresis) and log-distance estimate.

use bluefleet::adverts::watch::Watched;
use std::time::Duration;

use bluefleet::adverts::proximity::{estimate_distance_m, next_zone, ProximityConfig};
use bluefleet::adverts::rssi::smooth;
use bluefleet::adverts::Zone;
use bluefleet::{Address, Fleet};
use futures::StreamExt;
use serde::Serialize;

use crate::backend::{with_fleet, BackendArgs};
use crate::output::print_json;

/// Arguments of `proximity`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// The device's address.
    address: String,
    /// EMA weight of each new sample (0 < α ≤ 1).
    #[arg(long, default_value_t = 0.3)]
    alpha: f32,
    /// Path-loss exponent for the distance estimate (2.0 open space … 4 indoors; 1 to 6).
    #[arg(long, default_value_t = 2.5)]
    exponent: f32,
    /// How long to follow it (e.g. 30s, 5m).
    #[arg(long, default_value = "30s", value_parser = crate::duration::positive)]
    duration: Duration,
    /// One JSON object per sample.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Sample {
    t_s: f64,
    radio: String,
    rssi_dbm: i16,
    smoothed_dbm: f32,
    distance_m: f64,
    zone: Option<Zone>,
    zone_changed_from: Option<Zone>,
}

pub fn run(args: Args) -> Result<(), String> {
    let address = Address::parse(&args.address).map_err(|e| e.to_string())?;
    if !(args.alpha > 0.0 && args.alpha <= 1.0) {
        return Err(format!("--alpha must be in (0, 1], not {}", args.alpha));
    }
    // Below 1 or above 6 no room behaves like that, and 0 divides by zero (99999 m).
    if !(1.0..=6.0).contains(&args.exponent) {
        return Err(format!(
            "--exponent must be between 1 and 6 (2 open space, 3-4 indoors), not {}",
            args.exponent
        ));
    }
    let config = ProximityConfig {
        path_loss_exponent: args.exponent,
        ..ProximityConfig::default()
    };
    let (alpha, duration, json) = (args.alpha, args.duration, args.json);
    let samples = with_fleet(&args.backend, |fleet| {
        follow(fleet, address, config, alpha, duration, json)
    })?;
    if samples == 0 {
        return Err(format!("no radio heard {address} in {duration:?}"));
    }
    Ok(())
}

async fn follow(
    fleet: Fleet,
    address: Address,
    config: ProximityConfig,
    alpha: f32,
    duration: Duration,
    json: bool,
) -> Result<u64, String> {
    let started = tokio::time::Instant::now();
    let mut adverts = Box::pin(fleet.adverts());
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    let (mut smoothed, mut zone, mut samples) = (None, None, 0u64);
    if !json {
        println!(
            "{:>7}  {:<16} {:>5} {:>9} {:>8}  zone",
            "t", "radio", "rssi", "smoothed", "distance"
        );
    }
    loop {
        let advert = tokio::select! {
            _ = &mut deadline => break,
            Some(item) = adverts.next() => match item {
                Watched::Item(advert) => advert,
                Watched::Lagged(missed) => {
                    tracing::warn!(missed, "proximity fell behind the radios; adverts skipped");
                    continue;
                }
            },
        };
        let best = fleet.heard_device(&address).and_then(|d| d.best_radio);
        if advert.address != address || best.as_ref().is_some_and(|b| *b != advert.radio) {
            continue;
        }
        samples += 1;
        let value = smooth(smoothed, advert.rssi_dbm, alpha);
        smoothed = Some(value);
        let previous = zone;
        zone = next_zone(
            &config,
            zone,
            value,
            u16::try_from(samples).unwrap_or(u16::MAX),
        );
        let calibrated = fleet
            .heard_device(&address)
            .and_then(|d| d.beacon)
            .and_then(|b| b.power_at_1m_dbm());
        let sample = Sample {
            t_s: started.elapsed().as_secs_f64(),
            radio: advert.radio.to_string(),
            rssi_dbm: advert.rssi_dbm,
            smoothed_dbm: value,
            distance_m: estimate_distance_m(&config, calibrated, value),
            zone,
            zone_changed_from: previous.filter(|p| Some(*p) != zone),
        };
        if json {
            print_json(&sample)?;
        } else {
            let zone_text = sample.zone.map_or("(gathering samples)".to_string(), |z| {
                format!("{z:?}").to_lowercase()
            });
            println!(
                "{:>6.1}s  {:<16} {:>5} {:>9.1} {:>7.2}m  {zone_text}",
                sample.t_s, sample.radio, sample.rssi_dbm, sample.smoothed_dbm, sample.distance_m
            );
            if let (Some(from), Some(to)) = (sample.zone_changed_from, sample.zone) {
                println!("         zone changed: {from:?} → {to:?}");
            }
        }
    }
    Ok(samples)
}

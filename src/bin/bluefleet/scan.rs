//! `bluefleet scan`: devices as they appear, then per-device RSSI statistics.

use bluefleet::adverts::watch::Watched;
use std::collections::BTreeSet;
use std::time::Duration;

use bluefleet::adverts::AdvertFilter;
use bluefleet::fleet::HeardDevice;
use bluefleet::model::parse_uuid;
use bluefleet::model::uuid::display_uuid;
use bluefleet::Fleet;
use futures::StreamExt;

use crate::backend::{with_fleet, BackendArgs};
use crate::output::{dbm, hex, metres, print_json};

/// Arguments of `scan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// How long to listen (e.g. 15s, 2.5s, 1m).
    #[arg(long, default_value = "15s", value_parser = crate::duration::positive)]
    duration: Duration,
    /// Only devices at least this loud (dBm).
    #[arg(long, allow_negative_numbers = true)]
    rssi: Option<i16>,
    /// Only devices whose name matches this regular expression.
    #[arg(long)]
    name: Option<String>,
    /// Only devices advertising this service UUID (180d, 0x180D or 128-bit).
    #[arg(long)]
    service: Option<String>,
    /// Print one JSON array at the end instead of lines.
    #[arg(long)]
    json: bool,
}

fn filter(args: &Args) -> Result<AdvertFilter, String> {
    let mut filter = AdvertFilter::new();
    if let Some(rssi) = args.rssi {
        filter = filter.min_rssi_dbm(rssi);
    }
    if let Some(pattern) = &args.name {
        filter = filter.name_matching(pattern).map_err(|e| e.to_string())?;
    }
    if let Some(service) = &args.service {
        filter = filter.service_uuid(parse_uuid(service).map_err(|e| e.to_string())?);
    }
    Ok(filter)
}

pub fn run(args: Args) -> Result<(), String> {
    let duration = args.duration;
    let filter = filter(&args)?;
    with_fleet(&args.backend, |fleet| {
        scan(fleet, filter, duration, args.json)
    })
}

async fn scan(
    fleet: Fleet,
    filter: AdvertFilter,
    duration: Duration,
    json: bool,
) -> Result<(), String> {
    let mut adverts = Box::pin(fleet.adverts());
    let mut found = BTreeSet::new();
    let deadline = tokio::time::sleep(duration);
    tokio::pin!(deadline);
    if !json {
        println!("scanning for {duration:?}…");
    }
    loop {
        tokio::select! {
            biased;
            _ = &mut deadline => break,
            Some(item) = adverts.next() => {
                let advert = match item {
                    Watched::Item(advert) => advert,
                    Watched::Lagged(missed) => {
                        tracing::warn!(missed, "scan fell behind the radios; adverts skipped");
                        continue;
                    }
                };
                if filter.matches(&*advert) && found.insert(advert.address) && !json {
                    let distance = fleet.heard_device(&advert.address).and_then(|d| d.distance_m);
                    println!("  + {}  {:<24} {:>8}  {:>7}  via {}", advert.address,
                        advert.local_name().unwrap_or("(no name)"), dbm(Some(f32::from(advert.rssi_dbm))),
                        metres(distance), advert.radio);
                }
            }
        }
    }
    let heard: Vec<_> = fleet
        .heard()
        .into_iter()
        .filter(|d| found.contains(&d.address))
        .collect();
    let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
    if json {
        let devices: Vec<_> = heard.iter().map(json_row).collect();
        // Each radio's scan mode: the one asked for and the one it really runs.
        let radios: Vec<_> = diagnostics
            .radios
            .iter()
            .map(|r| serde_json::json!({"radio": r.radio, "scan_mode": r.scan_mode}))
            .collect();
        return print_json(&serde_json::json!({"devices": devices, "radios": radios}));
    }
    println!(
        "\n{} device(s)\n{:<17}  {:<24} {:>7}  {:>11}  {:>14}  {:>7}  {:<14} RSSI PER RADIO",
        heard.len(),
        "ADDRESS",
        "NAME",
        "SAMPLES",
        "RANGE dBm",
        "MEAN ± SD",
        "DIST",
        "BEST RADIO"
    );
    for device in &heard {
        let r = &device.rssi;
        let range = match (r.min_dbm, r.max_dbm) {
            (Some(min), Some(max)) => format!("{min}…{max}"),
            _ => "—".into(),
        };
        let mean = match (r.mean_dbm, r.std_dev_db) {
            (Some(mean), Some(sd)) => format!("{mean:.1} ± {sd:.1}"),
            (Some(mean), None) => format!("{mean:.1}"),
            _ => "—".into(),
        };
        let per_radio: Vec<String> = device
            .radios
            .iter()
            .map(|(radio, rssi)| format!("{radio} {}", dbm(*rssi)))
            .collect();
        println!(
            "{}  {:<24} {:>7}  {:>11}  {:>14}  {:>7}  {:<14} {}",
            device.address,
            device.name.as_deref().unwrap_or("(no name)"),
            r.samples,
            range,
            mean,
            metres(device.distance_m),
            device
                .best_radio
                .as_ref()
                .map_or_else(|| "—".to_string(), ToString::to_string),
            per_radio.join(", ")
        );
        // Sensor readings from the adverts (docs/decoders.md), or why they could not be read.
        match (&device.readings, &device.decode_error) {
            (Some(decoded), _) => println!(
                "{:19}readings ({}): {}",
                "",
                decoded.format,
                decoded.summary()
            ),
            (None, Some(err)) => println!("{:19}readings: {err}", ""),
            (None, None) => {}
        }
        for (company, data) in &device.data.manufacturer_data {
            println!("{:19}manufacturer 0x{company:04x}: {}", "", hex(data));
        }
        for (uuid, data) in &device.data.service_data {
            println!(
                "{:19}service data {}: {}",
                "",
                display_uuid(uuid),
                hex(data)
            );
        }
    }
    print_scan_modes(&diagnostics);
    Ok(())
}

/// Each radio's scan mode as it really runs, with the one asked for where they differ.
fn print_scan_modes(diagnostics: &bluefleet::fleet::Diagnostics) {
    let modes: Vec<String> = diagnostics
        .radios
        .iter()
        .filter_map(|r| Some(format!("{} {}", r.radio, r.scan_mode.as_ref()?.in_words())))
        .collect();
    if !modes.is_empty() {
        println!("\nscan mode: {}", modes.join("; "));
    }
}

/// One device as JSON: the library's summary plus the advert's data, keyed in hex.
fn json_row(device: &HeardDevice) -> serde_json::Value {
    let mut row = serde_json::to_value(device).unwrap_or_default();
    if let Some(object) = row.as_object_mut() {
        let manufacturer: serde_json::Map<_, _> = device
            .data
            .manufacturer_data
            .iter()
            .map(|(company, data)| (format!("0x{company:04x}"), hex(data).into()))
            .collect();
        let service: serde_json::Map<_, _> = device
            .data
            .service_data
            .iter()
            .map(|(uuid, data)| (uuid.to_string(), hex(data).into()))
            .collect();
        object.insert("manufacturer_data".into(), manufacturer.into());
        object.insert("service_data".into(), service.into());
        object.insert(
            "service_uuids".into(),
            serde_json::to_value(&device.data.service_uuids).unwrap_or_default(),
        );
        object.insert("tx_power_dbm".into(), device.data.tx_power_dbm.into());
    }
    row
}

//! `bluefleet beacons`: the iBeacon / Eddystone registry after listening a while.

use std::time::Duration;

use bluefleet::adverts::beacon::BeaconCounts;
use bluefleet::fleet::HeardDevice;
use bluefleet::Fleet;
use serde::Serialize;

use crate::backend::{with_fleet, BackendArgs};
use crate::output::{dbm, hex, metres, print_json};

/// Arguments of `beacons`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// How long to listen (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = crate::duration::positive)]
    duration: Duration,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Registry {
    counts: BeaconCounts,
    beacons: Vec<HeardDevice>,
}

pub fn run(args: Args) -> Result<(), String> {
    let duration = args.duration;
    let registry = with_fleet(&args.backend, |fleet| listen(fleet, duration))?;
    if args.json {
        return print_json(&registry);
    }
    let c = &registry.counts;
    println!(
        "{} beacon(s): iBeacon {}, Eddystone UID {}, URL {}, TLM {} ({} malformed frames)",
        registry.beacons.len(),
        c.ibeacon,
        c.eddystone_uid,
        c.eddystone_url,
        c.eddystone_tlm,
        c.malformed_frames
    );
    for device in &registry.beacons {
        let Some(beacon) = &device.beacon else {
            continue;
        };
        println!(
            "\n{}  {}  {}  {}",
            device.address,
            device.name.as_deref().unwrap_or(""),
            dbm(device.smoothed_rssi_dbm),
            metres(device.distance_m)
        );
        if let Some(b) = &beacon.ibeacon {
            println!(
                "  iBeacon        {} major {} minor {} measured {} dBm",
                b.uuid, b.major, b.minor, b.measured_power_dbm
            );
        }
        if let Some(b) = &beacon.eddystone_uid {
            println!(
                "  Eddystone UID  namespace {} instance {} tx@0m {} dBm",
                hex(&b.namespace),
                hex(&b.instance),
                b.tx_power_at_0m_dbm
            );
        }
        if let Some(b) = &beacon.eddystone_url {
            println!(
                "  Eddystone URL  {} tx@0m {} dBm",
                b.url, b.tx_power_at_0m_dbm
            );
        }
        if let Some(t) = &beacon.eddystone_tlm {
            let volts = t.battery_mv.map_or("—".into(), |mv| {
                format!("{:.2} V", f64::from(mv) / 1000.0)
            });
            let temp = t.temperature_c.map_or("—".into(), |c| format!("{c:.1} °C"));
            println!(
                "  Eddystone TLM  battery {volts}, {temp}, {} adverts, up {:?}",
                t.advert_count, t.uptime
            );
        }
    }
    Ok(())
}

async fn listen(fleet: Fleet, duration: Duration) -> Result<Registry, String> {
    let listening = tokio::time::sleep(duration);
    crate::progress::waiting_for(&format!("beacons ({duration:?} of adverts)"), listening).await;
    let beacons = fleet
        .heard()
        .into_iter()
        .filter(|d| d.beacon.is_some())
        .collect();
    Ok(Registry {
        counts: fleet.beacon_counts(),
        beacons,
    })
}

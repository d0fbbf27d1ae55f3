//! `bluefleet run --config hub.toml`: the hub daemon.
//!
//! Opens the radios the file lists, keeps its devices connected, subscribes to what it asks and
//! prints every decoded value (as log lines, or JSON lines with `--json`), plus connection gaps.
//! Stops after `--duration`, or on Ctrl-C, disconnecting everything first. A hub of simulated
//! worlds only, with `--duration`, runs in virtual time (instant, reproducible); as soon as one
//! real radio is in the file, time is real.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bluefleet::backend::Radio;
use bluefleet::config::{AdvertDecoding, DeviceConfig, HubConfig, RadioConfig, SubscriptionConfig};
use bluefleet::fleet::{block_on_real_time, block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::{SimControl, Simulation, World};
use bluefleet::web::Command;
use bluefleet::{Device, Fleet};
use futures::StreamExt;
use serde_json::json;

use crate::output::hex;
use crate::web_driver::WebDriver;

/// How many kept-connected devices the report draws RSSI pictures for.
const REPORT_DEVICES: usize = 4;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hub file (see examples/hub.toml).
    #[arg(long)]
    config: PathBuf,
    /// Stop after this long (e.g. 90s, 10m); without it, run until Ctrl-C.
    #[arg(long, value_parser = crate::duration::positive)]
    duration: Option<Duration>,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    /// Write report.html (SVG pictures of the run) into this directory at the end.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<(), String> {
    let config = HubConfig::load(&args.config).map_err(|e| e.to_string())?;
    // World paths in the hub file are relative to the hub file.
    let base = args.config.parent().map(PathBuf::from).unwrap_or_default();
    let worlds: Vec<World> = config
        .radios
        .iter()
        .filter_map(|r| match r {
            RadioConfig::Sim { world } => {
                {
                    // A file beside the hub file, else a path as given or a built-in world's name.
                    let beside = base.join(world);
                    Some(crate::worlds::load(if beside.exists() {
                        &beside
                    } else {
                        world
                    }))
                }
            }
            _ => None,
        })
        .collect::<Result<_, _>>()?;
    // Virtual time only when every radio is simulated: real radios need real time, and so
    // does a broker ([mqtt]).
    let only_simulated = config
        .radios
        .iter()
        .all(|r| matches!(r, RadioConfig::Sim { .. }));
    // A proxy's clients are other processes: real time too.
    let virtual_time = args.duration.is_some()
        && !worlds.is_empty()
        && only_simulated
        && !bridged(&config)
        && config.proxy.is_none();
    let job = async {
        let simulations: Vec<Simulation> = worlds
            .into_iter()
            .map(|w| Simulation::start(w, config.seed))
            .collect();
        let mut radios: Vec<Arc<dyn Radio>> =
            simulations.iter().flat_map(Simulation::radios).collect();
        radios.extend(real_radios(&config.radios).await?);
        let mut builder = Fleet::builder().radios(radios).seed(config.seed);
        if let Some(dir) = &config.cache_dir {
            builder = builder.cache_dir(dir);
        }
        for device in &config.devices {
            if let Some(key) = device.bindkey() {
                builder = builder.bindkey(device.address, key);
            }
        }
        let fleet = builder.build().map_err(|e| e.to_string())?;
        #[cfg(feature = "proxy")]
        let proxy = crate::proxy::start_from_section(&fleet, config.proxy.as_ref()).await?;
        #[cfg(not(feature = "proxy"))]
        if config.proxy.is_some() {
            return Err("[proxy] needs the proxy server, not built in this binary (rebuild with cargo feature `proxy`)".into());
        }
        let names = config
            .devices
            .iter()
            .filter_map(|d| d.name.clone().map(|name| (d.address, name)));
        let follow = config
            .devices
            .iter()
            .filter(|d| d.keep_connected)
            .map(|d| d.address)
            .take(REPORT_DEVICES);
        let heading = format!("{} seed {}", args.config.display(), config.seed);
        let web = WebDriver::start(
            config.web.as_ref(),
            args.report.clone(),
            names,
            follow,
            heading,
        )?
        .map(Rc::new);
        if let Some(web) = &web {
            web.follow_adverts(&fleet);
            let controls = simulations.iter().map(Simulation::control).collect();
            actix::spawn(sample_for_web(Rc::clone(web), fleet.clone(), controls));
        }
        let work = serve(&fleet, &config.devices, args.duration, args.json);
        let outcome = with_bridge(&fleet, &config, work).await;
        #[cfg(feature = "proxy")]
        if let Some(server) = proxy {
            server.shutdown().await;
        }
        if let Some(web) = &web {
            web.finish()?;
        }
        fleet.shutdown().await.map_err(|e| e.to_string())?;
        drop(simulations);
        outcome
    };
    if virtual_time {
        block_on_virtual_time(job)
    } else {
        block_on_real_time(job)
    }
}

#[cfg(feature = "mqtt")]
fn bridged(config: &HubConfig) -> bool {
    config.mqtt.is_some()
}

#[cfg(not(feature = "mqtt"))]
fn bridged(_: &HubConfig) -> bool {
    false
}

#[cfg(feature = "mqtt")]
async fn with_bridge(
    fleet: &Fleet,
    config: &HubConfig,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    crate::mqtt::alongside(fleet, config.mqtt.clone(), config.devices.clone(), work).await
}

#[cfg(not(feature = "mqtt"))]
async fn with_bridge(
    _: &Fleet,
    _: &HubConfig,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    work.await
}

async fn real_radios(radios: &[RadioConfig]) -> Result<Vec<Arc<dyn Radio>>, String> {
    let mut opened: Vec<Arc<dyn Radio>> = Vec::new();
    for radio in radios {
        match radio {
            RadioConfig::Sim { .. } => {}
            RadioConfig::Bluez { adapter, slots } => opened.push(bluez(adapter, *slots).await?),
            RadioConfig::Esphome { host, psk, name } => {
                opened.push(esphome(host, psk.as_deref(), name.as_deref())?)
            }
        }
    }
    Ok(opened)
}

#[cfg(feature = "bluez")]
async fn bluez(adapter: &str, slots: usize) -> Result<Arc<dyn Radio>, String> {
    use bluefleet::backend::bluez::{zbus, BluezConfig, BluezRadio};
    let conn = zbus::Connection::system()
        .await
        .map_err(|e| format!("radio {adapter}: cannot reach the system D-Bus: {e}"))?;
    let config = BluezConfig {
        slot_limit: slots,
        ..BluezConfig::default()
    };
    let radio = BluezRadio::open(conn, adapter, &config)
        .await
        .map_err(|e| {
            format!(
                "radio {adapter}: {}",
                bluefleet::backend::bluez::unavailable_words(&e)
            )
        })?;
    Ok(Arc::new(radio))
}

#[cfg(not(feature = "bluez"))]
async fn bluez(_: &str, _: usize) -> Result<Arc<dyn Radio>, String> {
    Err("the bluez backend is not built in this binary (rebuild with cargo feature `bluez`)".into())
}

#[cfg(feature = "esphome")]
fn esphome(host: &str, psk: Option<&str>, name: Option<&str>) -> Result<Arc<dyn Radio>, String> {
    use bluefleet::backend::esphome::{EsphomeConfig, EsphomeRadio};
    let mut config = EsphomeConfig::parse(host).map_err(|e| format!("radio {host}: {e}"))?;
    if let Some(psk) = psk {
        config = config
            .with_key(psk)
            .map_err(|e| format!("radio {host}: {e}"))?;
    }
    if let Some(name) = name {
        config = config.named(name);
    }
    Ok(Arc::new(EsphomeRadio::new(config)))
}

#[cfg(not(feature = "esphome"))]
fn esphome(_: &str, _: Option<&str>, _: Option<&str>) -> Result<Arc<dyn Radio>, String> {
    Err(
        "the esphome backend is not built in this binary (rebuild with cargo feature `esphome`)"
            .into(),
    )
}

async fn serve(
    fleet: &Fleet,
    devices: &[DeviceConfig],
    duration: Option<Duration>,
    json: bool,
) -> Result<(), String> {
    let started = tokio::time::Instant::now();
    for config in devices {
        let device = fleet
            .device(config.address)
            .await
            .map_err(|e| e.to_string())?;
        device
            .keep_connected(config.keep_connected)
            .await
            .map_err(|e| e.to_string())?;
        let name = config
            .name
            .clone()
            .unwrap_or_else(|| config.address.to_string());
        if config.decode == AdvertDecoding::Auto {
            actix::spawn(crate::readings::print_readings(
                fleet.clone(),
                config.address,
                name.clone(),
                started,
                json,
            ));
        }
        for subscription in &config.subscribe {
            actix::spawn(print_values(
                device.clone(),
                name.clone(),
                subscription.clone(),
                started,
                json,
            ));
        }
    }
    let stop = async {
        match duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    stop.await;
    if !json {
        println!("stopping: disconnecting every device");
    }
    Ok(())
}

async fn print_values(
    device: Device,
    name: String,
    config: SubscriptionConfig,
    started: tokio::time::Instant,
    json: bool,
) {
    let Ok(uuid) = config.uuid() else { return };
    let mut subscription = match device.subscribe(uuid).await {
        Ok(subscription) => subscription,
        Err(err) => return eprintln!("{name}: cannot subscribe to {uuid}: {err}"),
    };
    let characteristic = bluefleet::model::uuid::display_uuid(&uuid);
    while let Some(event) = subscription.next().await {
        let t = started.elapsed().as_secs_f64();
        let (kind, detail) = match event {
            SubscriptionEvent::Notification(value) => {
                let reading = config.decode.apply(&value, config.scale);
                if json {
                    println!(
                        "{}",
                        json!({"t_s": t, "device": name, "address": device.address(), "characteristic": characteristic, "value": reading, "unit": config.unit, "raw": hex(&value)})
                    );
                } else {
                    println!(
                        "{t:>9.1}s  {name:<24} {characteristic:<8} {reading} {}",
                        config.unit
                    );
                }
                continue;
            }
            SubscriptionEvent::Disconnected { reason } => ("disconnected", reason),
            SubscriptionEvent::Reconnected => ("reconnected", String::new()),
            SubscriptionEvent::Lagged(n) => ("lagged", format!("{n} values missed")),
        };
        if json {
            println!(
                "{}",
                json!({"t_s": t, "device": name, "address": device.address(), "characteristic": characteristic, "event": kind, "detail": detail})
            );
        } else {
            println!("{t:>9.1}s  {name:<24} {characteristic:<8} [{kind}] {detail}");
        }
    }
}

/// Samples the fleet for the page once a second and carries out the page's commands, until
/// the fleet shuts down. Radio commands reach simulated radios only.
async fn sample_for_web(web: Rc<WebDriver>, fleet: Fleet, sims: Vec<SimControl>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        if web.sample(&fleet).await.is_err() {
            return;
        }
        for command in web.commands() {
            let outcome = match &command {
                Command::RadioDown(name) => sim_radio(&sims, name, |c| c.radio_down(name)),
                Command::RadioUp(name) => sim_radio(&sims, name, |c| c.radio_up(name)),
                Command::Disconnect(address) => match fleet.device(*address).await {
                    Ok(device) => device.disconnect().await.map_err(|e| e.to_string()),
                    Err(err) => Err(err.to_string()),
                },
            };
            if let Err(err) = outcome {
                eprintln!("web: {command:?} failed: {err}");
            }
        }
    }
}

fn sim_radio(
    sims: &[SimControl],
    name: &str,
    apply: impl Fn(&SimControl) -> Result<(), bluefleet::sim::SimError>,
) -> Result<(), String> {
    let mut last = format!("{name} is not a simulated radio: only those can be taken down");
    for control in sims {
        match apply(control) {
            Ok(()) => return Ok(()),
            Err(err) => last = err.to_string(),
        }
    }
    Err(last)
}

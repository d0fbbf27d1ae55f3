//! `bluefleet run --config hub.toml`: the hub daemon.
//!
//! Opens the radios the file lists, keeps its devices connected, subscribes to what it asks and
//! prints every decoded value (as log lines, or JSON lines with `--json`), plus connection gaps.
//! Stops after `--duration`, or on SIGTERM / SIGINT, disconnecting everything first (exit 0).
//! SIGHUP re-reads the file and applies the difference (devices: `hub_devices.rs`, radios:
//! `run_radios.rs`) and prints what the hub then runs. Under systemd it reports
//! ready / reloading / stopping and feeds the watchdog (`systemd.rs`). A hub of simulated
//! worlds only, with `--duration`, runs in virtual time (instant, reproducible); as soon as one
//! real radio is in the file, time is real.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bluefleet::backend::ScanMode;
use bluefleet::config::{HubConfig, RadioConfig};
use bluefleet::fleet::{block_on_real_time, block_on_virtual_time};
use bluefleet::sim::SimControl;
use bluefleet::web::Command;
use bluefleet::Fleet;

use crate::hub_devices::HubDevices;
use crate::run_radios::{load_worlds, HubRadios};
use crate::signals::{Request, Signals};
use crate::systemd;
use crate::web_driver::WebDriver;

/// How many kept-connected devices the report draws RSSI pictures for.
const REPORT_DEVICES: usize = 4;

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The hub file (see examples/hub.toml and docs/hub-toml.md).
    #[arg(long)]
    config: PathBuf,
    /// Stop after this long (e.g. 90s, 10m); without it, run until SIGTERM or Ctrl-C.
    #[arg(long, value_parser = crate::duration::positive)]
    duration: Option<Duration>,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    /// Write report.html (SVG pictures of the run) into this directory at the end.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// How long a scanning radio may deliver nothing before it is recovered step by step
    /// (e.g. 90s), or `off`; overrides the file's `radio_watchdog` (default 90s).
    #[arg(long, value_name = "DURATION|off", value_parser = quiet_after)]
    radio_watchdog: Option<QuietAfter>,
    /// Scan mode of every radio (active or passive); overrides each entry's `scan_mode`.
    #[arg(long, value_name = "MODE")]
    scan_mode: Option<ScanMode>,
}

/// The radio watchdog's setting from the command line: a duration, or off.
#[derive(Clone, Copy, Debug)]
struct QuietAfter(Option<Duration>);

fn quiet_after(text: &str) -> Result<QuietAfter, String> {
    if text == "off" {
        return Ok(QuietAfter(None));
    }
    let quiet = crate::duration::positive(text)?;
    if quiet < Duration::from_secs(1) {
        return Err("must be at least 1s (or off)".into());
    }
    Ok(QuietAfter(Some(quiet)))
}

pub fn run(args: Args) -> Result<(), String> {
    let config = HubConfig::load(&args.config).map_err(|e| e.to_string())?;
    let radio_watchdog = match args.radio_watchdog {
        Some(QuietAfter(flag)) => flag,
        None => config.radio_watchdog().map_err(|e| e.to_string())?,
    };
    let worlds = load_worlds(&config.radios, &args.config)?;
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
        let signals = Signals::register()?;
        let (mut hub_radios, radios) =
            HubRadios::open(&config, worlds, &args.config, args.scan_mode).await?;
        let mut builder = Fleet::builder().radios(radios).seed(config.seed);
        if let Some(quiet_after) = radio_watchdog {
            builder = builder.radio_watchdog(quiet_after);
        }
        if let Some(dir) = &config.cache_dir {
            builder = builder.cache_dir(dir);
        }
        for device in &config.devices {
            if let Some(key) = device.bindkey() {
                builder = builder.bindkey(device.address, key);
            }
        }
        let fleet = builder.build().map_err(|e| e.to_string())?;
        hub_radios.follow_adapters(&fleet).await;
        #[cfg(feature = "proxy")]
        let proxy = crate::proxy::start_from_section(&fleet, config.proxy.as_ref()).await?;
        #[cfg(not(feature = "proxy"))]
        if config.proxy.is_some() {
            return Err("[proxy] needs the proxy server, not built in this binary (rebuild with cargo feature `proxy`)".into());
        }
        let web = start_web(&fleet, &config, hub_radios.controls(), &args)?;
        #[cfg(feature = "proxy")]
        if let (Some(web), Some(server)) = (&web, &proxy) {
            crate::proxy::feed_page(Rc::clone(web), server.watch());
        }
        let bridge_config = config.clone();
        let mut hub = Hub {
            devices: HubDevices::new(fleet.clone(), args.json, web.clone()),
            fleet: fleet.clone(),
            config,
            path: args.config.clone(),
            radios: hub_radios,
            json: args.json,
        };
        let work = hub.serve(signals, args.duration);
        let outcome = with_bridge(&fleet, &bridge_config, work).await;
        systemd::stopping();
        #[cfg(feature = "proxy")]
        if let Some(server) = proxy {
            server.shutdown().await;
        }
        if let Some(web) = &web {
            web.finish()?;
        }
        fleet.shutdown().await.map_err(|e| e.to_string())?;
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

/// Runs the hub's work alongside the MQTT bridge when the file has `[mqtt]` (the bridge's
/// device list is the one at start; a SIGHUP does not change what it publishes).
#[cfg(feature = "mqtt")]
async fn with_bridge(
    fleet: &Fleet,
    config: &HubConfig,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    let (mqtt, cluster) = (config.mqtt.clone(), config.cluster.clone());
    crate::mqtt::alongside(fleet, mqtt, cluster, config.devices.clone(), work).await
}

#[cfg(not(feature = "mqtt"))]
async fn with_bridge(
    _: &Fleet,
    _: &HubConfig,
    work: impl std::future::Future<Output = Result<(), String>>,
) -> Result<(), String> {
    work.await
}

/// A running hub: its fleet, the file it came from, what it manages.
struct Hub {
    fleet: Fleet,
    devices: HubDevices,
    config: HubConfig,
    path: PathBuf,
    radios: HubRadios,
    json: bool,
}

impl Hub {
    async fn serve(
        &mut self,
        mut signals: Signals,
        duration: Option<Duration>,
    ) -> Result<(), String> {
        // With [cluster] the bridge connects the kept devices, on the hub that holds them.
        let own = crate::mqtt::own_devices(&self.config);
        self.devices.apply(&own).await?;
        systemd::ready(&self.status());
        tracing::info!(
            devices = self.config.devices.len(),
            radios = self.config.radios.len(),
            "hub running"
        );
        let until = duration.map(|d| tokio::time::Instant::now() + d);
        let watchdog = systemd::watchdog_interval();
        loop {
            let deadline = async {
                match until {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let keepalive = async {
                match watchdog {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                request = signals.next() => match request {
                    Request::Stop(signal) => {
                        tracing::info!(%signal, "stopping: disconnecting every device");
                        break;
                    }
                    Request::Reload => self.reload().await,
                },
                () = deadline => break,
                () = keepalive => systemd::alive(),
            }
        }
        if !self.json {
            println!("stopping: disconnecting every device");
        }
        Ok(())
    }

    /// Re-reads the hub file and applies the difference; a bad file changes nothing.
    async fn reload(&mut self) {
        systemd::reloading();
        match HubConfig::load(&self.path).map_err(|e| e.to_string()) {
            Ok(config) => {
                let (changes, not_applied) = match self.radios.apply(&self.fleet, &config).await {
                    Ok(changes) => (changes, None),
                    Err(partly) => {
                        tracing::error!(error = %partly.error, "reload: radio entries not applied");
                        (partly.changes, Some(partly.error))
                    }
                };
                tracing::info!(
                    added = changes.added,
                    removed = changes.removed,
                    "reload: radio entries applied"
                );
                match self.devices.apply(&crate::mqtt::own_devices(&config)).await {
                    Ok(changes) => tracing::info!(
                        added = changes.added,
                        removed = changes.removed,
                        unchanged = changes.kept,
                        "reloaded {}",
                        self.path.display()
                    ),
                    Err(error) => tracing::error!(%error, "reload: devices not applied"),
                }
                self.config = config;
                self.print_running(not_applied).await;
            }
            Err(error) => {
                tracing::error!(%error, "reload refused: keeping the running configuration")
            }
        }
        systemd::reloaded(&self.status());
    }

    /// Says which radios and managed devices the hub runs now (after a reload), and which
    /// radio entries of the file it could not apply.
    async fn print_running(&self, not_applied: Option<String>) {
        let Ok(diagnostics) = self.fleet.diagnostics().await else {
            return;
        };
        let radios: Vec<String> = diagnostics
            .radios
            .iter()
            .map(|r| r.radio.to_string())
            .collect();
        let devices: Vec<String> = diagnostics
            .devices
            .iter()
            .map(|d| d.address.to_string())
            .collect();
        if self.json {
            let mut line =
                serde_json::json!({"event": "reloaded", "radios": radios, "devices": devices});
            if let Some(error) = not_applied {
                line["not_applied"] = error.into();
            }
            println!("{line}");
        } else {
            let not_applied =
                not_applied.map_or_else(String::new, |e| format!("; not applied: {e}"));
            println!(
                "reloaded: radios {}; devices {}{not_applied}",
                radios.join(", "),
                devices.join(", ")
            );
        }
    }

    fn status(&self) -> String {
        format!(
            "{} radio entries, {} devices",
            self.config.radios.len(),
            self.config.devices.len()
        )
    }
}

/// Starts the page and/or the report when the file has `[web]` or `--report` was given, with
/// a sampler feeding it once a second.
fn start_web(
    fleet: &Fleet,
    config: &HubConfig,
    controls: Vec<SimControl>,
    args: &Args,
) -> Result<Option<Rc<WebDriver>>, String> {
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
        web.follow(fleet);
        actix::spawn(sample_for_web(Rc::clone(web), fleet.clone(), controls));
    }
    Ok(web)
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

//! Opening a fleet for the command line's `--backend` options, in one place.
//!
//! Every subcommand takes the same options and gets a running `Fleet`. On the simulated radio
//! the job runs in virtual time (a 15 s scan finishes at once and the same seed gives the same
//! output); real backends run in real time. Backends this binary was built without say so in
//! one line instead of failing somewhere deeper.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use bluefleet::backend::{Radio, ScanMode};
use bluefleet::fleet::{block_on_real_time, block_on_virtual_time};
use bluefleet::sim::Simulation;
use bluefleet::Fleet;

use crate::health::Health;
use clap::ValueEnum;

/// Which radios to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// The simulated radio (no hardware): `--world FILE`, `--seed N`.
    Sim,
    /// Local BlueZ adapters over D-Bus.
    Bluez,
    /// ESPHome Bluetooth proxies: `--proxy HOST:PORT[,KEY]`, repeatable.
    Esphome,
    /// Local adapters through btleplug (macOS, Windows, Linux).
    Btleplug,
}

/// The options every subcommand shares.
#[derive(Clone, Debug, clap::Args)]
pub struct BackendArgs {
    /// Which radios to use.
    #[arg(long, value_enum, default_value_t = Backend::Sim)]
    pub backend: Backend,
    /// The simulated world (sim backend): a file, or a built-in name (flat, retail_floor,
    /// slot_starved_house).
    #[arg(long, default_value = crate::worlds::DEFAULT)]
    pub world: PathBuf,
    /// Seed of the simulated world and of retry jitter.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// An ESPHome proxy, `HOST:PORT[,BASE64KEY]` (esphome backend; repeat for several).
    #[arg(long = "proxy", value_name = "HOST:PORT[,KEY]")]
    pub proxies: Vec<String>,
    /// Disconnect devices BlueZ shows connected before starting (links another program, or an
    /// earlier run, left). Off for one-shot commands, which must not break other programs'
    /// links; `run` and `proxy` own their adapters and always do it.
    #[arg(long)]
    pub close_stale_connections: bool,
    /// Scan actively (scan requests: names and scan responses) or passively (listen only).
    /// What each radio really does is reported next to it.
    #[arg(long, value_name = "MODE", default_value_t = ScanMode::Active)]
    pub scan_mode: ScanMode,
}

/// Radios of a real backend, opened inside the runtime that will drive them.
async fn real_radios(
    args: &BackendArgs,
    owns_adapter: bool,
) -> Result<Vec<Arc<dyn Radio>>, String> {
    match args.backend {
        Backend::Sim => Err("internal: the sim backend has no real radios".into()),
        Backend::Esphome => esphome_radios(&args.proxies),
        Backend::Btleplug => btleplug_radios().await,
        Backend::Bluez => bluez_radios(owns_adapter || args.close_stale_connections).await,
    }
}

#[cfg(feature = "esphome")]
fn esphome_radios(proxies: &[String]) -> Result<Vec<Arc<dyn Radio>>, String> {
    use bluefleet::backend::esphome::{EsphomeConfig, EsphomeRadio};
    if proxies.is_empty() {
        return Err("the esphome backend needs at least one --proxy HOST:PORT[,KEY]".into());
    }
    proxies
        .iter()
        .map(|spec| {
            let config = EsphomeConfig::parse(spec).map_err(|e| format!("--proxy {spec}: {e}"))?;
            Ok(Arc::new(EsphomeRadio::new(config)) as Arc<dyn Radio>)
        })
        .collect()
}

#[cfg(not(feature = "esphome"))]
fn esphome_radios(_: &[String]) -> Result<Vec<Arc<dyn Radio>>, String> {
    Err(not_built("esphome"))
}

#[cfg(feature = "bluez")]
async fn bluez_radios(close_stale_connections: bool) -> Result<Vec<Arc<dyn Radio>>, String> {
    use bluefleet::backend::bluez::{unavailable_words, zbus, BluezConfig, BluezRadio};
    let conn = zbus::Connection::system()
        .await
        .map_err(|e| format!("cannot reach the system D-Bus: {e}"))?;
    let config = BluezConfig {
        close_stale_connections,
        ..BluezConfig::default()
    };
    let radios = BluezRadio::discover_all(conn, &config)
        .await
        .map_err(|e| unavailable_words(&e))?;
    if radios.is_empty() {
        return Err("BlueZ has no Bluetooth adapter".into());
    }
    Ok(radios
        .into_iter()
        .map(|radio| Arc::new(radio) as Arc<dyn Radio>)
        .collect())
}

#[cfg(not(feature = "bluez"))]
async fn bluez_radios(_: bool) -> Result<Vec<Arc<dyn Radio>>, String> {
    Err(not_built("bluez"))
}

#[cfg(feature = "btleplug")]
async fn btleplug_radios() -> Result<Vec<Arc<dyn Radio>>, String> {
    use bluefleet::backend::btleplug::{BtleplugConfig, BtleplugRadio};
    let radios = BtleplugRadio::discover_all(&BtleplugConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    if radios.is_empty() {
        return Err("btleplug found no Bluetooth adapter".into());
    }
    Ok(radios)
}

#[cfg(not(feature = "btleplug"))]
async fn btleplug_radios() -> Result<Vec<Arc<dyn Radio>>, String> {
    Err(not_built("btleplug"))
}

#[cfg(not(all(feature = "bluez", feature = "esphome", feature = "btleplug")))]
fn not_built(backend: &str) -> String {
    format!("the {backend} backend is not built in this binary (rebuild with cargo feature `{backend}`)")
}

/// Runs `job` with a fleet over the chosen radios, then shuts the fleet down. Fails with every
/// radio's reason as soon as all radios have reported and none came up, or at the end when none
/// ever did.
pub fn with_fleet<T, F, Fut>(args: &BackendArgs, job: F) -> Result<T, String>
where
    F: FnOnce(Fleet) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    open_fleet(args, args.backend == Backend::Sim, false, job)
}

/// Like [`with_fleet`], but in real time even on the simulated radio: for servers whose
/// clients are other processes (`bluefleet proxy`).
#[cfg_attr(not(feature = "proxy"), allow(dead_code))]
pub fn with_live_fleet<T, F, Fut>(args: &BackendArgs, job: F) -> Result<T, String>
where
    F: FnOnce(Fleet) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    open_fleet(args, false, true, job)
}

fn open_fleet<T, F, Fut>(
    args: &BackendArgs,
    virtual_time: bool,
    owns_adapter: bool,
    job: F,
) -> Result<T, String>
where
    F: FnOnce(Fleet) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let run = |radios: Vec<Arc<dyn Radio>>| async move {
        for radio in &radios {
            radio.set_scan_mode(args.scan_mode)?;
        }
        let (health, mut changes, radios) = Health::watch(radios);
        let fleet = Fleet::builder()
            .radios(radios)
            .seed(args.seed)
            .build()
            .map_err(|e| e.to_string())?;
        let no_radio = async {
            while changes.recv().await.is_some() {
                if let Some(reasons) = health.none_came_up() {
                    return reasons;
                }
            }
            std::future::pending().await
        };
        let outcome = tokio::select! {
            biased;
            outcome = job(fleet.clone()) => outcome,
            reasons = no_radio => Err(reasons),
        };
        fleet.shutdown().await.map_err(|e| e.to_string())?;
        match health.never_up() {
            Some(reasons) => Err(reasons),
            None => outcome,
        }
    };
    if args.backend == Backend::Sim {
        let world = crate::worlds::load(&args.world)?;
        let job = async {
            let simulation = Simulation::start(world, args.seed);
            let outcome = run(simulation.radios()).await;
            drop(simulation);
            outcome
        };
        if virtual_time {
            block_on_virtual_time(job)
        } else {
            block_on_real_time(job)
        }
    } else {
        block_on_real_time(async { run(real_radios(args, owns_adapter).await?).await })
    }
}

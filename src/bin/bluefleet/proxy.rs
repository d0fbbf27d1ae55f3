//! `bluefleet proxy`: serve the fleet's radios as an ESPHome Bluetooth proxy.
//!
//! Opens the backend (the simulated world too runs in real time here: the clients are other
//! processes), starts the server, prints one `listening on HOST:PORT` line per virtual proxy
//! (the real port when 0 was asked) and serves until Ctrl-C or `--duration`.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use bluefleet::proxy::{Keepalive, ProxyConfig, ProxyMode, ProxyServer};
use bluefleet::sim::world::parse_duration;
use clap::ValueEnum;

use crate::backend::{with_live_fleet, BackendArgs};

/// One proxy for all radios, or one per radio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// One proxy whose slots are every radio's.
    Aggregate,
    /// One proxy per radio: own port (consecutive from --listen), name and MAC.
    PerRadio,
}

/// Arguments of `proxy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// Where to listen: IP:PORT (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:6053", value_name = "HOST:PORT")]
    listen: String,
    /// Require this Noise key (base64 of 32 bytes, as ESPHome's `api: encryption: key`).
    #[arg(long, value_name = "BASE64")]
    psk: Option<String>,
    /// aggregate or per-radio.
    #[arg(long, value_enum, default_value_t = Mode::Aggregate)]
    mode: Mode,
    /// The node name Home Assistant shows.
    #[arg(long, default_value = "bluefleet")]
    name: String,
    /// Do not announce the proxy over mDNS.
    #[arg(long)]
    no_mdns: bool,
    /// Ping a silent client after this long; one silent for three times as long is gone and
    /// loses its connections.
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    keepalive: Duration,
    /// Stop after this long (e.g. 90s); without it, serve until Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
}

/// The server settings these arguments ask for.
pub fn config(args: &Args) -> Result<ProxyConfig, String> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        format!(
            "--listen {}: expected IP:PORT such as 127.0.0.1:6053 (names are not resolved)",
            args.listen
        )
    })?;
    if args.keepalive.is_zero() {
        return Err("--keepalive must be more than 0s".into());
    }
    let mut config = ProxyConfig {
        listen,
        mode: match args.mode {
            Mode::Aggregate => ProxyMode::Aggregate,
            Mode::PerRadio => ProxyMode::PerRadio,
        },
        name: args.name.clone(),
        mdns: !args.no_mdns,
        keepalive: Keepalive {
            ping_after: args.keepalive,
            timeout: args.keepalive * 3,
        },
        ..ProxyConfig::default()
    };
    if let Some(psk) = &args.psk {
        config = config.with_psk(psk).map_err(|e| format!("--psk: {e}"))?;
    }
    Ok(config)
}

pub fn run(args: Args) -> Result<(), String> {
    let config = config(&args)?;
    with_live_fleet(&args.backend, |fleet| async move {
        let server = ProxyServer::start(&fleet, &config)
            .await
            .map_err(|e| e.to_string())?;
        for endpoint in server.endpoints() {
            println!(
                "listening on {} ({}, MAC {})",
                endpoint.address, endpoint.name, endpoint.mac
            );
        }
        let _ = std::io::stdout().flush();
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        server.shutdown().await;
        Ok(())
    })
}

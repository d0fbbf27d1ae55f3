//! `bluefleet proxy`: serve the fleet's radios as an ESPHome Bluetooth proxy.
//!
//! Opens the backend (the simulated world too runs in real time here: the clients are other
//! processes), starts the server, prints one `listening on HOST:PORT` line per virtual proxy
//! (the real port when 0 was asked) and serves until SIGTERM, Ctrl-C or `--duration`, printing a line
//! whenever a client arrives, leaves or changes what it holds (`proxy_status.rs`). With
//! `--web` it serves the live page too, with the clients view.

use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bluefleet::config::web::parse_listen;
use bluefleet::config::{ProxySection, WebConfig};
use bluefleet::proxy::{Keepalive, ProxyConfig, ProxyMode, ProxyServer, ProxyWatch};
use bluefleet::sim::world::parse_duration;
use bluefleet::Fleet;
use clap::ValueEnum;

use crate::backend::{with_live_fleet, BackendArgs};
use crate::web_driver::WebDriver;

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
    /// Stop after this long (e.g. 90s); without it, serve until SIGTERM or Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Serve the live page on this IP address and port too (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_listen)]
    web: Option<SocketAddr>,
    /// Print the client lines as JSON objects, one a line.
    #[arg(long)]
    json: bool,
}

/// The server settings these arguments ask for.
fn config(args: &Args) -> Result<ProxyConfig, String> {
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

/// Prints where each virtual proxy listens.
fn announce(server: &ProxyServer) {
    for endpoint in server.endpoints() {
        println!(
            "listening on {} ({}, MAC {})",
            endpoint.address, endpoint.name, endpoint.mac
        );
    }
    let _ = std::io::stdout().flush();
}

/// Starts the server a hub file's `[proxy]` asks for (`bluefleet run`).
pub async fn start_from_section(
    fleet: &Fleet,
    section: Option<&ProxySection>,
) -> Result<Option<ProxyServer>, String> {
    let Some(section) = section else {
        return Ok(None);
    };
    let problem = |e: bluefleet::Error| e.to_string();
    let mut config = ProxyConfig {
        listen: section.listen_address().map_err(problem)?,
        mode: if section.per_radio().map_err(problem)? {
            ProxyMode::PerRadio
        } else {
            ProxyMode::Aggregate
        },
        mdns: section.mdns,
        ..ProxyConfig::default()
    };
    if let Some(name) = &section.name {
        config.name = name.clone();
    }
    if let Some(ping_after) = section.keepalive().map_err(problem)? {
        config.keepalive = Keepalive {
            ping_after,
            timeout: ping_after * 3,
        };
    }
    if let Some(psk) = &section.psk {
        config = config
            .with_psk(psk)
            .map_err(|e| format!("proxy.psk: {e}"))?;
    }
    let server = ProxyServer::start(fleet, &config)
        .await
        .map_err(|e| format!("[proxy]: {e}"))?;
    announce(&server);
    Ok(Some(server))
}

/// Starts the page of `--web`, fed by the fleet and the server's clients once a second.
fn start_web(
    listen: SocketAddr,
    fleet: &Fleet,
    watch: ProxyWatch,
    heading: String,
) -> Result<Rc<WebDriver>, String> {
    let config = WebConfig {
        listen,
        ..WebConfig::default()
    };
    let web = WebDriver::start(Some(&config), None, [], [], heading)?
        .map(Rc::new)
        .ok_or("the page did not start")?;
    web.follow(fleet);
    feed_page(Rc::clone(&web), watch);
    let (driver, fleet) = (Rc::clone(&web), fleet.clone());
    actix::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            if driver.sample(&fleet).await.is_err() {
                return;
            }
        }
    });
    Ok(web)
}

/// Hands the page the server's clients once a second, for as long as the run lasts (`proxy
/// --web`, and `run` with `[proxy]` and `[web]`).
pub fn feed_page(web: Rc<WebDriver>, watch: ProxyWatch) {
    actix::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            web.clients(&watch.diagnostics());
        }
    });
}

pub fn run(args: Args) -> Result<(), String> {
    let config = config(&args)?;
    with_live_fleet(&args.backend, |fleet| async move {
        let mut signals = crate::signals::Signals::register()?;
        let server = ProxyServer::start(&fleet, &config)
            .await
            .map_err(|e| e.to_string())?;
        announce(&server);
        let web = match args.web {
            Some(listen) => Some(start_web(
                listen,
                &fleet,
                server.watch(),
                format!("bluefleet proxy {}", config.name),
            )?),
            None => None,
        };
        let status = actix::spawn(crate::proxy_status::follow(server.watch(), args.json));
        match args.duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => signals.stopped().await,
        }
        status.abort();
        server.shutdown().await;
        if let Some(web) = web {
            web.finish()?;
        }
        Ok(())
    })
}

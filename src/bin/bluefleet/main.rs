//! The `bluefleet` command: a client of the library's public API only.
//!
//! `main` parses the command line and dispatches; each subcommand lives in its own file.

/// mimalloc as the binary's allocator (cargo feature `mimalloc`, on by default; Cargo.toml
/// says why).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(test)]
mod args_proptest;
mod backend;
mod beacons;
mod bench;
mod decode;
mod demo;
mod demo_view;
mod duration;
mod explain;
mod explore;
mod formats;
mod health;
mod hub_devices;
mod hub_radios;
mod logging;
mod mqtt;
mod output;
mod progress;
mod proximity;
#[cfg(feature = "proxy")]
mod proxy;
#[cfg(feature = "proxy")]
mod proxy_status;
mod readings;
mod run;
mod run_radios;
mod scan;
mod signals;
mod systemd;
mod terminal;
mod version;
mod web_driver;
mod worlds;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keep many Bluetooth LE sensors connected across slot-limited radios.
#[derive(Debug, Parser)]
#[command(name = "bluefleet", version = version::text(), about, long_about = None)]
struct Cli {
    /// More log lines (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Fewer log lines (-q: the daemon logs warnings only, -qq nothing).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    quiet: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a simulated house of sensors through slot-limited radios and watch bluefleet work.
    Demo(demo::Args),
    /// List the devices the radios hear, with RSSI statistics.
    Scan(scan::Args),
    /// Connect to a device and list its services and characteristics.
    Explore(explore::Args),
    /// Show the iBeacon and Eddystone beacons heard.
    Beacons(beacons::Args),
    /// Follow one device's signal: smoothed RSSI, distance, zone.
    Proximity(proximity::Args),
    /// Run the hub daemon from a hub.toml: keep devices connected, print their values.
    Run(run::Args),
    /// Measure the performance figures against their targets.
    Bench(bench::Args),
    /// Decode one raw advertisement: format, model and sensor readings with units.
    Decode(decode::Args),
    /// Explain an error from a log: its class, what bluefleet does next, and advice.
    Explain(explain::Args),
    /// Serve the radios to Home Assistant as an ESPHome Bluetooth proxy.
    #[cfg(feature = "proxy")]
    Proxy(proxy::Args),
}

impl Command {
    /// Long-running commands log at `info` by default (radio state changes, recoveries).
    fn is_daemon(&self) -> bool {
        match self {
            Command::Run(_) => true,
            #[cfg(feature = "proxy")]
            Command::Proxy(_) => true,
            _ => false,
        }
    }
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    logging::init(cli.command.is_daemon(), cli.verbose, cli.quiet);
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Beacons(args) => beacons::run(args),
        Command::Proximity(args) => proximity::run(args),
        Command::Run(args) => run::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Decode(args) => decode::run(args),
        Command::Explain(args) => explain::run(args),
        #[cfg(feature = "proxy")]
        Command::Proxy(args) => proxy::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, whatever the error's own layout (regex errors span several).
            eprintln!(
                "error: {}",
                err.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap writes them; a usage error is one line on stderr
/// (clap's own layout spans several, with a usage block and a tip).
fn usage_error(err: &clap::Error) -> ExitCode {
    match usage_line(err) {
        None => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        Some(line) => {
            eprintln!("{line}");
            ExitCode::from(2)
        }
    }
}

/// A usage error in one line; `None` for help and version, which are not errors.
fn usage_line(err: &clap::Error) -> Option<String> {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let text = err.render().to_string();
    let words: Vec<&str> = text
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more"))
        .flat_map(str::split_whitespace)
        .collect();
    Some(words.join(" "))
}

/// `bluefleet scan | head` closes our stdout early; that is not an error worth a backtrace.
/// `println!` panics on a broken pipe, so exit quietly (status 141, as a shell would) instead.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") {
            std::process::exit(141);
        }
        default(info);
    }));
}

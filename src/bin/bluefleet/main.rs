//! The `bluefleet` command: a client of the library's public API only.
//!
//! `main` parses the command line and dispatches; each subcommand lives in its own file.

mod backend;
mod beacons;
mod bench;
mod demo;
mod demo_view;
mod explain;
mod explore;
mod output;
mod proximity;
mod run;
mod scan;
mod web_driver;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Keep many Bluetooth LE sensors connected across slot-limited radios.
#[derive(Debug, Parser)]
#[command(name = "bluefleet", version, about, long_about = None)]
struct Cli {
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
    /// Explain an error from a log: its class, what bluefleet does next, and advice.
    Explain(explain::Args),
}

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Explore(args) => explore::run(args),
        Command::Beacons(args) => beacons::run(args),
        Command::Proximity(args) => proximity::run(args),
        Command::Run(args) => run::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Explain(args) => explain::run(args),
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

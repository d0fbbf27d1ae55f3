//! The `bluefleet` command: a client of the library's public API only.
//!
//! `main` parses the command line and dispatches; each subcommand lives in its own file.

mod demo;
mod demo_view;
mod explain;

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
    /// Explain an error from a log: its class, what bluefleet does next, and advice.
    Explain(explain::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Explain(args) => explain::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

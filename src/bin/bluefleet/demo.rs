//! `bluefleet demo`: a house of sensors kept connected through slot-limited radios, on the
//! simulated radio, in virtual time — the thirty-second answer to "what does this do?".
//!
//! It loads a world file, builds a fleet over its radios, keeps the world's `keep_connected`
//! devices connected with their subscriptions, polls the other sensors on demand (so slots
//! churn), and shows live what the radios and devices are doing. At the end it prints a summary
//! (or one JSON object with `--json`). Pacing: `--speed 60` plays a virtual minute per real
//! second; `--speed 0` runs as fast as the CPU allows. The same seed gives the same run.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use bluefleet::config::web::parse_listen;
use bluefleet::config::WebConfig;
use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::{Simulation, World};
use bluefleet::web::Command;
use bluefleet::{Device, Fleet};
use futures::StreamExt;

use crate::demo_view::{DemoState, Summary};
use crate::output::hex;
use crate::web_driver::WebDriver;

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The world to run: a file, or a built-in name (flat, retail_floor, slot_starved_house).
    #[arg(long, default_value = crate::worlds::DEFAULT)]
    world: PathBuf,
    /// Seed for the world and the fleet: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual time to run (e.g. 90s, 10m, 1h); default 10m, or 24h with --web.
    #[arg(long, value_parser = crate::duration::positive)]
    duration: Option<Duration>,
    /// Virtual seconds per real second; 0 runs as fast as possible. Default 60, or 1 (real
    /// time) with --web.
    #[arg(long)]
    speed: Option<f64>,
    /// Serve the live page on this IP address and port (port 0 picks a free one).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_listen)]
    web: Option<std::net::SocketAddr>,
    /// Let the page send commands (take a simulated radio down, disconnect a device).
    #[arg(long, requires = "web")]
    web_commands: bool,
    /// Write report.html (SVG pictures of the run) into this directory at the end.
    #[arg(long, value_name = "DIR")]
    report: Option<PathBuf>,
    /// Print only the summary, as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also publish to this MQTT broker (state, values, Home Assistant discovery, commands).
    #[arg(long, value_name = "HOST:PORT")]
    mqtt: Option<String>,
}

/// How often the on-demand sensors are read.
const POLL_EVERY: Duration = Duration::from_secs(60);

pub fn run(args: Args) -> Result<(), String> {
    let speed = args.speed();
    if !(speed.is_finite() && speed >= 0.0) {
        return Err(format!("--speed must be a number >= 0, not {speed}"));
    }
    let world = crate::worlds::load(&args.world)?;
    let (summary, web) = block_on_virtual_time(play(world, &args))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", summary.render());
    }
    match web {
        Some(web) => web.serve_until_interrupted(),
        None => Ok(()),
    }
}

impl Args {
    fn speed(&self) -> f64 {
        self.speed
            .unwrap_or(if self.web.is_some() { 1.0 } else { 60.0 })
    }

    fn duration(&self) -> Duration {
        let default = if self.web.is_some() { 24 * 3600 } else { 600 };
        self.duration.unwrap_or(Duration::from_secs(default))
    }
}

async fn play(world: World, args: &Args) -> Result<(Summary, Option<Rc<WebDriver>>), String> {
    let simulation = Simulation::start(world, args.seed);
    let fleet = Fleet::builder()
        .radios(simulation.radios())
        .seed(args.seed)
        .operation_timeout(Duration::from_secs(45))
        .build()
        .map_err(|e| e.to_string())?;
    let state = Rc::new(RefCell::new(DemoState::new(
        &simulation,
        &args.world,
        args.seed,
        args.json,
    )));
    let web = start_web(&simulation, args)?;
    if let Some(web) = &web {
        web.follow(&fleet);
    }
    let mut polled = Vec::new();
    for spec in simulation.world().devices.iter() {
        let device = fleet
            .device(spec.address)
            .await
            .map_err(|e| e.to_string())?;
        if spec.keep_connected {
            device
                .keep_connected(true)
                .await
                .map_err(|e| e.to_string())?;
            for (index, characteristic) in spec.subscribe.iter().enumerate() {
                // Link events are the same on every subscription: report them once.
                let report_links = index == 0;
                actix::spawn(follow(
                    device.clone(),
                    *characteristic,
                    report_links,
                    Rc::clone(&state),
                    web.clone(),
                ));
            }
            actix::spawn(watch_states(device.clone(), Rc::clone(&state)));
        } else if let Some(readable) = first_readable(spec) {
            polled.push((device, readable));
        }
    }
    let world = simulation.world().clone();
    let work = tick_through(&fleet, &state, &polled, args, web.as_deref(), &simulation);
    crate::mqtt::demo_alongside(&fleet, args.mqtt.as_deref(), &world, work).await?;
    let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
    let summary = state.borrow().summary(&diagnostics, &simulation);
    if let Some(web) = &web {
        web.finish()?;
    }
    fleet.shutdown().await.map_err(|e| e.to_string())?;
    Ok((summary, web))
}

/// The demo's clock: a sample every virtual second, polls every minute, a frame every five.
async fn tick_through(
    fleet: &Fleet,
    state: &Rc<RefCell<DemoState>>,
    polled: &[(Device, uuid::Uuid)],
    args: &Args,
    web: Option<&WebDriver>,
    simulation: &Simulation,
) -> Result<(), String> {
    let live = !args.json;
    let total = args.duration().as_secs();
    let speed = args.speed();
    let frame_every = if live { 5 } else { u64::MAX };
    for second in 1..=total {
        tokio::time::sleep(Duration::from_secs(1)).await;
        state.borrow_mut().sample(fleet);
        // What the run does this second is asked for before anything watches it: awaiting a
        // sample first would let the fleet run ahead within this instant, so a run with a page
        // or a report would differ from one without.
        if second % POLL_EVERY.as_secs() == 0 && second < total {
            for (device, characteristic) in polled {
                actix::spawn(poll(device.clone(), *characteristic, Rc::clone(state)));
            }
        }
        if let Some(web) = web {
            for command in web.commands() {
                obey(command, simulation, fleet, state).await;
            }
            web.sample(fleet).await?;
        }
        if second % frame_every == 0 || second == total {
            let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
            state.borrow().draw(&diagnostics, second, total, speed);
        }
        if speed > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(1.0 / speed));
        }
    }
    Ok(())
}

/// The page and the report, when asked for: devices named as the world names them, the
/// kept-connected ones followed for the report's RSSI pictures.
fn start_web(simulation: &Simulation, args: &Args) -> Result<Option<Rc<WebDriver>>, String> {
    let devices = &simulation.world().devices;
    let names = devices
        .iter()
        .filter_map(|d| d.name.clone().map(|name| (d.address, name)));
    let follow = devices
        .iter()
        .filter(|d| d.keep_connected)
        .map(|d| d.address)
        .take(REPORT_DEVICES);
    let config = args.web.map(|listen| WebConfig {
        listen,
        token: None,
        allow_commands: args.web_commands,
    });
    let heading = format!("{} seed {}", args.world.display(), args.seed);
    let driver = WebDriver::start(config.as_ref(), args.report.clone(), names, follow, heading)?;
    Ok(driver.map(Rc::new))
}

/// How many devices the report draws RSSI pictures for.
const REPORT_DEVICES: usize = 4;

/// Carries out one of the page's commands on the simulated world.
async fn obey(
    command: Command,
    simulation: &Simulation,
    fleet: &Fleet,
    state: &Rc<RefCell<DemoState>>,
) {
    let control = simulation.control();
    let outcome = match &command {
        Command::RadioDown(name) => control.radio_down(name).map_err(|e| e.to_string()),
        Command::RadioUp(name) => control.radio_up(name).map_err(|e| e.to_string()),
        Command::Disconnect(address) => match fleet.device(*address).await {
            Ok(device) => device.disconnect().await.map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        },
    };
    let line = match outcome {
        Ok(()) => format!("page: {command:?} done"),
        Err(err) => format!("page: {command:?} failed: {err}"),
    };
    state.borrow_mut().event(line);
}

/// Follows one subscription for the whole run.
async fn follow(
    device: Device,
    characteristic: uuid::Uuid,
    report_links: bool,
    state: Rc<RefCell<DemoState>>,
    web: Option<Rc<WebDriver>>,
) {
    let mut subscription = match device.subscribe(characteristic).await {
        Ok(subscription) => subscription,
        Err(err) => {
            state.borrow_mut().event(format!("subscribe failed: {err}"));
            return;
        }
    };
    while let Some(event) = subscription.next().await {
        let mut state = state.borrow_mut();
        match event {
            SubscriptionEvent::Notification(value) => {
                if let Some(web) = &web {
                    let uuid = bluefleet::model::uuid::display_uuid(&characteristic);
                    web.value(device.address(), format!("{uuid}: {}", hex(&value)));
                }
                state.notification(device.address(), characteristic, &value)
            }
            SubscriptionEvent::Disconnected { reason } if report_links => {
                state.device_event(device.address(), format!("link ended ({reason})"))
            }
            SubscriptionEvent::Failed(error) if report_links => {
                state.device_event(device.address(), format!("notify not enabled ({error})"))
            }
            SubscriptionEvent::Disconnected { .. }
            | SubscriptionEvent::Failed(_)
            | SubscriptionEvent::Waiting
            | SubscriptionEvent::Reconnected => {}
            SubscriptionEvent::Lagged(n) => {
                if let Some(web) = &web {
                    web.lagged(device.address(), n);
                }
                state.device_event(device.address(), format!("subscriber lagged by {n}"))
            }
        }
    }
}

/// Turns a device's state changes into event lines.
async fn watch_states(device: Device, state: Rc<RefCell<DemoState>>) {
    let mut changes = Box::pin(device.status_changes());
    while let Some(status) = changes.next().await {
        state.borrow_mut().status_changed(&status);
    }
}

/// One on-demand read: connect, read, let the idle timeout disconnect.
async fn poll(device: Device, characteristic: uuid::Uuid, state: Rc<RefCell<DemoState>>) {
    let outcome = device.read(characteristic).await;
    state
        .borrow_mut()
        .polled(device.address(), characteristic, outcome);
}

/// The first readable characteristic of a connectable device the demo does not keep connected.
fn first_readable(spec: &bluefleet::sim::DeviceSpec) -> Option<uuid::Uuid> {
    let readable = |c: &&bluefleet::sim::world::SimCharacteristic| {
        c.properties.contains(bluefleet::model::CharProps::READ)
    };
    spec.connectable.then_some(())?;
    spec.gatt
        .services
        .iter()
        .flat_map(|s| s.characteristics.iter())
        .find(readable)
        .map(|c| c.uuid)
}

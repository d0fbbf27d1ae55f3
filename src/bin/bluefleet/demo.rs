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

use bluefleet::fleet::{block_on_virtual_time, SubscriptionEvent};
use bluefleet::sim::{Simulation, World};
use bluefleet::{Device, Fleet};
use futures::StreamExt;

use crate::demo_view::{DemoState, Summary};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The world to run: a file, or a built-in name (flat, retail_floor, slot_starved_house).
    #[arg(long, default_value = crate::worlds::DEFAULT)]
    world: PathBuf,
    /// Seed for the world and the fleet: the same seed gives the same run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Virtual time to run (e.g. 90s, 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = crate::duration::positive)]
    duration: Duration,
    /// Virtual seconds per real second; 0 runs as fast as possible.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
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
    if !(args.speed.is_finite() && args.speed >= 0.0) {
        return Err(format!("--speed must be a number >= 0, not {}", args.speed));
    }
    let world = crate::worlds::load(&args.world)?;
    let summary = block_on_virtual_time(play(world, &args))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", summary.render());
    }
    Ok(())
}

async fn play(world: World, args: &Args) -> Result<Summary, String> {
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
                ));
            }
            actix::spawn(watch_states(device.clone(), Rc::clone(&state)));
        } else if let Some(readable) = first_readable(spec) {
            polled.push((device, readable));
        }
    }
    let world = simulation.world().clone();
    let work = tick_through(&fleet, &state, &polled, args);
    crate::mqtt::demo_alongside(&fleet, args.mqtt.as_deref(), &world, work).await?;
    let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
    let summary = state.borrow().summary(&diagnostics, &simulation);
    fleet.shutdown().await.map_err(|e| e.to_string())?;
    Ok(summary)
}

/// The demo's clock: a sample every virtual second, polls every minute, a frame every five.
async fn tick_through(
    fleet: &Fleet,
    state: &Rc<RefCell<DemoState>>,
    polled: &[(Device, uuid::Uuid)],
    args: &Args,
) -> Result<(), String> {
    let live = !args.json;
    let total = args.duration.as_secs();
    let frame_every = if live { 5 } else { u64::MAX };
    for second in 1..=total {
        tokio::time::sleep(Duration::from_secs(1)).await;
        state.borrow_mut().sample(fleet);
        if second % POLL_EVERY.as_secs() == 0 && second < total {
            for (device, characteristic) in polled {
                actix::spawn(poll(device.clone(), *characteristic, Rc::clone(state)));
            }
        }
        if second % frame_every == 0 || second == total {
            let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
            state.borrow().draw(&diagnostics, second, total, args.speed);
        }
        if args.speed > 0.0 {
            std::thread::sleep(Duration::from_secs_f64(1.0 / args.speed));
        }
    }
    Ok(())
}

/// Follows one subscription for the whole run.
async fn follow(
    device: Device,
    characteristic: uuid::Uuid,
    report_links: bool,
    state: Rc<RefCell<DemoState>>,
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
                state.notification(device.address(), characteristic, &value)
            }
            SubscriptionEvent::Disconnected { reason } if report_links => {
                state.device_event(device.address(), format!("link ended ({reason})"))
            }
            SubscriptionEvent::Disconnected { .. } => {}
            SubscriptionEvent::Reconnected => {}
            SubscriptionEvent::Lagged(n) => {
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

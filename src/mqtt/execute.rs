//! Running the commands that only touch the fleet (read, write, keep-connected, explain), and
//! the answers they give. Subscribe and release also change what the bridge publishes, so the
//! shell runs those itself.

use serde_json::{json, Value};

use super::commands::Command;
use crate::config::decode::hex;
use crate::device::state::{DeviceState, WaitReason};
use crate::fleet::Fleet;
use crate::model::Address;
use crate::Error;

/// The answer body of a failed operation: the error's class and text.
pub fn failed(error: &Error) -> Value {
    let kind = error.kind().map(|k| k.as_str()).unwrap_or("request");
    json!({"ok": false, "error": {"kind": kind, "message": error.to_string()}})
}

/// The answer body of a success.
pub fn succeeded(result: Value) -> Value {
    json!({"ok": true, "result": result})
}

/// Runs a read, write, keep-connected or explain command.
pub async fn execute(fleet: &Fleet, command: &Command) -> Value {
    match run(fleet, command).await {
        Ok(result) => succeeded(result),
        Err(error) => failed(&error),
    }
}

async fn run(fleet: &Fleet, command: &Command) -> crate::Result<Value> {
    match command {
        Command::Read {
            address,
            characteristic,
            format,
        } => {
            let value = fleet.device(*address).await?.read(*characteristic).await?;
            Ok(json!({"raw": hex(&value), "value": format.apply(&value)}))
        }
        Command::Write {
            address,
            characteristic,
            value,
            mode,
        } => {
            let device = fleet.device(*address).await?;
            device.write(*characteristic, value.clone(), *mode).await?;
            Ok(json!({"written": hex(value)}))
        }
        Command::KeepConnected { address, on } => {
            fleet.device(*address).await?.keep_connected(*on).await?;
            Ok(json!({"keep_connected": on}))
        }
        Command::Explain { address } => Ok(explain(fleet, *address).await),
        Command::Subscribe { .. } | Command::Release { .. } => Err(Error::config(
            "command",
            "subscribe and release are run by the bridge",
        )),
    }
}

/// Where a device stands and why, in one object a person can read.
pub async fn explain(fleet: &Fleet, address: Address) -> Value {
    let heard = fleet.heard_device(&address);
    let usage = fleet.slot_usage();
    let status = fleet
        .diagnostics()
        .await
        .ok()
        .and_then(|d| d.devices.into_iter().find(|s| s.address == address));
    let radios: Vec<Value> = heard
        .iter()
        .flat_map(|h| h.radios.iter())
        .map(|(radio, rssi)| {
            let slots = usage.iter().find(|u| &u.radio == radio);
            json!({
                "radio": radio.to_string(),
                "rssi": rssi.map(|r| r.round()),
                "up": slots.map(|s| s.up),
                "slots_used": slots.map(|s| s.held_by.len() + s.foreign),
                "slots_limit": slots.map(|s| s.limit),
            })
        })
        .collect();
    let why = match (&status, &heard) {
        (None, _) => "not managed by this hub".to_string(),
        (Some(status), _) => match &status.state {
            DeviceState::Connected { radio } => format!("connected through {radio}"),
            DeviceState::Connecting { radio, attempt } => {
                format!("connecting through {radio} (attempt {attempt})")
            }
            DeviceState::Idle if !status.keep_connected => {
                "idle: nothing asks for a connection (keep-connected is off)".into()
            }
            DeviceState::Idle => "idle".into(),
            DeviceState::Waiting {
                reason: WaitReason::Advertisement,
            } => "waiting for an advertisement: no radio heard it recently".into(),
            DeviceState::Waiting {
                reason: WaitReason::Slot,
            } => "waiting for a slot: every radio that hears it is full".into(),
            DeviceState::Backoff { remaining, after } => format!(
                "backing off {:.1} s after {}",
                remaining.as_secs_f64(),
                after.map_or("a dropped link", |k| k.as_str())
            ),
        },
    };
    json!({
        "address": address.to_string(),
        "managed": status.is_some(),
        "state": status.as_ref().map(|s| s.state.label()),
        "keep_connected": status.as_ref().map(|s| s.keep_connected),
        "last_error": status.as_ref().and_then(|s| s.last_error.as_ref()).map(|(kind, text)| json!({"kind": kind.as_str(), "message": text})),
        "heard_by": radios,
        "best_radio": heard.as_ref().and_then(|h| h.best_radio.as_ref()).map(ToString::to_string),
        "why": why,
    })
}

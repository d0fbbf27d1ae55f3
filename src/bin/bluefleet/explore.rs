//! `bluefleet explore ADDRESS`: the GATT explorer — services, characteristics, properties,
//! known names, and (with `--read`) values.

use std::time::Duration;

use bluefleet::adverts::AdvertFilter;
use bluefleet::model::assigned_numbers::name_of;
use bluefleet::model::{CharProps, GattTable};
use bluefleet::{Address, Device, Fleet};
use serde::Serialize;

use crate::backend::{with_fleet, BackendArgs};
use crate::output::{hex, print_json};

/// Arguments of `explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// The device's address (A4:C1:38:00:00:01).
    address: String,
    /// Also read every readable characteristic.
    #[arg(long)]
    read: bool,
    /// How long to wait for a radio to hear the device (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = crate::duration::positive)]
    wait: Duration,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Explored {
    device_name: Option<String>,
    address: Address,
    mtu: u16,
    services: Vec<ServiceOut>,
}

#[derive(Serialize)]
struct ServiceOut {
    uuid: uuid::Uuid,
    name: Option<&'static str>,
    characteristics: Vec<CharacteristicOut>,
}

#[derive(Serialize)]
struct CharacteristicOut {
    uuid: uuid::Uuid,
    name: Option<&'static str>,
    handle: u16,
    properties: Vec<&'static str>,
    value: Option<String>,
    text: Option<String>,
    error: Option<String>,
}

pub fn run(args: Args) -> Result<(), String> {
    let address = Address::parse(&args.address).map_err(|e| e.to_string())?;
    let json = args.json;
    let explored = with_fleet(&args.backend, |fleet| {
        explore(fleet, address, args.read, args.wait)
    })?;
    if json {
        print_json(&explored)
    } else {
        print_human(&explored);
        Ok(())
    }
}

async fn explore(
    fleet: Fleet,
    address: Address,
    read: bool,
    wait: Duration,
) -> Result<Explored, String> {
    let heard = fleet
        .find_device(&AdvertFilter::new().address(address), wait)
        .await
        .map_err(|_| format!("no radio heard {address} within {wait:?}: is the address right and the device in range?"))?;
    let device = fleet.device(address).await.map_err(|e| e.to_string())?;
    let table = device
        .services()
        .await
        .map_err(|e| format!("{address}: {e}"))?;
    let services = describe(&device, &table, read).await;
    let explored = Explored {
        device_name: heard.name,
        address,
        mtu: table.mtu,
        services,
    };
    device.disconnect().await.map_err(|e| e.to_string())?;
    Ok(explored)
}

async fn describe(device: &Device, table: &GattTable, read: bool) -> Vec<ServiceOut> {
    let mut services = Vec::new();
    for service in &table.services {
        let mut characteristics = Vec::new();
        for c in &service.characteristics {
            let mut out = CharacteristicOut {
                uuid: c.uuid,
                name: name_of(&c.uuid),
                handle: c.handle,
                properties: c.properties.names(),
                value: None,
                text: None,
                error: None,
            };
            if read && c.properties.contains(CharProps::READ) {
                match device.read_in(Some(service.uuid), c.uuid).await {
                    Ok(value) => {
                        out.text = printable_text(&value);
                        out.value = Some(hex(&value));
                    }
                    Err(err) => out.error = Some(err.to_string()),
                }
            }
            characteristics.push(out);
        }
        services.push(ServiceOut {
            uuid: service.uuid,
            name: name_of(&service.uuid),
            characteristics,
        });
    }
    services
}

fn print_human(explored: &Explored) {
    println!(
        "{} ({}), MTU {}",
        explored.device_name.as_deref().unwrap_or("(no name)"),
        explored.address,
        explored.mtu
    );
    for service in &explored.services {
        println!(
            "\nservice {}  {}",
            bluefleet::model::uuid::display_uuid(&service.uuid),
            service.name.unwrap_or("")
        );
        for c in &service.characteristics {
            let mut line = format!(
                "  {:<38} {:<32} [{}]",
                bluefleet::model::uuid::display_uuid(&c.uuid),
                c.name.unwrap_or(""),
                c.properties.join(", ")
            );
            if let Some(value) = &c.value {
                line.push_str(&format!("  = {value}"));
                if let Some(text) = &c.text {
                    line.push_str(&format!(" \"{text}\""));
                }
            }
            if let Some(error) = &c.error {
                line.push_str(&format!("  ! {error}"));
            }
            println!("{line}");
        }
    }
}

/// The value as text when it plainly is text (three or more printable characters).
fn printable_text(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    let printable = text.chars().count() >= 3
        && text
            .chars()
            .all(|c| c == ' ' || c.is_alphanumeric() || c.is_ascii_punctuation());
    printable.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::printable_text;

    #[test]
    fn only_plain_text_is_shown_as_text() {
        assert_eq!(
            printable_text(b"fake-sensor-1").as_deref(),
            Some("fake-sensor-1")
        );
        assert_eq!(printable_text(b"d"), None);
        assert_eq!(printable_text(&[0x34, 0x08, 0x01]), None);
    }
}

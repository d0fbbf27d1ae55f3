//! `bluefleet explore ADDRESS`: the GATT explorer — services, characteristics and descriptors
//! with their handles, properties, known names, and (with `--read`) values, decoded where the
//! format is known (`formats.rs`).
//!
//! A device whose advertisements say it is not connectable (a beacon) is refused at once with
//! that reason, instead of a connection attempt that can only time out.

use std::sync::Arc;
use std::time::Duration;

use bluefleet::adverts::watch::Watched;
use bluefleet::adverts::AdvertFilter;
use bluefleet::model::assigned_numbers::name_of;
use bluefleet::model::{
    uuid_from_u16, CharProps, CharacteristicRef, GattCharacteristic, GattTable,
};
use bluefleet::{Address, Device, Fleet};
use futures::StreamExt;
use serde::Serialize;

use crate::backend::{with_fleet, BackendArgs};
use crate::formats::{characteristic_value, descriptor_value, Presentation};
use crate::output::{hex, print_json};
use crate::progress::waiting_for;

/// Arguments of `explore`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    backend: BackendArgs,
    /// The device's address (A4:C1:38:00:00:01).
    address: String,
    /// Also read every readable characteristic and every descriptor.
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
    handle: u16,
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
    /// The value decoded from its known format (`21.34 °C`).
    decoded: Option<String>,
    error: Option<String>,
    descriptors: Vec<DescriptorOut>,
}

#[derive(Serialize)]
struct DescriptorOut {
    uuid: uuid::Uuid,
    name: Option<&'static str>,
    handle: u16,
    value: Option<String>,
    decoded: Option<String>,
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
    let mut adverts = Box::pin(fleet.adverts());
    let filter = AdvertFilter::new().address(address);
    let hearing = fleet.find_device(&filter, wait);
    let heard = waiting_for(&format!("a radio to hear {address}"), hearing)
        .await
        .map_err(|_| format!("no radio heard {address} within {wait:?}: is the address right and the device in range?"))?;
    if not_connectable(&mut adverts, address).await {
        return Err(format!(
            "{address} is not connectable (its advertisements say so): it only broadcasts; \
             `bluefleet scan` or `bluefleet beacons` shows what it sends"
        ));
    }
    let device = fleet.device(address).await.map_err(|e| e.to_string())?;
    // The fleet's errors already name the device.
    let table = waiting_for(
        &format!("{address} to connect and list its services"),
        device.services(),
    )
    .await
    .map_err(|e| e.to_string())?;
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

/// Whether the device's adverts received so far say it does not accept connections.
async fn not_connectable(
    adverts: &mut (impl futures::Stream<Item = Watched<Arc<bluefleet::model::Advertisement>>> + Unpin),
    address: Address,
) -> bool {
    let mut said = None;
    while let Some(Some(item)) = futures::FutureExt::now_or_never(adverts.next()) {
        let Watched::Item(advert) = item else {
            continue; // skipped adverts: what was kept still says what it says
        };
        if advert.address == address && advert.connectable.is_some() {
            said = advert.connectable;
        }
    }
    said == Some(false)
}

async fn describe(device: &Device, table: &GattTable, read: bool) -> Vec<ServiceOut> {
    let mut services = Vec::new();
    for service in &table.services {
        let mut characteristics = Vec::new();
        for c in &service.characteristics {
            characteristics.push(characteristic(device, c, read).await);
        }
        services.push(ServiceOut {
            uuid: service.uuid,
            name: name_of(&service.uuid),
            handle: service.handle,
            characteristics,
        });
    }
    services
}

async fn characteristic(device: &Device, c: &GattCharacteristic, read: bool) -> CharacteristicOut {
    let mut descriptors = Vec::new();
    let mut presentation = None;
    for d in &c.descriptors {
        let mut out = DescriptorOut {
            uuid: d.uuid,
            name: name_of(&d.uuid),
            handle: d.handle,
            value: None,
            decoded: None,
            error: None,
        };
        if read {
            match device
                .read_descriptor(CharacteristicRef::Handle(c.handle), d.uuid)
                .await
            {
                Ok(value) => {
                    if d.uuid == uuid_from_u16(0x2904) {
                        presentation = Presentation::parse(&value);
                    }
                    out.decoded = descriptor_value(&d.uuid, &value);
                    out.value = Some(hex(&value));
                }
                Err(err) => out.error = Some(err.to_string()),
            }
        }
        descriptors.push(out);
    }
    let mut out = CharacteristicOut {
        uuid: c.uuid,
        name: name_of(&c.uuid),
        handle: c.handle,
        properties: c.properties.names(),
        value: None,
        text: None,
        decoded: None,
        error: None,
        descriptors,
    };
    if read && c.properties.contains(CharProps::READ) {
        match device.read(CharacteristicRef::Handle(c.handle)).await {
            Ok(value) => {
                out.text = printable_text(&value);
                out.decoded = characteristic_value(&c.uuid, &value)
                    .or_else(|| presentation.and_then(|p| p.apply(&value)));
                out.value = Some(hex(&value));
            }
            Err(err) => out.error = Some(err.to_string()),
        }
    }
    out
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
            "\nservice {}  {}  (handle 0x{:04x})",
            bluefleet::model::uuid::display_uuid(&service.uuid),
            service.name.unwrap_or(""),
            service.handle
        );
        for c in &service.characteristics {
            let mut line = format!(
                "  0x{:04x}  {:<38} {:<32} [{}]",
                c.handle,
                bluefleet::model::uuid::display_uuid(&c.uuid),
                c.name.unwrap_or(""),
                c.properties.join(", ")
            );
            push_value(&mut line, &c.value, &c.decoded, &c.text, &c.error);
            println!("{line}");
            for d in &c.descriptors {
                let mut line = format!(
                    "      0x{:04x}  descriptor {:<27} {:<28}",
                    d.handle,
                    bluefleet::model::uuid::display_uuid(&d.uuid),
                    d.name.unwrap_or("")
                );
                push_value(&mut line, &d.value, &d.decoded, &None, &d.error);
                println!("{}", line.trim_end());
            }
        }
    }
}

fn push_value(
    line: &mut String,
    value: &Option<String>,
    decoded: &Option<String>,
    text: &Option<String>,
    error: &Option<String>,
) {
    if let Some(value) = value {
        line.push_str(&format!("  = {value}"));
        if let Some(decoded) = decoded {
            line.push_str(&format!(" ({decoded})"));
        } else if let Some(text) = text {
            line.push_str(&format!(" \"{text}\""));
        }
    }
    if let Some(error) = error {
        line.push_str(&format!("  ! {error}"));
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

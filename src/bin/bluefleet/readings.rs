//! `bluefleet run`'s advert readings: for each `decode = "auto"` device, a line (or JSON line)
//! whenever its decoded readings change.
//!
//! Follows the fleet's advert events and reads the device's latest decoded payload; the
//! pipeline decodes each changed payload once (src/decode/latest.rs), so this only compares
//! and prints. A decode error (wrong key, replay) is printed once per distinct message.

use bluefleet::adverts::AdvertEvent;
use bluefleet::model::Address;
use bluefleet::Fleet;
use futures::StreamExt;
use serde_json::json;

/// Prints `address`'s readings as they change, until the fleet's event stream ends.
pub async fn print_readings(
    fleet: Fleet,
    address: Address,
    name: String,
    started: tokio::time::Instant,
    json: bool,
) {
    let mut events = Box::pin(fleet.advert_events());
    let mut last_readings = None;
    let mut last_error = None;
    while let Some(event) = events.next().await {
        // A lagged stream may have dropped this device's change: look at it again.
        let heard = match event.item() {
            Some(AdvertEvent::Appeared { address, .. } | AdvertEvent::Changed { address }) => {
                Some(address)
            }
            Some(_) => continue,
            None => None,
        };
        if heard.is_some_and(|heard| heard != address) {
            continue;
        }
        let Some(device) = fleet.heard_device(&address) else {
            continue;
        };
        let t = started.elapsed().as_secs_f64();
        if let Some(err) = device.decode_error {
            if last_error.as_ref() != Some(&err) {
                if json {
                    println!(
                        "{}",
                        json!({"t_s": t, "device": name, "address": address, "decode_error": err})
                    );
                } else {
                    println!("{t:>9.1}s  {name:<24} adverts  [decode error] {err}");
                }
                last_error = Some(err);
            }
            continue;
        }
        let Some(decoded) = device.readings else {
            continue;
        };
        if last_readings.as_ref() == Some(&decoded) {
            continue;
        }
        if json {
            println!(
                "{}",
                json!({"t_s": t, "device": name, "address": address, "format": decoded.format,
                       "model": decoded.model, "readings": decoded.readings})
            );
        } else {
            println!(
                "{t:>9.1}s  {name:<24} {:<8} {}",
                decoded.format,
                decoded.summary()
            );
        }
        last_error = None;
        last_readings = Some(decoded);
    }
}

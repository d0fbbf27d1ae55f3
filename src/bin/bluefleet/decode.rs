//! `bluefleet decode HEX`: what one raw advertisement says, as a proxy or `btmon` shows it.
//!
//! Parses the AD structures, runs the standard decoder registry once (with `--key` as the
//! bindkey of `--address`), and prints the format, the model and every reading with its unit;
//! `--json` prints `{"format", "model", "readings": [{"kind", "value", "unit"}]}`. An advert no
//! decoder claims is not an error (most adverts are not sensors); bad hex, malformed AD
//! structures and failed decodes (wrong key, replay, corrupt frame) are.

use bluefleet::decode::{Bindkey, Decoded, Keyring, Registry};
use bluefleet::model::{Address, AdvertData};
use serde_json::json;

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The advertisement's AD structures as hex (spaces, colons and a 0x prefix allowed),
    /// e.g. 0A16D2FC4002CA0903BF13.
    hex: String,
    /// The sender's address; encrypted formats need it (it is part of the nonce).
    #[arg(long, value_name = "ADDR", default_value = "00:00:00:00:00:00")]
    address: String,
    /// The device's bindkey (32 hex digits) for encrypted BTHome and Xiaomi adverts.
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<(), String> {
    let bytes = parse_hex(&args.hex)?;
    let address = Address::parse(&args.address).map_err(|e| format!("--address: {e}"))?;
    let data = AdvertData::parse(&bytes).map_err(|e| e.to_string())?;
    let mut keyring = Keyring::new();
    if let Some(key) = &args.key {
        let key: Bindkey = key.parse().map_err(|e| format!("--key: {e}"))?;
        keyring.set_bindkey(address, key);
    }
    let decoded = match Registry::standard().decode(address, &data, &mut keyring) {
        None => None,
        Some(Ok(decoded)) => Some(decoded),
        Some(Err(err)) => return Err(err.to_string()),
    };
    if args.json {
        let value = match &decoded {
            Some(decoded) => serde_json::to_value(decoded).map_err(|e| e.to_string())?,
            None => json!({"format": null, "model": null, "readings": []}),
        };
        println!("{value}");
        return Ok(());
    }
    match decoded {
        Some(decoded) => print_text(&decoded),
        None => println!("no decoder claims this advert ({})", describe(&data)),
    }
    Ok(())
}

fn print_text(decoded: &Decoded) {
    println!("format  {}", decoded.format);
    println!("model   {}", decoded.model);
    let named = decoded.named_readings();
    let width = named.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
    for (name, reading) in named {
        println!("{name:<width$}  {reading}");
    }
}

/// What the advert carried, for the "nobody claims it" line.
fn describe(data: &AdvertData) -> String {
    let mut parts = Vec::new();
    for uuid in data.service_data.keys() {
        match bluefleet::model::uuid::short_form(uuid) {
            Some(short) => parts.push(format!("service data 0x{short:04x}")),
            None => parts.push(format!("service data {uuid}")),
        }
    }
    for company in data.manufacturer_data.keys() {
        parts.push(format!("manufacturer 0x{company:04x}"));
    }
    if let Some(name) = &data.local_name {
        parts.push(format!("name '{name}'"));
    }
    if parts.is_empty() {
        "no service or manufacturer data".into()
    } else {
        parts.join(", ")
    }
}

/// Hex text to bytes; spaces, colons, dashes and a leading 0x are ignored.
fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<char> = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !matches!(c, ' ' | ':' | '-'))
        .collect();
    if digits.is_empty() {
        return Err(
            "decode needs the advert as hex, e.g. bluefleet decode 0A16D2FC4002CA0903BF13".into(),
        );
    }
    if let Some((at, bad)) = digits
        .iter()
        .enumerate()
        .find(|(_, c)| !c.is_ascii_hexdigit())
    {
        return Err(format!("'{bad}' at digit {at} is not hex"));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(format!(
            "{} hex digits is an odd count; each byte is two digits",
            digits.len()
        ));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text: String = pair.iter().collect();
            u8::from_str_radix(&text, 16).map_err(|e| format!("'{text}': {e}"))
        })
        .collect()
}

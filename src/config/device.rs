//! One `[[device]]` entry of hub.toml: which device, whether to keep it connected, what to
//! follow on it (subscribed notifications, or reads every `poll`) and how to decode each value.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use uuid::Uuid;

use super::decode::{Decode, ValueFormat};
use crate::model::{parse_uuid, Address};
use crate::Error;

/// The shortest and longest `poll` a hub file may ask for.
const POLL_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(86_400));

/// One device to manage.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Its address.
    pub address: Address,
    /// A name for logs.
    pub name: Option<String>,
    /// Keep it connected (default true).
    #[serde(default = "yes")]
    pub keep_connected: bool,
    /// Characteristics to follow: notifications, or reads every `poll`.
    #[serde(default)]
    pub subscribe: Vec<SubscriptionConfig>,
    /// `"auto"`: print the readings its adverts carry (BTHome, Xiaomi, ATC… see
    /// docs/decoders.md); `"off"` (the default): don't.
    #[serde(default)]
    pub decode: AdvertDecoding,
    /// The bindkey of an encrypted sensor (32 hex digits), for its adverts' readings.
    pub bindkey: Option<String>,
}

/// Whether `bluefleet run` prints a device's advert readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdvertDecoding {
    /// Don't print them.
    #[default]
    Off,
    /// Decode with whichever format the adverts carry.
    Auto,
}

fn yes() -> bool {
    true
}

/// One followed characteristic.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionConfig {
    /// Characteristic UUID (`2a6e`, `0x2A6E` or 128-bit).
    pub characteristic: String,
    /// The value's format (`sint16`, `sfloat`, `utf8`…; hex when absent).
    #[serde(default)]
    pub decode: Decode,
    /// Where the value starts in the characteristic's bytes.
    #[serde(default)]
    pub offset: usize,
    /// Multiplier for numbers.
    #[serde(default = "one")]
    pub scale: f64,
    /// Power of ten for numbers, as a Presentation Format descriptor gives it (`-2`: hundredths).
    #[serde(default)]
    pub exponent: i8,
    /// Unit to print after numbers.
    #[serde(default)]
    pub unit: String,
    /// Read the characteristic this often (`"60s"`) instead of subscribing to it: for values
    /// that do not notify, like a battery level.
    #[serde(default, deserialize_with = "poll_every")]
    pub poll: Option<Duration>,
}

fn one() -> f64 {
    1.0
}

fn poll_every<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    let (shortest, longest) = POLL_RANGE;
    match crate::sim::world::parse_duration(&text) {
        Ok(every) if (shortest..=longest).contains(&every) => Ok(Some(every)),
        _ => Err(serde::de::Error::custom(format!(
            "'{text}' is not a duration from 1s to 24h (like \"60s\")"
        ))),
    }
}

impl SubscriptionConfig {
    /// A subscription to `characteristic` with `decode` and `scale`, nothing else set.
    pub fn new(characteristic: impl Into<String>, decode: Decode, scale: f64) -> Self {
        Self {
            characteristic: characteristic.into(),
            decode,
            offset: 0,
            scale,
            exponent: 0,
            unit: String::new(),
            poll: None,
        }
    }

    /// The characteristic UUID, parsed.
    pub fn uuid(&self) -> crate::Result<Uuid> {
        Ok(parse_uuid(&self.characteristic)?)
    }

    /// How its values are decoded.
    pub fn format(&self) -> ValueFormat {
        ValueFormat {
            decode: self.decode,
            offset: self.offset,
            scale: self.scale,
            exponent: self.exponent,
        }
    }
}

impl DeviceConfig {
    /// The bindkey, parsed (checked at load, so `None` also when absent).
    pub fn bindkey(&self) -> Option<crate::decode::Bindkey> {
        self.bindkey.as_deref().and_then(|key| key.parse().ok())
    }

    /// What serde cannot check: the UUIDs, the bindkey, finite scales.
    pub(super) fn check(&self, index: usize) -> crate::Result<()> {
        if let Some(key) = &self.bindkey {
            key.parse::<crate::decode::Bindkey>()
                .map_err(|e| Error::config(format!("device[{index}].bindkey"), e.to_string()))?;
        }
        for (sub, subscription) in self.subscribe.iter().enumerate() {
            let field = |name: &str| format!("device[{index}].subscribe[{sub}].{name}");
            subscription
                .uuid()
                .map_err(|e| Error::config(field("characteristic"), e.to_string()))?;
            if !subscription.scale.is_finite() {
                return Err(Error::config(field("scale"), "must be a finite number"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::HubConfig;
    use super::*;

    const RADIO: &str = "[[radio]]\nbackend = \"sim\"\nworld = \"flat\"\n";

    fn hub(device: &str) -> crate::Result<HubConfig> {
        HubConfig::parse(&format!(
            "{RADIO}[[device]]\naddress = \"A4:C1:38:00:00:01\"\n{device}"
        ))
    }

    fn error(device: &str) -> String {
        hub(device).expect_err(device).to_string()
    }

    #[test]
    fn offsets_formats_exponents_and_polls_are_read() {
        let config = hub(
            "subscribe = [\n  { characteristic = \"2a37\", decode = \"uint8\", offset = 1, unit = \"bpm\" },\n  { characteristic = \"2a1c\", decode = \"float\", offset = 1 },\n  { characteristic = \"2a19\", decode = \"uint8\", poll = \"60s\", exponent = -1 },\n]\n",
        )
        .expect("a good file");
        let subscribe = &config.devices[0].subscribe;
        assert_eq!(subscribe[0].format().offset, 1);
        assert_eq!(subscribe[0].poll, None, "subscribed, not polled");
        assert_eq!(subscribe[1].decode, Decode::Float);
        assert_eq!(subscribe[2].poll, Some(Duration::from_secs(60)));
        assert_eq!(subscribe[2].format().exponent, -1);
        // Heart Rate Measurement: flags, then the uint8 rate.
        assert_eq!(subscribe[0].format().apply(&[0, 72]).to_string(), "72");
    }

    #[test]
    fn errors_give_the_line_and_the_field_path_in_words() {
        let poll = error("subscribe = [\n  { characteristic = \"2a19\" },\n  { characteristic = \"2a19\", poll = \"soon\" },\n]\n");
        assert!(
            poll.contains("line 8, device[0].subscribe[1].poll")
                && poll.contains("'soon' is not a duration from 1s to 24h"),
            "{poll}"
        );
        let short = error("subscribe = [{ characteristic = \"2a19\", poll = \"100ms\" }]\n");
        assert!(short.contains("device[0].subscribe[0].poll"), "{short}");
        let format = error("subscribe = [{ characteristic = \"2a19\", decode = \"f32\" }]\n");
        assert!(
            format.contains("line 6, device[0].subscribe[0].decode")
                && format.contains("'f32' is not a format")
                && format.contains("sfloat"),
            "{format}"
        );
        let offset = error("subscribe = [{ characteristic = \"2a19\", offset = -1 }]\n");
        assert!(
            offset.contains("device[0].subscribe[0].offset")
                && offset.contains("whole number (0 or more)"),
            "{offset}"
        );
        let exponent = error("subscribe = [{ characteristic = \"2a19\", exponent = 300 }]\n");
        assert!(
            exponent.contains("device[0].subscribe[0].exponent"),
            "{exponent}"
        );
        // A check after parsing (the UUID) also gets its line.
        let uuid = error("name = \"x\"\nsubscribe = [{ characteristic = \"2a19\" }, { characteristic = \"nope\" }]\n");
        assert!(
            uuid.contains("line 7, device[0].subscribe[1].characteristic"),
            "{uuid}"
        );
        let unknown = error("subscribe = [{ characteristic = \"2a19\", every = \"5s\" }]\n");
        assert!(
            unknown.contains("line 6, device[0].subscribe[0]")
                && unknown.contains("unknown field `every`"),
            "{unknown}"
        );
    }
}

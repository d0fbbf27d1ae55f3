//! The cluster's topics and payloads, in one place so the core, the tests and docs/mqtt.md
//! agree: `<base>/cluster/<name>/offers/<ADDRESS>/<hub>`, `…/claims/<ADDRESS>`,
//! `…/forward/<hub>`, and every hub's `<base>/<hub>/status`.
//!
//! Payloads are small JSON objects. Anything can arrive on these topics (an old version, a
//! person with mosquitto_pub), so decoding returns `None` for what it cannot read and the core
//! ignores it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::Address;

/// The topics of one cluster, seen from one hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterTopics {
    base: String,
    prefix: String,
    hub: String,
}

/// What a cluster topic is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `offers/<ADDRESS>/<hub>`.
    Offer(Address, String),
    /// `claims/<ADDRESS>`.
    Claim(Address),
    /// `forward/<this hub>`.
    Forward,
    /// `<base>/<hub>/status`.
    Status(String),
}

impl ClusterTopics {
    /// The topics of cluster `name` under `base`, for hub `hub`.
    pub fn new(base: &str, name: &str, hub: &str) -> Self {
        Self {
            base: base.to_string(),
            prefix: format!("{base}/cluster/{name}"),
            hub: hub.to_string(),
        }
    }

    /// This hub's name.
    pub fn hub(&self) -> &str {
        &self.hub
    }

    /// Where `hub` offers `address`.
    pub fn offer(&self, address: &Address, hub: &str) -> String {
        format!("{}/offers/{address}/{hub}", self.prefix)
    }

    /// The claim of `address`.
    pub fn claim(&self, address: &Address) -> String {
        format!("{}/claims/{address}", self.prefix)
    }

    /// Where commands for devices `hub` holds are forwarded.
    pub fn forward(&self, hub: &str) -> String {
        format!("{}/forward/{hub}", self.prefix)
    }

    /// The filters a hub subscribes to.
    pub fn filters(&self) -> Vec<String> {
        vec![
            format!("{}/offers/+/+", self.prefix),
            format!("{}/claims/+", self.prefix),
            self.forward(&self.hub),
            format!("{}/+/status", self.base),
        ]
    }

    /// What `topic` is, if it is one of the cluster's.
    pub fn subject(&self, topic: &str) -> Option<Subject> {
        if let Some(rest) = topic
            .strip_prefix(self.prefix.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            let levels: Vec<&str> = rest.split('/').collect();
            return match levels.as_slice() {
                ["offers", address, hub] => {
                    Some(Subject::Offer(address.parse().ok()?, hub.to_string()))
                }
                ["claims", address] => Some(Subject::Claim(address.parse().ok()?)),
                ["forward", hub] if *hub == self.hub => Some(Subject::Forward),
                _ => None,
            };
        }
        let hub = topic
            .strip_prefix(self.base.as_str())?
            .strip_prefix('/')?
            .strip_suffix("/status")?;
        (!hub.is_empty() && !hub.contains('/')).then(|| Subject::Status(hub.to_string()))
    }
}

/// How well a hub hears a device, and whether it could connect it now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferPayload {
    /// Smoothed RSSI of the hub's best radio for the device, dBm.
    pub rssi: i16,
    /// That radio.
    pub radio: String,
    /// Whether a radio of the hub that hears it has a free slot (or the hub holds it already).
    pub free: bool,
}

/// A claim: who connects the device, under which epoch, for how long without renewal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPayload {
    /// The claiming hub.
    pub hub: String,
    /// Grows by one with every new claim of the device.
    pub epoch: u64,
    /// The lease, in milliseconds (informative: every hub uses its own configured lease).
    pub lease_ms: u64,
    /// `held`, or `released` once the hub has disconnected the device and lets it go.
    pub state: ClaimState,
}

/// Whether a claim holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimState {
    /// The hub holds (or is about to connect) the device.
    Held,
    /// The hub let it go.
    Released,
}

/// A command forwarded to the hub that holds the device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForwardPayload {
    /// The command's verb.
    pub verb: String,
    /// The command's payload, as the asker sent it.
    pub command: Value,
    /// Where the answer goes.
    pub reply_topic: String,
    /// MQTT 5 correlation data of the asker, hex.
    pub correlation: Option<String>,
    /// The asker's request id, echoed in the answer.
    pub id: Option<Value>,
    /// The hub the asker wrote to.
    pub via: String,
}

/// `payload` as `T`, or `None` when it is not one.
pub fn decode<T: for<'de> Deserialize<'de>>(payload: &[u8]) -> Option<T> {
    serde_json::from_slice(payload).ok()
}

/// `value` as JSON bytes.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_their_subjects() {
        let topics = ClusterTopics::new("bluefleet", "house", "attic");
        let address: Address = "A4:C1:38:00:00:01".parse().unwrap();
        assert_eq!(
            topics.offer(&address, "cellar"),
            "bluefleet/cluster/house/offers/A4:C1:38:00:00:01/cellar"
        );
        assert_eq!(
            topics.subject("bluefleet/cluster/house/offers/A4:C1:38:00:00:01/cellar"),
            Some(Subject::Offer(address, "cellar".into()))
        );
        assert_eq!(
            topics.subject(&topics.claim(&address)),
            Some(Subject::Claim(address))
        );
        assert_eq!(
            topics.subject("bluefleet/cluster/house/forward/attic"),
            Some(Subject::Forward)
        );
        assert_eq!(
            topics.subject("bluefleet/cluster/house/forward/cellar"),
            None
        );
        assert_eq!(
            topics.subject("bluefleet/cellar/status"),
            Some(Subject::Status("cellar".into()))
        );
        assert_eq!(
            topics.subject("bluefleet/cluster/other/claims/A4:C1:38:00:00:01"),
            None
        );
        assert_eq!(
            topics.subject("bluefleet/cluster/house/claims/nonsense"),
            None
        );
        assert_eq!(topics.subject("bluefleet/attic/devices/x/state"), None);
    }

    #[test]
    fn payloads_round_trip_and_junk_is_none() {
        let claim = ClaimPayload {
            hub: "attic".into(),
            epoch: 3,
            lease_ms: 5000,
            state: ClaimState::Held,
        };
        let bytes = encode(&claim);
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            r#"{"hub":"attic","epoch":3,"lease_ms":5000,"state":"held"}"#
        );
        assert_eq!(decode::<ClaimPayload>(&bytes), Some(claim));
        assert_eq!(decode::<ClaimPayload>(b"{\"hub\":1}"), None);
        assert_eq!(decode::<OfferPayload>(b"\xff"), None);
    }
}

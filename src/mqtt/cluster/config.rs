//! `[cluster]` in hub.toml: which cluster this hub joins and how long its claims last.
//!
//! Every hub of one house names the same cluster on the same broker. The lease and its renewal
//! default from the MQTT keepalive, because the keepalive is what the operator already tuned to
//! how fast the broker should notice a hub is gone; the takeover bound (2 × keepalive) follows
//! from a lease of one keepalive. Errors name the `cluster.<field>`.

use std::time::Duration;

use serde::Deserialize;

use crate::Error;

/// The `[cluster]` table as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The cluster's name: one topic level under `<base>/cluster/`.
    pub name: String,
    /// How long a claim holds without renewal (default: the MQTT keepalive).
    #[serde(default, deserialize_with = "optional_duration")]
    pub lease: Option<Duration>,
    /// How often the holder renews it (default: lease / 3).
    #[serde(default, deserialize_with = "optional_duration")]
    pub renew: Option<Duration>,
}

/// The timings of the claim protocol, all derived from the lease (docs/mqtt.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// A claim not renewed for this long has expired for every other hub.
    pub lease: Duration,
    /// The holder republishes its claims this often; every hub its offers too.
    pub renew: Duration,
    /// The holder drops a device when its own claim has not come back from the broker for this
    /// long (3/4 of the lease): before any other hub may see the lease as expired.
    pub fence: Duration,
    /// After its claim came back, a hub waits this long (1/4 of the lease) for a competing
    /// claim of the same epoch before it connects.
    pub settle: Duration,
    /// After (re)connecting to the broker, a hub listens this long (one renewal and a bit)
    /// before it claims anything, so it knows every live claim and offer first.
    pub gather: Duration,
}

impl Timings {
    /// The timings for `lease`, renewed every `renew`.
    pub fn new(lease: Duration, renew: Duration) -> Self {
        Self {
            lease,
            renew,
            fence: lease * 3 / 4,
            settle: lease / 4,
            gather: renew + renew / 2,
        }
    }
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    crate::sim::world::parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

impl ClusterConfig {
    /// Checks every field against the MQTT keepalive; the error names the field.
    pub fn check(&self, keepalive: Duration) -> crate::Result<()> {
        let bad_name = self.name.is_empty()
            || self.name.contains(['/', '+', '#', '\0'])
            || self.name.trim() != self.name;
        if bad_name {
            return Err(Error::config(
                "cluster.name",
                format!(
                    "'{}' cannot be one topic level (empty, spaces around it, or has / + #)",
                    self.name
                ),
            ));
        }
        let timings = self.timings(keepalive);
        if timings.lease < Duration::from_secs(1) {
            return Err(Error::config("cluster.lease", "must be at least 1s"));
        }
        if timings.lease > keepalive * 2 {
            return Err(Error::config(
                "cluster.lease",
                format!(
                    "{:?} is more than 2 × the MQTT keepalive ({keepalive:?}): takeover would be slower than the broker notices a hub is gone",
                    timings.lease
                ),
            ));
        }
        if timings.renew < Duration::from_millis(100) || timings.renew * 2 > timings.lease {
            return Err(Error::config(
                "cluster.renew",
                format!(
                    "{:?} must be at least 100ms and at most half the lease ({:?})",
                    timings.renew, timings.lease
                ),
            ));
        }
        Ok(())
    }

    /// The protocol's timings, defaulted from the MQTT keepalive.
    pub fn timings(&self, keepalive: Duration) -> Timings {
        let lease = self.lease.unwrap_or(keepalive);
        Timings::new(lease, self.renew.unwrap_or(lease / 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole hub file with `text` as its `[cluster]`.
    fn parse(text: &str, keepalive_s: u64) -> crate::Result<ClusterConfig> {
        let hub = format!(
            "[[radio]]\nbackend = \"sim\"\nworld = \"w.toml\"\n\
             [mqtt]\nhost = \"127.0.0.1\"\nkeepalive = \"{keepalive_s}s\"\n[cluster]\n{text}\n"
        );
        let config = crate::config::HubConfig::parse(&hub)?;
        Ok(config.cluster.expect("[cluster] parsed"))
    }

    #[test]
    fn timings_default_from_the_keepalive() {
        let config = parse("name = \"house\"", 30).unwrap();
        let timings = config.timings(Duration::from_secs(30));
        assert_eq!(timings.lease, Duration::from_secs(30));
        assert_eq!(timings.renew, Duration::from_secs(10));
        assert_eq!(timings.fence, Duration::from_millis(22_500));
        assert_eq!(timings.settle, Duration::from_millis(7_500));
        assert_eq!(timings.gather, Duration::from_secs(15));
        let tuned = parse("name = \"house\"\nlease = \"8s\"\nrenew = \"2s\"", 5).unwrap();
        let timings = tuned.timings(Duration::from_secs(5));
        assert_eq!(
            (timings.lease, timings.renew),
            (Duration::from_secs(8), Duration::from_secs(2))
        );
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("name = \"\"", "cluster.name"),
            ("name = \"a/b\"", "cluster.name"),
            ("name = \"a#\"", "cluster.name"),
            ("name = \"h\"\nlease = \"500ms\"", "cluster.lease"),
            ("name = \"h\"\nlease = \"61s\"", "cluster.lease"),
            ("name = \"h\"\nrenew = \"20s\"", "cluster.renew"),
            ("name = \"h\"\nrenew = \"10ms\"", "cluster.renew"),
            ("name = \"h\"\nlease = \"soon\"", "cluster.lease"),
            ("name = \"h\"\nleese = \"5s\"", "unknown field"),
            ("lease = \"5s\"", "name"),
        ];
        for (text, expected) in cases {
            let err = parse(text, 30).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected} not in: {err}");
        }
        let alone = "[[radio]]\nbackend = \"sim\"\nworld = \"w.toml\"\n[cluster]\nname = \"h\"\n";
        let err = crate::config::HubConfig::parse(alone)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster") && err.contains("[mqtt]"), "{err}");
    }
}

//! The `[web]` section of hub.toml: where the live page listens, who may see it, and whether
//! it may send commands. Kept free of the web server itself so the config parses in any build.

use std::net::SocketAddr;

use serde::Deserialize;

/// The live page's settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// An IP address and port (`127.0.0.1:8123`; port 0 picks a free one). Loopback by default:
    /// a name is refused rather than resolved.
    #[serde(default = "default_listen", deserialize_with = "listen_address")]
    pub listen: SocketAddr,
    /// When set, every request needs `Authorization: Bearer <token>` (or `?token=<token>`, which
    /// the page passes on to its own requests).
    #[serde(default)]
    pub token: Option<String>,
    /// Whether the page may send commands (disconnect a device, take a simulated radio down).
    #[serde(default)]
    pub allow_commands: bool,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            token: None,
            allow_commands: false,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8123))
}

/// Parses `HOST:PORT` where HOST is an IP address (v6 in brackets).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("web listen address {text:?} is not an IP address and port like 127.0.0.1:8123")
    })
}

fn listen_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(d)?;
    parse_listen(&text).map_err(serde::de::Error::custom)
}

//! The sans-IO heart of the bridge: fleet facts in, MQTT actions out.
//!
//! [`Bridge`] knows nothing of sockets or actors. The IO shell feeds it samples of the fleet,
//! GATT values, adverts, broker connections and incoming commands; it answers with the
//! publishes and subscriptions to make. It remembers every retained payload it published, so
//! after a reconnect (or a broker that restarted empty) it can publish them all again, and it
//! publishes a retained topic again only when its payload changed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use uuid::Uuid;

use super::commands::{self, Command, CommandError};
use super::config::{MqttConfig, PublishAdverts};
use super::discovery::{device_config, hub_config, ValueSpec};
use super::snapshot::{to_json, DeviceSnapshot, HubSnapshot, RadioSnapshot};
use super::topics::{device_object_id, hub_object_id, Topics};
use crate::model::{Address, Advertisement};

/// One message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload (empty with retain deletes a retained message).
    pub payload: Vec<u8>,
    /// Retain flag.
    pub retain: bool,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// MQTT 5 correlation data (responses only).
    pub correlation: Option<Vec<u8>>,
}

impl Message {
    /// A message with no correlation data (everything but a command's answer).
    pub fn new(topic: String, payload: Vec<u8>, retain: bool, qos: u8) -> Self {
        Self {
            topic,
            payload,
            retain,
            qos,
            correlation: None,
        }
    }
}

/// What the shell should do on the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Publish.
    Publish(Message),
    /// Subscribe to a filter.
    Subscribe(String),
}

/// Where the answer to a command goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// Response topic.
    pub topic: String,
    /// MQTT 5 correlation data to copy.
    pub correlation: Option<Vec<u8>>,
    /// The request id from the payload, echoed back.
    pub id: Option<Value>,
}

/// An incoming publish, as the shell received it.
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retained flag.
    pub retain: bool,
    /// MQTT 5 response topic.
    pub response_topic: Option<String>,
    /// MQTT 5 correlation data.
    pub correlation: Option<Vec<u8>>,
}

/// What an incoming publish asks of the shell.
#[derive(Clone, Debug, PartialEq)]
pub enum Inbound {
    /// Run a command and answer to `reply`.
    Command(Command, ReplyTo),
    /// Publish these (an error answer, or clean-up of a stale retained device).
    Publish(Vec<Message>),
}

struct Managed {
    name: String,
    values: Vec<ValueSpec>,
}

/// The bridge's state.
pub struct Bridge {
    topics: Topics,
    qos: u8,
    retain: bool,
    discovery: bool,
    adverts: PublishAdverts,
    devices: BTreeMap<Address, Managed>,
    /// Every retained payload published, by topic (empty ones are removed).
    retained: BTreeMap<String, Vec<u8>>,
    last_advert: BTreeMap<Address, Vec<u8>>,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("topics", &self.topics)
            .field("devices", &self.devices.len())
            .finish()
    }
}

/// Payload of the hub status topic while up.
pub const ONLINE: &str = "online";
/// Payload of the hub status topic after a clean stop, and the last will.
pub const OFFLINE: &str = "offline";

impl Bridge {
    /// A bridge for `config`.
    pub fn new(config: &MqttConfig) -> Self {
        Self {
            topics: Topics::new(&config.base_topic, &config.hub, &config.discovery_prefix),
            qos: config.qos,
            retain: config.retain,
            discovery: config.discovery,
            adverts: config.publish_adverts,
            devices: BTreeMap::new(),
            retained: BTreeMap::new(),
            last_advert: BTreeMap::new(),
        }
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// The last will: the status topic set to `offline`, retained.
    pub fn last_will(&self) -> Message {
        self.message(self.topics.status(), OFFLINE.as_bytes().to_vec(), true)
    }

    /// The clean goodbye: the same as the last will. Discovery stays, so Home Assistant keeps
    /// the devices (shown unavailable) across a restart.
    pub fn goodbye(&self) -> Message {
        self.last_will()
    }

    fn message(&self, topic: String, payload: Vec<u8>, retain: bool) -> Message {
        Message::new(topic, payload, retain, self.qos)
    }

    /// A retained publish, remembered; `None` when the broker already has this payload.
    fn retained(&mut self, topic: String, payload: Vec<u8>) -> Option<Message> {
        if payload.is_empty() {
            self.retained.remove(&topic)?;
        } else if self.retained.get(&topic) == Some(&payload) {
            return None;
        } else {
            self.retained.insert(topic.clone(), payload.clone());
        }
        Some(self.message(topic, payload, true))
    }

    /// A state publish: retained (remembered) or not, as configured.
    fn state(&mut self, topic: String, payload: Vec<u8>) -> Option<Message> {
        if self.retain {
            self.retained(topic, payload)
        } else {
            Some(self.message(topic, payload, false))
        }
    }

    /// Starts publishing a device (idempotent); returns its discovery.
    pub fn manage(&mut self, address: Address, name: &str, values: Vec<ValueSpec>) -> Vec<Message> {
        let entry = self.devices.entry(address).or_insert_with(|| Managed {
            name: name.to_string(),
            values: Vec::new(),
        });
        for value in values {
            if !entry.values.iter().any(|v| v.key == value.key) {
                entry.values.push(value);
            }
        }
        self.discovery_of(address).into_iter().collect()
    }

    /// Whether `address` is managed.
    pub fn is_managed(&self, address: &Address) -> bool {
        self.devices.contains_key(address)
    }

    fn discovery_of(&mut self, address: Address) -> Option<Message> {
        if !self.discovery {
            return None;
        }
        let device = self.devices.get(&address)?;
        let config = device_config(&self.topics, &address, &device.name, &device.values);
        self.retained(
            self.topics.discovery(&device_object_id(&address)),
            to_json(&config),
        )
    }

    /// Stops publishing a device: removes its discovery, state and values (empty retained).
    pub fn release(&mut self, address: &Address) -> Vec<Message> {
        self.devices.remove(address);
        self.last_advert.remove(address);
        let prefix = format!(
            "{}/",
            self.topics.device_state(address).trim_end_matches("/state")
        );
        let mut topics: Vec<String> = self
            .retained
            .keys()
            .filter(|t| t.starts_with(&prefix))
            .cloned()
            .collect();
        topics.push(self.topics.discovery(&device_object_id(address)));
        topics.push(self.topics.device_state(address));
        let unique: BTreeSet<String> = topics.into_iter().collect();
        unique
            .into_iter()
            .map(|topic| {
                self.retained.remove(&topic);
                self.message(topic, Vec::new(), true)
            })
            .collect()
    }

    /// The broker (re)connected: subscribe, say online, and publish every retained payload
    /// again (the broker may have restarted empty).
    pub fn connected(&mut self) -> Vec<Action> {
        let mut actions = vec![
            Action::Subscribe(self.topics.commands()),
            Action::Subscribe(self.topics.every_device_state()),
        ];
        let online = self.message(self.topics.status(), ONLINE.as_bytes().to_vec(), true);
        actions.push(Action::Publish(online));
        if self.discovery {
            let hub = to_json(&hub_config(&self.topics));
            let topic = self.topics.discovery(&hub_object_id(self.topics.hub()));
            self.retained.insert(topic, hub);
        }
        actions.extend(self.retained.iter().map(|(topic, payload)| {
            Action::Publish(self.message(topic.clone(), payload.clone(), true))
        }));
        actions
    }

    /// A new sample of the fleet: the retained topics whose payload changed.
    pub fn observe(
        &mut self,
        devices: &[DeviceSnapshot],
        radios: &[RadioSnapshot],
        hub: &HubSnapshot,
    ) -> Vec<Message> {
        let mut out = Vec::new();
        for device in devices {
            if !self.devices.contains_key(&device.address) {
                continue;
            }
            let topic = self.topics.device_state(&device.address);
            out.extend(self.state(topic, to_json(device)));
        }
        for radio in radios {
            let topic = self.topics.radio(&radio.radio);
            out.extend(self.state(topic, to_json(radio)));
        }
        out.extend(self.state(self.topics.hub_state(), to_json(hub)));
        out
    }

    /// A value of a subscribed characteristic.
    pub fn value(
        &mut self,
        address: &Address,
        characteristic: &Uuid,
        reading: &Value,
    ) -> Vec<Message> {
        if !self.devices.contains_key(address) {
            return Vec::new();
        }
        let topic = self.topics.value(address, characteristic);
        let payload = match reading {
            Value::String(text) => text.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        };
        if self.retain {
            // Remembered, but published every time: a repeated value is still news.
            self.retained.insert(topic.clone(), payload.clone());
        }
        vec![self.message(topic, payload, self.retain)]
    }

    /// An advertisement, published raw if configured.
    pub fn advert(&mut self, advert: &Advertisement) -> Option<Message> {
        let raw: Vec<u8> = advert.raw.as_ref().map(|b| b.to_vec()).unwrap_or_default();
        match self.adverts {
            PublishAdverts::Off => return None,
            PublishAdverts::Changed => {
                if self.last_advert.get(&advert.address) == Some(&raw) {
                    return None;
                }
                self.last_advert.insert(advert.address, raw.clone());
            }
            PublishAdverts::All => {}
        }
        let payload = json!({
            "radio": advert.radio.to_string(),
            "rssi": advert.rssi_dbm,
            "connectable": advert.connectable,
            "raw": crate::config::decode::hex(&raw),
            "name": advert.local_name(),
        });
        Some(self.message(
            self.topics.advert(&advert.address),
            to_json(&payload),
            false,
        ))
    }

    /// An incoming publish: a command to run, or something to answer or clean up.
    pub fn incoming(&mut self, message: &Incoming) -> Inbound {
        if let Some(address) = self.topics.state_address(&message.topic) {
            // A retained state of a device this hub no longer manages: released while the hub
            // was down, or removed from hub.toml. Remove it and its discovery.
            let stale = message.retain && !message.payload.is_empty() && !self.is_managed(&address);
            return Inbound::Publish(if stale {
                self.release(&address)
            } else {
                Vec::new()
            });
        }
        let Some(verb) = self.topics.command_verb(&message.topic).map(str::to_string) else {
            return Inbound::Publish(Vec::new());
        };
        let id = commands::object(&message.payload)
            .ok()
            .and_then(|object| object.get("id").cloned());
        let reply = match self.reply_to(message, id) {
            Ok(reply) => reply,
            Err(refusal) => {
                let (reply, error) = *refusal;
                return Inbound::Publish(vec![self.refused(&reply, &error)]);
            }
        };
        match commands::parse(&verb, &message.payload) {
            Ok(command) => Inbound::Command(command, reply),
            Err(error) => Inbound::Publish(vec![self.refused(&reply, &error)]),
        }
    }

    fn reply_to(
        &self,
        message: &Incoming,
        id: Option<Value>,
    ) -> Result<ReplyTo, Box<(ReplyTo, CommandError)>> {
        let fallback = |id: Option<Value>| ReplyTo {
            topic: self.topics.response(None),
            correlation: message.correlation.clone(),
            id,
        };
        if let Some(topic) = &message.response_topic {
            if topic.is_empty() || topic.contains(['+', '#', '\0']) {
                let error = CommandError {
                    field: "response_topic".into(),
                    message: format!("'{topic}' is not a topic one can publish to"),
                };
                return Err(Box::new((fallback(id), error)));
            }
            return Ok(ReplyTo {
                topic: topic.clone(),
                correlation: message.correlation.clone(),
                id,
            });
        }
        let level = match &id {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                let error = CommandError {
                    field: "id".into(),
                    message: "must be a string or a number".into(),
                };
                return Err(Box::new((fallback(None), error)));
            }
        };
        match level {
            Some(level) if !level.is_empty() && !level.contains(['/', '+', '#', '\0']) => {
                Ok(ReplyTo {
                    topic: self.topics.response(Some(&level)),
                    correlation: message.correlation.clone(),
                    id,
                })
            }
            Some(level) => Err(Box::new((
                fallback(None),
                CommandError {
                    field: "id".into(),
                    message: format!("'{level}' cannot be a topic level (empty, or has / + #)"),
                },
            ))),
            None => Ok(fallback(None)),
        }
    }

    /// The answer to a refused command.
    pub fn refused(&self, reply: &ReplyTo, error: &CommandError) -> Message {
        self.answer(
            reply,
            json!({"ok": false, "error": {"field": error.field, "message": error.message}}),
        )
    }

    /// The answer to a command that ran: `result` on success, `{kind, message}` on failure.
    pub fn answer(&self, reply: &ReplyTo, mut body: Value) -> Message {
        if let (Some(id), Value::Object(map)) = (&reply.id, &mut body) {
            map.insert("id".into(), id.clone());
        }
        Message {
            topic: reply.topic.clone(),
            payload: to_json(&body),
            retain: false,
            qos: self.qos,
            correlation: reply.correlation.clone(),
        }
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;

//! rumqttc behind the link's traits: MQTT 5 (`rumqttc::v5`) and 3.1.1 (`rumqttc`), with the
//! hub's last will, login and TLS (rustls with the ring provider; the system's roots or a CA
//! file).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rumqttc::v5::mqttbytes::v5::Packet as Packet5;
use rumqttc::v5::Event as Event5;
use rumqttc::{Event as Event4, Packet as Packet4, TlsConfiguration, Transport};

use super::config::{MqttConfig, Protocol};
use super::core::{Incoming, Message};
use super::link::{Client, Connection, Polled, Requests};
use crate::Error;

/// Requests queued before the event loop takes them.
const REQUEST_CAPACITY: usize = 512;
/// Largest packet we accept (retained states and discovery are a few KiB).
const MAX_PACKET: usize = 256 * 1024;

/// The request side of a client: the same four calls on both protocols, bar the QoS type and
/// how a publish carries its properties.
macro_rules! requests {
    ($name:ident, $client:ty, $qos:ident, |$c:ident, $m:ident| $publish:expr) => {
        struct $name($client);

        #[async_trait]
        impl Requests for $name {
            async fn publish(&self, $m: Message) -> Result<(), String> {
                let $c = &self.0;
                $publish.await.map_err(|e| e.to_string())
            }

            async fn subscribe(&self, filter: String) -> Result<(), String> {
                self.0
                    .subscribe(filter, $qos(1))
                    .await
                    .map_err(|e| e.to_string())
            }

            async fn unsubscribe(&self, filter: String) -> Result<(), String> {
                self.0.unsubscribe(filter).await.map_err(|e| e.to_string())
            }

            async fn disconnect(&self) -> Result<(), String> {
                self.0.disconnect().await.map_err(|e| e.to_string())
            }
        }
    };
}

/// The event loop of a client: one poll, mapped to what the link needs; only how a publish
/// becomes an [`Incoming`] differs between the protocols.
macro_rules! connection {
    ($name:ident, $eventloop:ty, $event:ident, $packet:ident, |$p:ident| $incoming:expr) => {
        struct $name($eventloop);

        #[async_trait]
        impl Connection for $name {
            async fn poll(&mut self) -> Result<Polled, String> {
                let event = self.0.poll().await.map_err(|e| e.to_string())?;
                Ok(match event {
                    $event::Incoming($packet::ConnAck(_)) => Polled::Connected,
                    $event::Incoming($packet::Publish($p)) => Polled::Message($incoming),
                    $event::Outgoing(rumqttc::Outgoing::Disconnect) => Polled::Closed,
                    _ => Polled::Other,
                })
            }
        }
    };
}

/// A client for `config` (nothing is sent before the link polls it).
pub fn client(config: &MqttConfig, will: &Message) -> crate::Result<Client> {
    let password = config.password()?;
    let transport = if config.tls {
        Some(Transport::tls_with_config(tls(config)?))
    } else {
        None
    };
    let login = config
        .username
        .clone()
        .map(|u| (u, password.unwrap_or_default()));
    Ok(match config.protocol {
        Protocol::V5 => v5(config, will, transport, login),
        Protocol::V311 => v4(config, will, transport, login),
    })
}

fn tls(config: &MqttConfig) -> crate::Result<TlsConfiguration> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let field = |reason: String| Error::config("mqtt.ca_file", reason);
    match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| field(format!("{}: {e}", path.display())))?;
            let mut reader = std::io::BufReader::new(pem.as_slice());
            for cert in rustls_pemfile::certs(&mut reader) {
                let cert = cert.map_err(|e| field(format!("{}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| field(format!("{}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(field(format!(
                    "{} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config("mqtt.tls", e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConfiguration::Rustls(Arc::new(client)))
}

fn v5(
    config: &MqttConfig,
    will: &Message,
    transport: Option<Transport>,
    login: Option<(String, String)>,
) -> Client {
    use rumqttc::v5::mqttbytes::v5::LastWill;
    use rumqttc::v5::{AsyncClient, MqttOptions};
    let mut options = MqttOptions::new(config.client_id(), &config.host, config.port());
    options
        .set_keep_alive(config.keepalive)
        .set_clean_start(true)
        .set_max_packet_size(Some(MAX_PACKET as u32))
        .set_last_will(LastWill::new(
            will.topic.clone(),
            will.payload.clone(),
            qos5(will.qos),
            will.retain,
            None,
        ));
    if let Some(transport) = transport {
        options.set_transport(transport);
    }
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (client, eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
    Client {
        requests: Box::new(V5Requests(client)),
        connection: Box::new(V5Connection(eventloop)),
    }
}

fn qos5(qos: u8) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match qos {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

requests!(
    V5Requests,
    rumqttc::v5::AsyncClient,
    qos5,
    |client, message| {
        let properties = rumqttc::v5::mqttbytes::v5::PublishProperties {
            correlation_data: message.correlation.map(bytes::Bytes::from),
            ..Default::default()
        };
        client.publish_with_properties(
            message.topic,
            qos5(message.qos),
            message.retain,
            message.payload,
            properties,
        )
    }
);

connection!(
    V5Connection,
    rumqttc::v5::EventLoop,
    Event5,
    Packet5,
    |publish| {
        let properties = publish.properties.unwrap_or_default();
        Incoming {
            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
            payload: publish.payload.to_vec(),
            retain: publish.retain,
            response_topic: properties.response_topic,
            correlation: properties.correlation_data.map(|c| c.to_vec()),
        }
    }
);

fn v4(
    config: &MqttConfig,
    will: &Message,
    transport: Option<Transport>,
    login: Option<(String, String)>,
) -> Client {
    use rumqttc::{AsyncClient, LastWill, MqttOptions};
    let mut options = MqttOptions::new(config.client_id(), &config.host, config.port());
    options
        .set_keep_alive(config.keepalive.max(Duration::from_secs(5)))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_last_will(LastWill::new(
            will.topic.clone(),
            will.payload.clone(),
            qos4(will.qos),
            will.retain,
        ));
    if let Some(transport) = transport {
        options.set_transport(transport);
    }
    if let Some((user, password)) = login {
        options.set_credentials(user, password);
    }
    let (client, eventloop) = AsyncClient::new(options, REQUEST_CAPACITY);
    Client {
        requests: Box::new(V4Requests(client)),
        connection: Box::new(V4Connection(eventloop)),
    }
}

fn qos4(qos: u8) -> rumqttc::QoS {
    match qos {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

requests!(V4Requests, rumqttc::AsyncClient, qos4, |client, message| {
    client.publish(
        message.topic,
        qos4(message.qos),
        message.retain,
        message.payload,
    )
});

// MQTT 3.1.1 has no response topic or correlation data: answers go by request id.
connection!(
    V4Connection,
    rumqttc::EventLoop,
    Event4,
    Packet4,
    |publish| {
        Incoming {
            topic: publish.topic,
            payload: publish.payload.to_vec(),
            retain: publish.retain,
            response_topic: None,
            correlation: None,
        }
    }
);

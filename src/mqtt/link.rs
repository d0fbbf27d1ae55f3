//! The broker connection: two small traits ([`Connection`], [`Requests`]) over one MQTT client (rumqttc's MQTT 5 and
//! 3.1.1 clients implement it), driven on its own thread in real time.
//!
//! Why a thread: the fleet may run in virtual time (the demo), where a paused tokio clock would
//! fire the client's keepalive and connect timeouts at once. The bridge talks to the thread by
//! channels only ([`BrokerLink`] out, [`BrokerEvent`] in). While the broker is away the link
//! drops what it is given (the bridge republishes every retained payload on the next
//! [`BrokerEvent::Connected`]) and retries with exponential backoff, 250 ms doubling to 30 s.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::core::{Action, Incoming, Message};

/// What the broker connection reports.
#[derive(Clone, Debug)]
pub enum BrokerEvent {
    /// Connected (again): subscribe and republish.
    Connected,
    /// The connection failed or ended; retrying.
    Disconnected(String),
    /// A publish arrived.
    Message(Incoming),
}

/// What one poll of the client's event loop produced.
#[derive(Debug)]
pub enum Polled {
    /// The broker accepted the connection.
    Connected,
    /// A publish arrived.
    Message(Incoming),
    /// Our own DISCONNECT went out: the session is over.
    Closed,
    /// Anything else (acks, pings).
    Other,
}

/// The event-loop side of one MQTT client.
#[async_trait]
pub trait Connection: Send + 'static {
    /// Drives the connection; reconnects when called again after an error.
    async fn poll(&mut self) -> Result<Polled, String>;
}

/// The request side of one MQTT client.
#[async_trait]
pub trait Requests: Send + Sync + 'static {
    /// Queues a publish.
    async fn publish(&self, message: Message) -> Result<(), String>;
    /// Queues a subscription.
    async fn subscribe(&self, filter: String) -> Result<(), String>;
    /// Queues an unsubscription.
    async fn unsubscribe(&self, filter: String) -> Result<(), String>;
    /// Queues a clean DISCONNECT (no last will).
    async fn disconnect(&self) -> Result<(), String>;
}

/// One MQTT client, both sides.
pub struct Client {
    /// Requests.
    pub requests: Box<dyn Requests>,
    /// The event loop.
    pub connection: Box<dyn Connection>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

enum Request {
    Act(Action),
    Unsubscribe(String),
    Close(Message),
}

/// The bridge's end of the connection.
#[derive(Debug)]
pub struct BrokerLink {
    requests: mpsc::UnboundedSender<Request>,
    done: std::sync::mpsc::Receiver<()>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(30);

impl BrokerLink {
    /// Starts the connection thread for `wire`.
    pub fn start(client: Client) -> std::io::Result<(Self, mpsc::UnboundedReceiver<BrokerEvent>)> {
        let (requests, inbox) = mpsc::unbounded_channel();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (done_tx, done) = std::sync::mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("bluefleet-mqtt".into())
            .spawn(move || {
                runtime.block_on(drive(client, inbox, events));
                let _ = done_tx.send(());
            })?;
        Ok((Self { requests, done }, events_rx))
    }

    /// Does `action` on the broker (dropped while disconnected).
    pub fn act(&self, action: Action) {
        let _ = self.requests.send(Request::Act(action));
    }

    /// Publishes `message` (dropped while disconnected).
    pub fn publish(&self, message: Message) {
        self.act(Action::Publish(message));
    }

    /// Unsubscribes from `filter`.
    pub fn unsubscribe(&self, filter: String) {
        let _ = self.requests.send(Request::Unsubscribe(filter));
    }

    /// Publishes `goodbye`, disconnects cleanly and waits up to `within` for it to go out.
    pub fn close(self, goodbye: Message, within: Duration) {
        let _ = self.requests.send(Request::Close(goodbye));
        let _ = self.done.recv_timeout(within);
    }
}

async fn drive(
    client: Client,
    mut inbox: mpsc::UnboundedReceiver<Request>,
    events: mpsc::UnboundedSender<BrokerEvent>,
) {
    let connected = Arc::new(AtomicBool::new(false));
    let requester = client.requests;
    let poller = tokio::spawn(poll(client.connection, events, Arc::clone(&connected)));
    while let Some(request) = inbox.recv().await {
        let up = connected.load(Ordering::SeqCst);
        let outcome = match request {
            Request::Act(_) | Request::Unsubscribe(_) if !up => Ok(()),
            Request::Act(Action::Publish(message)) => requester.publish(message).await,
            Request::Act(Action::Subscribe(filter)) => requester.subscribe(filter).await,
            Request::Unsubscribe(filter) => requester.unsubscribe(filter).await,
            Request::Close(goodbye) => {
                if up {
                    let _ = requester.publish(goodbye).await;
                    let _ = requester.disconnect().await;
                    let _ = tokio::time::timeout(Duration::from_secs(3), poller).await;
                } else {
                    poller.abort();
                }
                return;
            }
        };
        if let Err(err) = outcome {
            tracing::warn!("mqtt: {err}");
        }
    }
    poller.abort();
}

async fn poll(
    mut wire: Box<dyn Connection>,
    events: mpsc::UnboundedSender<BrokerEvent>,
    connected: Arc<AtomicBool>,
) {
    let mut retry = FIRST_RETRY;
    loop {
        match wire.poll().await {
            Ok(Polled::Connected) => {
                connected.store(true, Ordering::SeqCst);
                retry = FIRST_RETRY;
                let _ = events.send(BrokerEvent::Connected);
            }
            Ok(Polled::Message(message)) => {
                let _ = events.send(BrokerEvent::Message(message));
            }
            Ok(Polled::Closed) => return,
            Ok(Polled::Other) => {}
            Err(err) => {
                connected.store(false, Ordering::SeqCst);
                let _ = events.send(BrokerEvent::Disconnected(err));
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(LAST_RETRY);
            }
        }
    }
}

//! The IO shell around one client's [`Session`]: the socket, the fleet, and the tasks between.
//!
//! Everything that happens to a session (client frames, adverts, slot changes, the end of a
//! connect or a read, notifications, ticks) arrives on one channel in arrival order and is
//! handed to the sans-IO core one at a time, so no `select!` decides an order. The shell runs
//! the core's [`Action`]s against the [`Fleet`] in tasks that report back on the same channel.
//!
//! Connecting a device for the client and watching its link are in `links.rs`.
//!
//! When the session ends (goodbye, socket closed, keepalive timeout, server shutdown) every
//! task is aborted and every connection the client held is released: a client that vanished
//! gives its slots back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::{timeout, Instant};

mod links;

use super::failure_words::gatt_error;
use super::holds::{ClientId, Released};
use super::server::Context;
use super::session::{Action, Event, OpReply, Output, Session};
use super::transport::{self, ClientError, Reader};
use crate::fleet::SubscriptionEvent;
use crate::model::Address;
use crate::Device;
use links::{connect, notify_enabled, watch_link};

/// How often the session ticks (advert flush, keepalive, slot changes).
const TICK: Duration = Duration::from_millis(100);
/// How long a client may take to finish the Noise handshake (aioesphomeapi allows 60 s).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// Queue between the tasks and the session.
const QUEUE: usize = 1024;

#[derive(Debug)]
enum Input {
    Event(Event),
    Gone(ClientError),
    Shutdown,
    /// The handle of a device this client now holds (sent before its connect outcome).
    Held(Address, Device),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TaskKey {
    Link(Address),
    Notify(Address, u32),
}

/// One client's shell state.
struct Shell {
    ctx: Arc<Context>,
    id: ClientId,
    tx: mpsc::Sender<Input>,
    keyed: HashMap<TaskKey, AbortHandle>,
    tasks: JoinSet<()>,
    devices: HashMap<Address, Device>,
}

/// Serves one accepted client until its session ends.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Context>,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = ctx.identity.name.clone();
    let accepted = timeout(
        HANDSHAKE_TIMEOUT,
        transport::accept(stream, ctx.psk.as_ref(), &ctx.identity),
    )
    .await;
    let (reader, mut writer) = match accepted {
        Ok(Ok(halves)) => halves,
        Ok(Err(err)) => {
            tracing::warn!(client = %peer, proxy = %name, "refused the client: {err}");
            ctx.registry.refused(peer, err.to_string());
            return;
        }
        Err(_) => {
            tracing::warn!(client = %peer, proxy = %name, "refused the client: no handshake within {HANDSHAKE_TIMEOUT:?}");
            ctx.registry.refused(peer, "handshake timed out".into());
            return;
        }
    };
    let id = ctx
        .registry
        .open(peer, &name, ctx.radio.clone(), ctx.psk.is_some());
    tracing::info!(client = %peer, proxy = %name, id, "client connected");
    let (tx, mut rx) = mpsc::channel(QUEUE);
    let mut shell = Shell {
        ctx: Arc::clone(&ctx),
        id,
        tx: tx.clone(),
        keyed: HashMap::new(),
        tasks: JoinSet::new(),
        devices: HashMap::new(),
    };
    shell.start_feeds(reader, &mut shutdown);
    let mut session = Session::new(
        Arc::clone(&ctx.identity),
        ctx.psk.is_some(),
        ctx.keepalive,
        ctx.free_slots(),
        ctx.scanner_mode,
        Instant::now(),
    );
    let reason = loop {
        let Some(input) = rx.recv().await else {
            break "the session's feeds ended".to_string();
        };
        let event = match input {
            Input::Event(event) => event,
            Input::Gone(err) => {
                if Reader::is_noise_client(&err) {
                    writer.refuse_noise().await;
                    tracing::warn!(client = %peer, proxy = %name, "refused an encrypted client: this proxy has no key");
                }
                break err.to_string();
            }
            Input::Shutdown => {
                let _ = writer.send(&[Session::goodbye()]).await;
                break "the server is shutting down".into();
            }
            Input::Held(address, device) => {
                shell.devices.insert(address, device);
                continue;
            }
        };
        let quiet = matches!(event, Event::Advert(_) | Event::Tick);
        let mut messages = Vec::new();
        let mut close = None;
        for output in session.handle(event, Instant::now()) {
            match output {
                Output::Send(message) => messages.push(message),
                Output::Act(action) => shell.act(action),
                Output::Close(why) => {
                    close = Some(why);
                    break;
                }
            }
        }
        if let Err(err) = writer.send(&messages).await {
            break err.to_string();
        }
        if !quiet {
            ctx.registry.update(id, session.summary());
        }
        if let Some(why) = close {
            break why;
        }
    };
    tracing::info!(client = %peer, proxy = %name, id, %reason, "client session ended");
    shell.tasks.abort_all();
    for address in session.held() {
        shell.release(address);
    }
    ctx.registry.close(id);
}

impl Shell {
    fn start_feeds(&mut self, mut reader: Reader, shutdown: &mut watch::Receiver<bool>) {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            loop {
                let input = match reader.receive().await {
                    Ok(frame) => Input::Event(Event::Frame(frame)),
                    Err(err) => Input::Gone(err),
                };
                let gone = matches!(input, Input::Gone(_));
                if tx.send(input).await.is_err() || gone {
                    return;
                }
            }
        });
        let (tx, ctx) = (self.tx.clone(), Arc::clone(&self.ctx));
        self.tasks.spawn(async move {
            let mut adverts = Box::pin(ctx.fleet.adverts());
            while let Some(item) = adverts.next().await {
                // Lagged: this task fell behind the fleet; the client misses those adverts,
                // as it does when its own queue is full (counted in the fleet's diagnostics).
                let crate::adverts::watch::Watched::Item(advert) = item else {
                    continue;
                };
                if ctx.serves(&advert.radio) {
                    // A client that cannot keep up misses adverts, never slows the fleet.
                    let advert = Arc::unwrap_or_clone(advert);
                    let _ = tx.try_send(Input::Event(Event::Advert(advert)));
                }
            }
        });
        let (tx, ctx) = (self.tx.clone(), Arc::clone(&self.ctx));
        self.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            let mut free = ctx.free_slots();
            loop {
                ticks.tick().await;
                let now_free = ctx.free_slots();
                if now_free != free {
                    free = now_free;
                    if tx.send(Input::Event(Event::SlotsFree(free))).await.is_err() {
                        return;
                    }
                }
                if tx.send(Input::Event(Event::Tick)).await.is_err() {
                    return;
                }
            }
        });
        let (tx, mut shutdown) = (self.tx.clone(), shutdown.clone());
        self.tasks.spawn(async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    return;
                }
            }
            let _ = tx.send(Input::Shutdown).await;
        });
    }

    fn spawn_keyed(
        &mut self,
        key: TaskKey,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        if let Some(old) = self.keyed.remove(&key) {
            old.abort();
        }
        let handle = self.tasks.spawn(task);
        self.keyed.insert(key, handle);
    }

    fn abort(&mut self, key: TaskKey) {
        if let Some(handle) = self.keyed.remove(&key) {
            handle.abort();
        }
    }

    /// A device handle for an address this client holds (made by its connect).
    fn device(&self, address: Address) -> Option<Device> {
        self.devices.get(&address).cloned()
    }

    fn act(&mut self, action: Action) {
        let tx = self.tx.clone();
        let op_timeout = self.ctx.op_timeout;
        let reply = move |address, handle, reply| {
            Input::Event(Event::OpDone {
                address,
                handle,
                reply,
            })
        };
        match action {
            Action::Connect(address) => {
                let (ctx, id) = (Arc::clone(&self.ctx), self.id);
                self.spawn_keyed(TaskKey::Link(address), async move {
                    let (outcome, device) = connect(&ctx, id, address, &tx).await;
                    let event = Event::Connected { address, outcome };
                    if tx.send(Input::Event(event)).await.is_err() {
                        return;
                    }
                    if let Some(device) = device {
                        watch_link(device, address, tx).await;
                    }
                });
            }
            Action::Release(address) => self.release(address),
            Action::Read {
                address,
                handle,
                target,
            } => self.gatt(address, handle, move |device| async move {
                match device.with_timeout(op_timeout).read(target.named()).await {
                    Ok(value) => OpReply::Value(value),
                    Err(err) => OpReply::Failed(gatt_error(&err)),
                }
            }),
            Action::Write {
                address,
                handle,
                target,
                data,
                mode,
            } => self.gatt(address, handle, move |device| async move {
                let result = device
                    .with_timeout(op_timeout)
                    .write(target.named(), data, mode)
                    .await;
                match (result, mode) {
                    (Ok(()), crate::backend::WriteMode::WithResponse) => OpReply::Written,
                    // A write command has no answer on the wire.
                    (Ok(()), crate::backend::WriteMode::WithoutResponse) => OpReply::Silent,
                    (Err(err), _) => OpReply::Failed(gatt_error(&err)),
                }
            }),
            Action::ReadDescriptor {
                address,
                handle,
                characteristic,
                descriptor,
            } => self.gatt(address, handle, move |device| async move {
                match device
                    .with_timeout(op_timeout)
                    .read_descriptor(characteristic, descriptor)
                    .await
                {
                    Ok(value) => OpReply::Value(value),
                    Err(err) => OpReply::Failed(gatt_error(&err)),
                }
            }),
            Action::WriteDescriptor {
                address,
                handle,
                characteristic,
                descriptor,
                data,
            } => self.gatt(address, handle, move |device| async move {
                match device
                    .with_timeout(op_timeout)
                    .write_descriptor(characteristic, descriptor, data)
                    .await
                {
                    Ok(()) => OpReply::Written,
                    Err(err) => OpReply::Failed(gatt_error(&err)),
                }
            }),
            Action::Subscribe {
                address,
                descriptor_handle,
                value_handle,
                target,
            } => {
                let Some(device) = self.device(address) else {
                    let _ = tx.try_send(reply(address, descriptor_handle, OpReply::Failed(-1)));
                    return;
                };
                self.spawn_keyed(TaskKey::Notify(address, value_handle), async move {
                    let subscribed = device
                        .with_timeout(op_timeout)
                        .subscribe(target.named())
                        .await;
                    let mut subscription = match subscribed {
                        Ok(subscription) => subscription,
                        Err(err) => {
                            let failed = OpReply::Failed(gatt_error(&err));
                            let _ = tx.send(reply(address, descriptor_handle, failed)).await;
                            return;
                        }
                    };
                    // A subscription is an intent: the CCCD write is done once notify is on.
                    let enabled =
                        tokio::time::timeout(op_timeout, notify_enabled(&mut subscription));
                    let answer = match enabled.await {
                        Ok(Ok(())) => OpReply::Written,
                        Ok(Err(code)) => OpReply::Failed(code),
                        Err(_) => OpReply::Failed(gatt_error(&crate::Error::Timeout {
                            operation: "enable notify".into(),
                            after: op_timeout,
                        })),
                    };
                    let written = matches!(answer, OpReply::Written);
                    if tx
                        .send(reply(address, descriptor_handle, answer))
                        .await
                        .is_err()
                        || !written
                    {
                        return;
                    }
                    while let Some(event) = subscription.next().await {
                        if let SubscriptionEvent::Notification(data) = event {
                            let event = Event::Notification {
                                address,
                                handle: value_handle,
                                data,
                            };
                            if tx.send(Input::Event(event)).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
            Action::Unsubscribe {
                address,
                value_handle,
            } => self.abort(TaskKey::Notify(address, value_handle)),
            Action::ClearCache(address) => self.ctx.fleet.forget_services(address),
        }
    }

    /// Runs one GATT operation on a held device and reports its reply.
    fn gatt<F, Fut>(&mut self, address: Address, handle: u32, op: F)
    where
        F: FnOnce(Device) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = OpReply> + Send,
    {
        let tx = self.tx.clone();
        let device = self.device(address);
        self.tasks.spawn(async move {
            let reply = match device {
                Some(device) => op(device).await,
                None => OpReply::Failed(-1),
            };
            let event = Event::OpDone {
                address,
                handle,
                reply,
            };
            let _ = tx.send(Input::Event(event)).await;
        });
    }

    /// Lets go of a connection: its tasks stop, and the link closes if no one else holds it.
    fn release(&mut self, address: Address) {
        self.abort(TaskKey::Link(address));
        let notify_keys: Vec<TaskKey> = self
            .keyed
            .keys()
            .filter(|key| matches!(key, TaskKey::Notify(a, _) if *a == address))
            .copied()
            .collect();
        for key in notify_keys {
            self.abort(key);
        }
        self.devices.remove(&address);
        if self.ctx.holds.release(address, self.id) == Released::Last {
            let fleet = self.ctx.fleet.clone();
            // Detached: the disconnect must finish even when this session is ending.
            tokio::spawn(async move {
                if let Ok(device) = fleet.device(address).await {
                    if let Err(err) = device.disconnect().await {
                        tracing::warn!(%address, "releasing a proxy connection failed: {err}");
                    }
                }
            });
        }
    }
}

//! The live page's HTTP shell: axum on its own thread and runtime, reading the shared
//! [`Journal`].
//!
//! Its own runtime keeps the page on real time while a simulated fleet runs on a paused clock,
//! and keeps page traffic off the fleet's scheduling path. Each SSE client gets, at most every
//! [`UPDATE_EVERY`], what changed since its last update — however many samples arrived in
//! between — so a busy fleet costs the browser a bounded number of updates a second.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};

use crate::config::WebConfig;
use crate::model::Address;
use crate::web::journal::{Journal, KEEP_S};
use crate::web::Command;

/// The SSE stream sends at most one update per client this often.
pub const UPDATE_EVERY: Duration = Duration::from_millis(250);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

#[derive(Clone)]
struct AppState {
    journal: Arc<Mutex<Journal>>,
    token: Option<Arc<str>>,
    commands: Option<Sender<Command>>,
}

/// A running server; dropping it leaves it serving until the process ends.
#[derive(Debug)]
pub struct WebServer {
    address: SocketAddr,
}

impl WebServer {
    /// Binds `config.listen` and serves the journal from a thread of its own. Commands are
    /// forwarded to `commands` when the config allows them (refused with 403 otherwise).
    pub fn start(
        config: &WebConfig,
        journal: Arc<Mutex<Journal>>,
        commands: Sender<Command>,
    ) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(config.listen).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("web: cannot listen on {}: {e}", config.listen),
            )
        })?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        lock(&journal).set_commands(config.allow_commands);
        let state = AppState {
            journal,
            token: config.token.as_deref().map(Arc::from),
            commands: config.allow_commands.then_some(commands),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name("bluefleet-web".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            if let Err(err) = axum::serve(listener, router(state)).await {
                                tracing::error!("web server stopped: {err}");
                            }
                        }
                        Err(err) => tracing::error!("web server cannot start: {err}"),
                    }
                })
            })?;
        Ok(Self { address })
    }

    /// The address it listens on (the real port when port 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.address)
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { page(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/snapshot", get(snapshot))
        .route("/api/radios", get(radios))
        .route("/api/timeline", get(timeline))
        .route("/api/devices", get(devices))
        .route("/api/attempts", get(attempts))
        .route("/api/adverts", get(adverts))
        .route("/api/clients", get(clients))
        .route("/api/events", get(events))
        .route("/api/commands/radio/{name}/{action}", post(radio_command))
        .route(
            "/api/commands/device/{address}/disconnect",
            post(disconnect),
        )
        .layer(middleware::from_fn_with_state(state.clone(), authorise))
        .with_state(state)
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn lock(journal: &Mutex<Journal>) -> MutexGuard<'_, Journal> {
    // A panic elsewhere must not take the page down with it: the journal is plain data.
    journal
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn authorise(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &state.token else {
        return next.run(request).await;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer == Some(token) || query.token.as_deref() == Some(token) {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "this page needs its token: Authorization: Bearer <token>, or ?token=<token>\n",
    )
        .into_response()
}

async fn snapshot(State(state): State<AppState>) -> Response {
    let update = lock(&state.journal).update(0);
    Json(update).into_response()
}

async fn radios(State(state): State<AppState>) -> Response {
    let journal = lock(&state.journal);
    Json(serde_json::json!({
        "seq": journal.seq(),
        "header": journal.header(),
        "radios": journal.radios(),
    }))
    .into_response()
}

/// An SSE update with the wall-clock time it left the server, so the page can tell how far
/// behind it draws (page and server share the machine's clock on loopback).
#[derive(Serialize)]
struct Sent<'a> {
    sent_unix_ms: f64,
    #[serde(flatten)]
    update: &'a crate::web::journal::Update,
}

fn unix_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[derive(Deserialize)]
struct WindowQuery {
    window: Option<f64>,
}

async fn timeline(State(state): State<AppState>, Query(query): Query<WindowQuery>) -> Response {
    let window = query.window.unwrap_or(900.0);
    if !(window.is_finite() && (60.0..=KEEP_S).contains(&window)) {
        return (
            StatusCode::BAD_REQUEST,
            format!("window must be between 60 and {KEEP_S} seconds, not {window}\n"),
        )
            .into_response();
    }
    let journal = lock(&state.journal);
    Json(serde_json::json!({
        "now_s": journal.now_s(),
        "window_s": window,
        "leases": journal.leases(window),
        "ticks": journal.ticks(window),
        "alarms": journal.alarms(window),
    }))
    .into_response()
}

async fn devices(State(state): State<AppState>) -> Response {
    Json(lock(&state.journal).devices()).into_response()
}

async fn attempts(State(state): State<AppState>) -> Response {
    Json(lock(&state.journal).attempts()).into_response()
}

async fn clients(State(state): State<AppState>) -> Response {
    let journal = lock(&state.journal);
    Json(serde_json::json!({
        "clients": journal.client_rows(),
        "refused": journal.refusals(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct FilterQuery {
    filter: Option<String>,
}

async fn adverts(State(state): State<AppState>, Query(query): Query<FilterQuery>) -> Response {
    let filter = query.filter.unwrap_or_default();
    Json(lock(&state.journal).adverts(&filter)).into_response()
}

#[derive(Deserialize)]
struct SinceQuery {
    since: Option<u64>,
}

async fn events(
    State(state): State<AppState>,
    Query(query): Query<SinceQuery>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // A reconnecting EventSource says where it got to; a fresh one may say `?since=`.
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let since = resumed.or(query.since).unwrap_or(0);
    let mut ticker = tokio::time::interval(UPDATE_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stream = futures::stream::unfold((since, ticker), move |(since, mut ticker)| {
        let journal = Arc::clone(&state.journal);
        async move {
            loop {
                ticker.tick().await;
                let update = {
                    let journal = lock(&journal);
                    (journal.seq() > since).then(|| journal.update(since))
                };
                let Some(update) = update else { continue };
                let seq = update.seq;
                let sent = Sent {
                    sent_unix_ms: unix_ms(),
                    update: &update,
                };
                let event = Event::default()
                    .event("update")
                    .id(seq.to_string())
                    .json_data(&sent)
                    .unwrap_or_else(|err| Event::default().comment(err.to_string()));
                return Some((Ok(event), (seq, ticker)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

fn send(state: &AppState, command: Command) -> Response {
    let Some(commands) = &state.commands else {
        return (
            StatusCode::FORBIDDEN,
            "commands are off: set allow_commands = true in [web] (demo: --web-commands)\n",
        )
            .into_response();
    };
    match commands.send(command) {
        Ok(()) => (StatusCode::ACCEPTED, "accepted\n").into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the run has finished\n").into_response(),
    }
}

async fn radio_command(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Response {
    if !lock(&state.journal).has_radio(&name) {
        return (StatusCode::NOT_FOUND, format!("no radio named {name:?}\n")).into_response();
    }
    let command = match action.as_str() {
        "down" => Command::RadioDown(name),
        "up" => Command::RadioUp(name),
        other => {
            return (
                StatusCode::NOT_FOUND,
                format!("radio commands are down and up, not {other:?}\n"),
            )
                .into_response()
        }
    };
    send(&state, command)
}

async fn disconnect(State(state): State<AppState>, Path(address): Path<String>) -> Response {
    let Ok(address) = address.parse::<Address>() else {
        return (
            StatusCode::BAD_REQUEST,
            format!("{address:?} is not a Bluetooth address like A4:C1:38:00:00:01\n"),
        )
            .into_response();
    };
    if !lock(&state.journal).has_device(&address) {
        return (StatusCode::NOT_FOUND, format!("no device {address}\n")).into_response();
    }
    send(&state, Command::Disconnect(address))
}

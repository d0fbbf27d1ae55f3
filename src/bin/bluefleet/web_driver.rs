//! The live page and the report, wired to a running fleet: shared by `demo`, `run` and `proxy`.
//!
//! The driver samples the fleet into the journal once a second (of fleet time), feeds it every
//! advert and attempt event, hands the page's commands to the caller, and at the end writes
//! `report.html`. The server runs on its own thread, so a fleet on virtual time keeps its clock.

use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex, MutexGuard};

use bluefleet::config::WebConfig;
use bluefleet::web::report::{self, ReportTitle};
use bluefleet::web::{Command, Journal};
use bluefleet::{Address, Fleet};
use futures::StreamExt;
use tokio::time::Instant;

/// The page's and the report's side of a run.
#[derive(Debug)]
pub struct WebDriver {
    journal: Arc<Mutex<Journal>>,
    commands: Receiver<Command>,
    origin: Instant,
    url: Option<String>,
    report: Option<PathBuf>,
    title: ReportTitle,
}

impl WebDriver {
    /// Starts the server when `web` is given; `None` when neither a page nor a report is
    /// wanted. Prints the page's URL (with the real port) before returning.
    pub fn start(
        web: Option<&WebConfig>,
        report: Option<PathBuf>,
        names: impl IntoIterator<Item = (Address, String)>,
        follow: impl IntoIterator<Item = Address>,
        heading: String,
    ) -> Result<Option<Self>, String> {
        if web.is_none() && report.is_none() {
            return Ok(None);
        }
        if let Some(dir) = &report {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("--report {}: cannot create it: {e}", dir.display()))?;
        }
        let mut journal = Journal::new(names);
        journal.follow_history(follow);
        let journal = Arc::new(Mutex::new(journal));
        let (sender, commands) = channel();
        let url = match web {
            Some(config) => {
                let url = serve(config, Arc::clone(&journal), sender)?;
                if !config.listen.ip().is_loopback() {
                    eprintln!(
                        "warning: the page listens on {}, not loopback: anyone on that network can read it{}",
                        config.listen,
                        if config.token.is_some() { " with the token" } else { "" }
                    );
                }
                eprintln!("web: serving {url}");
                Some(url)
            }
            None => None,
        };
        Ok(Some(Self {
            journal,
            commands,
            origin: Instant::now(),
            url,
            report,
            title: ReportTitle { heading },
        }))
    }

    fn journal(&self) -> MutexGuard<'_, Journal> {
        self.journal
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn since_start(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.origin).as_secs_f64()
    }

    /// Feeds every advert the fleet ingests and every attempt event into the journal, for as
    /// long as the fleet runs.
    pub fn follow(self: &std::rc::Rc<Self>, fleet: &Fleet) {
        let driver = std::rc::Rc::clone(self);
        let mut adverts = Box::pin(fleet.adverts());
        actix::spawn(async move {
            while let Some(watched) = adverts.next().await {
                // The monitor shows a sample of the stream: adverts it fell behind on are
                // counted by the fleet's own diagnostics (`feed_lost`), not re-fetched.
                let Some(advert) = watched.item() else {
                    continue;
                };
                let at = driver.since_start(advert.seen_at);
                driver.journal().advert(at, &advert);
            }
        });
        let driver = std::rc::Rc::clone(self);
        let mut attempts = Box::pin(fleet.attempt_events());
        actix::spawn(async move {
            while let Some(event) = attempts.next().await {
                driver.journal().attempt(&event);
            }
        });
    }

    /// One sample of the fleet.
    pub async fn sample(&self, fleet: &Fleet) -> Result<(), String> {
        let diagnostics = fleet.diagnostics().await.map_err(|e| e.to_string())?;
        let heard = fleet.heard();
        let at = self.since_start(Instant::now());
        self.journal().observe(at, &diagnostics, &heard);
        Ok(())
    }

    /// A device's latest value.
    pub fn value(&self, device: Address, text: String) {
        self.journal().value(device, text);
    }

    /// The proxy's clients now (`bluefleet proxy --web`).
    #[cfg(feature = "proxy")]
    pub fn clients(&self, diagnostics: &bluefleet::proxy::ProxyDiagnostics) {
        use bluefleet::web::views::{ClientRow, Holder, RefusalRow};
        let mut journal = self.journal();
        let clients = diagnostics
            .clients
            .iter()
            .map(|c| ClientRow {
                id: c.id,
                peer: c.peer.to_string(),
                proxy: c.proxy.clone(),
                radio: c.radio.clone(),
                since_unix_s: crate::proxy_status::unix_s(c.since),
                client_info: c.session.client_info.clone(),
                encrypted: c.encrypted,
                adverts: c.session.adverts,
                slot_reports: c.session.slot_reports,
                connections: c
                    .session
                    .connections
                    .iter()
                    .map(|address| Holder {
                        address: *address,
                        name: journal.name(address),
                    })
                    .collect(),
                requests: c
                    .session
                    .requests
                    .iter()
                    .map(|(kind, n)| ((*kind).to_string(), *n))
                    .collect(),
            })
            .collect();
        let refused = diagnostics
            .refused
            .iter()
            .map(|r| RefusalRow {
                peer: r.peer.to_string(),
                reason: r.reason.clone(),
                at_unix_s: crate::proxy_status::unix_s(r.at),
            })
            .collect();
        journal.clients(clients, refused);
    }

    /// Values a device's subscriber missed.
    pub fn lagged(&self, device: Address, missed: u64) {
        self.journal().lagged(device, missed);
    }

    /// The commands the page sent since the last call.
    pub fn commands(&self) -> Vec<Command> {
        self.commands.try_iter().collect()
    }

    /// Marks the run finished and writes the report, if one was asked for.
    pub fn finish(&self) -> Result<(), String> {
        let mut journal = self.journal();
        journal.finish();
        if let Some(dir) = &self.report {
            let path = dir.join("report.html");
            std::fs::write(&path, report::render(&journal, &self.title))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            eprintln!("report: wrote {}", path.display());
        }
        Ok(())
    }

    /// With a page, keeps serving the finished run's last state until Ctrl-C.
    pub fn serve_until_interrupted(&self) -> Result<(), String> {
        let Some(url) = &self.url else {
            return Ok(());
        };
        eprintln!("web: run finished; still serving {url} (Ctrl-C to stop)");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        Ok(())
    }
}

#[cfg(feature = "web")]
fn serve(
    config: &WebConfig,
    journal: Arc<Mutex<Journal>>,
    commands: std::sync::mpsc::Sender<Command>,
) -> Result<String, String> {
    let server =
        bluefleet::web::WebServer::start(config, journal, commands).map_err(|e| e.to_string())?;
    Ok(server.url())
}

#[cfg(not(feature = "web"))]
fn serve(
    _: &WebConfig,
    _: Arc<Mutex<Journal>>,
    _: std::sync::mpsc::Sender<Command>,
) -> Result<String, String> {
    Err("the live page is not built in this binary (rebuild with cargo feature `web`)".into())
}

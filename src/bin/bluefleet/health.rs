//! Radio health as the command line sees it: every radio's last state and why.
//!
//! A one-shot command (`scan`, `explore`, `beacons`, `proximity`) must not answer "0 devices"
//! when the truth is "the proxy rejected the key". Each radio handed to the fleet is wrapped in
//! a [`Watched`] radio that records the state its event stream reports (`Up`, or `Down` with the
//! backend's reason). The command then fails at once, with every radio's reason, as soon as
//! every radio has reported and none has been up; and it fails at the end if none ever was.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use bluefleet::backend::{Radio, RadioEvent, RadioLayer};
use bluefleet::model::RadioId;
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::mpsc;

/// A radio's state as last reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RadioState {
    /// Usable.
    Up,
    /// Not usable, in the backend's words.
    Down(String),
}

#[derive(Debug, Default)]
struct Table {
    states: BTreeMap<RadioId, RadioState>,
    ever_up: bool,
}

/// The states of every watched radio, and a wake-up on each change.
#[derive(Debug)]
pub struct Health {
    expected: usize,
    table: Mutex<Table>,
    changes: mpsc::UnboundedSender<()>,
}

/// Receives a unit on every state change.
pub type Changes = mpsc::UnboundedReceiver<()>;

impl Health {
    /// Watches `radios`; returns the wrapped radios to hand to the fleet.
    pub fn watch(radios: Vec<Arc<dyn Radio>>) -> (Arc<Self>, Changes, Vec<Arc<dyn Radio>>) {
        let (changes, changed) = mpsc::unbounded_channel();
        let health = Arc::new(Self {
            expected: radios.len(),
            table: Mutex::new(Table::default()),
            changes,
        });
        let wrapped = radios
            .into_iter()
            .map(|inner| {
                Arc::new(Watched {
                    inner,
                    health: health.clone(),
                }) as Arc<dyn Radio>
            })
            .collect();
        (health, changed, wrapped)
    }

    fn record(&self, radio: RadioId, state: RadioState) {
        {
            let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
            table.ever_up |= state == RadioState::Up;
            table.states.insert(radio, state);
        }
        let _ = self.changes.send(());
    }

    /// When every radio has reported and none has ever been up: one line naming each radio and
    /// its reason. (A radio that was up and went down mid-scan does not end the command.)
    pub fn none_came_up(&self) -> Option<String> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let all_reported = table.states.len() >= self.expected;
        (all_reported && !table.ever_up).then(|| describe(&table.states))
    }

    /// When no radio has been up at any time: why, per radio.
    pub fn never_up(&self) -> Option<String> {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        (!table.ever_up).then(|| describe(&table.states))
    }
}

fn describe(states: &BTreeMap<RadioId, RadioState>) -> String {
    if states.is_empty() {
        return "no radio came up: no radio reported any state".into();
    }
    let reasons: Vec<String> = states
        .iter()
        .map(|(radio, state)| match state {
            RadioState::Up => format!("{radio}: up"),
            // Reasons that already name the radio (`127.0.0.1:1 refused …`) say it once.
            RadioState::Down(reason) if reason.contains(&radio.to_string()) => reason.clone(),
            RadioState::Down(reason) => format!("{radio}: {reason}"),
        })
        .collect();
    format!("no radio came up: {}", reasons.join("; "))
}

/// A radio whose reported states are recorded in a [`Health`].
#[derive(Debug)]
struct Watched {
    inner: Arc<dyn Radio>,
    health: Arc<Health>,
}

impl RadioLayer for Watched {
    fn inner(&self) -> &Arc<dyn Radio> {
        &self.inner
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        let health = self.health.clone();
        let id = self.inner.id();
        self.inner
            .events()
            .inspect(move |event| match event {
                RadioEvent::Up => health.record(id.clone(), RadioState::Up),
                RadioEvent::Down { reason } => {
                    health.record(id.clone(), RadioState::Down(reason.clone()))
                }
                RadioEvent::Adverts(_)
                | RadioEvent::RawAdverts(_)
                | RadioEvent::SlotsReported(_)
                | RadioEvent::AdvertsDropped { .. } => {}
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_came_up_waits_for_every_radio_and_names_each_reason() {
        let (health, _changes, _) = Health::watch(Vec::new());
        assert_eq!(
            health.none_came_up().as_deref(),
            Some("no radio came up: no radio reported any state")
        );
        let table = Health {
            expected: 2,
            table: Mutex::new(Table::default()),
            changes: mpsc::unbounded_channel().0,
        };
        table.record(RadioId::new("a"), RadioState::Down("wrong key".into()));
        assert_eq!(table.none_came_up(), None, "b has not reported");
        table.record(RadioId::new("b"), RadioState::Down("refused".into()));
        assert_eq!(
            table.none_came_up().as_deref(),
            Some("no radio came up: a: wrong key; b: refused")
        );
        assert!(table.never_up().is_some());
        table.record(RadioId::new("b"), RadioState::Up);
        table.record(RadioId::new("b"), RadioState::Down("gone".into()));
        assert_eq!(table.none_came_up(), None, "b was up once");
        assert_eq!(table.never_up(), None);
    }
}

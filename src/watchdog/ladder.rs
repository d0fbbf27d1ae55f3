//! The watchdog's decisions, without IO or clocks: fed the radio's events and the time, it
//! says when the next step is due and which step it is.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::{RecoveryEntry, RecoveryReport, HISTORY};
use crate::backend::{RadioEvent, RecoveryStep};

/// One radio's watchdog state.
#[derive(Debug)]
pub(crate) struct Ladder {
    quiet_after: Duration,
    steps: Vec<RecoveryStep>,
    started: Instant,
    up: bool,
    /// Last advert heard (or the radio coming up): silence is measured from here.
    last_heard: Instant,
    /// The quiet timer's origin: the last advert, the radio coming up, or the last step.
    timer_from: Instant,
    /// Steps taken in this quiet episode, and the last of them.
    episode: Vec<RecoveryStep>,
    steps_taken: u64,
    recoveries: u64,
    history: VecDeque<RecoveryEntry>,
}

/// What happened when an event was fed in, for the log.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// Nothing worth a line.
    Nothing,
    /// Adverts again after this many steps; the last one was `last`.
    Recovered { steps: usize, last: RecoveryStep },
}

impl Ladder {
    pub fn new(quiet_after: Duration, steps: Vec<RecoveryStep>, now: Instant) -> Self {
        Self {
            quiet_after,
            steps,
            started: now,
            up: false,
            last_heard: now,
            timer_from: now,
            episode: Vec::new(),
            steps_taken: 0,
            recoveries: 0,
            history: VecDeque::new(),
        }
    }

    /// Feeds one event the radio delivered.
    pub fn observe(&mut self, event: &RadioEvent, now: Instant) -> Observed {
        match event {
            RadioEvent::Adverts(adverts) if !adverts.is_empty() => self.heard(now),
            RadioEvent::RawAdverts(adverts) if !adverts.is_empty() => self.heard(now),
            RadioEvent::Up => {
                // Coming up (again, after a power cycle) restarts the timer, not the episode.
                self.up = true;
                self.timer_from = now;
                if self.episode.is_empty() {
                    self.last_heard = now;
                }
                Observed::Nothing
            }
            RadioEvent::Down { .. } => {
                self.up = false;
                Observed::Nothing
            }
            _ => Observed::Nothing,
        }
    }

    fn heard(&mut self, now: Instant) -> Observed {
        self.last_heard = now;
        self.timer_from = now;
        let Some(&last) = self.episode.last() else {
            return Observed::Nothing;
        };
        let steps = self.episode.len();
        self.episode.clear();
        self.recoveries += 1;
        self.remember(RecoveryEntry::Recovered {
            at_s: self.seconds(now),
            after_steps: steps,
            last_step: last,
        });
        Observed::Recovered { steps, last }
    }

    /// When the next step is due: only while the radio is up and offers steps.
    pub fn deadline(&self) -> Option<Instant> {
        (self.up && !self.steps.is_empty()).then(|| self.timer_from + self.quiet_after)
    }

    /// The step to take now, if one is due: the next rung, or the mildest again once every
    /// rung was tried in this episode. The timer restarts from now.
    pub fn due(&mut self, now: Instant) -> Option<RecoveryStep> {
        if self.deadline().is_none_or(|at| now < at) {
            return None;
        }
        let step = self
            .steps
            .get(self.episode.len())
            .or(self.steps.first())
            .copied()?;
        self.episode.push(step);
        self.steps_taken += 1;
        self.timer_from = now;
        Some(step)
    }

    /// How long the radio has delivered nothing.
    pub fn silent_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_heard)
    }

    /// Records a step's outcome (taken at `at`, silent for `silent`).
    pub fn taken(
        &mut self,
        step: RecoveryStep,
        at: Instant,
        silent: Duration,
        error: Option<String>,
    ) {
        self.remember(RecoveryEntry::Step {
            at_s: self.seconds(at),
            step,
            silent_s: silent.as_secs_f64(),
            error,
        });
    }

    fn remember(&mut self, entry: RecoveryEntry) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(entry);
    }

    fn seconds(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.started).as_secs_f64()
    }

    pub fn report(&self) -> RecoveryReport {
        RecoveryReport {
            quiet_after_s: self.quiet_after.as_secs_f64(),
            ladder: self.steps.clone(),
            steps_taken: self.steps_taken,
            recoveries: self.recoveries,
            steps_this_episode: self.episode.len(),
            history: self.history.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Advertisement, RadioId};
    use RecoveryStep::{PowerCycle, RestartDiscovery};

    const QUIET: Duration = Duration::from_secs(90);

    fn advert() -> RadioEvent {
        let address: Address = "AA:BB:CC:DD:EE:01".parse().unwrap();
        let advert = Advertisement::from_data(
            address,
            RadioId::new("hci0"),
            -60,
            Instant::now(),
            Default::default(),
        );
        RadioEvent::Adverts(vec![advert])
    }

    fn ladder(t0: Instant) -> Ladder {
        let mut ladder = Ladder::new(QUIET, vec![RestartDiscovery, PowerCycle], t0);
        ladder.observe(&RadioEvent::Up, t0);
        ladder
    }

    #[test]
    fn a_delivering_radio_is_left_alone() {
        let t0 = Instant::now();
        let mut ladder = ladder(t0);
        for second in (30..=600).step_by(30) {
            let now = t0 + Duration::from_secs(second);
            ladder.observe(&advert(), now);
            assert_eq!(ladder.due(now), None);
        }
        assert_eq!(ladder.report().steps_taken, 0);
    }

    #[test]
    fn a_quiet_radio_climbs_the_ladder_then_repeats_the_mildest_step() {
        let t0 = Instant::now();
        let mut ladder = ladder(t0);
        assert_eq!(ladder.due(t0 + QUIET - Duration::from_millis(1)), None);
        assert_eq!(ladder.due(t0 + QUIET), Some(RestartDiscovery));
        assert_eq!(
            ladder.due(t0 + QUIET + QUIET / 2),
            None,
            "the timer restarts at a step"
        );
        assert_eq!(ladder.due(t0 + QUIET * 2), Some(PowerCycle));
        assert_eq!(ladder.due(t0 + QUIET * 3), Some(RestartDiscovery));
        assert_eq!(ladder.due(t0 + QUIET * 4), Some(RestartDiscovery));
        assert_eq!(ladder.report().steps_this_episode, 4);
        assert_eq!(ladder.silent_for(t0 + QUIET * 4), QUIET * 4);
    }

    #[test]
    fn adverts_after_a_step_count_as_recovered_and_reset_the_ladder() {
        let t0 = Instant::now();
        let mut ladder = ladder(t0);
        let first = t0 + QUIET;
        assert_eq!(ladder.due(first), Some(RestartDiscovery));
        ladder.taken(RestartDiscovery, first, QUIET, None);
        assert_eq!(ladder.due(first + QUIET), Some(PowerCycle));
        ladder.taken(PowerCycle, first + QUIET, QUIET * 2, None);
        // The power cycle takes the radio down and up: the episode goes on.
        ladder.observe(
            &RadioEvent::Down {
                reason: "off".into(),
            },
            first + QUIET,
        );
        assert_eq!(ladder.deadline(), None, "no steps while the radio is down");
        ladder.observe(&RadioEvent::Up, first + QUIET);
        let back = first + QUIET + Duration::from_secs(2);
        assert_eq!(
            ladder.observe(&advert(), back),
            Observed::Recovered {
                steps: 2,
                last: PowerCycle
            }
        );
        let report = ladder.report();
        assert_eq!(
            (
                report.steps_taken,
                report.recoveries,
                report.steps_this_episode
            ),
            (2, 1, 0)
        );
        assert_eq!(report.history.len(), 3);
        assert!(matches!(
            report.history[2],
            RecoveryEntry::Recovered {
                after_steps: 2,
                last_step: PowerCycle,
                ..
            }
        ));
        // A later silence starts from the mildest step again.
        assert_eq!(ladder.due(back + QUIET), Some(RestartDiscovery));
    }

    #[test]
    fn a_radio_without_steps_or_down_is_never_due() {
        let t0 = Instant::now();
        let mut none = Ladder::new(QUIET, Vec::new(), t0);
        none.observe(&RadioEvent::Up, t0);
        assert_eq!(none.due(t0 + QUIET * 10), None);
        let mut down = Ladder::new(QUIET, vec![RestartDiscovery], t0);
        assert_eq!(down.due(t0 + QUIET * 10), None, "never came up");
    }

    #[test]
    fn the_history_is_bounded() {
        let t0 = Instant::now();
        let mut ladder = ladder(t0);
        for i in 1..=40u32 {
            let now = t0 + QUIET * i;
            let step = ladder.due(now).unwrap();
            ladder.taken(step, now, QUIET * i, Some("refused".into()));
        }
        let report = ladder.report();
        assert_eq!(report.history.len(), HISTORY);
        assert_eq!(report.steps_taken, 40);
    }
}

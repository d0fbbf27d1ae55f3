//! [`RadioLayer`]: a radio that wraps another and changes only some of what it does (the
//! watchdog's ladder over the event stream, the CLI's health record of Up/Down).
//!
//! Every [`Radio`] method is forwarded to the inner radio here, once, so a wrapper writes only
//! the methods it changes. Without it each wrapper had to repeat every forward, and one that
//! missed a method (a new one, say) silently hid the inner radio's answer.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::{
    ConnectRequest, Connection, Failure, Radio, RadioEvent, RadioInfo, RecoveryStep, ScanMode,
    ScanModeReport,
};
use crate::model::RadioId;
use crate::watchdog::RecoveryReport;

/// A wrapper of another radio: implement this (not [`Radio`]) and override what changes.
pub trait RadioLayer: Send + Sync + fmt::Debug + 'static {
    /// The wrapped radio.
    fn inner(&self) -> &Arc<dyn Radio>;

    /// The event stream (the inner radio's, unless overridden).
    fn events(&self) -> BoxStream<'static, RadioEvent> {
        self.inner().events()
    }

    /// The watchdog's account (the inner radio's, unless overridden).
    fn recovery_report(&self) -> Option<RecoveryReport> {
        self.inner().recovery_report()
    }
}

#[async_trait]
impl<T: RadioLayer> Radio for T {
    fn id(&self) -> RadioId {
        self.inner().id()
    }

    fn info(&self) -> RadioInfo {
        self.inner().info()
    }

    fn events(&self) -> BoxStream<'static, RadioEvent> {
        RadioLayer::events(self)
    }

    async fn connect(&self, request: ConnectRequest) -> Result<Connection, Failure> {
        self.inner().connect(request).await
    }

    fn recovery_steps(&self) -> Vec<RecoveryStep> {
        self.inner().recovery_steps()
    }

    async fn recover(&self, step: RecoveryStep) -> Result<(), String> {
        self.inner().recover(step).await
    }

    fn set_scan_mode(&self, wanted: ScanMode) -> Result<(), String> {
        self.inner().set_scan_mode(wanted)
    }

    fn scan_mode(&self) -> Option<ScanModeReport> {
        self.inner().scan_mode()
    }

    fn recovery_report(&self) -> Option<RecoveryReport> {
        RadioLayer::recovery_report(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::block_on_virtual_time;
    use crate::sim::{RadioSpec, Simulation, World};

    /// A layer that changes nothing.
    #[derive(Debug)]
    struct Plain(Arc<dyn Radio>);

    impl RadioLayer for Plain {
        fn inner(&self) -> &Arc<dyn Radio> {
            &self.0
        }
    }

    #[test]
    fn a_layer_that_overrides_nothing_answers_as_its_radio() {
        block_on_virtual_time(async {
            let world = World::builder()
                .radio(RadioSpec::local_controller("hci0"))
                .build()
                .expect("a world");
            let simulation = Simulation::start(world, 1);
            let inner = simulation.radios().remove(0);
            let layered = Plain(Arc::clone(&inner));
            layered
                .set_scan_mode(ScanMode::Passive)
                .expect("the sim can");
            assert_eq!(inner.scan_mode().map(|m| m.wanted), Some(ScanMode::Passive));
            assert_eq!(layered.scan_mode(), inner.scan_mode());
            assert_eq!(layered.id(), inner.id());
            assert_eq!(layered.info(), inner.info());
            assert_eq!(layered.recovery_steps(), inner.recovery_steps());
            assert_eq!(
                layered.recover(RecoveryStep::RestartDiscovery).await,
                inner.recover(RecoveryStep::RestartDiscovery).await
            );
            assert_eq!(
                Radio::recovery_report(&layered).is_some(),
                inner.recovery_report().is_some()
            );
        });
    }
}

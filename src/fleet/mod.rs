//! The public handles: [`Fleet`], [`Device`], [`Subscription`]. The last step of the flow.
//!
//! Handles talk to the actors only by messages and read the shared view for what needs no
//! round trip (latest advertisements, device states, slot usage). They are cheap to clone and
//! usable from any thread and any async runtime; the compile-time checks below keep it so.

mod builder;
mod device;
mod handle;
mod runtime;
mod subscription;
pub mod virtual_time;
mod watching;

pub use crate::adapter::gate::GateStats;
pub use crate::adapter::slots::{LeasePhase, SlotUsage};
pub use crate::device::attempt_log::AttemptEvent;
pub use crate::device::radio_choice::{ChoicePolicy, ConsideredRadio, SkipReason};
pub use crate::device::retry::RetryPolicy;
pub use crate::device::state::{DeviceState, DeviceStatus, WaitReason};
pub use crate::supervisor::diagnostics::{Diagnostics, RadioDiagnostics};
pub use crate::supervisor::heard::{HeardDevice, RssiSummary};
pub use crate::watchdog::{RecoveryEntry, RecoveryReport};
pub use builder::FleetBuilder;
pub use device::Device;
pub use handle::Fleet;
pub use subscription::{Subscription, SubscriptionEvent, TryRecvError};
pub use virtual_time::{block_on_real_time, block_on_virtual_time};
pub use watching::AdvertCallback;

#[allow(dead_code)]
fn assert_handles_are_thread_safe() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync_clone::<Fleet>();
    send_sync_clone::<Device>();
    send::<Subscription>();
}

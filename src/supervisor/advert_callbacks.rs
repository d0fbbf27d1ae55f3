//! Calling advert callbacks ([`crate::fleet::AdvertCallback`]) on the Supervisor's thread.
//!
//! After each batch (and when a callback is registered, for its first adverts) the Supervisor
//! borrows the callbacks that have deliveries waiting, releases the watchers' lock, calls
//! them in routing order, then gives them back. The work's buffers are kept between batches,
//! so the unchanged path allocates nothing here.

use actix::prelude::*;

use super::Supervisor;

/// Calls the advert callbacks that have deliveries waiting (sent when one is registered).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct CallAdvertCallbacks;

impl Supervisor {
    /// Calls every advert callback with its waiting deliveries, no lock held.
    pub(super) fn call_advert_callbacks(&mut self) {
        let mut work = std::mem::take(&mut self.callback_work);
        {
            let mut watchers = self.shared.watchers();
            if watchers.has_callback_deliveries() {
                watchers.lend_callbacks(&mut work);
            }
        }
        if !work.is_empty() {
            let panicked = work.run();
            self.shared.watchers().give_back(&mut work, panicked);
        }
        self.callback_work = work;
    }
}

impl Handler<CallAdvertCallbacks> for Supervisor {
    type Result = ();

    fn handle(&mut self, _: CallAdvertCallbacks, _: &mut Self::Context) {
        self.call_advert_callbacks();
    }
}

//! Advert subscriptions by matcher: what `Fleet::watch` and `Device::adverts` are built on.
//!
//! The equivalent of Home Assistant's `async_register_callback(matcher)`: a hub asks for the
//! adverts of one device, or of every device whose manufacturer data starts with `4C 00 02 15`,
//! and gets a stream. [`AdvertMatcher`] says what matches, [`Watchers`] files matchers in an
//! index and queues adverts, [`AdvertWatch`] is the stream a caller holds. Every advert stream
//! of the fleet yields [`Watched`], so a consumer that fell behind is told how much it missed
//! instead of losing adverts silently.

mod callback;
mod index;
mod matcher;
mod queue;
mod registry;
mod stream;
#[cfg(test)]
mod tests;

pub(crate) use callback::{CallbackKey, CallbackWork};
pub use matcher::{AdvertMatcher, Copies, NameMatch};
pub use registry::{WatchCounters, Watchers};
pub use stream::AdvertWatch;

/// One item of an advert stream.
#[derive(Clone, Debug, PartialEq)]
pub enum Watched<T> {
    /// An advert (or advert event).
    Item(T),
    /// This many items were dropped because the stream's queue was full; the stream goes on.
    Lagged(u64),
}

impl<T> Watched<T> {
    /// The item, if this is one.
    pub fn item(self) -> Option<T> {
        match self {
            Watched::Item(item) => Some(item),
            Watched::Lagged(_) => None,
        }
    }
}

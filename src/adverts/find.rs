//! Waiting for a device that matches a filter: [`FindRequests`], the sans-IO half of
//! `find_device(filter, timeout)`.
//!
//! Owns the pending requests, each a filter, a deadline and the caller's token (the Supervisor
//! stores its reply sender there). A request is answered at once when a known device already
//! matches, as soon as an ingested advert makes one match, or with a timeout at its deadline.
//! Matching uses the device's merged view, so a name learned from a scan response counts even
//! when the advert that completed the match did not carry it.
//!
//! Flow: the Supervisor calls [`FindRequests::register`] when a handle asks, then
//! [`FindRequests::after_ingest`] after each [`super::AdvertPipeline::ingest`] and
//! [`FindRequests::expire`] on its timer ([`FindRequests::next_deadline`] says when). With no
//! request pending, `after_ingest` returns at once, so the advert hot path does not pay for it.

use tokio::time::Instant;

use super::{AdvertFilter, AdvertPipeline};
use crate::model::{Address, Advertisement};

/// Pending find requests, each carrying a caller token `T`.
#[derive(Debug)]
pub struct FindRequests<T> {
    pending: Vec<(AdvertFilter, Instant, T)>,
}

impl<T> Default for FindRequests<T> {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
        }
    }
}

impl<T> FindRequests<T> {
    /// Answers at once with a known matching device (`Some`), or keeps the request (and its
    /// token) until a match or `deadline` (`None`).
    pub fn register(
        &mut self,
        pipeline: &AdvertPipeline,
        filter: AdvertFilter,
        deadline: Instant,
        token: T,
    ) -> Option<(T, Address)> {
        if let Some(device) = pipeline.matching(&filter).next() {
            return Some((token, device.address()));
        }
        self.pending.push((filter, deadline, token));
        None
    }

    /// Answers the requests that a device heard in `batch` now matches.
    pub fn after_ingest(
        &mut self,
        pipeline: &AdvertPipeline,
        batch: &[Advertisement],
        found: &mut Vec<(T, Address)>,
    ) {
        if self.pending.is_empty() {
            return;
        }
        let mut index = 0;
        while index < self.pending.len() {
            let hit = self.pending.get(index).and_then(|(filter, _, _)| {
                batch.iter().find_map(|advert| {
                    let device = pipeline.device(&advert.address)?;
                    filter.matches(device).then_some(advert.address)
                })
            });
            match hit {
                Some(address) => {
                    let (_, _, token) = self.pending.swap_remove(index);
                    found.push((token, address));
                }
                None => index += 1,
            }
        }
    }

    /// Gives back the tokens of requests whose deadline has passed.
    pub fn expire(&mut self, now: Instant, expired: &mut Vec<T>) {
        let mut index = 0;
        while index < self.pending.len() {
            if self
                .pending
                .get(index)
                .is_some_and(|(_, deadline, _)| *deadline <= now)
            {
                let (_, _, token) = self.pending.swap_remove(index);
                expired.push(token);
            } else {
                index += 1;
            }
        }
    }

    /// The earliest deadline, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.iter().map(|(_, deadline, _)| *deadline).min()
    }

    /// Requests still waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adverts::beacon::tests::hex;
    use bytes::Bytes;
    use std::time::Duration;

    fn advert(last: u8, raw: &str, at: Instant) -> Advertisement {
        let address = Address::new([0xA4, 0xC1, 0x38, 0, 0, last]);
        let raw = Bytes::from(hex(raw));
        Advertisement::from_raw(address, "proxy-1".into(), -60, at, raw).unwrap()
    }

    #[test]
    fn a_known_device_answers_at_once() {
        let t0 = Instant::now();
        let mut pipeline = AdvertPipeline::default();
        pipeline.ingest(&[advert(1, "0409415443", t0)], &mut Vec::new());
        let mut finds = FindRequests::default();
        let filter = AdvertFilter::new().name_matching("^ATC").unwrap();
        let answer = finds.register(&pipeline, filter, t0 + Duration::from_secs(5), "req");
        assert_eq!(
            answer,
            Some(("req", Address::new([0xA4, 0xC1, 0x38, 0, 0, 1])))
        );
        assert!(finds.is_empty());
    }

    #[test]
    fn a_match_completed_by_a_later_advert_is_found_through_the_merged_view() {
        let t0 = Instant::now();
        let mut pipeline = AdvertPipeline::default();
        let mut events = Vec::new();
        pipeline.ingest(&[advert(2, "0409415443", t0)], &mut events);
        let mut finds = FindRequests::default();
        let filter = AdvertFilter::new()
            .name_matching("^ATC")
            .unwrap()
            .manufacturer_id(0x0499);
        let deadline = t0 + Duration::from_secs(5);
        assert!(finds.register(&pipeline, filter, deadline, 7).is_none());
        let mut found = Vec::new();
        let unrelated = [advert(3, "04FF990401", t0)];
        pipeline.ingest(&unrelated, &mut events);
        finds.after_ingest(&pipeline, &unrelated, &mut found);
        assert!(found.is_empty());
        // The manufacturer data arrives without the name; the merged view has both.
        let completing = [advert(2, "04FF990401", t0 + Duration::from_secs(1))];
        pipeline.ingest(&completing, &mut events);
        finds.after_ingest(&pipeline, &completing, &mut found);
        assert_eq!(found, vec![(7, Address::new([0xA4, 0xC1, 0x38, 0, 0, 2]))]);
        assert!(finds.is_empty());
    }

    #[test]
    fn an_unmatched_request_expires_at_its_deadline() {
        let t0 = Instant::now();
        let pipeline = AdvertPipeline::default();
        let mut finds = FindRequests::default();
        let deadline = t0 + Duration::from_secs(5);
        assert!(finds
            .register(&pipeline, AdvertFilter::new(), deadline, 'a')
            .is_none());
        assert_eq!(finds.next_deadline(), Some(deadline));
        let mut expired = Vec::new();
        finds.expire(t0 + Duration::from_secs(4), &mut expired);
        assert!(expired.is_empty());
        finds.expire(deadline, &mut expired);
        assert_eq!(expired, vec!['a']);
        assert_eq!(finds.next_deadline(), None);
    }
}

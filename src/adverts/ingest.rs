//! The per-advert step of [`AdvertPipeline`]: signal first, then the payload only if it is new.
//!
//! Order of work for one advert, cheapest first: fingerprint the payload (raw bytes, or the
//! decoded fields when the radio decoded them); update the device's signal for this radio;
//! stop if the advert was heard before the content already merged (a radio running behind the
//! others: its copy is older content, not a change), if this radio sent the same payload last
//! time, or if the payload is the device's current one (another radio's copy); only then
//! decode raw bytes, merge and look for beacons. The
//! unchanged path allocates nothing. A malformed payload is decoded (and reported) once per
//! change, because its repeats stop at the fingerprint.
//!
//! Each advert's outcome is handed to the caller's `on_advert` with the device's view, so the
//! Supervisor routes it to watchers without a second lookup.

use std::collections::hash_map::Entry;

use super::device::{RadioIndex, Signal};
use super::hashing::PayloadFingerprint;
use super::{AdvertEvent, AdvertPipeline, DeviceView, IngestSummary};
use crate::model::{AdvertData, Advertisement, RadioId, RawAdvert};

/// What one advert did to its device, for routing.
#[derive(Debug)]
pub struct Ingested<'a> {
    /// The device's state after the advert.
    pub view: &'a DeviceView,
    /// The advert's own reading.
    pub rssi_dbm: i16,
    /// The advert told something new: it is the device's first, or it changed the device's
    /// merged view (Home Assistant's content compare). New bytes that change nothing (an
    /// advert alternating with its scan response, both already merged) are not new content.
    pub new_content: bool,
    /// The decoded fields, when this advert's raw bytes were decoded (new content from a raw
    /// radio); the caller may keep them.
    pub decoded: Option<AdvertData>,
}

enum Payload<'a> {
    Raw(&'a [u8]),
    Decoded(&'a AdvertData),
}

impl AdvertPipeline {
    /// Ingests one batch of raw adverts from `radio`, pushing what changed into `events` and
    /// each advert's outcome (with its index in `batch`) into `on_advert`.
    pub fn ingest_raw(
        &mut self,
        radio: &RadioId,
        batch: &[RawAdvert],
        events: &mut Vec<AdvertEvent>,
        mut on_advert: impl FnMut(usize, Ingested<'_>),
    ) -> IngestSummary {
        let mut summary = IngestSummary::default();
        let index = self.intern(radio);
        for (position, advert) in batch.iter().enumerate() {
            let fingerprint = PayloadFingerprint::of_bytes(&advert.raw);
            let ingested = self.ingest_one(
                index,
                radio,
                &Signal::of_raw(advert),
                fingerprint,
                Payload::Raw(&advert.raw),
                events,
                &mut summary,
            );
            on_advert(position, ingested);
        }
        self.totals.add(&summary);
        summary
    }

    /// Ingests decoded adverts (radios that decode for us), like [`Self::ingest_raw`].
    pub fn ingest_decoded(
        &mut self,
        batch: &[Advertisement],
        events: &mut Vec<AdvertEvent>,
        mut on_advert: impl FnMut(usize, Ingested<'_>),
    ) -> IngestSummary {
        let mut summary = IngestSummary::default();
        for (position, advert) in batch.iter().enumerate() {
            let index = self.intern(&advert.radio);
            let ingested = self.ingest_one(
                index,
                &advert.radio,
                &Signal::of_advert(advert),
                PayloadFingerprint::of(advert),
                Payload::Decoded(&advert.data),
                events,
                &mut summary,
            );
            on_advert(position, ingested);
        }
        self.totals.add(&summary);
        summary
    }

    #[allow(clippy::too_many_arguments)] // one advert's parts, split so neither path copies
    fn ingest_one(
        &mut self,
        radio: RadioIndex,
        radio_id: &RadioId,
        signal: &Signal,
        fingerprint: PayloadFingerprint,
        payload: Payload<'_>,
        events: &mut Vec<AdvertEvent>,
        summary: &mut IngestSummary,
    ) -> Ingested<'_> {
        summary.adverts += 1;
        let address = signal.address;
        let (device, appeared) = match self.devices.entry(address) {
            Entry::Occupied(entry) => (entry.into_mut(), false),
            Entry::Vacant(entry) => (entry.insert(Box::new(DeviceView::new(signal, radio))), true),
        };
        let heard = device.hear(signal, radio, fingerprint, &self.config);
        if appeared {
            summary.appeared += 1;
            events.push(AdvertEvent::Appeared {
                address,
                radio: radio_id.clone(),
            });
        }
        if let Some(previous) = heard.previous_best {
            let from = self
                .radios
                .get(usize::from(previous))
                .cloned()
                .unwrap_or_else(|| radio_id.clone());
            events.push(AdvertEvent::BestRadioChanged {
                address,
                from,
                to: radio_id.clone(),
            });
        }
        if let Some((from, to)) = heard.zone_change {
            events.push(AdvertEvent::ZoneChanged { address, from, to });
        }
        let stale = !appeared && device.is_stale(heard.at_ns);
        if stale || (!appeared && (heard.repeat_from_radio || device.is_repeat(fingerprint))) {
            if stale {
                summary.stale += 1;
            } else {
                summary.deduplicated += 1;
            }
            return Ingested {
                view: device,
                rssi_dbm: signal.rssi_dbm,
                new_content: false,
                decoded: None,
            };
        }
        let mut decoded = None;
        let data: &AdvertData = match payload {
            Payload::Decoded(data) => data,
            Payload::Raw(bytes) => {
                summary.decoded += 1;
                decoded.insert(match AdvertData::parse(bytes) {
                    Ok(data) => data,
                    Err(err) => {
                        summary.malformed += 1;
                        tracing::warn!(%address, radio = %radio_id, %err, "malformed advertisement");
                        *err.partial
                    }
                })
            }
        };
        let changed = device.merge_payload(fingerprint, heard.at_ns, data);
        if changed {
            summary.changed += 1;
            if !appeared {
                events.push(AdvertEvent::Changed { address });
            }
            if let Some(err) = self.beacons.observe(address, data) {
                tracing::debug!(%address, %err, "malformed beacon frame");
            }
            let name = device.advert().local_name();
            self.readings.observe(address, data, name);
        }
        Ingested {
            view: device,
            rssi_dbm: signal.rssi_dbm,
            new_content: appeared || changed,
            decoded,
        }
    }
}

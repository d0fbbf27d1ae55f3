//! The nouns every layer shares: addresses, UUIDs, advertisements and the GATT tree.
//!
//! Plain data with no async and no actors, so the backends, the advertisement pipeline, the
//! actors and the command line all speak the same types. Parsers here treat their input as
//! hostile and return errors that name what was wrong.

pub mod ad_structures;
pub mod address;
pub mod advertisement;
pub mod assigned_numbers;
pub mod gatt;
pub mod radio_id;
pub mod raw_advert;
pub mod uuid;

pub use ad_structures::{AdParseError, AdProblem, AdvertData};
pub use address::{Address, AddressKind, ParseAddressError};
pub use advertisement::Advertisement;
pub use gatt::{
    CharProps, CharacteristicRef, GattCharacteristic, GattDescriptor, GattService, GattTable,
};
pub use radio_id::RadioId;
pub use raw_advert::RawAdvert;
pub use uuid::{parse_uuid, uuid_from_u16, uuid_from_u32, ParseUuidError};

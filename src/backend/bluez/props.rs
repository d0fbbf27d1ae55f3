//! Device1 properties → one device's view → an [`Advertisement`].
//!
//! BlueZ has no advertisement event: it folds what it hears into `org.bluez.Device1`
//! properties (RSSI, ManufacturerData `a{qv}`, ServiceData `a{sv}`, UUIDs, Name, Alias,
//! TxPower, AddressType) and announces changes with `PropertiesChanged`, which carries only the
//! changed ones. [`DeviceView`] keeps the merged state per device, and every change to an
//! advertised field yields a fresh [`Advertisement`] in the model every backend shares.
//!
//! The values come from another process, so each is decoded on its own: a property of an
//! unexpected type (python-dbusmock's stock template sends `aa{qv}` for ManufacturerData) is
//! skipped with a debug log, and never stops the others or panics.

use std::collections::HashMap;

use tokio::time::Instant;
use zbus::OwnedVariant;

use crate::model::{parse_uuid, Address, AddressKind, AdvertData, Advertisement, RadioId};

/// One object's properties for one interface, as BlueZ sends them.
pub(crate) type PropMap = HashMap<String, OwnedVariant>;

/// The properties whose change means "the device was heard again".
const ADVERTISED: [&str; 9] = [
    "RSSI",
    "ManufacturerData",
    "ServiceData",
    "UUIDs",
    "Name",
    "Alias",
    "TxPower",
    "AddressType",
    "AdvertisingFlags",
];

/// What bluefleet knows about one BlueZ device, merged from every property update.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct DeviceView {
    /// The peer's address.
    pub address: Address,
    /// Public or random.
    pub address_kind: AddressKind,
    /// Last RSSI; BlueZ drops the property when the device has not been heard lately.
    pub rssi_dbm: Option<i16>,
    /// `Name`: what the device calls itself.
    name: Option<String>,
    /// `Alias`: the user's name for it, or BlueZ's address-shaped default.
    alias: Option<String>,
    /// The advertised fields.
    pub data: AdvertData,
    /// `Connected`.
    pub connected: bool,
}

impl DeviceView {
    /// A view from a device's full property set; `None` when it has no readable address.
    pub fn from_props(props: &PropMap) -> Option<Self> {
        let address = props
            .get("Address")
            .and_then(|v| decode("Address", v, |v| <&str>::try_from(v).map(str::to_owned)))
            .and_then(|text| match Address::parse(&text) {
                Ok(address) => Some(address),
                Err(error) => {
                    tracing::debug!(%error, "skipping a BlueZ device with a bad Address");
                    None
                }
            })?;
        let mut view = Self {
            address,
            address_kind: AddressKind::Public,
            rssi_dbm: None,
            name: None,
            alias: None,
            data: AdvertData::default(),
            connected: false,
        };
        view.apply(props);
        Some(view)
    }

    /// Merges changed properties; true when an advertised field was among them.
    pub fn apply(&mut self, changed: &PropMap) -> bool {
        for (name, value) in changed {
            self.apply_one(name, value);
        }
        self.data.local_name = self.local_name();
        ADVERTISED.iter().any(|name| changed.contains_key(*name))
    }

    /// Forgets properties BlueZ invalidated (it drops RSSI when a device goes quiet).
    pub fn invalidate(&mut self, names: &[String]) {
        for name in names {
            match name.as_str() {
                "RSSI" => self.rssi_dbm = None,
                "ManufacturerData" => self.data.manufacturer_data.clear(),
                "ServiceData" => self.data.service_data.clear(),
                "TxPower" => self.data.tx_power_dbm = None,
                _ => {}
            }
        }
    }

    /// The device as an advertisement heard by `radio`, when it has been heard (has an RSSI).
    pub fn advertisement(&self, radio: &RadioId, at: Instant) -> Option<Advertisement> {
        let rssi = self.rssi_dbm?;
        let mut advert =
            Advertisement::from_data(self.address, radio.clone(), rssi, at, self.data.clone());
        advert.address_kind = self.address_kind;
        Some(advert)
    }

    fn apply_one(&mut self, name: &str, value: &OwnedVariant) {
        match name {
            "RSSI" => set(
                &mut self.rssi_dbm,
                decode(name, value, |v| i16::try_from(v)),
            ),
            "Connected" => {
                if let Some(connected) = decode(name, value, |v| bool::try_from(v)) {
                    self.connected = connected;
                }
            }
            "Name" => set(&mut self.name, decode(name, value, string)),
            "Alias" => set(&mut self.alias, decode(name, value, string)),
            "AddressType" => {
                if let Some(kind) = decode(name, value, string) {
                    self.address_kind = match kind.as_str() {
                        "random" => AddressKind::Random,
                        _ => AddressKind::Public,
                    };
                }
            }
            "TxPower" => {
                let power =
                    decode(name, value, |v| i16::try_from(v)).and_then(|p| i8::try_from(p).ok());
                set(&mut self.data.tx_power_dbm, power);
            }
            "AdvertisingFlags" => {
                let flags = decode(name, value, bytes).and_then(|b| b.first().copied());
                set(&mut self.data.flags, flags);
            }
            "UUIDs" => {
                if let Some(uuids) = decode(name, value, strings) {
                    self.data.service_uuids = uuids.iter().filter_map(|u| uuid(u)).collect();
                }
            }
            "ManufacturerData" => {
                if let Some(map) = decode(name, value, manufacturer_data) {
                    self.data.manufacturer_data = map.into_iter().collect();
                }
            }
            "ServiceData" => {
                if let Some(map) = decode(name, value, service_data) {
                    self.data.service_data = map
                        .into_iter()
                        .filter_map(|(key, bytes)| Some((uuid(&key)?, bytes)))
                        .collect();
                }
            }
            _ => {}
        }
    }

    /// `Name`, else an `Alias` the user set (BlueZ's default alias is the address with dashes).
    fn local_name(&self) -> Option<String> {
        self.name.clone().or_else(|| {
            self.alias
                .clone()
                .filter(|alias| Address::parse(alias).is_err())
        })
    }
}

/// Keeps the old value when the new one could not be decoded.
fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

/// Decodes one property, logging (not failing) when BlueZ sent an unexpected type.
fn decode<T>(
    name: &str,
    value: &OwnedVariant,
    convert: impl FnOnce(&OwnedVariant) -> zbus::Result<T>,
) -> Option<T> {
    match convert(value) {
        Ok(decoded) => Some(decoded),
        Err(error) => {
            tracing::debug!(
                property = name,
                signature = %value.value_signature(),
                %error,
                "skipping a BlueZ property of an unexpected type"
            );
            None
        }
    }
}

fn uuid(text: &str) -> Option<uuid::Uuid> {
    parse_uuid(text)
        .map_err(|error| tracing::debug!(%error, "skipping a malformed UUID from BlueZ"))
        .ok()
}

fn string(value: &OwnedVariant) -> zbus::Result<String> {
    <&str>::try_from(value).map(str::to_owned)
}

fn strings(value: &OwnedVariant) -> zbus::Result<Vec<String>> {
    Vec::<String>::try_from(value.try_clone()?)
}

pub(crate) fn bytes(value: &OwnedVariant) -> zbus::Result<Vec<u8>> {
    Vec::<u8>::try_from(value.try_clone()?)
}

fn manufacturer_data(value: &OwnedVariant) -> zbus::Result<Vec<(u16, Vec<u8>)>> {
    let map = HashMap::<u16, OwnedVariant>::try_from(value.try_clone()?)?;
    map.into_iter()
        .map(|(company, data)| Ok((company, Vec::<u8>::try_from(data)?)))
        .collect()
}

fn service_data(value: &OwnedVariant) -> zbus::Result<Vec<(String, Vec<u8>)>> {
    let map = HashMap::<String, OwnedVariant>::try_from(value.try_clone()?)?;
    map.into_iter()
        .map(|(uuid, data)| Ok((uuid, Vec::<u8>::try_from(data)?)))
        .collect()
}

#[cfg(test)]
#[path = "props_tests.rs"]
mod tests;

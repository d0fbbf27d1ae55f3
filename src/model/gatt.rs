//! The GATT model: services, characteristics and descriptors as one device exposes them.
//!
//! Owns [`GattTable`] (a device's whole attribute tree plus its MTU) and its parts. Every backend
//! reports discovery in this shape; the service cache persists it as JSON; the GATT explorer
//! prints it. Characteristics are addressed by their ATT handle, which is stable for a device
//! until its Service Changed indication says otherwise.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A device's attribute tree, as discovered or as cached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GattTable {
    /// Primary services in handle order.
    pub services: Vec<GattService>,
    /// The negotiated ATT MTU when this table was discovered.
    pub mtu: u16,
}

/// One primary service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GattService {
    /// Service UUID.
    pub uuid: Uuid,
    /// Handle of the service declaration.
    pub handle: u16,
    /// Characteristics in handle order.
    pub characteristics: Vec<GattCharacteristic>,
}

/// One characteristic of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GattCharacteristic {
    /// Characteristic UUID.
    pub uuid: Uuid,
    /// Handle of the characteristic value (the one reads, writes and notifications use).
    pub handle: u16,
    /// What the characteristic allows.
    pub properties: CharProps,
    /// Descriptors in handle order.
    pub descriptors: Vec<GattDescriptor>,
}

/// One descriptor of a characteristic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GattDescriptor {
    /// Descriptor UUID (0x2902 is the Client Characteristic Configuration).
    pub uuid: Uuid,
    /// Descriptor handle.
    pub handle: u16,
}

/// Characteristic properties: the bit field of the characteristic declaration (Core spec Vol 3,
/// Part G, 3.3.1.1).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CharProps(u8);

impl CharProps {
    /// Value may be broadcast in server characteristic configuration.
    pub const BROADCAST: Self = Self(0x01);
    /// Value may be read.
    pub const READ: Self = Self(0x02);
    /// Value may be written without response.
    pub const WRITE_WITHOUT_RESPONSE: Self = Self(0x04);
    /// Value may be written with response.
    pub const WRITE: Self = Self(0x08);
    /// Value may be notified.
    pub const NOTIFY: Self = Self(0x10);
    /// Value may be indicated.
    pub const INDICATE: Self = Self(0x20);
    /// Authenticated signed writes allowed.
    pub const AUTHENTICATED_SIGNED_WRITES: Self = Self(0x40);
    /// Extended properties descriptor present.
    pub const EXTENDED_PROPERTIES: Self = Self(0x80);

    const NAMES: [(Self, &'static str); 8] = [
        (Self::BROADCAST, "broadcast"),
        (Self::READ, "read"),
        (Self::WRITE_WITHOUT_RESPONSE, "write-without-response"),
        (Self::WRITE, "write"),
        (Self::NOTIFY, "notify"),
        (Self::INDICATE, "indicate"),
        (
            Self::AUTHENTICATED_SIGNED_WRITES,
            "authenticated-signed-writes",
        ),
        (Self::EXTENDED_PROPERTIES, "extended-properties"),
    ];

    /// From the raw bit field.
    pub const fn from_bits(bits: u8) -> Self {
        Self(bits)
    }

    /// The raw bit field.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True if every bit of `other` is set here.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The set bits' names, in bit order (`read`, `notify`, ...); BlueZ uses these same words
    /// in `GattCharacteristic1.Flags`.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(flag, _)| self.contains(*flag))
            .map(|(_, name)| *name)
            .collect()
    }

    /// Parses one property name; `None` for a name this model does not carry (BlueZ also
    /// reports security flags such as `encrypt-read`, which are not declaration bits).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(flag, _)| *flag)
    }
}

impl std::ops::BitOr for CharProps {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl fmt::Debug for CharProps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CharProps({})", self.names().join("|"))
    }
}

impl Serialize for CharProps {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for CharProps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names.iter().try_fold(Self::default(), |acc, name| {
            Self::from_name(name)
                .map(|flag| acc | flag)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown property '{name}'")))
        })
    }
}

impl GattTable {
    /// Every characteristic with the given UUID, with its service.
    pub fn characteristics_by_uuid(
        &self,
        uuid: Uuid,
    ) -> impl Iterator<Item = (&GattService, &GattCharacteristic)> + '_ {
        self.services.iter().flat_map(move |service| {
            service
                .characteristics
                .iter()
                .filter(move |c| c.uuid == uuid)
                .map(move |c| (service, c))
        })
    }

    /// The first characteristic with this UUID (optionally within this service).
    pub fn find_characteristic(
        &self,
        service: Option<&Uuid>,
        uuid: &Uuid,
    ) -> Option<&GattCharacteristic> {
        self.characteristics_by_uuid(*uuid)
            .find(|(s, _)| service.is_none_or(|wanted| s.uuid == *wanted))
            .map(|(_, c)| c)
    }

    /// The characteristic with this value handle.
    pub fn characteristic_by_handle(&self, handle: u16) -> Option<&GattCharacteristic> {
        self.services
            .iter()
            .flat_map(|s| &s.characteristics)
            .find(|c| c.handle == handle)
    }

    /// Number of characteristics in the table.
    pub fn characteristic_count(&self) -> usize {
        self.services.iter().map(|s| s.characteristics.len()).sum()
    }
}

/// Which characteristic an operation means: by UUID (the first in the table, or the one in a
/// given service, when several services have one with the same UUID), or by the value handle
/// [`Device::services`](crate::Device::services) listed.
///
/// A plain [`Uuid`] converts into the first kind, so `device.read(uuid)` works as before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CharacteristicRef {
    /// By UUID, optionally within one service.
    Uuid {
        /// Service UUID; `None`: the first service that has the characteristic.
        service: Option<Uuid>,
        /// Characteristic UUID.
        uuid: Uuid,
    },
    /// By value handle, from the device's GATT table.
    Handle(u16),
}

impl CharacteristicRef {
    /// The characteristic `uuid` of the service `service`.
    pub fn in_service(service: Uuid, uuid: Uuid) -> Self {
        Self::Uuid {
            service: Some(service),
            uuid,
        }
    }

    /// Finds it in a table.
    pub fn find<'t>(&self, table: &'t GattTable) -> Option<&'t GattCharacteristic> {
        match self {
            Self::Uuid { service, uuid } => table.find_characteristic(service.as_ref(), uuid),
            Self::Handle(handle) => table.characteristic_by_handle(*handle),
        }
    }
}

impl From<Uuid> for CharacteristicRef {
    fn from(uuid: Uuid) -> Self {
        Self::Uuid {
            service: None,
            uuid,
        }
    }
}

impl fmt::Display for CharacteristicRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uuid {
                service: None,
                uuid,
            } => write!(f, "{uuid}"),
            Self::Uuid {
                service: Some(service),
                uuid,
            } => write!(f, "{uuid} in service {service}"),
            Self::Handle(handle) => write!(f, "handle 0x{handle:04X}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::uuid::uuid_from_u16;

    fn table() -> GattTable {
        GattTable {
            mtu: 247,
            services: vec![GattService {
                uuid: uuid_from_u16(0x180D),
                handle: 1,
                characteristics: vec![GattCharacteristic {
                    uuid: uuid_from_u16(0x2A37),
                    handle: 3,
                    properties: CharProps::NOTIFY | CharProps::READ,
                    descriptors: vec![GattDescriptor {
                        uuid: uuid_from_u16(0x2902),
                        handle: 4,
                    }],
                }],
            }],
        }
    }

    #[test]
    fn properties_round_trip_through_names() {
        let props = CharProps::from_bits(0xFF);
        assert_eq!(props.names().len(), 8);
        let json = serde_json::to_string(&(CharProps::READ | CharProps::NOTIFY)).unwrap();
        assert_eq!(json, r#"["read","notify"]"#);
        let back: CharProps = serde_json::from_str(&json).unwrap();
        assert_eq!(back, CharProps::READ | CharProps::NOTIFY);
        let err = serde_json::from_str::<CharProps>(r#"["fly"]"#).unwrap_err();
        assert!(err.to_string().contains("unknown property 'fly'"));
    }

    #[test]
    fn table_serialises_and_finds_by_uuid_and_handle() {
        let t = table();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<GattTable>(&json).unwrap(), t);
        let hr = uuid_from_u16(0x2A37);
        assert_eq!(t.find_characteristic(None, &hr).map(|c| c.handle), Some(3));
        assert!(t
            .find_characteristic(Some(&uuid_from_u16(0x180F)), &hr)
            .is_none());
        assert_eq!(t.characteristic_by_handle(3).map(|c| c.uuid), Some(hr));
        assert_eq!(t.characteristic_count(), 1);
    }
}

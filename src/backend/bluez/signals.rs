//! The BlueZ signals the backend listens to, decoded into owned values.
//!
//! Two kinds matter: the ObjectManager's `InterfacesAdded`/`InterfacesRemoved` at `/` (adapters,
//! devices and GATT objects appearing and going) and `PropertiesChanged` on every object
//! (adverts, connection state, notification values). [`subscribe`] adds one match rule and
//! returns its stream of [`BluezSignal`]s; callers subscribe *before* taking a
//! `GetManagedObjects` snapshot so nothing falls between the two.
//!
//! A message whose body does not have the expected signature is skipped with a debug log.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use futures::stream::BoxStream;
use futures::StreamExt;
use zbus::message::Type;
use zbus::{Connection, MatchRule, Message, MessageStream, OwnedObjectPath, OwnedVariant};

use super::props::PropMap;
use super::proxies::BLUEZ;

const OBJECT_MANAGER: &str = "org.freedesktop.DBus.ObjectManager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

/// How many signals zbus queues for one subscription before it stops reading the socket;
/// large enough to ride out a burst of adverts from a few hundred devices.
const QUEUE: usize = 4096;

/// One signal from BlueZ.
#[derive(Debug)]
pub(crate) enum BluezSignal {
    /// Interfaces appeared on an object (a new object, usually).
    Added {
        /// The object.
        path: String,
        /// Interface name → its properties.
        interfaces: HashMap<String, PropMap>,
    },
    /// Interfaces went away from an object.
    Removed {
        /// The object.
        path: String,
        /// The interface names.
        interfaces: Vec<String>,
    },
    /// Properties of one interface of one object changed.
    Changed {
        /// The object.
        path: String,
        /// The interface.
        interface: String,
        /// New values.
        changed: PropMap,
        /// Properties that no longer have a value.
        invalidated: Vec<String>,
    },
}

/// Which signals to subscribe to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Filter<'a> {
    /// Every signal BlueZ sends, in the order it sent them.
    Everything,
    /// `InterfacesAdded` / `InterfacesRemoved`.
    ObjectManager,
    /// `PropertiesChanged` of this object and every object below it.
    PropertiesUnder(&'a str),
    /// `PropertiesChanged` of exactly this object.
    PropertiesOf(&'a str),
}

/// Subscribes to the signals `filter` names.
pub(crate) async fn subscribe(
    conn: &Connection,
    filter: Filter<'_>,
) -> zbus::Result<BoxStream<'static, BluezSignal>> {
    let rule = MatchRule::builder().msg_type(Type::Signal).sender(BLUEZ);
    let rule = match filter {
        Filter::Everything => rule,
        Filter::ObjectManager => rule.interface(OBJECT_MANAGER),
        Filter::PropertiesUnder(path) => rule
            .interface(PROPERTIES)
            .member("PropertiesChanged")
            .path_namespace(path),
        Filter::PropertiesOf(path) => rule
            .interface(PROPERTIES)
            .member("PropertiesChanged")
            .path(path),
    };
    let stream =
        MessageStream::for_match_rule(rule.build()?, conn, NonZeroUsize::new(QUEUE)).await?;
    Ok(stream
        .filter_map(|message| async move {
            match message {
                Ok(message) => BluezSignal::parse(&message),
                Err(error) => {
                    tracing::debug!(%error, "skipping an unreadable D-Bus message");
                    None
                }
            }
        })
        .boxed())
}

impl BluezSignal {
    /// Decodes a signal; `None` for other members or a body of the wrong signature.
    pub fn parse(message: &Message) -> Option<Self> {
        let header = message.header();
        let path = header.path()?.as_str().to_owned();
        let interface = header.interface()?.as_str();
        let member = header.member()?.as_str();
        let body = message.body();
        let decoded = match (interface, member) {
            (OBJECT_MANAGER, "InterfacesAdded") => body
                .deserialize::<(OwnedObjectPath, HashMap<String, PropMap>)>()
                .map(|(object, interfaces)| Self::Added {
                    path: object.as_str().to_owned(),
                    interfaces,
                }),
            (OBJECT_MANAGER, "InterfacesRemoved") => body
                .deserialize::<(OwnedObjectPath, Vec<String>)>()
                .map(|(object, interfaces)| Self::Removed {
                    path: object.as_str().to_owned(),
                    interfaces,
                }),
            (PROPERTIES, "PropertiesChanged") => body
                .deserialize::<(String, HashMap<String, OwnedVariant>, Vec<String>)>()
                .map(|(interface, changed, invalidated)| Self::Changed {
                    path,
                    interface,
                    changed,
                    invalidated,
                }),
            _ => return None,
        };
        decoded
            .map_err(
                |error| tracing::debug!(interface, member, %error, "skipping a malformed signal"),
            )
            .ok()
    }
}

/// True when `path` is `parent` or lies below it.
pub(crate) fn is_under(path: &str, parent: &str) -> bool {
    path.strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_under_respects_path_segments() {
        assert!(is_under("/org/bluez/hci0", "/org/bluez/hci0"));
        assert!(is_under("/org/bluez/hci0/dev_A", "/org/bluez/hci0"));
        assert!(!is_under("/org/bluez/hci01/dev_A", "/org/bluez/hci0"));
        assert!(!is_under("/org/bluez", "/org/bluez/hci0"));
    }

    #[test]
    fn a_properties_changed_signal_is_decoded() {
        let mut changed: HashMap<&str, zbus::Variant<'_>> = HashMap::new();
        changed.insert("RSSI", zbus::Variant::from(-50i16));
        let message = Message::signal("/org/bluez/hci0/dev_A", PROPERTIES, "PropertiesChanged")
            .build(&("org.bluez.Device1", changed, vec!["TxPower"]))
            .unwrap();
        let Some(BluezSignal::Changed {
            path,
            interface,
            changed,
            invalidated,
        }) = BluezSignal::parse(&message)
        else {
            panic!("not decoded");
        };
        assert_eq!(path, "/org/bluez/hci0/dev_A");
        assert_eq!(interface, "org.bluez.Device1");
        assert_eq!(i16::try_from(&changed["RSSI"]).unwrap(), -50);
        assert_eq!(invalidated, vec!["TxPower".to_string()]);
    }

    #[test]
    fn a_signal_with_the_wrong_body_is_skipped() {
        let message = Message::signal("/", OBJECT_MANAGER, "InterfacesAdded")
            .build(&(5u32,))
            .unwrap();
        assert!(BluezSignal::parse(&message).is_none());
    }
}

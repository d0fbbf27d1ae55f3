//! The name that identifies one radio (a local controller or a proxy) across the fleet.
//!
//! Every advertisement, slot, failure and diagnostic row says which radio it concerns. The id is
//! the radio's configured name (`hci0`, `proxy-kitchen`); it is reference counted so tagging a
//! hot-path advertisement with it costs an increment, not an allocation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A radio's name, cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RadioId(Arc<str>);

impl RadioId {
    /// Wraps a radio name.
    pub fn new(name: impl AsRef<str>) -> Self {
        Self(Arc::from(name.as_ref()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RadioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RadioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RadioId({})", self.0)
    }
}

impl From<&str> for RadioId {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl Serialize for RadioId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RadioId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::new(String::deserialize(deserializer)?))
    }
}

//! The service cache on disk: one JSON file per device, replaced atomically.
//!
//! A write goes to a temporary file in the same directory and is renamed over the old one, so a
//! crash mid-write leaves either the old entry or the new one, never half a file. File names are
//! the address without colons (`A4CF12345678.json`).

use std::path::{Path, PathBuf};

use super::CacheEntry;
use crate::model::Address;
use crate::Error;

/// The cache directory.
#[derive(Clone, Debug)]
pub struct CacheStore {
    dir: PathBuf,
}

impl CacheStore {
    /// Opens (creating) the directory.
    pub fn open(dir: PathBuf) -> crate::Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        Ok(Self { dir })
    }

    fn path_for(&self, address: &Address) -> PathBuf {
        self.dir
            .join(format!("{}.json", address.to_string().replace(':', "")))
    }

    /// Writes one entry atomically.
    pub fn write(&self, address: &Address, entry: &CacheEntry) -> crate::Result<()> {
        let path = self.path_for(address);
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(entry)
            .map_err(|e| Error::config(path.display().to_string(), e.to_string()))?;
        std::fs::write(&tmp, json).map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| Error::Io { path, source })
    }

    /// Deletes one entry (missing is fine).
    pub fn remove(&self, address: &Address) {
        let _ = std::fs::remove_file(self.path_for(address));
    }

    /// Every readable entry; unreadable files are logged and skipped.
    pub fn load_all(&self) -> Vec<(Address, CacheEntry)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        dir.filter_map(Result::ok)
            .filter_map(|item| load_one(&item.path()))
            .collect()
    }
}

fn load_one(path: &Path) -> Option<(Address, CacheEntry)> {
    if path.extension()? != "json" {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let hex: Vec<String> = (0..6)
        .filter_map(|i| stem.get(i * 2..i * 2 + 2).map(str::to_string))
        .collect();
    let address = Address::parse(&hex.join(":")).ok()?;
    let text = std::fs::read(path).ok()?;
    match serde_json::from_slice(&text) {
        Ok(entry) => Some((address, entry)),
        Err(err) => {
            tracing::warn!(path = %path.display(), %err, "skipping unreadable service cache file");
            None
        }
    }
}

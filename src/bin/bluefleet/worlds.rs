//! Simulated worlds by name or by file: the example worlds are built into the binary.
//!
//! `bluefleet demo` must work from any directory after `cargo install`, where `examples/` is
//! not there; so the three example worlds are embedded and `--world flat` names one. A path to
//! an existing file is always read from disk (and wins over a built-in name).

use std::path::Path;

use bluefleet::sim::World;

/// The built-in worlds: name and TOML text.
const BUILT_IN: [(&str, &str); 3] = [
    ("flat", include_str!("../../../examples/worlds/flat.toml")),
    (
        "retail_floor",
        include_str!("../../../examples/worlds/retail_floor.toml"),
    ),
    (
        "slot_starved_house",
        include_str!("../../../examples/worlds/slot_starved_house.toml"),
    ),
];

/// The default `--world`.
pub const DEFAULT: &str = "flat";

/// Names of the built-in worlds, for help and errors.
pub fn names() -> String {
    BUILT_IN.map(|(name, _)| name).join(", ")
}

/// Loads `spec`: an existing file, else a built-in world's name.
pub fn load(spec: &Path) -> Result<World, String> {
    if !spec.exists() {
        if let Some((name, text)) = BUILT_IN.iter().find(|(name, _)| spec.as_os_str() == *name) {
            return World::from_toml_str(text).map_err(|e| format!("built-in world {name}: {e}"));
        }
        if spec.components().count() == 1 && spec.extension().is_none() {
            return Err(format!(
                "no world file {} and no built-in world of that name (built in: {})",
                spec.display(),
                names()
            ));
        }
    }
    World::load(spec).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_world_is_valid_and_unknown_names_list_them() {
        for (name, _) in BUILT_IN {
            assert!(load(Path::new(name)).is_ok(), "{name}");
        }
        let err = load(Path::new("moon")).unwrap_err();
        assert!(err.contains("flat, retail_floor"), "{err}");
    }
}

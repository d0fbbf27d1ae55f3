//! Where in a hub file an error is, in words: the line and the field path.
//!
//! serde_path_to_error gives the path of a value that fails to deserialize
//! (`device[0].subscribe[1].poll`); the checks after parsing name theirs. The path is looked up
//! in the file's syntax tree (toml_edit keeps every item's byte span) to give the line. serde's
//! type names (`usize`) become what a person would write (`a whole number`).

use toml_edit::{ImDocument, Item};

/// Where `path` (`radio[1].slots`) starts in `text`, when the file has it.
pub(super) fn offset_of(text: &str, path: &str) -> Option<usize> {
    let document = ImDocument::parse(text).ok()?;
    let mut item: &Item = document.as_item();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = part.split_once('[').unwrap_or((part, ""));
        if !key.is_empty() {
            item = item.get(key)?;
        }
        for index in indices.split('[') {
            if let Ok(index) = index.trim_end_matches(']').parse::<usize>() {
                item = item.get(index)?;
            }
        }
    }
    item.span().map(|span| span.start)
}

/// `line 7, radio[1].slots` for an error about `path`: the line of `path` in the file, or of
/// `offset` (toml's own span) when that is further in (a key inside the entry the path names).
pub(super) fn place(text: &str, path: &str, offset: Option<usize>) -> String {
    let path = path.trim_matches('.');
    let at = match (offset_of(text, path), offset) {
        (Some(entry), Some(span)) => Some(entry.max(span)),
        (entry, span) => entry.or(span),
    };
    match (at.map(|at| line_of(text, at)), path.is_empty()) {
        (Some(line), true) => format!("line {line}"),
        (Some(line), false) => format!("line {line}, {path}"),
        (None, _) => path.to_string(),
    }
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// serde's wording, with its Rust type names said as numbers, text and switches.
pub(super) fn in_words(message: &str) -> String {
    let words = [
        ("expected usize", "expected a whole number (0 or more)"),
        ("expected u64", "expected a whole number (0 or more)"),
        ("expected u32", "expected a whole number (0 or more)"),
        ("expected u16", "expected a whole number (0 to 65535)"),
        ("expected u8", "expected a whole number (0 to 255)"),
        ("expected i64", "expected a whole number"),
        ("expected i8", "expected a whole number (-128 to 127)"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected text in quotes"),
    ];
    let mut message = message.trim().to_string();
    for (from, to) in words {
        message = message.replace(from, to);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "seed = 1\n[[radio]]\nbackend = \"sim\"\n[[radio]]\nbackend = \"bluez\"\nslots = \"x\"\n[[device]]\naddress = \"a\"\nsubscribe = [\n  { characteristic = \"2a19\" },\n  { characteristic = \"2a6e\", poll = \"soon\" },\n]\n";

    #[test]
    fn paths_are_found_in_tables_arrays_and_inline_tables() {
        assert_eq!(
            place(TEXT, "radio[1].slots", None),
            "line 6, radio[1].slots"
        );
        assert_eq!(place(TEXT, "radio[1]", None), "line 4, radio[1]");
        assert_eq!(place(TEXT, "seed", None), "line 1, seed");
        assert_eq!(
            place(TEXT, "device[0].subscribe[1].poll", None),
            "line 11, device[0].subscribe[1].poll"
        );
        assert_eq!(place(TEXT, "device[3].name", None), "device[3].name");
        let inside = TEXT.find("slots").unwrap();
        assert_eq!(place(TEXT, "radio[1]", Some(inside)), "line 6, radio[1]");
        assert_eq!(place(TEXT, "", Some(inside)), "line 6");
    }

    #[test]
    fn rust_type_names_are_said_in_words() {
        assert_eq!(
            in_words("invalid type: string \"x\", expected usize"),
            "invalid type: string \"x\", expected a whole number (0 or more)"
        );
    }
}

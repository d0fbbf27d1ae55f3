//! Where in a hub file an error is, in words: the line and the field path.
//!
//! toml reports a type error with a byte span but no public key path; the path is read back
//! from the file here: the key on that line, under the nearest table header, whose entry index
//! is counted from the `[[radio]]` headers before the span. serde's type names (`usize`) become what a person
//! would write (`a whole number`).

/// `radio[0].slots` for an error at `offset`: the key of that line, under the nearest table
/// header before it (`[[radio]]` headers counted to give the entry's index).
pub(super) fn field_path(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim().trim_matches('"').to_string())
        .filter(|key| !key.starts_with('['));
    // A header line is its own table (an error about a whole entry points at its header).
    let scope_end = if line.trim_start().starts_with('[') {
        line_start + line.len()
    } else {
        line_start
    };
    let scope = text.get(..scope_end).unwrap_or("");
    let header = scope
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['));
    let table = header.map(|header| match header.strip_prefix("[[") {
        Some(rest) => {
            let name = rest.split("]]").next().unwrap_or("").trim();
            let marker = format!("[[{name}]]");
            let index = scope
                .lines()
                .filter(|l| l.trim_start().starts_with(&marker))
                .count();
            format!("{name}[{}]", index.saturating_sub(1))
        }
        None => header.trim_matches(['[', ']']).trim().to_string(),
    });
    match (table, key) {
        (Some(table), Some(key)) => format!("{table}.{key}"),
        (Some(table), None) => table,
        (None, Some(key)) => key,
        (None, None) => String::new(),
    }
}

/// The 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
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

    #[test]
    fn entries_of_arrays_of_tables_are_counted() {
        let text = "[[radio]]\nbackend = \"sim\"\n[[radio]]\nbackend = \"bluez\"\nslots = \"x\"\n";
        let offset = text.find("\"x\"").unwrap();
        assert_eq!(field_path(text, offset), "radio[1].slots");
        assert_eq!(field_path("seed = \"x\"\n", 7), "seed");
        assert_eq!(
            field_path(text, text.rfind("[[radio]]").unwrap()),
            "radio[1]"
        );
        assert_eq!(line_of(text, offset), 5);
        assert_eq!(
            in_words("invalid type: string \"x\", expected usize"),
            "invalid type: string \"x\", expected a whole number (0 or more)"
        );
    }
}

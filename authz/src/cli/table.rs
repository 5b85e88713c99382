//! What the `list` commands print: a header row and tab-separated columns
//! (for people and `cut`/`awk`), or with `--json` one JSON array of objects
//! keyed by the same column names (for scripts), so the two never disagree.

/// Prints `rows` under `headers`; every row has one cell per header.
pub fn print(headers: &[&str], rows: &[Vec<String>], json: bool) {
    if json {
        let items: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .iter()
            .map(|r| {
                headers
                    .iter()
                    .zip(r)
                    .map(|(h, v)| (h.to_string(), serde_json::Value::String(v.clone())))
                    .collect()
            })
            .collect();
        out!("{}", serde_json::Value::from(items));
        return;
    }
    out!("{}", headers.join("\t"));
    for r in rows {
        out!("{}", r.join("\t"));
    }
}

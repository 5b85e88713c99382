//! Parsing one policy file so that one run reports every mistake.
//!
//! serde stops at the first field it cannot read, so a file with an
//! unknown key in one rule and a bad duration in another would be fixed
//! one error per `policy check`. When the typed parse fails but the text
//! is well-formed YAML, each top-level section is parsed on its own, and a
//! failing sequence section (`levels`, `bands`, `rules_before`,
//! `rules_after`) item by item: the bad item is skipped with its error and
//! the good ones load, so the semantic checks still see the rest. Each
//! piece is the original text with every other line blanked, so serde's
//! line and column are the file's own. Only block-style sections split
//! into items; a flow-style section reports its first error.

use super::file::PolicyFile;
use super::locate::Pos;

/// A serde error as a position and a message without serde's own
/// " at line … column …" tail (the position is printed in front).
pub fn error_message(e: &serde_norway::Error) -> (Pos, String) {
    let msg = e.to_string();
    let pos = e.location().map_or(Pos { line: 1, col: 1 }, |l| Pos {
        line: l.line(),
        col: l.column(),
    });
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    };
    (pos, msg)
}

/// The file's content and every shape error found, each at its position.
/// With any error the content is partial: what did parse.
pub fn parse(text: &str) -> (PolicyFile, Vec<(Pos, String)>) {
    let first = match serde_norway::from_str::<Option<PolicyFile>>(text) {
        Ok(f) => return (f.unwrap_or_default(), Vec::new()),
        Err(e) => error_message(&e),
    };
    // Not YAML at all: nothing can be told apart.
    if serde_norway::from_str::<serde_norway::Value>(text).is_err() {
        return (PolicyFile::default(), vec![first]);
    }
    let lines = yaml_lines(text);
    let mut file = PolicyFile::default();
    let mut errors = Vec::new();
    for (start, end) in blocks(&lines) {
        let Err(e) = piece(&lines, None, start..end).map(|f| merge(&mut file, f)) else {
            continue;
        };
        let items = items(&lines, start, end);
        let splits = ["levels:", "bands:", "rules_before:", "rules_after:"]
            .iter()
            .any(|k| lines[start].starts_with(k));
        if !splits || items.is_empty() {
            errors.push(e);
            continue;
        }
        let key = lines[start].split(':').next().unwrap_or_default();
        for (n, (a, b)) in items.into_iter().enumerate() {
            match piece(&lines, Some(start), a..b) {
                Ok(f) => merge(&mut file, f),
                // Alone in its piece the item is `[0]`; say which it is.
                Err((pos, msg)) => errors.push((
                    pos,
                    msg.replacen(&format!("{key}[0]"), &format!("{key}[{n}]"), 1),
                )),
            }
        }
    }
    if errors.is_empty() {
        // Every piece parses but the whole does not: never load it.
        errors.push(first);
    }
    (file, errors)
}

/// The lines as YAML counts them (CR LF, CR or LF ends one, YAML 1.2
/// §5.4), so that a piece rebuilt with LF keeps serde's line numbers.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        out.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The text with only the line `header` and the lines `keep` (0-based)
/// left, parsed.
fn piece(
    lines: &[&str],
    header: Option<usize>,
    keep: std::ops::Range<usize>,
) -> Result<PolicyFile, (Pos, String)> {
    let mut text = String::new();
    for (i, l) in lines.iter().enumerate() {
        if header == Some(i) || keep.contains(&i) {
            text.push_str(l);
        }
        text.push('\n');
    }
    serde_norway::from_str::<Option<PolicyFile>>(&text)
        .map(Option::unwrap_or_default)
        .map_err(|e| error_message(&e))
}

/// Top-level sections as `[start, end)` line ranges: a section starts at a
/// line with a key in column 1 and runs to the next one.
fn blocks(lines: &[&str]) -> Vec<(usize, usize)> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            let l = lines[i];
            l.chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-' && c != '.')
        })
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| (s, starts.get(n + 1).copied().unwrap_or(lines.len())))
        .collect()
}

/// The block-style `- ` items of the section at `start`, as line ranges.
fn items(lines: &[&str], start: usize, end: usize) -> Vec<(usize, usize)> {
    let is_item = |l: &str| {
        let t = l.trim_start();
        t == "-" || t.starts_with("- ")
    };
    let indent = |l: &str| l.len() - l.trim_start().len();
    let Some(first) = (start + 1..end).find(|&i| is_item(lines[i])) else {
        return Vec::new();
    };
    let at = indent(lines[first]);
    let starts: Vec<usize> = (first..end)
        .filter(|&i| is_item(lines[i]) && indent(lines[i]) == at)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &s)| (s, starts.get(n + 1).copied().unwrap_or(end)))
        .collect()
}

/// Adds what one piece of a file parsed to the file so far.
fn merge(into: &mut PolicyFile, f: PolicyFile) {
    fn join<T>(a: &mut Option<Vec<T>>, b: Option<Vec<T>>) {
        if let Some(b) = b {
            a.get_or_insert_with(Vec::new).extend(b);
        }
    }
    into.extends = into.extends.or(f.extends);
    join(&mut into.levels, f.levels);
    join(&mut into.bands, f.bands);
    if f.risk.is_some() {
        into.risk = f.risk;
    }
    into.lists.networks.extend(f.lists.networks);
    into.lists.asns.extend(f.lists.asns);
    into.lists.countries.extend(f.lists.countries);
    into.rules_before.extend(f.rules_before);
    into.rules_after.extend(f.rules_after);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_items_are_skipped_and_the_rest_is_kept() {
        let text = "# top\nrules_after:\n  - name: a\n    whne: {}\n    deny: true\n  - name: b\n    deny: true\n  -\n    name: c\n    max_age: 5x\n    require: aal2\nbands:\n- {up_to: 100, allow: true}\nlevelz: []\n";
        let (f, errors) = parse(text);
        let names: Vec<&str> = f.rules_after.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["b"]);
        assert_eq!(f.bands.map(|b| b.len()), Some(1));
        let got: Vec<(usize, &str)> = errors
            .iter()
            .map(|(p, m)| (p.line, m.split(',').next().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                (4, "rules_after[0]: unknown field `whne`"),
                (
                    10,
                    "rules_after[2].max_age: bad duration \"5x\": expected seconds or a number with s"
                ),
                (14, "unknown field `levelz`"),
            ]
        );
    }

    #[test]
    fn lines_end_as_yaml_ends_them() {
        let text = "rules_after:\r  - name: a\r\n    whne: 1\n  - name: b\r    deny: true\n";
        assert_eq!(yaml_lines(text).len(), 5);
        let (f, errors) = parse(text);
        assert_eq!(f.rules_after.len(), 1);
        assert_eq!(errors.iter().map(|e| e.0.line).collect::<Vec<_>>(), [3]);
    }

    #[test]
    fn a_file_that_is_not_yaml_reports_once() {
        let (_, errors) = parse("rules_after: [\n  - name: a\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
    }
}

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
//! line and column are the file's own. A flow-style section
//! (`rules_after: [{…}, {…}]`) splits the same way: each piece keeps the
//! section's `key: [`, one item and a closing `]` where its separator was,
//! every other character blanked, so both styles report the same errors
//! at the same places.

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
        if !splits {
            errors.push(e);
            continue;
        }
        let key = lines[start].split(':').next().unwrap_or_default();
        let pieces: Vec<Result<PolicyFile, (Pos, String)>> = if items.is_empty() {
            let from = offset(text, lines[start]);
            let to = lines.get(end).map_or(text.len(), |l| offset(text, l));
            let Some((open, flow)) = flow_items(text, from + key.len() + 1, to) else {
                errors.push(e);
                continue;
            };
            flow.into_iter()
                .map(|(a, b)| flow_piece(text, from..open + 1, a..b))
                .collect()
        } else {
            items
                .into_iter()
                .map(|(a, b)| piece(&lines, Some(start), a..b))
                .collect()
        };
        for (n, p) in pieces.into_iter().enumerate() {
            match p {
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

/// Where `line` (a slice of `text`) starts in `text`.
fn offset(text: &str, line: &str) -> usize {
    line.as_ptr() as usize - text.as_ptr() as usize
}

/// The items of a flow sequence that is the value starting at byte `from`
/// (after `key:`), up to `to`: the `[`'s offset and each item's byte range
/// (its separator, `,` or `]`, right after it). `None` when the value is
/// not a flow sequence. Quotes, nesting and comments are followed so a `,`
/// inside `{…}` or `"…"` does not split.
fn flow_items(text: &str, from: usize, to: usize) -> Option<(usize, Vec<(usize, usize)>)> {
    let value = text.get(from..to)?;
    let lead = value.len() - value.trim_start().len();
    if !value[lead..].starts_with('[') {
        return None;
    }
    let open = from + lead;
    let mut items = Vec::new();
    let (mut depth, mut item_start) = (0usize, open + 1);
    let mut quote: Option<char> = None;
    let mut comment = false;
    let mut prev = ' ';
    let mut chars = text[open..to].char_indices().map(|(i, c)| (open + i, c));
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            _ if comment => comment = c != '\n' && c != '\r',
            (Some('"'), '\\') => {
                chars.next();
            }
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if prev.is_whitespace() => comment = true,
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') | (None, ',') if depth == 1 => {
                if !text[item_start..i].trim().is_empty() {
                    items.push((item_start, i));
                }
                item_start = i + 1;
                if c != ',' {
                    return Some((open, items));
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    None
}

/// The text with only `head` (`key: [`) and `item` left and a `]` at the
/// item's separator, every other character a space (line ends kept, so
/// serde's line and column stay the file's), parsed.
fn flow_piece(
    text: &str,
    head: std::ops::Range<usize>,
    item: std::ops::Range<usize>,
) -> Result<PolicyFile, (Pos, String)> {
    let piece: String = text
        .char_indices()
        .map(|(i, c)| {
            if head.contains(&i) || item.contains(&i) || c == '\n' || c == '\r' {
                c
            } else if i == item.end {
                ']'
            } else {
                ' '
            }
        })
        .collect();
    serde_norway::from_str::<Option<PolicyFile>>(&piece)
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
                // Not a key: a comment, an item, a document marker, or
                // a flow collection's continuation (`]` closing a section).
                .is_some_and(|c| !c.is_whitespace() && !"#-.[]{},".contains(c))
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

    fn shape_errors(text: &str) -> (Vec<String>, Vec<(usize, usize, String)>) {
        let (f, errors) = parse(text);
        let names = f.rules_after.iter().chain(&f.rules_before);
        let got = errors
            .into_iter()
            .map(|(p, m)| (p.line, p.col, m.split(',').next().unwrap_or("").to_owned()))
            .collect();
        (names.map(|r| r.name.clone()).collect(), got)
    }

    #[test]
    fn flow_sections_report_every_item_like_block_sections() {
        let block = "rules_after:\n  - {name: a, whne: {}, deny: true}\n  - name: b\n    deny: true\n  - name: c\n    max_age: 5x\n    require: aal2\n";
        let flow = "rules_after: [{name: a, whne: {}, deny: true},\n  {name: b, deny: true}, {name: c,\n    max_age: 5x, require: aal2}]\n";
        let whne = "rules_after[0]: unknown field `whne`";
        let dur =
            "rules_after[2].max_age: bad duration \"5x\": expected seconds or a number with s";
        let (names, got) = shape_errors(block);
        assert_eq!(names, ["b"]);
        assert_eq!(got, [(2, 15, whne.into()), (6, 14, dur.into())]);
        let (names, got) = shape_errors(flow);
        assert_eq!(names, ["b"]);
        assert_eq!(got, [(1, 25, whne.into()), (3, 14, dur.into())]);
        // Spread over lines, `]` in column 1, a comment with a comma, a
        // quoted comma, and a flow section after it.
        let flow = "rules_before: [ # a, b\n  {name: x, whne: 1},\n  {name: \"y, z\", deny: true},\n]\nbands: [{up_to: 100, allow: true}, {up_to: 1x0}]\n";
        let (names, got) = shape_errors(flow);
        assert_eq!(names, ["y, z"]);
        assert_eq!(
            got,
            [
                (2, 13, "rules_before[0]: unknown field `whne`".into()),
                (5, 44, "bands[1].up_to: invalid type: string \"1x0\"".into()),
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

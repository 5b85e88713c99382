//! Finding where things are in a policy file's text.
//!
//! serde_norway reports a location for parse errors but not for values that
//! parsed fine, so cross-reference problems (an unknown level, a shadowed
//! rule) are located by scanning the text for the key and value that
//! caused them, from a starting line onward. Good enough for block and
//! flow style alike; falls back to the starting line.

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v)
}

/// The position of the first `key: value` at or after line `from` (1-based).
/// With `value` `None` any value matches.
pub fn find(text: &str, key: &str, value: Option<&str>, from: usize) -> Option<Pos> {
    let pat = format!("{key}:");
    for (i, line) in text.lines().enumerate().skip(from.saturating_sub(1)) {
        let code = line.split(" #").next().unwrap_or(line);
        let mut start = 0;
        while let Some(off) = code[start..].find(&pat) {
            let at = start + off;
            start = at + pat.len();
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[at + pat.len()..];
            let v = rest
                .split([',', '}'])
                .next()
                .map(unquote)
                .unwrap_or_default();
            if value.is_none_or(|want| v == want) {
                return Some(Pos {
                    line: i + 1,
                    col: code[..at].chars().count() + 1,
                });
            }
        }
    }
    None
}

/// The position of the list entry `value` under the first `key:` at or
/// after line `from`: in a flow list on the key's line (`[cn, "XX1"]`) or
/// in the block list below it (`- cn`), quoted or not. `None` when the key
/// or the entry is not found there.
pub fn entry(text: &str, key: &str, value: &str, from: usize) -> Option<Pos> {
    if value.is_empty() {
        return None;
    }
    let at = find(text, key, None, from)?;
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let key_indent = indent(lines[at.line - 1]);
    let delim = |c: Option<char>| c.is_none_or(|c| " \t[]{},:-\"'".contains(c));
    for (i, line) in lines.iter().enumerate().skip(at.line - 1) {
        if i + 1 > at.line && !line.trim().is_empty() && indent(line) <= key_indent {
            break;
        }
        let code = line.split(" #").next().unwrap_or(line);
        let skip = if i + 1 == at.line {
            code.char_indices()
                .nth(at.col - 1 + key.len() + 1)
                .map_or(code.len(), |(b, _)| b)
        } else {
            0
        };
        let mut start = skip;
        while let Some(off) = code[start..].find(value) {
            let b = start + off;
            start = b + value.len();
            let (before, after) = (code[..b].chars().next_back(), code[start..].chars().next());
            if delim(before) && delim(after) {
                let quoted = matches!(before, Some('"' | '\''));
                return Some(Pos {
                    line: i + 1,
                    col: code[..b].chars().count() + 1 - usize::from(quoted),
                });
            }
        }
    }
    None
}

/// The position of a top-level section key (`rules_after:`), if present.
pub fn section(text: &str, key: &str) -> Option<Pos> {
    let pat = format!("{key}:");
    text.lines().position(|l| l.starts_with(&pat)).map(|i| Pos {
        line: i + 1,
        col: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_block_and_flow_keys() {
        let text = "bands:\n  - {up_to: 30, allow: true}\nrules_after:\n  - name: \"a\"   # c\n    require: phr\n  - name: b\n    require: phx\n";
        let cases = [
            ("up_to", Some("30"), 1, Some((2, 6))),
            ("name", Some("a"), 1, Some((4, 5))),
            ("name", Some("b"), 1, Some((6, 5))),
            ("require", Some("phx"), 4, Some((7, 5))),
            ("require", None, 6, Some((7, 5))),
            ("name", Some("c"), 1, None),
        ];
        for (key, value, from, want) in cases {
            let got = find(text, key, value, from).map(|p| (p.line, p.col));
            assert_eq!(got, want, "{key} {value:?}");
        }
        assert_eq!(section(text, "rules_after").map(|p| p.line), Some(3));
    }

    #[test]
    fn finds_list_entries_in_flow_and_block_lists() {
        let text = "- when: {country: [DE, cn, \"XX1\"]}\n  countries:\n    - KP\n    - 'ir'\n  other:\n    - cnx\n    - cn\n";
        let cases = [
            ("country", "cn", Some((1, 24))),
            ("country", "XX1", Some((1, 28))),
            ("countries", "ir", Some((4, 7))),
            ("countries", "KP", Some((3, 7))),
            ("countries", "cn", None),
            ("other", "cn", Some((7, 7))),
            ("country", "", None),
        ];
        for (key, value, want) in cases {
            let got = entry(text, key, value, 1).map(|p| (p.line, p.col));
            assert_eq!(got, want, "{key} {value}");
        }
    }
}

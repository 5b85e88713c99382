//! `extends:` — whether a policy set builds on the shipped default.
//!
//! `[policy] files = ["mine.yaml"]` used to replace `policies/default.yaml`
//! whole, silently dropping its `first-login` and `no-second-factor`
//! rules. Now a set keeps the shipped default unless one of its files says
//! `extends: none` (the shipped default itself does: it is the base). The
//! default is loaded *first*, as if listed first (the way the example
//! files have always been combined with it), without the top-level
//! sections the set's files write themselves (`levels`, `bands`, `risk`):
//! those replace the default's. Removed sections become
//! blank lines, so a diagnostic about the default still names the line of
//! `policies/default.yaml` it is on.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::DEFAULT_POLICY;

/// The name diagnostics give the default when it is merged in.
pub const DEFAULT_NAME: &str = "policies/default.yaml (built in)";

/// A file's `extends:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Extends {
    /// Keep the shipped default's rules (what an absent `extends` means).
    Default,
    /// This set is complete: the shipped default is not loaded.
    None,
}

/// The sections a file may write that then replace the default's.
const REPLACEABLE: [&str; 3] = ["levels", "bands", "risk"];

/// The shipped default followed by `sources`, unless a file says
/// `extends: none`. A file that does not parse counts as extending: its
/// own error is reported by the loader.
pub fn with_default(mut sources: Vec<(PathBuf, String)>) -> Vec<(PathBuf, String)> {
    let mut written = Vec::new();
    for (_, text) in &sources {
        let Ok(serde_norway::Value::Mapping(m)) = serde_norway::from_str(text) else {
            continue;
        };
        if m.get("extends").and_then(|v| v.as_str()) == Some("none") {
            return sources;
        }
        for key in REPLACEABLE {
            if m.contains_key(key) && !written.contains(&key) {
                written.push(key);
            }
        }
    }
    let default = (
        PathBuf::from(DEFAULT_NAME),
        without_sections(DEFAULT_POLICY, &written),
    );
    sources.insert(0, default);
    sources
}

/// `text` with the top-level blocks `keys` blanked (lines kept).
fn without_sections(text: &str, keys: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut dropping = false;
    for line in text.lines() {
        let top_level = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '#');
        if top_level {
            dropping = keys
                .iter()
                .any(|k| line.strip_prefix(k).is_some_and(|r| r.starts_with(':')));
        }
        if !dropping {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> (PathBuf, String) {
        (PathBuf::from(name), text.to_owned())
    }

    #[test]
    fn the_default_is_kept_unless_a_file_says_none() {
        let mine = src("mine.yaml", "rules_after: []\n");
        let got = with_default(vec![mine.clone()]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, PathBuf::from(DEFAULT_NAME));
        assert_eq!(
            got[0].1, DEFAULT_POLICY,
            "nothing of the default is replaced"
        );
        assert_eq!(got[1], mine);
        let explicit = src("mine.yaml", "extends: default\nrules_after: []\n");
        assert_eq!(with_default(vec![explicit]).len(), 2);
        let none = src("mine.yaml", "extends: none\nrules_after: []\n");
        assert_eq!(with_default(vec![mine, none]).len(), 2, "no default added");
    }

    #[test]
    fn sections_a_file_writes_replace_the_defaults_and_lines_stay() {
        let mine = src("mine.yaml", "bands:\n  - up_to: 100\n    allow: true\n");
        let got = with_default(vec![mine]);
        let merged = &got[0].1;
        assert_eq!(merged.lines().count(), DEFAULT_POLICY.lines().count());
        assert!(!merged.contains("\nbands:") && merged.contains("\nlevels:"));
        assert!(merged.contains("\nrules_before:"), "the rules stay");
        for (a, b) in merged.lines().zip(DEFAULT_POLICY.lines()) {
            assert!(a.is_empty() || a == b, "{a:?} / {b:?}");
        }
    }
}

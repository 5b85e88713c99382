//! Static checks for `tollgate policy check`: everything the loader
//! reports (syntax, unknown keys, unknown levels and lists, thresholds out
//! of order) plus rules that can never fire.
//!
//! - **Unreachable**: a rule after a catch-all (a rule without conditions)
//!   in the same stage.
//! - **Shadowed**: a later rule whose conditions imply an earlier rule's
//!   (every input it matches, the earlier one matches first) and whose
//!   effect differs. A deny rule is only shadowed by an earlier deny
//!   (deny overrides). Implication is decided per condition, conservatively
//!   (a rule is reported only when it is certainly shadowed).

use std::path::PathBuf;

use super::load::{ReadFn, load_sources};
use super::model::Rule;
use super::{Diagnostic, Policy, Severity};

/// Lints of a loaded policy: unreachable and shadowed rules.
pub fn lint(policy: &Policy) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let diag = |r: &Rule, message: String| Diagnostic {
        file: policy
            .sources
            .get(r.origin.file)
            .cloned()
            .unwrap_or_default(),
        line: r.origin.pos.line,
        col: r.origin.pos.col,
        severity: Severity::Warning,
        message,
    };
    let at = |r: &Rule| {
        let file = policy
            .sources
            .get(r.origin.file)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        format!("{file}:{}:{}", r.origin.pos.line, r.origin.pos.col)
    };
    for (j, later) in policy.rules.iter().enumerate() {
        // A deny rule is never shadowed by an earlier non-deny one: deny
        // overrides (decide.rs).
        let denies = |r: &Rule| matches!(r.effect.verdict, super::model::Verdict::Deny { .. });
        let earlier = policy.rules[..j]
            .iter()
            .filter(|r| r.stage == later.stage && (!denies(later) || denies(r)));
        for first in earlier {
            if first.cond.is_catch_all() {
                out.push(diag(
                    later,
                    format!(
                        "rule {:?} is unreachable: {:?} ({}) has no conditions and matches first",
                        later.name,
                        first.name,
                        at(first)
                    ),
                ));
                break;
            }
            if later.cond.implies(&first.cond) && later.effect != first.effect {
                out.push(diag(
                    later,
                    format!(
                        "rule {:?} is shadowed by {:?} ({}): every input it matches, {:?} matches first with a different effect",
                        later.name,
                        first.name,
                        at(first),
                        first.name
                    ),
                ));
                break;
            }
        }
    }
    out
}

/// Checks a policy set given as sources: load diagnostics, then lints when
/// it loads. Empty means clean.
pub fn check_sources(sources: &[(PathBuf, String)], read: ReadFn<'_>) -> Vec<Diagnostic> {
    let (policy, mut diags) = load_sources(sources, read);
    if let Some(p) = policy {
        diags.extend(lint(&p));
    }
    diags.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    diags
}

/// Checks policy files on disk, merged as one set in the order given.
pub fn check_files(paths: &[PathBuf]) -> Vec<Diagnostic> {
    let mut sources = Vec::new();
    let mut diags = Vec::new();
    for p in paths {
        match std::fs::read_to_string(p) {
            Ok(t) => sources.push((p.clone(), t)),
            Err(e) => diags.push(Diagnostic {
                file: p.clone(),
                line: 1,
                col: 1,
                severity: Severity::Error,
                message: format!("cannot read: {e}"),
            }),
        }
    }
    if diags.is_empty() {
        let sources = super::extends::with_default(sources);
        diags = check_sources(&sources, &|p: &std::path::Path| std::fs::read(p));
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Checker cases: a file's text → expected `line:col: message fragment`s.
    fn check_diags(text: &str, want: &[(usize, usize, &str)]) {
        let files = |p: &Path| -> std::io::Result<Vec<u8>> {
            match p.file_name().and_then(|n| n.to_str()) {
                Some("asns.txt") => Ok(b"64500\nAS64501 # ok\nnot-an-asn\n".to_vec()),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file",
                )),
            }
        };
        let diags = check_sources(&[(PathBuf::from("p.yaml"), text.to_owned())], &files);
        let got: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
        assert_eq!(got.len(), want.len(), "{text}\n{got:#?}");
        for ((line, col, frag), d) in want.iter().zip(&got) {
            let prefix = format!("p.yaml:{line}:{col}: ");
            assert!(
                d.starts_with(&prefix) && d.contains(frag),
                "want {prefix}…{frag}, got {d}"
            );
        }
    }

    #[test]
    fn checker_reports_each_problem_where_it_is() {
        check_diags(
            "rules_after:\n  - name: a\n    require: aal2\n    whne: {client: [x]}\n",
            &[(4, 5, "unknown field `whne`")],
        );
        check_diags(
            "bands:\n  - up_to: 30\n    allow: true\n  - up_to: 70\n    require: aal3\n  - up_to: 100\n    deny: true\n",
            &[(5, 5, "unknown level \"aal3\"")],
        );
        check_diags(
            "bands:\n  - {up_to: 50, allow: true}\n  - {up_to: 40, require: aal2}\n  - {up_to: 100, deny: true}\n",
            &[(3, 6, "thresholds out of order")],
        );
        check_diags(
            "bands:\n  - {up_to: 30, allow: true}\n  - {up_to: 90, deny: true}\n",
            &[(1, 1, "must reach up_to: 100")],
        );
        check_diags(
            "risk:\n  allow_max: 80\n  step_up_max: 60\n",
            &[(2, 3, "thresholds out of order")],
        );
        check_diags(
            "rules_before:\n  - name: everything\n    require: aal2\n  - name: later\n    when: {client: [x]}\n    require: phr\n",
            &[(
                4,
                5,
                "rule \"later\" is unreachable: \"everything\" (p.yaml:2:5)",
            )],
        );
        // Deny overrides: a deny after a catch-all still fires.
        check_diags(
            "rules_before:\n  - name: everything\n    require: aal2\n  - name: later\n    when: {client: [x]}\n    deny: true\n",
            &[],
        );
        check_diags(
            "rules_after:\n  - name: admins\n    when: {group: [admins]}\n    require: phr\n  - name: vc-admins\n    when:\n      group: [admins]\n      client: [vcenter]\n    require: aal2\n  - name: admins-or-ops\n    when: {group: [admins, ops], client: [vcenter]}\n    require: aal1\n",
            &[(5, 5, "\"vc-admins\" is shadowed by \"admins\" (p.yaml:2:5)")],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {network: [10.0.0.0/8]}\n    deny: true\n  - name: b\n    when: {network: [10.1.0.0/16], device: known}\n    allow: true\n",
            &[(5, 5, "\"b\" is shadowed by \"a\"")],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {network: [10.0.0.0/8]}\n    deny: true\n  - name: b\n    when: {network: [10.1.0.0/16]}\n    deny: true\n",
            &[],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {network: [10.0.0.0/33]}\n    deny: true\n",
            &[(
                3,
                22,
                "bad network entry \"10.0.0.0/33\": expected a CIDR block",
            )],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {country: [\"@nowhere\"]}\n    deny: true\n",
            &[(3, 22, "unknown country list \"@nowhere\": no country lists")],
        );
        // A detection's code is a reason too.
        check_diags(
            "rules_before:\n  - name: a\n    when: {reasons: [sensitive_burst]}\n    deny: true\n",
            &[],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {reasons: [impossible_trvel]}\n    deny: true\n",
            &[(
                3,
                22,
                "unknown risk reason \"impossible_trvel\": expected one of no_history, impossible_travel,",
            )],
        );
        check_diags(
            "rules_before:\n  - name: a\n    when: {client: [x]}\n    deny: true\n  - name: a\n    allow: true\n  - name: c\n    when: {client: [y]}\n",
            &[
                (5, 5, "defined twice (first at line 2:5)"),
                (7, 5, "needs exactly one of"),
            ],
        );
        check_diags(
            "rules_before:\n  - name: a\n    allow: true\n    revoke: true\n",
            &[(4, 5, "`revoke` and `alert` go with `deny`")],
        );
        check_diags(
            "lists:\n  asns:\n    gone: {file: missing.txt}\n",
            &[(3, 5, "missing.txt")],
        );
        check_diags(
            "levels:\n  - name: one\n    factors: [[pwd]]\n    max_age: 1h\n  - name: one\n    factors: [[pwd, otp]]\n    max_age: 1h\n",
            &[(5, 5, "defined twice")],
        );
        check_diags(
            "levels:\n  - name: one\n    factors: [[pwd, sms]]\n    max_age: 1h\n",
            &[(3, 21, "unknown variant `sms`")],
        );
        check_diags(
            "levels:\n  - name: one\n    factors: [[pwd]]\n    max_age: 1w\n",
            &[(
                4,
                14,
                "bad duration \"1w\": expected seconds or a number with s, m, h or d, like \"15m\"",
            )],
        );
        check_diags("rules_before: [\n", &[(2, 1, "")]);
    }

    /// Each mistake an operator makes, at the entry's own line and column,
    /// saying which form was expected.
    #[test]
    fn every_mistake_says_what_was_expected() {
        let rule =
            |when: &str| format!("rules_before:\n  - name: a\n    when: {when}\n    deny: true\n");
        type Want = Vec<(usize, usize, &'static str)>;
        let cases: Vec<(String, Want)> = vec![
            (
                rule("{country: [cn, \"XX1\"]}"),
                vec![
                    (
                        3,
                        22,
                        "rule \"a\": bad country entry \"cn\": expected an ISO 3166-1 alpha-2 code in capitals, like \"CN\"",
                    ),
                    (
                        3,
                        26,
                        "bad country entry \"XX1\": expected an ISO 3166-1 alpha-2 code in capitals, like \"DE\"",
                    ),
                ],
            ),
            (
                "lists:\n  countries:\n    embargoed: [KP, ir]\n".into(),
                vec![(
                    3,
                    21,
                    "list \"embargoed\": bad countries entry \"ir\": expected an ISO 3166-1 alpha-2 code in capitals, like \"IR\"",
                )],
            ),
            (
                "lists:\n  networks:\n    corp:\n      - 10.0.0.0/8\n      - 10.0.0.0/33\n".into(),
                vec![(
                    5,
                    9,
                    "list \"corp\": bad networks entry \"10.0.0.0/33\": expected a CIDR block, like \"10.0.0.0/8\"",
                )],
            ),
            (
                "rules_after:\n  - name: a\n    require: aal9\n".into(),
                vec![(
                    3,
                    5,
                    "rule \"a\": unknown level \"aal9\": expected one of aal1, aal2, phr, phrh",
                )],
            ),
            (
                "rules_after:\n  - name: a\n    require: aal2\n    max_age: 5x\n".into(),
                vec![(
                    4,
                    14,
                    "bad duration \"5x\": expected seconds or a number with s, m, h or d, like \"15m\"",
                )],
            ),
            (
                rule("{network: [\"@corp\"]}"),
                vec![(3, 22, "unknown network list \"@corp\"")],
            ),
            (
                rule("{min_score: 80, max_score: 20}"),
                vec![(
                    3,
                    23,
                    "bad score range 80–20: expected 0 ≤ min_score ≤ max_score ≤ 100",
                )],
            ),
            (
                rule("{asn: [AS64500, ASX]}"),
                vec![(
                    3,
                    27,
                    "bad asn entry \"ASX\": expected an AS number, like 64500 or \"AS64500\"",
                )],
            ),
            (
                rule("{reasons: [new_device, new_cuntry]}"),
                vec![(
                    3,
                    34,
                    "unknown risk reason \"new_cuntry\": expected one of no_history, impossible_travel, device_mismatch,",
                )],
            ),
            (
                "rules_after:\n  - name: a\n    require: aal2\n    colour: red\n".into(),
                vec![(
                    4,
                    5,
                    "unknown field `colour`, expected one of `name`, `description`, `when`",
                )],
            ),
        ];
        for (text, want) in &cases {
            check_diags(text, want);
        }
    }

    /// One file with many independent mistakes: one run reports them all,
    /// each at its own line, and the set does not load.
    #[test]
    fn one_run_reports_every_mistake_of_a_file() {
        let text = "rules_before:
  - name: embargo
    when: {country: [cn, \"XX1\"]}
    deny: true
  - name: admins
    when: {group: [admins]}
    require: aal9
  - name: typo
    whne: {client: [x]}
    deny: true
  - name: travel
    when: {reasons: [impossible_trvel]}
    deny: true
rules_after:
  - name: fresh
    require: aal2
    max_age: 5x
  - name: embargo
    when: {network: [10.0.0.0/33, \"@nowhere\"]}
    deny: true
lists:
  asns:
    hosting: [64500, ASX]
";
        check_diags(
            text,
            &[
                (3, 22, "bad country entry \"cn\""),
                (3, 26, "bad country entry \"XX1\""),
                (7, 5, "unknown level \"aal9\""),
                (9, 5, "rules_before[2]: unknown field `whne`"),
                (12, 22, "unknown risk reason \"impossible_trvel\""),
                (17, 14, "rules_after[0].max_age: bad duration \"5x\""),
                (
                    18,
                    5,
                    "rule \"embargo\" is defined twice (first at line 2:5)",
                ),
                (19, 22, "bad network entry \"10.0.0.0/33\""),
                (19, 35, "unknown network list \"@nowhere\""),
                (23, 22, "list \"hosting\": bad asns entry \"ASX\""),
            ],
        );
        let none = |_: &Path| -> std::io::Result<Vec<u8>> { Ok(Vec::new()) };
        assert!(
            load_sources(&[(PathBuf::from("p.yaml"), text.into())], &none)
                .0
                .is_none()
        );
    }

    /// The same mistakes written flow-style (`[{…}, {…}]`, inline maps)
    /// are all reported too, each at its own line:col.
    #[test]
    fn one_run_reports_every_mistake_of_a_flow_style_file() {
        let text = "rules_before: [{name: embargo, when: {country: [cn]}, deny: true},
  {name: admins, when: {group: [admins]}, require: aal9},
  {name: typo, whne: {client: [x]}, deny: true}]
rules_after: [{name: fresh, require: aal2, max_age: 5x},
  {name: embargo, when: {network: [\"@nowhere\"]}, deny: true}]
lists: {asns: {hosting: [64500, ASX]}}
";
        check_diags(
            text,
            &[
                (1, 49, "bad country entry \"cn\""),
                (2, 43, "unknown level \"aal9\""),
                (3, 16, "rules_before[2]: unknown field `whne`"),
                (4, 53, "rules_after[0].max_age: bad duration \"5x\""),
                (
                    5,
                    4,
                    "rule \"embargo\" is defined twice (first at line 1:17)",
                ),
                (5, 36, "unknown network list \"@nowhere\""),
                (6, 33, "list \"hosting\": bad asns entry \"ASX\""),
            ],
        );
    }

    /// A list file's bad entry is reported in that file, at its line.
    #[test]
    fn a_list_files_entry_is_reported_in_that_file() {
        let files = |_: &Path| -> std::io::Result<Vec<u8>> {
            Ok(b"64500\nAS64501 # ok\nnot-an-asn\n".to_vec())
        };
        let src = (
            PathBuf::from("policies/p.yaml"),
            "lists:\n  asns:\n    bad: {file: asns.txt}\n".to_owned(),
        );
        let got: Vec<String> = check_sources(&[src], &files)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("policies/asns.txt:3:1: error: list \"bad\": bad asns entry \"not-an-asn\": expected an AS number"),
            "{got:?}"
        );
    }
}
